/*-------------------------------------------------------------------------
 *
 * account.c
 *	  Credit accounts: the only code that writes one, and the SQL functions
 *	  freetier_open_account, freetier_set_plan, freetier_account_status and
 *	  freetier_add_credits; and its chain's checkpoints (ledger_archive.c
 *	  calls them).
 *
 * A caller loads an account (locked with FOR NO KEY UPDATE when it will
 * write), changes it in memory through the functions below, each of which
 * appends its ledger entry, and saves it once.  Periods roll over lazily:
 * the load computes the period containing the call's instant, a writer
 * rolls the stored counters over (ft_account_roll_over), a reader just
 * counts from zero.  Live credit holds are summed in a separate statement
 * after the row lock, so a reservation committed by the previous lock
 * holder is always seen.
 *
 * Lock order: a credit hold, then its account.  Two accounts (a trial's
 * claim) are locked in subject order.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

static FtStatement read_account = {
	"SELECT a.plan, p.period, p.allowance, a.anniversary, a.period_start,"
	" a.period_used, a.lifetime_plan_used, a.purchased_balance, a.lifetime_spent,"
	" a.lifetime_added, a.head_seq, a.head_hash, a.updated_at, a.late_period_used"
	" FROM freetier.accounts a JOIN freetier.plans p ON p.plan OPERATOR(pg_catalog.=) a.plan"
	" WHERE a.subject OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * The row alone: a locking join would be rechecked after a wait against the
 * plan row of the old snapshot, and an account whose plan just changed
 * would seem not to exist.  The read that follows is a new statement.
 */
static FtStatement lock_account = {
	"SELECT 1 FROM freetier.accounts WHERE subject OPERATOR(pg_catalog.=) $1"
	" FOR NO KEY UPDATE",
	1, {TEXTOID}, NULL
};

/* The same, for a checkpoint: it never waits (no row when the account is locked). */
static FtStatement try_lock_account = {
	"SELECT 1 FROM freetier.accounts WHERE subject OPERATOR(pg_catalog.=) $1"
	" FOR NO KEY UPDATE SKIP LOCKED",
	1, {TEXTOID}, NULL
};

static FtStatement live_holds = {
	"SELECT " FT_SATURATED("pg_catalog.sum(allowance_credits) FILTER"
	"  (WHERE scope_start OPERATOR(pg_catalog.=) $2)") ","
	" " FT_SATURATED("pg_catalog.sum(purchased_credits)") ","
	" " FT_SATURATED("pg_catalog.sum(allowance_credits) OPERATOR(pg_catalog.+)"
					" pg_catalog.sum(purchased_credits)")
	" FROM freetier.credit_holds WHERE subject OPERATOR(pg_catalog.=) $1"
	" AND " FT_LIVE_HOLD("", "$3"),
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};

/* A backend's cap, what the scope drew through it, and what is on hold for it. */
static FtStatement backend_view = {
	"SELECT (SELECT (p.backend_caps OPERATOR(pg_catalog.->>) $2)::bigint"
	"          FROM freetier.plans p WHERE p.plan OPERATOR(pg_catalog.=) $4),"
	" coalesce((SELECT u.used FROM freetier.account_backend_use u"
	"   WHERE u.subject OPERATOR(pg_catalog.=) $1 AND u.backend OPERATOR(pg_catalog.=) $2"
	"     AND u.scope_start OPERATOR(pg_catalog.=) $3), 0),"
	" (SELECT " FT_SATURATED("pg_catalog.sum(h.allowance_credits)") " FROM freetier.credit_holds h"
	"   WHERE h.subject OPERATOR(pg_catalog.=) $1 AND h.backend OPERATOR(pg_catalog.=) $2"
	"     AND h.scope_start OPERATOR(pg_catalog.=) $3 AND " FT_LIVE_HOLD("h.", "$5") ")",
	5, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID}, NULL
};

static FtStatement add_backend_use = {
	"INSERT INTO freetier.account_backend_use (subject, backend, scope_start, used)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT (subject, backend, scope_start)"
	" DO UPDATE SET used = account_backend_use.used OPERATOR(pg_catalog.+) EXCLUDED.used",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}, NULL
};

