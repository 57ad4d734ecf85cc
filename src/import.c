/*-------------------------------------------------------------------------
 *
 * import.c
 *	  Starting freetier from a seed deployment's state, once per ref:
 *	  freetier_import_pool (a pool's balance), freetier_import_subject (a
 *	  subject's tier and current window) and freetier_import_account (an
 *	  account's plan, anniversary, period use and purchased balance).
 *
 * Every imported value is a ledger entry of kind 'import':
 *	 - a pool's balance: an entry on each stripe that it moves from its seed
 *	   to its share (the active stripes share it as create_pool's seed
 *	   does), and on stripe 0 always;
 *	 - a subject: an entry of delta 0 on a stripe of the pool its window
 *	   draws on, whose payment_ref is the import as JSON (ref, subject,
 *	   tier, window_start, window_used_sats, pool), so that the pool's chain
 *	   carries and verifies what was imported;
 *	 - an account: its 'open' entry naming the plan, then an entry per
 *	   backend's use and one for the rest of the period's use (bucket
 *	   period, or lifetime on a lifetime plan), and one for the purchased
 *	   balance.  Imported use counts as spent, the purchased balance as
 *	   added (verify.c).
 *
 * An import only starts what has no traffic: a pool whose ledger holds
 * nothing but its seed entries (and subjects' imports, which move
 * nothing), a subject or an account that does not exist.  Every import is a row of freetier.imports, keyed by its kind and
 * ref, with its arguments as JSON and its result: a call that repeats a ref
 * with the same arguments returns the first result and moves nothing; with
 * other arguments it is 55000.
 *
 * Lock order: a pool import locks every stripe of its pool, in ascending
 * order, as decide does when it must; a subject import locks the new
 * subject row (its insert), then one stripe (the one a credit would take);
 * an account import locks the new account alone.  A concurrent call with
 * the same ref waits on that lock, then replays the first.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

/* One import as the caller asked for it. */
typedef struct Import
{
	const char *kind;			/* pool, subject, account */
	const char *ref;
	const char *target;			/* the pool, subject or account it starts */
	Datum		args;			/* its arguments, as jsonb */
	TimestampTz now;
} Import;

static FtStatement find_import = {
	"SELECT args OPERATOR(pg_catalog.=) $3, args::text, result FROM freetier.imports"
	" WHERE kind OPERATOR(pg_catalog.=) $1 AND ref OPERATOR(pg_catalog.=) $2",
	3, {TEXTOID, TEXTOID, JSONBOID}, NULL
};

static FtStatement claim_import = {
	"INSERT INTO freetier.imports (kind, ref, target, args, result, created_at)"
	" VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, ref) DO NOTHING RETURNING 1",
	6, {TEXTOID, TEXTOID, TEXTOID, JSONBOID, INT8OID, TIMESTAMPTZOID}, NULL
};

/* Instants go into the arguments in UTC, so that they compare in any session. */
static FtStatement pool_args = {
	"SELECT pg_catalog.jsonb_build_object('pool', $1, 'balance_sats', $2)",
	2, {TEXTOID, INT8OID}, NULL
};

static FtStatement subject_args = {
	"SELECT pg_catalog.jsonb_build_object('ref', $1, 'subject', $2, 'tier', $3,"
	" 'window_start', pg_catalog.timezone('UTC', $4), 'window_used_sats', $5, 'pool', $6)",
	6, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, TEXTOID}, NULL
};

static FtStatement account_args = {
	"SELECT pg_catalog.jsonb_build_object('subject', $1, 'plan', $2,"
	" 'anniversary', pg_catalog.timezone('UTC', $3),"
	" 'period_start', pg_catalog.timezone('UTC', $4), 'period_used', $5,"
	" 'purchased_balance', $6, 'backend_use', $7)",
	7, {TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, INT8OID, JSONBOID}, NULL
};

/* A subject's import (0 sats) is not traffic; another import of the pool is. */
static FtStatement pool_traffic = {
	"SELECT 1 FROM freetier.ledger WHERE pool OPERATOR(pg_catalog.=) $1"
	" AND kind OPERATOR(pg_catalog.<>) ALL ('{seed,import}') LIMIT 1",
	1, {TEXTOID}, NULL
};

