/*-------------------------------------------------------------------------
 *
 * anchor.c
 *	  Anchors: every chain's head, for an operator to keep outside the
 *	  database (freetier_ledger_anchor, or freetier_log_anchors to the
 *	  server log), and the check of a kept one against the chain
 *	  (freetier_verify_anchor, verify.c's check).
 *
 * A chain is named by text that says which it is:
 *
 *	 pool:<stripe>:<pool>	 stripe <stripe> of pool <pool> (the stripe in
 *							 decimal, without leading zeros)
 *	 account:<subject>		 the account of <subject>
 *	 plan:<plan>			 the settings of plan <plan> (0.4)
 *	 tier:<tier>			 the daily budget of tier <tier> (0.4)
 *	 credit_settings		 the credit settings (0.4)
 *
 * The pool, subject, plan or tier is the rest of the name, as it is, so
 * every pool, subject, plan or tier (':' in it or not) gives one name, and
 * every name one chain.  A settings chain's name is its key in
 * freetier.settings_ledger.
 *
 * All three only read, with one snapshot for the whole call (FT_READING):
 * the heads are read in one statement, so the anchors are those of one
 * instant.
 *
 * A seal is an anchor kept inside the database, made with the chain key
 * (chain_key.c) so that no one without it can make one: freetier_seal_chains
 * writes one for every chain that has no keyed entry and verifies, into
 * freetier.chain_seals, and verify.c takes it as vouching for such a chain
 * up to its head (README, "Keyed chains"); never for a chain with a keyed
 * entry, whose later entries must all be keyed.  Sealing takes no lock: an
 * entry appended meanwhile is keyed, and vouches for its chain itself.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"

#define POOL_PREFIX "pool:"
#define ACCOUNT_PREFIX "account:"
#define CREDIT_SETTINGS "credit_settings"

/*
 * Every chain's head (its family, key, stripe): pools' stripes first, then
 * accounts, then the settings chains.
 */
static FtStatement heads = {
	"SELECT 0, pool, stripe, head_seq, head_hash FROM freetier.pool_stripes"
	" UNION ALL SELECT 1, subject, 0, head_seq, head_hash FROM freetier.accounts"
	" UNION ALL SELECT 2, '" FT_PLAN_CHAIN_PREFIX "' OPERATOR(pg_catalog.||) plan, 0, head_seq, head_hash"
	"  FROM freetier.plans"
	" UNION ALL SELECT 2, '" FT_TIER_CHAIN_PREFIX "' OPERATOR(pg_catalog.||) tier, 0, head_seq, head_hash"
	"  FROM freetier.tiers"
	" UNION ALL SELECT 2, '" CREDIT_SETTINGS "', 0, head_seq, head_hash FROM freetier.credit_settings"
	" ORDER BY 1, 2, 3",
	0, {InvalidOid}, NULL
};

/*
 * The name of account `key`'s chain, of stripe `stripe` of pool `key`, or
 * of settings chain `key` (its key is its name).
 */
char *
ft_chain_name(FtChainFamily family, const char *key, int stripe)
{
	switch (family)
	{
		case FT_CHAINS_ACCOUNTS:
			return psprintf(ACCOUNT_PREFIX "%s", key);
		case FT_CHAINS_SETTINGS:
			return pstrdup(key);
		default:
			return psprintf(POOL_PREFIX "%d:%s", stripe, key);
	}
}

/* The name of the chain of a row of heads, as the header says. */
static char *
chain_name(TupleTableSlot *row)
{
	return ft_chain_name((FtChainFamily) DatumGetInt32(row->tts_values[0]),
						 TextDatumGetCString(row->tts_values[1]),
						 DatumGetInt32(row->tts_values[2]));
}

/* One row of heads as one row of the result. */
static void
anchor_row(TupleTableSlot *row, void *arg)
{
	FunctionCallInfo fcinfo = (FunctionCallInfo) arg;
	Datum		values[3];
	bool		isnull[3] = {false, false, false};

	slot_getallattrs(row);
	values[0] = CStringGetTextDatum(chain_name(row));
	values[1] = row->tts_values[3];
	values[2] = row->tts_values[4];
	ft_result_row(fcinfo, values, isnull);
}

/* One row of heads as one line of the server log; *arg counts them. */
static void
anchor_line(TupleTableSlot *row, void *arg)
{
	FtChainHead head;

	slot_getallattrs(row);
	ft_chain_head_read(&head, DatumGetInt64(row->tts_values[3]), row->tts_values[4]);
	ft_log_anchor(chain_name(row), head.seq, head.hash);
	(*(int64 *) arg)++;
}

