/*-------------------------------------------------------------------------
 *
 * settings_ledger.c
 *	  The settings chains (0.4): a plan's period, allowance and caps, a
 *	  tier's daily budget, and the credit settings, written by their setters
 *	  with every change an entry of freetier.settings_ledger.
 *
 * They move money (what an account may spend per period, what a subject of
 * a tier may absorb from a pool in a day, how long a credit hold keeps
 * credits, what a trial is worth, how many trials a network may mint, which
 * plan an account opens on), so each plan has a chain, named 'plan:<plan>',
 * each tier one, 'tier:<tier>', and the credit settings one,
 * 'credit_settings'; the owning row (the plans, tiers or credit_settings
 * row) keeps its head.  An entry, of kind 'settings', moves nothing: its
 * `settings` text (hashed like every field, after the chain's name, seq and
 * kind, before created_at) is the row's new values as jsonb text
 * (FT_PLAN_SETTINGS_JSON, FT_TIER_SETTINGS_JSON, FT_CREDIT_SETTINGS_JSON).
 * A chain with no entry has the values the install gave the row
 * (freetier.h): the install's plans, tiers and settings need none, so an
 * install and a dump restore as before.  verify.c compares each row with
 * its latest entry.
 *
 * Only the setters write entries (freetier_define_plan,
 * freetier_set_tier_budget and freetier_configure_credits through
 * freetier.set_plan_settings, freetier.set_tier_settings and
 * freetier.set_credit_settings; the 0.4 upgrade, through the same three),
 * and only when the values they write are not the chained ones.  A setter
 * never chains an edit made outside freetier: a plan's and a tier's every
 * value is an argument, and a credit setting not given is taken from the
 * chain, not the row.  Each locks the owning row (the upsert; FOR NO KEY
 * UPDATE) before it reads the chain, in statements of their own
 * (FT_LOCKING: a snapshot taken after the lock), so that concurrent setters
 * append one after the other and none writes over another's change
 * (test/specs/settings-race).
 * No request reads or writes a chain here (freetier_decide reads a tier's
 * budget, never its chain).
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

/* Write a plan's values, locking its row. */
static FtStatement upsert_plan = {
	"INSERT INTO freetier.plans AS p (plan, period, allowance, backend_caps)"
	" VALUES ($1, $2, $3, $4) ON CONFLICT ON CONSTRAINT plans_pkey"
	" DO UPDATE SET period = EXCLUDED.period, allowance = EXCLUDED.allowance,"
	"   backend_caps = EXCLUDED.backend_caps",
	4, {TEXTOID, TEXTOID, INT8OID, JSONBOID}, NULL
};

/* Write a tier's budget, locking its row. */
static FtStatement upsert_tier = {
	"INSERT INTO freetier.tiers AS t (tier, daily_budget_sats) VALUES ($1, $2)"
	" ON CONFLICT ON CONSTRAINT tiers_pkey"
	" DO UPDATE SET daily_budget_sats = EXCLUDED.daily_budget_sats",
	2, {TEXTOID, INT8OID}, NULL
};

/*
 * Lock the credit settings row, and then (a statement of its own, so a
 * snapshot taken after the lock) write them, each one not given (NULL) as
 * the chain has it: read in the update's own snapshot, the chain would
 * miss a setter that committed while this one waited, whose change would
 * then be written over.
 */
static FtStatement lock_credit_settings = {
	"SELECT FROM freetier.credit_settings FOR NO KEY UPDATE",
	0, {InvalidOid}, NULL
};