static FtStatement append_entry = {
	"INSERT INTO freetier.account_ledger (subject, seq, kind, bucket, delta,"
	" balance_after, backend, hold_id, ref, created_at, prev_hash, hash)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
	12, {TEXTOID, INT8OID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, UUIDOID,
	TEXTOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID}, NULL
};

/*
 * updated_at only moves forward: a settle refuses a hold whose TTL ran out
 * before the account's latest write, and a writer with an earlier clock must
 * not make such a hold settleable again.
 */
static FtStatement save_account = {
	"UPDATE freetier.accounts SET plan = $2, anniversary = $3, period_start = $4,"
	" period_used = $5, lifetime_plan_used = $6, purchased_balance = $7,"
	" lifetime_spent = $8, lifetime_added = $9, head_seq = $10, head_hash = $11,"
	" updated_at = GREATEST(updated_at, $12), late_period_used = $13"
	" WHERE subject OPERATOR(pg_catalog.=) $1",
	13, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, BYTEAOID, TIMESTAMPTZOID, INT8OID}, NULL
};

static FtStatement plan_exists = {
	"SELECT p.plan, p.period, p.allowance FROM freetier.plans p"
	" WHERE p.plan OPERATOR(pg_catalog.=) coalesce($1,"
	"  (SELECT s.default_plan FROM freetier.credit_settings s))",
	1, {TEXTOID}, NULL
};

static FtStatement insert_account = {
	"INSERT INTO freetier.accounts (subject, plan, anniversary, period_start,"
	" opened_at, updated_at) VALUES ($1, $2, $3, $3, $3, $3)"
	" ON CONFLICT (subject) DO NOTHING RETURNING plan",
	3, {TEXTOID, TEXTOID, TIMESTAMPTZOID}, NULL
};

/* 42704: no account for this subject. */
void
ft_report_unknown_account(const char *subject)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("account \"%s\" does not exist", subject),
			 errdetail("Accounts are opened with freetier_open_account.")));
}

/* 42704: no such plan (NULL: the default plan the settings name). */
static void
report_unknown_plan(const char *plan)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("plan \"%s\" does not exist", plan ? plan : "(default)"),
			 errdetail("Plans are created with freetier_define_plan.")));
}

/*
 * Load the account at `now` (locked when `lock`); false when there is none.
 * Its strings stay valid until SPI_finish.
 */
bool
ft_account_load(const char *subject, TimestampTz now, bool lock, FtAccount *a)
{
	Datum		args[3];
	bool		isnull;

	args[0] = CStringGetTextDatum(subject);
	if (lock && ft_execute(&lock_account, args, NULL) == 0)
		return false;
	if (ft_execute(&read_account, args, NULL) == 0)
		return false;

	a->subject = pstrdup(subject);
	a->plan = ft_column_text(0, 1);
	a->period = ft_period_from_name(ft_column_text(0, 2));
	(void) ft_column(0, 3, &isnull);
	a->unlimited = isnull;
	a->allowance = isnull ? 0 : ft_column_int64(0, 3);
	a->anniversary = DatumGetTimestampTz(ft_column(0, 4, &isnull));
	a->period_start = DatumGetTimestampTz(ft_column(0, 5, &isnull));
	a->period_used = ft_column_int64(0, 6);
	a->lifetime_plan_used = ft_column_int64(0, 7);
	a->purchased_balance = ft_column_int64(0, 8);
	a->lifetime_spent = ft_column_int64(0, 9);
	a->lifetime_added = ft_column_int64(0, 10);
	ft_chain_head_read(&a->head, ft_column_int64(0, 11), ft_column(0, 12, &isnull));
	a->updated_at = DatumGetTimestampTz(ft_column(0, 13, &isnull));
	a->late_period_used = ft_column_int64(0, 14);

	a->now = now;
	a->current_start = ft_period_start(a->period, a->anniversary, now);

	/*
	 * Periods only move forward: a call whose clock is behind a period
	 * already started in storage (a transaction begun before the boundary,
	 * reaching the account after one begun after it) works in that period,
	 * never rolling it back to hand out the earlier one's allowance again.
	 */
	if (a->period != FT_PERIOD_LIFETIME && a->period_start > a->current_start)
		a->current_start = a->period_start;
	a->scope_start = a->period == FT_PERIOD_LIFETIME ? DT_NOBEGIN : a->current_start;

	/* a new statement: it sees holds committed by the previous lock holder */
	args[1] = TimestampTzGetDatum(a->scope_start);
	args[2] = TimestampTzGetDatum(now);
	ft_execute(&live_holds, args, NULL);
	a->held_allowance = ft_column_int64(0, 1);
	a->held_purchased = ft_column_int64(0, 2);
	a->held_total = ft_column_int64(0, 3);
	a->changed = false;
	return true;
}

