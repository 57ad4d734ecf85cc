/*-------------------------------------------------------------------------
 *
 * chain.c
 *	  The hash chains' write side: an entry's hash, and appending an entry
 *	  to a chain (a pool's ledger, an account's ledger).
 *
 * An entry's hash is BLAKE2b-256 (libsodium crypto_generichash, unkeyed) over
 * the chain's domain tag, the entry's fields in order, and the previous
 * entry's hash (32 zero bytes for a chain's first entry).  With a chain key
 * loaded (chain_key.c) an entry is written keyed instead: FT_KEYED_TAG, then
 * keyed BLAKE2b of 28 bytes over the same input; the tag tells verify.c
 * which an entry is without the key.  An integer (a
 * timestamp too: microseconds since 2000-01-01 UTC) is 8 big-endian bytes;
 * a string is its byte length as such an integer, then its bytes; a uuid is
 * the length 16 and its bytes; NULL is the length -1.  Changing any stored
 * field of any entry, or removing or reordering entries, breaks the chain
 * from that entry on (verify.c checks it).
 *
 * Field 0 of every entry is the chain's key (a pool, a subject) and field 1
 * its seq.  The caller holds the row lock that owns the chain's head, so
 * appends to one chain are serialised.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include <sodium.h>

#include "utils/builtins.h"

/*
 * The bytes an entry's hash covers, gathered in a buffer and given to
 * BLAKE2b in a few large pieces rather than a call per field.
 */
typedef struct HashInput
{
	crypto_generichash_state state;
	int			used;
	uint8		buf[256];
} HashInput;

static void
hash_put(HashInput *in, const uint8 *bytes, size_t len)
{
	if (in->used + len > sizeof(in->buf))
	{
		crypto_generichash_update(&in->state, in->buf, in->used);
		in->used = 0;
	}
	if (len > sizeof(in->buf))
		crypto_generichash_update(&in->state, bytes, len);
	else
	{
		memcpy(in->buf + in->used, bytes, len);
		in->used += len;
	}
}

/* An integer as 8 big-endian bytes. */
static void
hash_int64(HashInput *in, int64 v)
{
	uint8		buf[8];

	for (int i = 7; i >= 0; i--)
	{
		buf[i] = (uint8) (v & 0xFF);
		v = (int64) ((uint64) v >> 8);
	}
	hash_put(in, buf, sizeof(buf));
}

/* Bytes as their length then themselves; NULL as length -1. */
static void
hash_bytes(HashInput *in, const uint8 *bytes, int64 len)
{
	if (bytes == NULL)
	{
		hash_int64(in, -1);
		return;
	}
	hash_int64(in, len);
	hash_put(in, bytes, len);
}

/*
 * The hash of an entry with these fields after the entry whose hash is
 * prev: keyed with `key` (FT_CHAIN_KEY_BYTES) when it is not NULL.
 */
static void
chain_hash(const uint8 *key, const char *domain, const FtField *fields, int nfields,
		   const uint8 *prev, uint8 *out)
{
	HashInput	in;

	if (key)
		crypto_generichash_init(&in.state, key, FT_CHAIN_KEY_BYTES,
								FT_HASH_BYTES - FT_KEYED_TAG_BYTES);
	else
		crypto_generichash_init(&in.state, NULL, 0, FT_HASH_BYTES);
	in.used = 0;
	hash_bytes(&in, (const uint8 *) domain, strlen(domain));
	for (int i = 0; i < nfields; i++)
	{
		const FtField *f = &fields[i];

		switch (f->type)
		{
			case FT_FIELD_INT64:
				hash_int64(&in, f->i);
				break;
			case FT_FIELD_TEXT:
				hash_bytes(&in, (const uint8 *) f->s, f->len);
				break;
			case FT_FIELD_UUID:
				hash_bytes(&in, f->u ? f->u->data : NULL, UUID_LEN);
				break;
		}
	}
	hash_put(&in, prev, FT_HASH_BYTES);
	crypto_generichash_update(&in.state, in.buf, in.used);
	if (key)
	{
		memcpy(out, FT_KEYED_TAG, FT_KEYED_TAG_BYTES);
		crypto_generichash_final(&in.state, out + FT_KEYED_TAG_BYTES,
								 FT_HASH_BYTES - FT_KEYED_TAG_BYTES);
	}
	else
		crypto_generichash_final(&in.state, out, FT_HASH_BYTES);
}

/* The unkeyed hash of an entry (and of a request key's arguments). */
void
ft_chain_hash(const char *domain, const FtField *fields, int nfields,
			  const uint8 *prev, uint8 *out)
{
	chain_hash(NULL, domain, fields, nfields, prev, out);
}