static FtStatement update_credit_settings = {
	"UPDATE freetier.credit_settings s"
	" SET default_plan = coalesce($1, c.v OPERATOR(pg_catalog.->>) 'default_plan'),"
	"   hold_ttl = coalesce($2, (c.v OPERATOR(pg_catalog.->>) 'hold_ttl')::interval),"
	"   trial_plan = coalesce($3, c.v OPERATOR(pg_catalog.->>) 'trial_plan'),"
	"   trial_credits = coalesce($4, (c.v OPERATOR(pg_catalog.->>) 'trial_credits')::bigint),"
	"   trials_per_network = coalesce($5,"
	"     (c.v OPERATOR(pg_catalog.->>) 'trials_per_network')::integer),"
	"   trial_window = coalesce($6, (c.v OPERATOR(pg_catalog.->>) 'trial_window')::interval),"
	"   max_hold_ttl = coalesce($7, (c.v OPERATOR(pg_catalog.->>) 'max_hold_ttl')::interval)"
	" FROM (SELECT coalesce(" FT_CHAINED_SETTINGS("'credit_settings'") ","
	"   " FT_CREDIT_INSTALL_SETTINGS ")::jsonb AS v) c",
	7, {TEXTOID, INTERVALOID, TEXTOID, INT8OID, INT4OID, INTERVALOID, INTERVALOID}, NULL
};

/*
 * A locked owning row, by its chain's name ($1; a plan's is 'plan:' and the
 * plan, a tier's 'tier:' and the tier): its head, its values as jsonb text,
 * and whether they are chained.
 */
/* the plan or tier of a chain named by its prefix (five bytes) and it */
#define NAME_OF_CHAIN "pg_catalog.substr($1, 6)"
StaticAssertDecl(sizeof(FT_PLAN_CHAIN_PREFIX) == 6 && sizeof(FT_TIER_CHAIN_PREFIX) == 6,
				 "NAME_OF_CHAIN skips a five-byte prefix");
static FtStatement plan_row = {
	"SELECT p.head_seq, p.head_hash, " FT_PLAN_SETTINGS_JSON("p.") "::text,"
	" " FT_SETTINGS_CHAINED(FT_PLAN_SETTINGS_JSON("p."), "$1", FT_PLAN_INSTALL_SETTINGS("p.plan"))
	" FROM freetier.plans p WHERE p.plan OPERATOR(pg_catalog.=) " NAME_OF_CHAIN,
	1, {TEXTOID}, NULL
};

static FtStatement tier_row = {
	"SELECT t.head_seq, t.head_hash, " FT_TIER_SETTINGS_JSON("t.") "::text,"
	" " FT_SETTINGS_CHAINED(FT_TIER_SETTINGS_JSON("t."), "$1", FT_TIER_INSTALL_SETTINGS("t.tier"))
	" FROM freetier.tiers t WHERE t.tier OPERATOR(pg_catalog.=) " NAME_OF_CHAIN,
	1, {TEXTOID}, NULL
};

static FtStatement credit_settings_row = {
	"SELECT s.head_seq, s.head_hash, " FT_CREDIT_SETTINGS_JSON("s.") "::text,"
	" " FT_SETTINGS_CHAINED(FT_CREDIT_SETTINGS_JSON("s."), "$1", FT_CREDIT_INSTALL_SETTINGS)
	" FROM freetier.credit_settings s",
	1, {TEXTOID}, NULL
};

static FtStatement append_entry = {
	"INSERT INTO freetier.settings_ledger (chain, seq, kind, settings, created_at,"
	" prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)",
	7, {TEXTOID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, BYTEAOID, BYTEAOID}, NULL
};

/* A locked owning row's new head, by its chain's name ($1). */
static FtStatement save_plan_head = {
	"UPDATE freetier.plans SET head_seq = $2, head_hash = $3"
	" WHERE plan OPERATOR(pg_catalog.=) " NAME_OF_CHAIN,
	3, {TEXTOID, INT8OID, BYTEAOID}, NULL
};

static FtStatement save_tier_head = {
	"UPDATE freetier.tiers SET head_seq = $2, head_hash = $3"
	" WHERE tier OPERATOR(pg_catalog.=) " NAME_OF_CHAIN,
	3, {TEXTOID, INT8OID, BYTEAOID}, NULL
};

static FtStatement save_credit_settings_head = {
	"UPDATE freetier.credit_settings SET head_seq = $2, head_hash = $3",
	3, {TEXTOID, INT8OID, BYTEAOID}, NULL
};