/* Load and lock, or 42704. */
void
ft_account_require(const char *subject, TimestampTz now, FtAccount *a)
{
	if (!ft_account_load(subject, now, true, a))
		ft_report_unknown_account(subject);
}

/*
 * Open an account on `plan` (NULL: the default plan) unless it exists; its
 * chain starts with an 'open' entry naming the plan.
 */
void
ft_account_open(const char *subject, const char *plan, TimestampTz now, bool *opened)
{
	Datum		args[3];
	char		nulls[3] = {plan ? ' ' : 'n', ' ', ' '};
	char	   *resolved;

	args[0] = plan ? CStringGetTextDatum(plan) : (Datum) 0;
	if (ft_execute(&plan_exists, args, nulls) == 0)
		report_unknown_plan(plan);
	resolved = ft_column_text(0, 1);

	args[0] = CStringGetTextDatum(subject);
	args[1] = CStringGetTextDatum(resolved);
	args[2] = TimestampTzGetDatum(now);
	*opened = ft_execute(&insert_account, args, NULL) == 1;
	if (*opened)
	{
		FtAccount	a;

		/* the chain starts by naming the plan, as every plan change does */
		ft_account_require(subject, now, &a);
		ft_account_append(&a, "open", "period", 0, 0, NULL, NULL, resolved);
		ft_account_save(&a);
	}
}

/*
 * What the allowance can still give through `backend`: its cap, what the
 * current scope drew through it and what is on hold for it are read here,
 * the arithmetic is allowance.c's.
 */
int64
ft_account_backend_left(const FtAccount *a, const char *backend)
{
	Datum		args[5];
	bool		no_cap;

	args[0] = CStringGetTextDatum(a->subject);
	args[1] = CStringGetTextDatum(backend);
	args[2] = TimestampTzGetDatum(a->scope_start);
	args[3] = CStringGetTextDatum(a->plan);
	args[4] = TimestampTzGetDatum(a->now);
	ft_execute(&backend_view, args, NULL);
	(void) ft_column(0, 1, &no_cap);
	if (no_cap)
		return ft_account_allowance_left(a);
	/* a scope that has not begun in storage (a due rollover) has used nothing */
	return ft_backend_left(ft_account_allowance_left(a), ft_column_int64(0, 1),
						   ft_account_scope_begun(a) ? ft_column_int64(0, 2) : 0,
						   ft_column_int64(0, 3));
}

/*
 * Refuse (22003) a spend or reservation of `credits` that would take the
 * credits spent, with everything on hold counted as spent, past
 * FT_MAX_CREDIT_COUNTER.  Every spend-side counter (allowance used per
 * scope, use per backend) is at most lifetime_spent, so this keeps all of
 * them in range, and every hold can always be settled.
 */
void
ft_account_check_spend_room(const FtAccount *a, int64 credits)
{
	int64		projected = ft_add_saturating(ft_add_saturating(a->lifetime_spent,
																a->held_total),
											  credits);

	if (projected > FT_MAX_CREDIT_COUNTER)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("credits spent by account \"%s\" would pass " INT64_FORMAT,
						a->subject, FT_MAX_CREDIT_COUNTER),
				 errdetail("Spent: " INT64_FORMAT ", on hold: " INT64_FORMAT
						   ", asked for: " INT64_FORMAT ".",
						   a->lifetime_spent, a->held_total, credits)));
}

/* Append one ledger entry to a locked account's chain. */
void
ft_account_append(FtAccount *a, const char *kind, const char *bucket, int64 delta,
				  int64 balance_after, const char *backend, const pg_uuid_t *hold_id,
				  const char *ref)
{
	FtField		fields[10];

	fields[0] = ft_text_field(a->subject);
	/* fields[1], the seq, is set by ft_chain_append */
	fields[2] = ft_text_field(kind);
	fields[3] = ft_text_field(bucket);
	fields[4] = ft_int64_field(delta);
	fields[5] = ft_int64_field(balance_after);
	fields[6] = ft_text_field(backend);
	fields[7] = ft_uuid_field(hold_id);
	fields[8] = ft_text_field(ref);
	fields[9] = ft_int64_field(a->now);
	ft_chain_append(&a->head, FT_ACCOUNT_CHAIN, &append_entry, fields, 10);
	a->changed = true;
}