static FtStatement pool_imported = {
	"SELECT ref FROM freetier.imports WHERE kind OPERATOR(pg_catalog.=) 'pool'"
	" AND target OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement tier_exists = {
	"SELECT 1 FROM freetier.tiers WHERE tier OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement insert_subject = {
	"INSERT INTO freetier.subjects (subject, tier, window_start, window_settled_sats,"
	" created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)"
	" ON CONFLICT (subject) DO NOTHING RETURNING 1",
	5, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID, TIMESTAMPTZOID}, NULL
};

static FtStatement plan_period = {
	"SELECT period FROM freetier.plans WHERE plan OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

/* A backend's use: its name and its credits, NULL unless a whole number. */
static FtStatement backend_use_rows = {
	"SELECT e.key, CASE WHEN pg_catalog.jsonb_typeof(e.value) OPERATOR(pg_catalog.=) 'number'"
	"  AND e.value::text OPERATOR(pg_catalog.~) '^[0-9]{1,18}$' THEN e.value::text::bigint END"
	" FROM pg_catalog.jsonb_each($1) e ORDER BY e.key",
	1, {JSONBOID}, NULL
};

static FtStatement insert_backend_use = {
	"INSERT INTO freetier.account_backend_use (subject, backend, scope_start, used)"
	" VALUES ($1, $2, $3, $4)",
	4, {TEXTOID, TEXTOID, TIMESTAMPTZOID, INT8OID}, NULL
};

/* A required amount: 22023 when negative, 22003 past 10^18. */
static int64
amount_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	int64		v;

	ft_check_not_null(fcinfo, argno, argname);
	v = PG_GETARG_INT64(argno);
	ft_check_sats(argname, v);
	if (v > FT_MAX_CREDIT_COUNTER)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be at most " INT64_FORMAT, argname, FT_MAX_CREDIT_COUNTER),
				 errdetail("%s was " INT64_FORMAT ".", argname, v)));
	return v;
}

/* 22023 unless ts is at or before now. */
static void
check_not_future(const char *argname, TimestampTz ts, TimestampTz now)
{
	if (ts > now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be in the future", argname),
				 errdetail("%s was %s; now is %s.", argname, pstrdup(timestamptz_to_str(ts)),
						   pstrdup(timestamptz_to_str(now)))));
}

/* The jsonb the statement `build` makes of these arguments. */
static Datum
args_jsonb(FtStatement *build, Datum *args, const char *nulls)
{
	bool		isnull;

	ft_execute(build, args, nulls);
	return ft_column(0, 1, &isnull);
}

/*
 * Whether im's ref was imported already: then *result is its first result,
 * or 55000 when its arguments were other than im's.
 */
static bool
replayed(const Import *im, int64 *result)
{
	Datum		args[3] = {CStringGetTextDatum(im->kind), CStringGetTextDatum(im->ref), im->args};
	bool		isnull;

	if (ft_execute(&find_import, args, NULL) == 0)
		return false;
	if (!DatumGetBool(ft_column(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s import ref \"%s\" was already applied with other arguments",
						im->kind, im->ref),
				 errdetail("It imported %s.", ft_column_text(0, 2))));
	*result = ft_column_int64(0, 3);
	return true;
}

/*
 * Record im with its result, unless a concurrent call with its ref committed
 * meanwhile: then false, and *result is that call's.
 */
static bool
claimed(const Import *im, int64 *result)
{
	Datum		args[6];

	args[0] = CStringGetTextDatum(im->kind);
	args[1] = CStringGetTextDatum(im->ref);
	args[2] = CStringGetTextDatum(im->target);
	args[3] = im->args;
	args[4] = Int64GetDatum(*result);
	args[5] = TimestampTzGetDatum(im->now);
	if (ft_execute(&claim_import, args, NULL) == 1)
		return true;
	if (!replayed(im, result))
		elog(ERROR, "freetier: import ref \"%s\" is claimed but not visible", im->ref);
	return false;
}

PG_FUNCTION_INFO_V1(freetier_import_pool);

/*
 * freetier_import_pool(pool text, balance_sats bigint, ref text) RETURNS bigint
 *
 * Set the balance of a pool that has had no traffic (its ledger holds only
 * seed entries and subjects' imports) to balance_sats: 'import' entries
 * move each stripe from its seed to its share.  Returns the pool's balance.
 */
