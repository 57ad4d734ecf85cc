/*-------------------------------------------------------------------------
 *
 * trial.c
 *	  Anonymous trials: freetier_mint_trial and freetier_claim_trial.
 *
 * A trial is an account on the trial plan whose credits are in its
 * purchased balance.  At most trials_per_network are minted per network
 * within trial_window, a network being one IPv4 address (IPv4-mapped and
 * NAT64 IPv6 addresses count as the IPv4 address they carry) or one IPv6
 * /64 (trial_network).  Minting locks the network's
 * row in freetier.trial_networks first, so two mints from one network at
 * the cap queue and the second counts the first.  On signup the trial's
 * remaining credits carry over to the real account once.
 *
 * With a request_key (request_key.c), a mint looks the key up once the
 * network is locked: a key that minted gets that trial back; a refusal
 * (trial_limit) records nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include <sys/socket.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/inet.h"

/*
 * The settings, and the trials minted from network $1 within the window
 * that ends at $2.  Read after the network's row is locked, so that the
 * previous holder's trial is counted.
 */
static FtStatement network_trials = {
	"SELECT s.trials_per_network, s.trial_credits, s.trial_plan,"
	" (SELECT pg_catalog.count(*) FROM freetier.trials t"
	"   WHERE t.network OPERATOR(pg_catalog.=) $1"
	"     AND t.minted_at OPERATOR(pg_catalog.>) " FT_MINUS_DURATION("$2", "s.trial_window") ")"
	" FROM freetier.credit_settings s",
	2, {CIDROID, TIMESTAMPTZOID}, NULL
};

static FtStatement claim_network = {
	"INSERT INTO freetier.trial_networks (network, last_minted) VALUES ($1, $2)"
	" ON CONFLICT (network) DO NOTHING",
	2, {CIDROID, TIMESTAMPTZOID}, NULL
};

static FtStatement lock_network = {
	"SELECT 1 FROM freetier.trial_networks WHERE network OPERATOR(pg_catalog.=) $1"
	" FOR NO KEY UPDATE",
	1, {CIDROID}, NULL
};

static FtStatement record_trial = {
	"WITH t AS (INSERT INTO freetier.trials (subject, client_ip, network, minted_at)"
	"  VALUES ($1, $2, $3, $4))"
	" UPDATE freetier.trial_networks SET last_minted = $4"
	" WHERE network OPERATOR(pg_catalog.=) $3",
	4, {TEXTOID, INETOID, CIDROID, TIMESTAMPTZOID}, NULL
};

static FtStatement new_trial_subject = {
	"SELECT 'trial:' OPERATOR(pg_catalog.||) pg_catalog.gen_random_uuid()::text",
	0, {InvalidOid}, NULL
};