/* Start the current period in storage if it has not been (a locked account). */
void
ft_account_roll_over(FtAccount *a)
{
	if (ft_account_scope_begun(a))
		return;
	if (a->period_used > 0)
		ft_account_append(a, "rollover", "period", -a->period_used, 0,
						  NULL, NULL, NULL);
	a->period_used = 0;
	a->period_start = a->current_start;
	a->changed = true;
}

/*
 * Spend credits already split: allowance_credits drawn through `backend` in
 * the scope that began at scope_start, purchased_credits from the purchased
 * balance.  Allowance from the lifetime scope counts in lifetime_plan_used
 * whatever the plan is now; from the current period in period_used; from a
 * period that has since ended (a hold settled late) in late_period_used, not
 * in the current period.  The account is locked and rolled over.
 */
void
ft_account_spend(FtAccount *a, const char *backend, TimestampTz scope_start,
				 int64 allowance_credits, int64 purchased_credits,
				 const pg_uuid_t *hold_id)
{
	if (allowance_credits > 0)
	{
		Datum		args[4];
		int64	   *used;
		const char *bucket;

		args[0] = CStringGetTextDatum(a->subject);
		args[1] = CStringGetTextDatum(backend);
		args[2] = TimestampTzGetDatum(scope_start);
		args[3] = Int64GetDatum(allowance_credits);
		ft_execute(&add_backend_use, args, NULL);

		if (TIMESTAMP_IS_NOBEGIN(scope_start))
		{
			used = &a->lifetime_plan_used;
			bucket = "lifetime";
		}
		else if (scope_start == a->scope_start)
		{
			used = &a->period_used;
			bucket = "period";
		}
		else
		{
			used = &a->late_period_used;
			bucket = "late";
		}
		*used = ft_add_sats(*used, allowance_credits, "allowance used");
		ft_account_append(a, "spend", bucket, allowance_credits, *used,
						  backend, hold_id, NULL);
	}
	if (purchased_credits > 0)
	{
		if (purchased_credits > a->purchased_balance)
			elog(ERROR, "freetier: account \"%s\" would overdraw its purchased balance",
				 a->subject);
		a->purchased_balance -= purchased_credits;
		ft_account_append(a, "spend", "purchased", -purchased_credits,
						  a->purchased_balance, backend, hold_id, NULL);
	}
	a->lifetime_spent = ft_add_sats(a->lifetime_spent,
									allowance_credits + purchased_credits,
									"lifetime credits spent");
	a->changed = true;
}

/* Add to the purchased balance (kind: purchase, grant, trial, carry_in). */
void
ft_account_add_purchased(FtAccount *a, const char *kind, int64 credits, const char *ref)
{
	/* the purchased balance is at most lifetime_added */
	if (ft_add_saturating(a->lifetime_added, credits) > FT_MAX_CREDIT_COUNTER)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("credits added to account \"%s\" would pass " INT64_FORMAT,
						a->subject, FT_MAX_CREDIT_COUNTER),
				 errdetail("Added so far: " INT64_FORMAT ", this call: " INT64_FORMAT ".",
						   a->lifetime_added, credits)));
	a->purchased_balance = ft_add_sats(a->purchased_balance, credits, "purchased balance");
	a->lifetime_added = ft_add_sats(a->lifetime_added, credits, "lifetime credits added");
	ft_account_append(a, kind, "purchased", credits, a->purchased_balance, NULL, NULL, ref);
}

/*
 * Take from the purchased balance (kind: refund), at most what live holds
 * leave of it.  lifetime_added stays: it counts what was ever added.
 */
void
ft_account_take_purchased(FtAccount *a, const char *kind, int64 credits, const char *ref)
{
	if (credits > ft_account_purchased_left(a))
		elog(ERROR, "freetier: taking " INT64_FORMAT " credits from account \"%s\" would"
			 " leave its holds uncovered", credits, a->subject);
	a->purchased_balance -= credits;
	ft_account_append(a, kind, "purchased", -credits, a->purchased_balance, NULL, NULL, ref);
}