/*
 * Chain a locked owning row's values: a 'settings' entry on chain `chain`
 * unless they are its chained ones already.  `read` reads the row, `save`
 * writes its head.
 */
static void
settings_chain(const char *chain, FtStatement *read, FtStatement *save)
{
	Datum		args[3] = {CStringGetTextDatum(chain)};
	bool		isnull;
	FtChainHead head;
	FtField		fields[5];

	if (ft_execute(read, args, NULL) != 1)
		elog(ERROR, "freetier: the settings of chain \"%s\" are missing", chain);
	if (DatumGetBool(ft_column(0, 4, &isnull)))
		return;
	ft_chain_head_read(&head, ft_column_int64(0, 1), ft_column(0, 2, &isnull));
	fields[0] = ft_text_field(chain);
	/* fields[1], the seq, is set by ft_chain_append */
	fields[2] = ft_text_field("settings");
	fields[3] = ft_text_field(ft_column_text(0, 3));
	fields[4] = ft_int64_field(ft_now());
	ft_chain_append(&head, FT_SETTINGS_CHAIN, &append_entry, fields, 5);
	args[1] = Int64GetDatum(head.seq);
	args[2] = ft_hash_datum(head.hash);
	ft_execute(save, args, NULL);
}

PG_FUNCTION_INFO_V1(freetier_set_plan_settings);

/*
 * freetier.set_plan_settings(plan text, period text, allowance bigint,
 *	 backend_caps jsonb) RETURNS void
 *
 * For freetier_define_plan, which checks the values first: create or
 * change the plan, and chain its values.
 */
Datum
freetier_set_plan_settings(PG_FUNCTION_ARGS)
{
	char	   *plan;
	Datum		args[4];
	char		nulls[4];

	ft_check_not_null(fcinfo, 0, "plan");
	plan = text_to_cstring(PG_GETARG_TEXT_PP(0));
	for (int i = 0; i < 4; i++)
	{
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	ft_connect(FT_LOCKING);
	ft_execute(&upsert_plan, args, nulls);
	settings_chain(psprintf(FT_PLAN_CHAIN_PREFIX "%s", plan), &plan_row, &save_plan_head);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(freetier_set_tier_settings);

/*
 * freetier.set_tier_settings(tier text, daily_budget_sats bigint) RETURNS void
 *
 * For freetier_set_tier_budget, which checks the values first: create or
 * change the tier, and chain its budget.
 */
Datum
freetier_set_tier_settings(PG_FUNCTION_ARGS)
{
	char	   *tier;
	Datum		args[2];

	ft_check_not_null(fcinfo, 0, "tier");
	ft_check_not_null(fcinfo, 1, "daily_budget_sats");
	tier = text_to_cstring(PG_GETARG_TEXT_PP(0));
	args[0] = PG_GETARG_DATUM(0);
	args[1] = PG_GETARG_DATUM(1);
	ft_connect(FT_LOCKING);
	ft_execute(&upsert_tier, args, NULL);
	settings_chain(psprintf(FT_TIER_CHAIN_PREFIX "%s", tier), &tier_row, &save_tier_head);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(freetier_set_credit_settings);

/*
 * freetier.set_credit_settings(default_plan text, hold_ttl interval,
 *	 trial_plan text, trial_credits bigint, trials_per_network int,
 *	 trial_window interval, max_hold_ttl interval) RETURNS void
 *
 * For freetier_configure_credits, which checks the values first: write
 * them (NULL: the chained value), and chain the result.
 */
Datum
freetier_set_credit_settings(PG_FUNCTION_ARGS)
{
	Datum		args[7];
	char		nulls[7];

	for (int i = 0; i < 7; i++)
	{
		args[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	ft_connect(FT_LOCKING);
	ft_execute(&lock_credit_settings, NULL, NULL);
	ft_execute(&update_credit_settings, args, nulls);
	settings_chain("credit_settings", &credit_settings_row, &save_credit_settings_head);
	SPI_finish();
	PG_RETURN_VOID();
}
