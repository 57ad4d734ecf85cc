/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every difference between the PostgreSQL versions freetier builds
 *	  against (15, 17, 18), in one place.  Code elsewhere calls the ft_
 *	  names below and never tests PG_VERSION_NUM itself.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FREETIER_COMPAT_H
#define FREETIER_COMPAT_H

#include "utils/datetime.h"
#include "utils/guc.h"

/*
 * DecodeDateTime: PostgreSQL 16 added an 8th argument, where a failed parse
 * leaves the time zone name or abbreviation it did not know.  freetier only
 * needs to know that parsing failed, so the extra is thrown away.
 */
static inline int
ft_decode_datetime(char **field, int *ftype, int nf, int *dtype,
				   struct pg_tm *tm, fsec_t *fsec, int *tzp)
{
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra extra;

	return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp, &extra);
#else
	return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp);
#endif
}

/*
 * The "extra" a GUC check hook hands back is freed by the GUC machinery:
 * with free() up to PostgreSQL 15, with guc_free() (a pfree() in the GUC
 * memory context) from 16 on, which must be given guc_malloc()'s memory.
 * Either way NULL means out of memory, and the hook returns false; on 16+
 * guc_malloc has logged it (LOG, as check hooks must not throw).
 */
#if PG_VERSION_NUM >= 160000
#define ft_guc_extra_malloc(size)	guc_malloc(LOG, (size))
#else
#define ft_guc_extra_malloc(size)	malloc(size)
#endif

/*
 * index_beginscan: PostgreSQL 18 added an argument for EXPLAIN's
 * instrumentation, between the snapshot and the key counts; freetier has
 * none to give.
 */
#if PG_VERSION_NUM >= 180000
#define ft_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), 0)
#else
#define ft_index_beginscan(heap, index, snapshot, nkeys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), 0)
#endif

#endif							/* FREETIER_COMPAT_H */