/*
 * An account's anniversary and period start in its chain (0.4): they move
 * money (a period that starts again gives the allowance again).  An 'open'
 * entry sets both to its own instant; a setter that changes them
 * (set_plan, import_account; the 0.4 upgrade) appends a 'settings' entry,
 * moving nothing, whose ref (hashed like every field) is both as jsonb
 * text; a rollover moves the period start on to the period its entry (if
 * any) is dated in.  verify.c compares the accounts row with them.
 */
static FtStatement settings_json = {
	"SELECT pg_catalog.jsonb_build_object('anniversary', $2, 'period_start', $3)::text,"
	" coalesce(c.anniversary OPERATOR(pg_catalog.=) $2"
	"   AND c.period_start OPERATOR(pg_catalog.=) $3, false)"
	" FROM (SELECT) x LEFT JOIN LATERAL " FT_CHAINED_ACCOUNT_SETTINGS("$1") " c ON true",
	3, {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}, NULL
};

static FtStatement dates_chained = {
	"SELECT " FT_ACCOUNT_DATES_CHAINED " FROM freetier.accounts a"
	" WHERE a.subject OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/*
 * 55000 unless a locked account's stored anniversary and period start are
 * the ones its chain gives: a setter never chains over an edit made
 * outside freetier.
 */
static void
check_dates_chained(const char *subject)
{
	Datum		args[1] = {CStringGetTextDatum(subject)};
	bool		isnull;

	ft_execute(&dates_chained, args, NULL);
	if (!DatumGetBool(ft_column(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the anniversary or period start of account \"%s\" is not what its ledger says",
						subject),
				 errdetail("They were changed outside freetier; freetier_verify_account_ledger reports the account."),
				 errhint("Put them back as the account's latest open or settings entry gives them.")));
}

/*
 * Chain a locked account's anniversary and period start: a 'settings'
 * entry unless they are the chained ones already.
 */
void
ft_account_settings_chain(FtAccount *a)
{
	Datum		args[3];
	bool		isnull;

	args[0] = CStringGetTextDatum(a->subject);
	args[1] = TimestampTzGetDatum(a->anniversary);
	args[2] = TimestampTzGetDatum(a->period_start);
	ft_execute(&settings_json, args, NULL);
	if (DatumGetBool(ft_column(0, 2, &isnull)))
		return;
	ft_account_append(a, "settings", "period", 0, a->period_used, NULL, NULL,
					  ft_column_text(0, 1));
}

PG_FUNCTION_INFO_V1(freetier_chain_account_settings);

/*
 * freetier.chain_account_settings(subject text) RETURNS void: chain the
 * account's stored anniversary and period start, for the 0.4 upgrade to
 * bring the accounts of 0.3 under their chains.
 */
Datum
freetier_chain_account_settings(PG_FUNCTION_ARGS)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	FtAccount	a;

	ft_connect(FT_LOCKING);
	ft_account_require(subject, ft_now(), &a);
	ft_account_settings_chain(&a);
	ft_account_save(&a);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * Write the account back if anything changed.  A caller that must write it
 * regardless (a reservation, so that concurrent REPEATABLE READ reservations
 * conflict) sets a->changed first.
 */
void
ft_account_save(FtAccount *a)
{
	Datum		args[13];

	if (!a->changed)
		return;

	args[0] = CStringGetTextDatum(a->subject);
	args[1] = CStringGetTextDatum(a->plan);
	args[2] = TimestampTzGetDatum(a->anniversary);
	args[3] = TimestampTzGetDatum(a->period_start);
	args[4] = Int64GetDatum(a->period_used);
	args[5] = Int64GetDatum(a->lifetime_plan_used);
	args[6] = Int64GetDatum(a->purchased_balance);
	args[7] = Int64GetDatum(a->lifetime_spent);
	args[8] = Int64GetDatum(a->lifetime_added);
	args[9] = Int64GetDatum(a->head.seq);
	args[10] = ft_hash_datum(a->head.hash);
	args[11] = TimestampTzGetDatum(a->now);
	args[12] = Int64GetDatum(a->late_period_used);
	ft_execute(&save_account, args, NULL);
}

/*
 * Write a checkpoint on the chain of `subject`'s account unless another
 * transaction has it locked (false then: it never waits); *seq is the
 * checkpoint's.  Like every entry it hashes the head it follows, and so
 * commits to every entry before it; it moves nothing (delta 0 on the
 * purchased balance, its balance_after), and its ref carries the rest of
 * what the chain stands for (FT_CHECKPOINT_FIGURE), so that the chain can
 * start at it once the entries before it are archived.  Those figures are
 * the account row's: so the account, once locked, must verify against its
 * chain first (verify.c), else 55000 and nothing is written: a row edited
 * outside freetier would otherwise be carried on as what its chain says.
 */
bool
ft_account_checkpoint(const char *subject, TimestampTz now, int64 *seq)
{
	Datum		args[1] = {CStringGetTextDatum(subject)};
	FtAccount	a;

	if (ft_execute(&try_lock_account, args, NULL) == 0 ||
		!ft_account_load(subject, now, false, &a))
		return false;
	if (!ft_account_verifies(subject))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account \"%s\" does not verify against its chain", subject),
				 errdetail("A checkpoint would carry the account's figures on as its chain's; none is written."),
				 errhint("Run freetier_verify_account_ledger('%s') and put the account back as its chain gives it.",
						 subject)));
	ft_account_append(&a, "checkpoint", "purchased", 0, a.purchased_balance, NULL, NULL,
					  psprintf("period=" INT64_FORMAT " lifetime=" INT64_FORMAT
							   " late=" INT64_FORMAT " spent=" INT64_FORMAT
							   " added=" INT64_FORMAT " anniversary=" INT64_FORMAT
							   " period_start=" INT64_FORMAT " plan=%s",
							   a.period_used, a.lifetime_plan_used, a.late_period_used,
							   a.lifetime_spent, a.lifetime_added, (int64) a.anniversary,
							   (int64) a.period_start, a.plan));
	ft_account_save(&a);
	*seq = a.head.seq;
	return true;
}

