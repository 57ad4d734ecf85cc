/*-------------------------------------------------------------------------
 *
 * decision.c
 *	  The decision arithmetic: inputs in, decision out, no I/O.
 *
 * freetier_decide and freetier_estimate both call these three steps, in this
 * order, so they cannot disagree:
 *
 *	 ft_request_gate   anonymous, zero_cost          (no table read)
 *	 ft_subject_gate   unknown_subject, no_budget,   (the subject's row)
 *					   daily_budget_exhausted
 *	 ft_against_pool   pool_empty, free, partial     (the pool's balance)
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

/* Fill d as gated for `reason`: nothing absorbed, everything charged. */
static void
gate(FtDecision *d, int64 estimated_sats, const char *reason)
{
	d->serve = FT_SERVE_GATE;
	d->absorb_sats = 0;
	d->charge_sats = estimated_sats;
	d->reason = reason;
}

/*
 * Is the window that began at window_start still open at now?  A window lasts
 * 24 h; the first use at or after its end starts a new one.
 */
bool
ft_window_is_current(bool has_window, TimestampTz window_start, TimestampTz now)
{
	return has_window && now - window_start < FT_WINDOW_USECS;
}

/* Gates that need no table: returns true and fills d when gated. */
bool
ft_request_gate(const char *subject, int64 estimated_sats, FtDecision *d)
{
	if (subject == NULL || subject[0] == '\0')
		gate(d, estimated_sats, "anonymous");
	else if (estimated_sats == 0)
		gate(d, estimated_sats, "zero_cost");
	else
		return false;
	return true;
}

/*
 * Gates of the subject's budget: returns true and fills d when gated, else
 * sets *remaining_sats to what the subject may still absorb (> 0).  Lowering
 * a tier's budget mid-window leaves max(0, budget - used).
 */
bool
ft_subject_gate(const FtSubjectState *s, int64 estimated_sats, TimestampTz now,
				FtDecision *d, int64 *remaining_sats)
{
	int64		used = 0;

	if (!s->known)
	{
		gate(d, estimated_sats, "unknown_subject");
		return true;
	}
	if (s->daily_budget_sats == 0)
	{
		gate(d, estimated_sats, "no_budget");
		return true;
	}
	if (ft_window_is_current(s->has_window, s->window_start, now))
		used = ft_add_sats(s->window_settled_sats, s->window_held_sats,
						   "sats used in the window");
	if (used >= s->daily_budget_sats)
	{
		gate(d, estimated_sats, "daily_budget_exhausted");
		return true;
	}
	*remaining_sats = s->daily_budget_sats - used;
	return false;
}

/* absorb = min(remaining, pool, estimate); all of it is free, less partial. */
void
ft_against_pool(int64 estimated_sats, int64 remaining_sats,
				int64 pool_available_sats, FtDecision *d)
{
	int64		absorb;

	if (pool_available_sats <= 0)
	{
		gate(d, estimated_sats, "pool_empty");
		return;
	}
	absorb = Min(Min(remaining_sats, pool_available_sats), estimated_sats);
	d->serve = absorb == estimated_sats ? FT_SERVE_FREE : FT_SERVE_PARTIAL;
	d->absorb_sats = absorb;
	d->charge_sats = estimated_sats - absorb;
	d->reason = NULL;
}

/* serve as the text the SQL functions return. */
const char *
ft_serve_name(FtServe serve)
{
	switch (serve)
	{
		case FT_SERVE_FREE:
			return "free";
		case FT_SERVE_PARTIAL:
			return "partial";
		case FT_SERVE_GATE:
			return "gate";
	}
	return "gate";				/* keep compiler quiet */
}