/* The first 96 bits of the IPv6 prefixes that carry an IPv4 address. */
static const uint8 ipv4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8 nat64_prefix[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

/*
 * The network a trial from `ip` counts against, as a cidr: the IPv4
 * address (/32), also when it comes inside an IPv4-mapped (::ffff:0:0/96)
 * or NAT64 (64:ff9b::/96) IPv6 address, or else the IPv6 /64.  The mask
 * `ip` carries is ignored: a client is one address.
 */
static inet *
trial_network(const inet *ip)
{
	inet	   *net = palloc0(sizeof(inet));
	const uint8 *addr = ip_addr(ip);
	inet_struct *n = &net->inet_data;

	if (ip_family(ip) == PGSQL_AF_INET6 &&
		(memcmp(addr, ipv4_mapped_prefix, 12) == 0 ||
		 memcmp(addr, nat64_prefix, 12) == 0))
	{
		n->family = PGSQL_AF_INET;
		n->bits = 32;
		memcpy(n->ipaddr, addr + 12, 4);
	}
	else if (ip_family(ip) == PGSQL_AF_INET)
	{
		n->family = PGSQL_AF_INET;
		n->bits = 32;
		memcpy(n->ipaddr, addr, 4);
	}
	else
	{
		n->family = PGSQL_AF_INET6;
		n->bits = 64;
		memcpy(n->ipaddr, addr, 8);
	}
	SET_INET_VARSIZE(net);
	return net;
}

/* mint_trial's row: the trial and its credits, or subject NULL and trial_limit. */
static Datum
trial_row(FunctionCallInfo fcinfo, const char *subject, int64 credits)
{
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	values[0] = subject ? CStringGetTextDatum(subject) : (Datum) 0;
	nulls[0] = subject == NULL;
	values[1] = Int64GetDatum(subject ? credits : 0);
	values[2] = subject ? (Datum) 0 : CStringGetTextDatum("trial_limit");
	nulls[2] = subject != NULL;
	ft_result_row(fcinfo, values, nulls);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(freetier_mint_trial);

/*
 * freetier_mint_trial(client_ip inet [, request_key text DEFAULT NULL])
 *	 RETURNS TABLE (subject text, credits bigint, reason text)
 *
 * A new trial account, or subject NULL with reason 'trial_limit'.
 */
Datum
freetier_mint_trial(PG_FUNCTION_ARGS)
{
	TimestampTz now = ft_now();
	Datum		client_ip;
	Datum		network;
	int64		limit;
	int64		credits;
	char	   *plan;
	char	   *subject = NULL;
	bool		isnull;
	bool		opened;
	Datum		args[4];
	char	   *request_key = ft_request_key_arg(fcinfo, 1);
	uint8		fingerprint[FT_HASH_BYTES];
	FtKeyedResult k;

	ft_check_not_null(fcinfo, 0, "client_ip");
	client_ip = PG_GETARG_DATUM(0);
	network = InetPGetDatum(trial_network(DatumGetInetPP(client_ip)));
	if (request_key)
	{
		FtField		ip = ft_text_field(DatumGetCString(DirectFunctionCall1(inet_out,
																		   client_ip)));

		ft_request_key_fingerprint("mint_trial", &ip, 1, fingerprint);
	}
	ft_result_begin(fcinfo);
	ft_connect(FT_LOCKING);

	args[0] = network;
	args[1] = TimestampTzGetDatum(now);
	/* freetier_prune may delete the row between the two: make it again */
	do
		ft_execute(&claim_network, args, NULL);
	while (ft_execute(&lock_network, args, NULL) == 0);
	/* once the network is locked: a repeat waited for the first call */
	if (request_key && ft_request_key_find(request_key, "mint_trial", fingerprint, &k))
	{
		SPI_finish();
		return trial_row(fcinfo, k.subject, k.purchased_credits);
	}
	ft_execute(&network_trials, args, NULL);
	limit = DatumGetInt32(ft_column(0, 1, &isnull));
	credits = ft_column_int64(0, 2);
	plan = ft_column_text(0, 3);
	if (ft_column_int64(0, 4) < limit)
	{
		FtAccount	a;

		ft_execute(&new_trial_subject, NULL, NULL);
		subject = ft_column_text(0, 1);
		ft_account_open(subject, plan, now, &opened);
		ft_account_require(subject, now, &a);
		if (credits > 0)
			ft_account_add_purchased(&a, "trial", credits, NULL);
		ft_account_save(&a);
		args[0] = CStringGetTextDatum(subject);
		args[1] = client_ip;
		args[2] = network;
		args[3] = TimestampTzGetDatum(now);
		ft_execute(&record_trial, args, NULL);
		if (request_key)
		{
			FtKeyedResult made = {.subject = subject, .purchased_credits = credits};

			ft_request_key_record(request_key, "mint_trial", fingerprint, &made, true, now);
		}
	}
	ft_count_account(FT_CALL_MINT_TRIAL, subject ? NULL : "trial_limit", 1,
					 0, subject ? credits : 0);
	SPI_finish();
	return trial_row(fcinfo, subject, credits);
}

static FtStatement lock_trial = {
	"SELECT claimed_by, claimed_credits FROM freetier.trials"
	" WHERE subject OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
	1, {TEXTOID}, NULL
};

static FtStatement is_trial = {
	"SELECT 1 FROM freetier.trials WHERE subject OPERATOR(pg_catalog.=) $1",
	1, {TEXTOID}, NULL
};

static FtStatement mark_claimed = {
	"UPDATE freetier.trials SET claimed_by = $2, claimed_credits = $3, claimed_at = $4"
	" WHERE subject OPERATOR(pg_catalog.=) $1",
	4, {TEXTOID, TEXTOID, INT8OID, TIMESTAMPTZOID}, NULL
};

PG_FUNCTION_INFO_V1(freetier_claim_trial);

/*
 * freetier_claim_trial(trial_subject text, subject text) RETURNS bigint
 *
 * Carry the trial's remaining credits (its purchased balance less what is
 * on hold) over to subject's purchased balance, opening the account if
 * needed.  Once: claiming it again for the same subject returns the first
 * result; for another subject it is an error.
 */
Datum
freetier_claim_trial(PG_FUNCTION_ARGS)
{
	char	   *trial = ft_text_arg(fcinfo, 0, "trial_subject", true);
	char	   *subject = ft_text_arg(fcinfo, 1, "subject", true);
	TimestampTz now = ft_now();
	Datum		args[4];
	bool		isnull;
	bool		opened;
	int64		remaining;
	FtAccount	from;
	FtAccount	to;

	ft_check_subject(subject);
	ft_connect(FT_LOCKING);
	args[0] = CStringGetTextDatum(trial);
	if (ft_execute(&lock_trial, args, NULL) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("trial \"%s\" does not exist", trial),
				 errdetail("Trials are minted by freetier_mint_trial.")));
	(void) ft_column(0, 1, &isnull);
	if (!isnull)
	{
		char	   *claimed_by = ft_column_text(0, 1);

		remaining = ft_column_int64(0, 2);
		if (strcmp(claimed_by, subject) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("trial \"%s\" was already claimed by another account", trial),
					 errdetail("It carried " INT64_FORMAT " credits over to \"%s\".",
							   remaining, claimed_by)));
		SPI_finish();
		PG_RETURN_INT64(remaining);
	}
	args[0] = CStringGetTextDatum(subject);
	if (ft_execute(&is_trial, args, NULL) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot claim a trial into another trial"),
				 errdetail("\"%s\" is a trial account.", subject)));

	ft_account_open(subject, NULL, now, &opened);
	/* two accounts: lock them in subject order */
	if (strcmp(trial, subject) < 0)
	{
		ft_account_require(trial, now, &from);
		ft_account_require(subject, now, &to);
	}
	else
	{
		ft_account_require(subject, now, &to);
		ft_account_require(trial, now, &from);
	}

	remaining = ft_account_purchased_left(&from);
	if (remaining > 0)
	{
		from.purchased_balance -= remaining;
		ft_account_append(&from, "carry_out", "purchased", -remaining,
						  from.purchased_balance, NULL, NULL, subject);
		ft_account_add_purchased(&to, "carry_in", remaining, trial);
	}
	ft_account_save(&from);
	ft_account_save(&to);

	args[0] = CStringGetTextDatum(trial);
	args[1] = CStringGetTextDatum(subject);
	args[2] = Int64GetDatum(remaining);
	args[3] = TimestampTzGetDatum(now);
	ft_execute(&mark_claimed, args, NULL);
	SPI_finish();
	PG_RETURN_INT64(remaining);
}