PG_FUNCTION_INFO_V1(freetier_open_account);

/*
 * freetier_open_account(subject text [, plan text])
 *	 RETURNS TABLE (subject text, plan text, anniversary timestamptz, opened boolean)
 *
 * On the default plan, or (the operator's form) on `plan`.  Idempotent: an
 * account that exists is returned as it is (opened false).
 */
Datum
freetier_open_account(PG_FUNCTION_ARGS)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	char	   *plan = PG_NARGS() > 1 ? ft_text_arg(fcinfo, 1, "plan", true) : NULL;
	TimestampTz now = ft_now();
	FtAccount	a;
	bool		opened;
	Datum		values[4];
	bool		isnull[4] = {false, false, false, false};

	ft_check_subject(subject);
	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	ft_account_open(subject, plan, now, &opened);
	ft_account_require(subject, now, &a);
	values[0] = CStringGetTextDatum(subject);
	values[1] = CStringGetTextDatum(a.plan);
	values[2] = TimestampTzGetDatum(a.anniversary);
	values[3] = BoolGetDatum(opened);
	ft_result_row(fcinfo, values, isnull);
	SPI_finish();
	return (Datum) 0;
}

/*
 * freetier_set_plan(subject text, plan text)
 *	 RETURNS TABLE (plan text, anniversary timestamptz, period_start timestamptz)
 *
 * From a lifetime plan to a periodic one, the anniversary moves to now and
 * a fresh period starts (the credit seed's promotion rule).  Any other
 * change keeps the anniversary and what was used: between periodic plans
 * the period's use stays counted under the new plan's grid; on a lifetime
 * plan the lifetime use counts again.  Each change is a plan_change entry
 * naming the plan, then (chain_settings: 0.4's SQL, whose ledger takes
 * the kind) a settings entry when the anniversary or the period start
 * changed; and then an account whose dates were edited outside freetier
 * is refused (55000), not chained.
 */