Datum
freetier_import_pool(PG_FUNCTION_ARGS)
{
	Import		im = {.kind = "pool"};
	int64		balance;
	FtStripe   *stripes;
	FtPoolSettings ps;
	int			n;
	int64		result;
	Datum		args[2];

	im.target = ft_text_arg(fcinfo, 0, "pool", true);
	balance = amount_arg(fcinfo, 1, "balance_sats");
	im.ref = ft_nonempty_text_arg(fcinfo, 2, "ref", "An import");
	im.now = ft_now();

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(im.target);
	args[1] = Int64GetDatum(balance);
	im.args = args_jsonb(&pool_args, args, NULL);
	if ((n = ft_stripes_lock_all(im.target, FT_LAYOUT_STRIPES, &stripes)) == 0)
		ft_report_unknown_pool(im.target);
	if (replayed(&im, &result))
	{
		SPI_finish();
		PG_RETURN_INT64(result);
	}
	if (ft_execute(&pool_imported, args, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pool \"%s\" was imported already", im.target),
				 errdetail("Its balance was imported with ref \"%s\".", ft_column_text(0, 1)),
				 errhint("Correct its balance with freetier_adjust_pool.")));
	if (ft_execute(&pool_traffic, args, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pool \"%s\" has had traffic", im.target),
				 errdetail("An import starts a pool: its ledger may hold only its seed entries and subjects' imports."),
				 errhint("Import into a new pool (freetier_create_pool), or correct this one with freetier_adjust_pool.")));
	ft_pool_settings(im.target, FT_LAYOUT_STRIPES, true, &ps);
	result = balance;
	if (claimed(&im, &result))
	{
		for (int i = 0; i < n; i++)
		{
			FtStripe   *s = &stripes[i];
			int64		share = s->stripe >= ps.stripes ? 0 :
				balance / ps.stripes + (s->stripe == 0 ? balance % ps.stripes : 0);

			if (share != s->balance_sats || s->stripe == 0)
				ft_stripe_append(s, FT_LAYOUT_STRIPES, "import", share - s->balance_sats,
								 NULL, im.ref, im.now);
		}
	}
	SPI_finish();
	PG_RETURN_INT64(result);
}

PG_FUNCTION_INFO_V1(freetier_import_subject);

/*
 * freetier_import_subject(subject text, tier text, window_start timestamptz,
 *		window_used_sats bigint, ref text, pool text DEFAULT 'default')
 *	 RETURNS bigint
 *
 * Create a subject with its tier and its current window: window_used_sats
 * absorbed since window_start (NULL: no window yet, nothing used).  The
 * import is an 'import' entry of delta 0 on a stripe of `pool` whose
 * payment_ref is the import as JSON.  Returns window_used_sats.
 */
