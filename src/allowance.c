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