static void
set_plan(FunctionCallInfo fcinfo, bool chain_settings)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	char	   *plan = ft_text_arg(fcinfo, 1, "plan", true);
	TimestampTz now = ft_now();
	FtAccount	a;
	FtPeriod	new_period;
	int64		used_before;
	Datum		args[1];
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(plan);
	if (ft_execute(&plan_exists, args, NULL) == 0)
		report_unknown_plan(plan);
	new_period = ft_period_from_name(ft_column_text(0, 2));

	ft_account_require(subject, now, &a);
	if (chain_settings)
		check_dates_chained(subject);
	ft_account_roll_over(&a);
	used_before = a.period_used;

	if (a.period == FT_PERIOD_LIFETIME && new_period != FT_PERIOD_LIFETIME)
	{
		/* promotion: a fresh period from now */
		a.anniversary = now;
		a.period_start = now;
		a.period_used = 0;
	}
	else if (new_period != FT_PERIOD_LIFETIME)
	{
		/*
		 * Between periodic plans the allowance used stays counted; the
		 * new plan's grid takes over, never moving the start back.
		 */
		a.period_start = Max(ft_period_start(new_period, a.anniversary, now),
							 a.period_start);
	}

	a.plan = plan;
	a.period = new_period;
	a.changed = true;
	ft_account_append(&a, "plan_change", "period", a.period_used - used_before,
					  a.period_used, NULL, NULL, plan);
	if (chain_settings)
		ft_account_settings_chain(&a);
	ft_account_save(&a);
	a.current_start = Max(ft_period_start(new_period, a.anniversary, now),
						  new_period == FT_PERIOD_LIFETIME ? DT_NOBEGIN : a.period_start);

	values[0] = CStringGetTextDatum(plan);
	values[1] = TimestampTzGetDatum(a.anniversary);
	values[2] = TimestampTzGetDatum(a.current_start);
	ft_result_row(fcinfo, values, isnull);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(freetier_set_plan);

/* freetier_set_plan of 0.2 to 0.3: the dates are not chained. */
Datum
freetier_set_plan(PG_FUNCTION_ARGS)
{
	set_plan(fcinfo, false);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_set_plan_v4);

/* freetier_set_plan from 0.4 on: a change of the dates is a settings entry. */
Datum
freetier_set_plan_v4(PG_FUNCTION_ARGS)
{
	set_plan(fcinfo, true);
	return (Datum) 0;
}

static FtStatement backend_left_all = {
	"SELECT coalesce(pg_catalog.jsonb_object_agg(c.key,"
	"   GREATEST(0, LEAST($5, c.value::bigint"
	"     OPERATOR(pg_catalog.-) coalesce(u.used, 0) OPERATOR(pg_catalog.-) coalesce(h.held, 0)))),"
	"  '{}'::jsonb)"
	" FROM freetier.plans p, pg_catalog.jsonb_each_text(p.backend_caps) c"
	" LEFT JOIN freetier.account_backend_use u ON u.subject OPERATOR(pg_catalog.=) $1"
	"   AND u.backend OPERATOR(pg_catalog.=) c.key AND u.scope_start OPERATOR(pg_catalog.=) $3"
	"   AND $6"
	" LEFT JOIN LATERAL (SELECT pg_catalog.sum(x.allowance_credits) AS held"
	"   FROM freetier.credit_holds x"
	"   WHERE x.subject OPERATOR(pg_catalog.=) $1 AND x.backend OPERATOR(pg_catalog.=) c.key"
	"     AND x.scope_start OPERATOR(pg_catalog.=) $3 AND " FT_LIVE_HOLD("x.", "$4") ") h ON true"
	" WHERE p.plan OPERATOR(pg_catalog.=) $2",
	6, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, BOOLOID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_account_status);

/*
 * freetier_account_status(subject text) RETURNS TABLE (subject, plan, period,
 *	 period_start, period_end, allowance_left, backend_left, purchased_balance,
 *	 reserved_credits, lifetime_spent, lifetime_added)
 *
 * The account as the next spend would see it: a due rollover counted as
 * done, live holds taken out.  allowance_left is NULL when unlimited;
 * purchased_balance is what is spendable (the balance less what is on hold);
 * period_end is NULL for a lifetime plan.  Writes nothing.
 */