PG_FUNCTION_INFO_V1(freetier_ledger_anchor);

/*
 * freetier_ledger_anchor()
 *	 RETURNS TABLE (chain text, seq bigint, head_hash bytea)
 *
 * One row per chain: its name, its head's seq and hash.
 */
Datum
freetier_ledger_anchor(PG_FUNCTION_ARGS)
{
	ft_result_begin(fcinfo);
	ft_connect(FT_READING);
	ft_execute_each(&heads, NULL, NULL, anchor_row, fcinfo);
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_log_anchors);

/*
 * freetier_log_anchors() RETURNS bigint
 *
 * What freetier_ledger_anchor shows, as one line per chain in the server
 * log (log_lines.c), for an operator's daily job; returns how many.
 */
Datum
freetier_log_anchors(PG_FUNCTION_ARGS)
{
	int64		n = 0;

	ft_connect(FT_READING);
	ft_execute_each(&heads, NULL, NULL, anchor_line, &n);
	SPI_finish();
	PG_RETURN_INT64(n);
}

/* 22023: a chain name that names no chain's kind. */
static void
report_malformed_chain(const char *chain)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("chain \"%s\" is malformed", chain),
			 errdetail("A chain is named \"pool:<stripe>:<pool>\", \"account:<subject>\", \"plan:<plan>\", \"tier:<tier>\" or \"credit_settings\", as freetier_ledger_anchor shows it.")));
}

/*
 * Read a chain's name: its family, its key (the pool, the subject, or a
 * settings chain's whole name) and its stripe (0 but for a pool).  22023
 * when malformed.
 */
static void
parse_chain_name(const char *chain, FtChainFamily *family, const char **key, int *stripe)
{
	const char *p;

	*stripe = 0;
	if (strcmp(chain, CREDIT_SETTINGS) == 0)
	{
		*family = FT_CHAINS_SETTINGS;
		*key = chain;
		return;
	}
	if (strncmp(chain, FT_PLAN_CHAIN_PREFIX, strlen(FT_PLAN_CHAIN_PREFIX)) == 0)
	{
		*family = FT_CHAINS_SETTINGS;
		p = chain + strlen(FT_PLAN_CHAIN_PREFIX);
	}
	else if (strncmp(chain, FT_TIER_CHAIN_PREFIX, strlen(FT_TIER_CHAIN_PREFIX)) == 0)
	{
		*family = FT_CHAINS_SETTINGS;
		p = chain + strlen(FT_TIER_CHAIN_PREFIX);
	}
	else if (strncmp(chain, ACCOUNT_PREFIX, strlen(ACCOUNT_PREFIX)) == 0)
	{
		*family = FT_CHAINS_ACCOUNTS;
		p = chain + strlen(ACCOUNT_PREFIX);
	}
	else if (strncmp(chain, POOL_PREFIX, strlen(POOL_PREFIX)) == 0)
	{
		const char *digits = chain + strlen(POOL_PREFIX);

		*family = FT_CHAINS_POOLS;
		for (p = digits; *p >= '0' && *p <= '9' && p - digits < 3; p++)
			*stripe = *stripe * 10 + (*p - '0');
		if (p == digits || *p != ':' || (digits[0] == '0' && p - digits > 1))
			report_malformed_chain(chain);
		p++;
	}
	else
		report_malformed_chain(chain);
	if (*p == '\0' || strlen(p) > FT_MAX_TEXT_BYTES)
		report_malformed_chain(chain);
	*key = *family == FT_CHAINS_SETTINGS ? chain : p;
}

PG_FUNCTION_INFO_V1(freetier_verify_anchor);

/*
 * freetier_verify_anchor(chain text, seq bigint, head_hash bytea)
 *	 RETURNS boolean
 *
 * True only when the chain's entry seq still has that hash and the chain
 * verifies, from its start to its head (ft_verify_anchor).
 */
Datum
freetier_verify_anchor(PG_FUNCTION_ARGS)
{
	char	   *chain;
	bytea	   *hash;
	FtChainFamily family;
	const char *key;
	int			stripe;
	bool		exists;
	bool		holds = false;

	ft_check_not_null(fcinfo, 0, "chain");
	ft_check_not_null(fcinfo, 1, "seq");
	ft_check_not_null(fcinfo, 2, "head_hash");
	chain = text_to_cstring(PG_GETARG_TEXT_PP(0));
	hash = PG_GETARG_BYTEA_PP(2);
	parse_chain_name(chain, &family, &key, &stripe);

	ft_connect(FT_READING);
	if (VARSIZE_ANY_EXHDR(hash) == FT_HASH_BYTES)
		holds = ft_verify_anchor(family, key, stripe, PG_GETARG_INT64(1),
								 (const uint8 *) VARDATA_ANY(hash), &exists);
	else						/* no entry has such a hash; but is the chain there? */
		(void) ft_verify_anchor(family, key, stripe, -1, NULL, &exists);
	SPI_finish();
	if (!exists)
		ft_report_unknown_chain(chain);
	PG_RETURN_BOOL(holds);
}