Datum
freetier_import_subject(PG_FUNCTION_ARGS)
{
	Import		im = {.kind = "subject"};
	char	   *tier;
	TimestampTz window_start = 0;
	int64		used;
	char	   *pool;
	int64		result;
	FtStripe	stripe;
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	im.target = ft_text_arg(fcinfo, 0, "subject", true);
	ft_check_subject(im.target);
	tier = ft_text_arg(fcinfo, 1, "tier", true);
	used = amount_arg(fcinfo, 3, "window_used_sats");
	im.ref = ft_nonempty_text_arg(fcinfo, 4, "ref", "An import");
	pool = ft_text_arg(fcinfo, 5, "pool", true);
	im.now = ft_now();
	if (!PG_ARGISNULL(2))
	{
		window_start = PG_GETARG_TIMESTAMPTZ(2);
		check_not_future("window_start", window_start, im.now);
	}
	else if (used > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_start must not be NULL when window_used_sats is not zero"),
				 errdetail("window_used_sats counts the sats absorbed since window_start.")));

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(im.ref);
	args[1] = CStringGetTextDatum(im.target);
	args[2] = CStringGetTextDatum(tier);
	args[3] = TimestampTzGetDatum(window_start);
	nulls[3] = PG_ARGISNULL(2) ? 'n' : ' ';
	args[4] = Int64GetDatum(used);
	args[5] = CStringGetTextDatum(pool);
	im.args = args_jsonb(&subject_args, args, nulls);
	if (replayed(&im, &result))
	{
		SPI_finish();
		PG_RETURN_INT64(result);
	}
	if (ft_execute(&tier_exists, &args[2], NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("tier \"%s\" does not exist", tier),
				 errdetail("Tiers are rows of freetier.tiers; add one with freetier_set_tier_budget.")));

	/* the new row is locked; a concurrent import of the subject waits here */
	args[0] = args[1];
	args[1] = args[2];
	args[2] = args[3];
	args[3] = Int64GetDatum(used);
	args[4] = TimestampTzGetDatum(im.now);
	nulls[2] = nulls[3];
	nulls[3] = ' ';
	if (ft_execute(&insert_subject, args, nulls) == 0)
	{
		if (replayed(&im, &result))
		{
			SPI_finish();
			PG_RETURN_INT64(result);
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("subject \"%s\" exists already", im.target),
				 errdetail("An import creates a subject; one that exists may have holds and grants in its window."),
				 errhint("Give an existing subject its tier with freetier_set_tier.")));
	}
	ft_stripe_lock_emptiest(pool, &stripe);
	result = used;
	if (claimed(&im, &result))
	{
		Jsonb	   *entry = DatumGetJsonbP(im.args);

		ft_stripe_append(&stripe, FT_LAYOUT_STRIPES, "import", 0, NULL,
						 JsonbToCString(NULL, &entry->root, VARSIZE(entry)), im.now);
	}
	SPI_finish();
	PG_RETURN_INT64(result);
}

PG_FUNCTION_INFO_V1(freetier_import_account);

/*
 * freetier_import_account(subject text, plan text, anniversary timestamptz,
 *		period_start timestamptz, period_used bigint, purchased_balance bigint,
 *		ref text, backend_use jsonb DEFAULT NULL) RETURNS bigint
 *
 * Open an account on `plan` with its anniversary, the period that began at
 * period_start (a start on the plan's grid from the anniversary; on a
 * lifetime plan the anniversary itself) with period_used credits of its
 * allowance used, backend_use of them per backend ({"backend": credits}),
 * and a purchased balance.  Returns the purchased balance.
 */