Datum
freetier_account_status(PG_FUNCTION_ARGS)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	TimestampTz now = ft_now();
	FtAccount	a;
	TimestampTz end;
	int64		allowance_left;
	Datum		args[6];
	Datum		values[11];
	bool		isnull[11];
	static const char *const period_names[] = {"lifetime", "daily", "weekly", "monthly"};

	ft_result_begin(fcinfo);
	ft_connect(FT_READING);
	if (!ft_account_load(subject, now, false, &a))
		ft_report_unknown_account(subject);
	allowance_left = ft_account_allowance_left(&a);
	end = ft_period_end(a.period, a.anniversary, a.current_start);

	args[0] = CStringGetTextDatum(subject);
	args[1] = CStringGetTextDatum(a.plan);
	args[2] = TimestampTzGetDatum(a.scope_start);
	args[3] = TimestampTzGetDatum(now);
	args[4] = Int64GetDatum(allowance_left);
	args[5] = BoolGetDatum(ft_account_scope_begun(&a));
	ft_execute(&backend_left_all, args, NULL);

	memset(isnull, false, sizeof(isnull));
	values[0] = CStringGetTextDatum(subject);
	values[1] = CStringGetTextDatum(a.plan);
	values[2] = CStringGetTextDatum(period_names[a.period]);
	values[3] = TimestampTzGetDatum(a.current_start);
	values[4] = TimestampTzGetDatum(end);
	isnull[4] = TIMESTAMP_IS_NOEND(end);
	values[5] = Int64GetDatum(allowance_left);
	isnull[5] = a.unlimited;
	values[6] = ft_column(0, 1, &isnull[6]);
	values[7] = Int64GetDatum(ft_account_purchased_left(&a));
	values[8] = Int64GetDatum(ft_add_saturating(a.held_allowance, a.held_purchased));
	values[9] = Int64GetDatum(a.lifetime_spent);
	values[10] = Int64GetDatum(a.lifetime_added);
	ft_result_row(fcinfo, values, isnull);
	SPI_finish();
	return (Datum) 0;
}

static FtStatement claim_ref = {
	"INSERT INTO freetier.credit_additions (ref, subject, source, credits, created_at)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (ref) DO NOTHING RETURNING 1",
	5, {TEXTOID, TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement claimed_ref = {
	"SELECT subject, source, credits FROM freetier.credit_additions"
	" WHERE ref OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_add_credits);

/*
 * freetier_add_credits(subject text, credits bigint, ref text,
 *						source text DEFAULT 'purchase') RETURNS bigint
 *
 * Add to the permanent purchased balance (a purchase or an admin grant),
 * once per ref: a ref seen before returns the first result, or 55000 if
 * its arguments differ.  Opens the account on the default plan if needed.
 */
Datum
freetier_add_credits(PG_FUNCTION_ARGS)
{
	char	   *subject = ft_text_arg(fcinfo, 0, "subject", true);
	int64		credits;
	char	   *ref = ft_text_arg(fcinfo, 2, "ref", true);
	char	   *source = ft_text_arg(fcinfo, 3, "source", true);
	TimestampTz now = ft_now();
	FtAccount	a;
	bool		opened;
	Datum		args[5];

	ft_check_subject(subject);
	ft_check_not_null(fcinfo, 1, "credits");
	credits = PG_GETARG_INT64(1);
	if (credits <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("credits must be positive"),
				 errdetail("credits was " INT64_FORMAT ".", credits)));
	if (ref[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ref must not be empty")));
	if (strcmp(source, "purchase") != 0 && strcmp(source, "grant") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source must be purchase or grant"),
				 errdetail("source was \"%s\".", source)));

	ft_connect(FT_LOCKING);
	ft_account_open(subject, NULL, now, &opened);
	ft_account_require(subject, now, &a);

	args[0] = CStringGetTextDatum(ref);
	args[1] = CStringGetTextDatum(subject);
	args[2] = CStringGetTextDatum(source);
	args[3] = Int64GetDatum(credits);
	args[4] = TimestampTzGetDatum(now);
	if (ft_execute(&claim_ref, args, NULL) == 0)
	{
		char	   *first_subject;
		char	   *first_source;
		int64		first_credits;

		ft_execute(&claimed_ref, args, NULL);
		first_subject = ft_column_text(0, 1);
		first_source = ft_column_text(0, 2);
		first_credits = ft_column_int64(0, 3);
		if (strcmp(first_subject, subject) != 0 || strcmp(first_source, source) != 0 ||
			first_credits != credits)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ref \"%s\" was already applied with other arguments", ref),
					 errdetail("It added " INT64_FORMAT " credits (%s) to \"%s\".",
							   first_credits, first_source, first_subject)));
		SPI_finish();
		PG_RETURN_INT64(first_credits);
	}
	ft_account_add_purchased(&a, source, credits, ref);
	ft_account_save(&a);
	SPI_finish();
	PG_RETURN_INT64(credits);
}