/* The keyed hash of an entry; 55000 when no chain key is loaded. */
void
ft_chain_hash_keyed(const char *domain, const FtField *fields, int nfields,
					const uint8 *prev, uint8 *out)
{
	chain_hash(ft_chain_key_required("Keyed entries and seals are made and checked with the chain key."),
			   domain, fields, nfields, prev, out);
}

/*
 * A seal of chain `chain` (its anchor name) at its head, entry `seq` of
 * hash `head`: a keyed hash over them, which only the key can make
 * (anchor.c writes seals, verify.c checks them).
 */
void
ft_chain_seal(const char *chain, int64 seq, const uint8 *head, uint8 *out)
{
	FtField		fields[2] = {ft_text_field(chain), ft_int64_field(seq)};

	ft_chain_hash_keyed(FT_SEAL_DOMAIN, fields, 2, head, out);
}

/* Whether a stored hash is of the keyed form (or an unkeyed one that starts so). */
bool
ft_hash_is_keyed(const uint8 *hash)
{
	return memcmp(hash, FT_KEYED_TAG, FT_KEYED_TAG_BYTES) == 0;
}

/* A hash as a bytea, for the statements that store it. */
Datum
ft_hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + FT_HASH_BYTES);

	SET_VARSIZE(b, VARHDRSZ + FT_HASH_BYTES);
	memcpy(VARDATA(b), hash, FT_HASH_BYTES);
	return PointerGetDatum(b);
}

/* A chain's head as stored in its owning row: head_seq and head_hash. */
void
ft_chain_head_read(FtChainHead *head, int64 seq, Datum hash)
{
	bytea	   *b = DatumGetByteaPP(hash);

	if (VARSIZE_ANY_EXHDR(b) != FT_HASH_BYTES)
		elog(ERROR, "freetier: a chain head is malformed");
	head->seq = seq;
	memcpy(head->hash, VARDATA_ANY(b), FT_HASH_BYTES);
}

/*
 * Whether an entry is a pool's install-time seed (FT_INSTALL_SEED): the same
 * bytes in every install, keyed or not, since a dump leaves it out and
 * CREATE EXTENSION makes it again wherever the dump is restored.
 */
static bool
is_install_seed(const char *domain, const FtField *fields, int nfields)
{
	return strcmp(domain, FT_POOL_CHAIN) == 0 && nfields >= 8 && fields[1].i == 1 &&
		fields[7].i == DT_NOBEGIN && fields[2].s != NULL &&
		fields[2].len == strlen("seed") && memcmp(fields[2].s, "seed", fields[2].len) == 0;
}

/*
 * Number an entry as the one after *head (field 1 is its seq) and hash it,
 * keyed when a chain key is loaded (but an install-time seed): *next is the
 * chain's head once the entry is written.
 */
void
ft_chain_next(const FtChainHead *head, const char *domain, FtField *fields,
			  int nfields, FtChainHead *next)
{
	fields[1] = ft_int64_field(head->seq + 1);
	chain_hash(is_install_seed(domain, fields, nfields) ? NULL : ft_chain_key(),
			   domain, fields, nfields, head->hash, next->hash);
	next->seq = head->seq + 1;
}

/* A field as a statement parameter. */
void
ft_field_arg(const FtField *f, Datum *arg, char *null)
{
	*null = ' ';
	switch (f->type)
	{
		case FT_FIELD_INT64:
			*arg = Int64GetDatum(f->i);
			break;
		case FT_FIELD_TEXT:
			*null = f->s ? ' ' : 'n';
			*arg = f->s ? PointerGetDatum(cstring_to_text_with_len(f->s, f->len)) : (Datum) 0;
			break;
		case FT_FIELD_UUID:
			*null = f->u ? ' ' : 'n';
			*arg = f->u ? UUIDPGetDatum(f->u) : (Datum) 0;
			break;
	}
}

/*
 * Append an entry to the chain that ends at *head, and advance the head.
 * `insert` takes the fields as $1..$n, then the previous hash and the
 * entry's hash (account.c saves the owning row's head later).
 */
void
ft_chain_append(FtChainHead *head, const char *domain, FtStatement *insert,
				FtField *fields, int nfields)
{
	Datum		args[FT_MAX_ARGS];
	char		nulls[FT_MAX_ARGS];
	FtChainHead next;

	Assert(nfields + 2 <= FT_MAX_ARGS && insert->nargs == nfields + 2);
	ft_chain_next(head, domain, fields, nfields, &next);
	for (int i = 0; i < nfields; i++)
		ft_field_arg(&fields[i], &args[i], &nulls[i]);
	args[nfields] = ft_hash_datum(head->hash);
	args[nfields + 1] = ft_hash_datum(next.hash);
	nulls[nfields] = nulls[nfields + 1] = ' ';
	ft_execute(insert, args, nulls);
	*head = next;
}
