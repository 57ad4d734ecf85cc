/*-------------------------------------------------------------------------
 *
 * index_read.c
 *	  Reads through an index without SPI, for estimate and decide's reads:
 *	  a lookup by key costs a few microseconds, while starting and ending
 *	  the executor for the one statement that does the same cost three
 *	  times that (the 0.3 issue's profile of estimate).
 *
 * A read here sees the rows visible to the active snapshot: estimate's
 * caller's, so that every read of one call sees one state; in a call that
 * locks, the one ft_push_read_snapshot (spi.c) makes active, as its next
 * statement would read.  It takes AccessShareLock on the table and the
 * index, as a SELECT does, and keeps them to the end of the transaction.
 * It checks no privilege and resolves no name through search_path: the
 * EXECUTE privilege on the SQL function that reads is the only gate, as
 * for the SECURITY DEFINER functions (which is why estimate, whose only
 * reads are these, needs to be neither SECURITY DEFINER nor pinned).
 * The caller's function tests each row it is handed against every
 * condition the keys do not cover (a partial index's predicate holds for
 * every row found through it, as the planner assumes too).
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/skey.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* The relations read without SQL, each with its OID as last found. */
FtRelation	ft_pools = FT_RELATION("pools");
FtRelation	ft_pools_pkey = FT_RELATION("pools_pkey");
FtRelation	ft_pool_stripes = FT_RELATION("pool_stripes");
FtRelation	ft_pool_stripes_pkey = FT_RELATION("pool_stripes_pkey");
FtRelation	ft_holds = FT_RELATION("holds");
FtRelation	ft_holds_held_by_expiry = FT_RELATION("holds_held_by_expiry");
FtRelation	ft_holds_held_by_subject = FT_RELATION("holds_held_by_subject");
FtRelation	ft_subjects = FT_RELATION("subjects");
FtRelation	ft_subjects_pkey = FT_RELATION("subjects_pkey");
FtRelation	ft_tiers = FT_RELATION("tiers");
FtRelation	ft_tiers_pkey = FT_RELATION("tiers_pkey");

/* freetier's schema, as last found */
static Oid	freetier_schema = InvalidOid;

/*
 * freetier.<name>, opened with AccessShareLock.  The relation's OID (and
 * the schema's) is kept for the backend's life and trusted while the
 * relation it opens still has that name in that schema: a dropped and
 * re-created extension has new OIDs, and then both are looked up again.
 */
static Relation
open_by_name(FtRelation *r)
{
	Relation	rel;

	if (OidIsValid(r->oid))
	{
		rel = try_relation_open(r->oid, AccessShareLock);
		if (rel != NULL && RelationGetNamespace(rel) == freetier_schema &&
			strcmp(RelationGetRelationName(rel), r->name) == 0)
			return rel;
		if (rel != NULL)
			relation_close(rel, AccessShareLock);
	}
	freetier_schema = get_namespace_oid("freetier", false);
	r->oid = get_relname_relid(r->name, freetier_schema);
	if (!OidIsValid(r->oid))
		elog(ERROR, "freetier: relation freetier.%s does not exist", r->name);
	return relation_open(r->oid, AccessShareLock);
}

/* The attribute number of column `name` of rel. */
static AttrNumber
column_attno(Relation rel, const char *name)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->attnum;
	}
	elog(ERROR, "freetier: freetier.%s has no column %s", RelationGetRelationName(rel), name);
	return InvalidAttrNumber;	/* not reached */
}

/*
 * Hands `columns` of each row of `table` that `index` finds for `keys` (on
 * the index's columns, compared in the index's collation) and that the
 * active snapshot sees to each_row, in index order, until each_row returns
 * false.  The values live until each_row returns.  Columns are found by
 * name on every call: an upgrade may have added or dropped some.
 */
void
ft_index_read(FtRelation *table, FtRelation *index, const FtIndexKey *keys, int nkeys,
			  const char *const *columns, int ncolumns, FtValuesFunc each_row, void *arg)
{
	Relation	heap = open_by_name(table);
	Relation	idx = open_by_name(index);
	ScanKeyData scankeys[FT_MAX_INDEX_KEYS];
	AttrNumber	attnos[FT_MAX_READ_COLUMNS];
	Datum		values[FT_MAX_READ_COLUMNS];
	bool		isnull[FT_MAX_READ_COLUMNS];
	IndexScanDesc scan;
	TupleTableSlot *slot;

	Assert(nkeys <= FT_MAX_INDEX_KEYS && ncolumns <= FT_MAX_READ_COLUMNS);
	if (idx->rd_index == NULL || idx->rd_index->indrelid != RelationGetRelid(heap))
		elog(ERROR, "freetier: freetier.%s is not an index of freetier.%s",
			 index->name, table->name);
	for (int i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&scankeys[i], 0, keys[i].attno, keys[i].strategy,
							   InvalidOid, idx->rd_indcollation[keys[i].attno - 1],
							   keys[i].proc, keys[i].value);
	for (int c = 0; c < ncolumns; c++)
		attnos[c] = column_attno(heap, columns[c]);

	slot = table_slot_create(heap, NULL);
	scan = ft_index_beginscan(heap, idx, GetActiveSnapshot(), nkeys);
	index_rescan(scan, scankeys, nkeys, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		for (int c = 0; c < ncolumns; c++)
			values[c] = slot_getattr(slot, attnos[c], &isnull[c]);
		if (!each_row(values, isnull, arg))
			break;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	relation_close(idx, NoLock);
	relation_close(heap, NoLock);
}

static bool
found_row(const Datum *values, const bool *isnull, void *arg)
{
	*(bool *) arg = true;
	return false;
}

/* Whether `index` finds a row of `table` for `keys` that the active snapshot sees. */
bool
ft_index_has_row(FtRelation *table, FtRelation *index, const FtIndexKey *keys, int nkeys)
{
	bool		found = false;

	ft_index_read(table, index, keys, nkeys, NULL, 0, found_row, &found);
	return found;
}
