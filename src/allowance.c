/*-------------------------------------------------------------------------
 *
 * allowance.c
 *	  The credit arithmetic, pure: how a request of n credits through a
 *	  backend splits between the period's allowance and the purchased
 *	  balance, or why it cannot be served.  Spending, reserving and routing
 *	  all decide through ft_split_credits.
 *
 * The allowance goes first (it is use-it-or-lose-it), then the purchased
 * balance; all or nothing.  A backend's cap limits only what is drawn from
 * the allowance through that backend; purchased credits are not capped.
 * "Left" amounts are FT_UNLIMITED when there is no limit.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

/* a + b for non-negative amounts, FT_UNLIMITED when it would not fit. */
int64
ft_add_saturating(int64 a, int64 b)
{
	return a > FT_UNLIMITED - b ? FT_UNLIMITED : a + b;
}

/*
 * backend_left:   what the allowance can still give through this backend
 *                 (min of the allowance left and the backend's cap left);
 * allowance_left: what the allowance can still give through any backend;
 * purchased_left: the purchased balance not on hold.
 */
void
ft_split_credits(int64 credits, int64 backend_left, int64 allowance_left,
				 int64 purchased_left, FtSplit *split)
{
	int64		from_allowance = Min(credits, backend_left);

	split->allowance_credits = from_allowance;
	split->purchased_credits = credits - from_allowance;
	split->ok = split->purchased_credits <= purchased_left;
	split->reason = NULL;
	if (!split->ok)
	{
		split->allowance_credits = 0;
		split->purchased_credits = 0;
		/* enough credits in all, but the cap keeps them from this backend */
		split->reason = ft_add_saturating(allowance_left, purchased_left) >= credits ?
			"backend_cap_exceeded" : "out_of_credits";
	}
}

/*
 * Whether the account's current scope has begun in storage: always for a
 * lifetime plan; for a periodic one, unless a rollover is due (then the
 * period's use so far is zero).
 */
bool
ft_account_scope_begun(const FtAccount *a)
{
	return a->period == FT_PERIOD_LIFETIME || a->period_start == a->current_start;
}

/* The allowance used in the current scope, a due rollover counted as done. */
int64
ft_account_used(const FtAccount *a)
{
	if (a->period == FT_PERIOD_LIFETIME)
		return a->lifetime_plan_used;
	return ft_account_scope_begun(a) ? a->period_used : 0;
}

/* What the allowance can still give, live holds counted; FT_UNLIMITED when unlimited. */
int64
ft_account_allowance_left(const FtAccount *a)
{
	int64		taken;

	if (a->unlimited)
		return FT_UNLIMITED;
	taken = ft_add_saturating(ft_account_used(a), a->held_allowance);
	return taken >= a->allowance ? 0 : a->allowance - taken;
}

/* The purchased balance not on hold. */
int64
ft_account_purchased_left(const FtAccount *a)
{
	return Max(0, a->purchased_balance - a->held_purchased);
}

/*
 * What the allowance can give through a capped backend: the allowance left,
 * and no more than the cap less what the scope drew through the backend
 * and what is on hold for it.
 */
int64
ft_backend_left(int64 allowance_left, int64 cap, int64 used, int64 held)
{
	int64		taken = ft_add_saturating(used, held);

	return Min(allowance_left, taken >= cap ? 0 : cap - taken);
}