Datum
freetier_import_account(PG_FUNCTION_ARGS)
{
	Import		im = {.kind = "account"};
	char	   *plan;
	TimestampTz anniversary;
	TimestampTz period_start;
	int64		period_used;
	int64		purchased;
	FtPeriod	period;
	int64		result;
	int			nbackends;
	char	  **backends;
	int64	   *uses;
	int64		attributed = 0;
	int64		running = 0;
	int64	   *used;
	const char *bucket;
	bool		opened;
	FtAccount	a;
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	im.target = ft_text_arg(fcinfo, 0, "subject", true);
	ft_check_subject(im.target);
	plan = ft_text_arg(fcinfo, 1, "plan", true);
	ft_check_not_null(fcinfo, 2, "anniversary");
	anniversary = PG_GETARG_TIMESTAMPTZ(2);
	ft_check_not_null(fcinfo, 3, "period_start");
	period_start = PG_GETARG_TIMESTAMPTZ(3);
	period_used = amount_arg(fcinfo, 4, "period_used");
	purchased = amount_arg(fcinfo, 5, "purchased_balance");
	im.ref = ft_nonempty_text_arg(fcinfo, 6, "ref", "An import");
	im.now = ft_now();
	if (TIMESTAMP_NOT_FINITE(anniversary) || TIMESTAMP_NOT_FINITE(period_start))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("anniversary and period_start must be finite")));
	check_not_future("period_start", period_start, im.now);

	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(plan);
	if (ft_execute(&plan_period, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("plan \"%s\" does not exist", plan),
				 errdetail("Plans are created with freetier_define_plan.")));
	period = ft_period_from_name(ft_column_text(0, 1));
	if (period_start < anniversary ||
		ft_period_start(period, anniversary, period_start) != period_start)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period_start is not the start of a period of plan \"%s\"", plan),
				 errdetail("period_start was %s; the plan's periods start at its anniversary, %s, and every period after it.",
						   pstrdup(timestamptz_to_str(period_start)),
						   pstrdup(timestamptz_to_str(anniversary))),
				 errhint("On a lifetime plan period_start is the anniversary.")));

	/* the use per backend, in backend order */
	nbackends = 0;
	if (!PG_ARGISNULL(7))
	{
		args[0] = PG_GETARG_DATUM(7);
		nbackends = ft_execute(&backend_use_rows, args, NULL);
	}
	backends = palloc(sizeof(char *) * Max(nbackends, 1));
	uses = palloc(sizeof(int64) * Max(nbackends, 1));
	for (int i = 0; i < nbackends; i++)
	{
		bool		isnull;
		Datum		u = ft_column(i, 2, &isnull);

		backends[i] = ft_column_text(i, 1);
		if (isnull || backends[i][0] == '\0' || strlen(backends[i]) > FT_MAX_TEXT_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("backend_use must map backend names to credits"),
					 errdetail("Backend \"%s\" is not a name of 1 to %d bytes with a whole number of credits.",
							   backends[i], FT_MAX_TEXT_BYTES)));
		uses[i] = DatumGetInt64(u);
		attributed = ft_add_sats(attributed, uses[i], "backend use");
	}
	if (attributed > period_used)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("backend_use adds up to more than period_used"),
				 errdetail("backend_use adds up to " INT64_FORMAT "; period_used was " INT64_FORMAT ".",
						   attributed, period_used)));

	args[0] = CStringGetTextDatum(im.target);
	args[1] = CStringGetTextDatum(plan);
	args[2] = TimestampTzGetDatum(anniversary);
	args[3] = TimestampTzGetDatum(period_start);
	args[4] = Int64GetDatum(period_used);
	args[5] = Int64GetDatum(purchased);
	args[6] = PG_ARGISNULL(7) ? (Datum) 0 : PG_GETARG_DATUM(7);
	nulls[6] = PG_ARGISNULL(7) ? 'n' : ' ';
	im.args = args_jsonb(&account_args, args, nulls);
	if (replayed(&im, &result))
	{
		SPI_finish();
		PG_RETURN_INT64(result);
	}

	/* the new row is locked; a concurrent import of the account waits here */
	ft_account_open(im.target, plan, im.now, &opened);
	if (!opened)
	{
		if (replayed(&im, &result))
		{
			SPI_finish();
			PG_RETURN_INT64(result);
		}
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("account \"%s\" exists already", im.target),
				 errdetail("An import opens an account; one that exists may have spent, reserved or bought credits."),
				 errhint("Correct an existing account with freetier_add_credits or freetier_refund_credits.")));
	}
	result = purchased;
	if (!claimed(&im, &result))
		elog(ERROR, "freetier: account \"%s\" was opened by two imports", im.target);

	ft_account_require(im.target, im.now, &a);
	a.anniversary = anniversary;
	a.period_start = period_start;
	if (period == FT_PERIOD_LIFETIME)
	{
		used = &a.lifetime_plan_used;
		bucket = "lifetime";
	}
	else
	{
		used = &a.period_used;
		bucket = "period";
	}
	for (int i = 0; i <= nbackends; i++)
	{
		int64		part = i < nbackends ? uses[i] : period_used - attributed;

		if (part == 0)
			continue;
		running += part;
		if (i < nbackends)
		{
			Datum		use[4];

			use[0] = CStringGetTextDatum(im.target);
			use[1] = CStringGetTextDatum(backends[i]);
			use[2] = TimestampTzGetDatum(period == FT_PERIOD_LIFETIME ? DT_NOBEGIN : period_start);
			use[3] = Int64GetDatum(part);
			ft_execute(&insert_backend_use, use, NULL);
		}
		ft_account_append(&a, "import", bucket, part, running,
						  i < nbackends ? backends[i] : NULL, NULL, im.ref);
	}
	*used = period_used;
	a.lifetime_spent = period_used;
	if (purchased > 0)
	{
		a.purchased_balance = purchased;
		a.lifetime_added = purchased;
		ft_account_append(&a, "import", "purchased", purchased, purchased, NULL, NULL, im.ref);
	}
	ft_account_settings_chain(&a);
	a.changed = true;
	ft_account_save(&a);
	SPI_finish();
	PG_RETURN_INT64(result);
}