static FtStatement save_seal = {
	"INSERT INTO freetier.chain_seals (chain, seq, seal) VALUES ($1, $2, $3)"
	" ON CONFLICT (chain) DO UPDATE SET seq = EXCLUDED.seq, seal = EXCLUDED.seal",
	3, {TEXTOID, INT8OID, BYTEAOID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_seal_chains);

/*
 * freetier_seal_chains() RETURNS bigint
 *
 * Seal every chain that has no keyed entry and verifies (an existing
 * install's chains, once a chain key is loaded); returns how many.  A
 * chain whose head is keyed is left as it is (its keyed entries vouch for
 * it); a chain with a keyed entry and an unkeyed one after it, and one
 * that does not verify, are skipped, each with a line in the server log
 * that names it (log_lines.c), so that one bad chain does not keep the
 * others from being sealed.  55000 without a chain key.
 *
 * The chains are read and checked with one snapshot (FT_READING), as
 * verification reads them, and each is sealed at the head it was checked
 * at; then the seals are written.
 */
Datum
freetier_seal_chains(PG_FUNCTION_ARGS)
{
	MemoryContext outer = CurrentMemoryContext;
	int			n;
	char	  **names;
	int64	   *seqs;
	uint8	  (*ends)[FT_HASH_BYTES];
	bool	   *sealable;
	int64		sealed = 0;

	ft_chain_key_required("freetier_seal_chains seals each chain's head with the chain key.");
	ft_connect(FT_READING);
	n = ft_execute(&heads, NULL, NULL);
	names = MemoryContextAllocZero(outer, sizeof(char *) * Max(n, 1));
	seqs = MemoryContextAllocZero(outer, sizeof(int64) * Max(n, 1));
	ends = MemoryContextAllocZero(outer, FT_HASH_BYTES * Max(n, 1));
	sealable = MemoryContextAllocZero(outer, sizeof(bool) * Max(n, 1));
	{
		FtChainFamily *families = palloc(sizeof(FtChainFamily) * Max(n, 1));
		char	  **keys = palloc(sizeof(char *) * Max(n, 1));
		int		   *stripes = palloc(sizeof(int) * Max(n, 1));
		FtChainHead *read = palloc(sizeof(FtChainHead) * Max(n, 1));

		for (int i = 0; i < n; i++)
		{
			bool		isnull;

			families[i] = (FtChainFamily) DatumGetInt32(ft_column(i, 1, &isnull));
			keys[i] = ft_column_text(i, 2);
			stripes[i] = DatumGetInt32(ft_column(i, 3, &isnull));
			names[i] = MemoryContextStrdup(outer, ft_chain_name(families[i], keys[i], stripes[i]));
			ft_chain_head_read(&read[i], ft_column_int64(i, 4), ft_column(i, 5, &isnull));
		}
		for (int i = 0; i < n; i++)
		{
			int64		first_bad_entry;

			if (read[i].seq == 0 || ft_hash_is_keyed(read[i].hash))
				continue;
			switch (ft_check_for_seal(families[i], keys[i], stripes[i], &seqs[i], ends[i],
									  &first_bad_entry))
			{
				case FT_SEAL_YES:
					sealable[i] = seqs[i] > 0;
					break;
				case FT_SEAL_BAD:
					ft_log_not_sealed(names[i], first_bad_entry);
					break;
				case FT_SEAL_KEYED:		/* its keyed entries vouch for it */
				case FT_SEAL_GONE:		/* neither, with one snapshot: read as above */
					break;
			}
		}
	}
	SPI_finish();

	ft_connect(FT_LOCKING);
	for (int i = 0; i < n; i++)
	{
		uint8		seal[FT_HASH_BYTES];
		Datum		args[3];

		if (!sealable[i])
			continue;
		ft_chain_seal(names[i], seqs[i], ends[i], seal);
		args[0] = CStringGetTextDatum(names[i]);
		args[1] = Int64GetDatum(seqs[i]);
		args[2] = ft_hash_datum(seal);
		ft_execute(&save_seal, args, NULL);
		sealed++;
	}
	SPI_finish();
	PG_RETURN_INT64(sealed);
}
