/*-------------------------------------------------------------------------
 *
 * chain_key.c
 *	  The chain key's life: named by freetier.chain_key_file, read once by
 *	  the postmaster at server start (freetier in shared_preload_libraries),
 *	  kept in sodium_malloc'd memory made read-only, which every backend
 *	  inherits; only chain.c hashes with it (ft_chain_key).
 *
 * The file must hold exactly FT_CHAIN_KEY_BYTES bytes, be a regular file
 * outside the data directory (a base backup or a copy of the data
 * directory must not carry the key with it) and give its group and others
 * no access.  Anything else stops the server at start, with a message that
 * names the file and never its bytes.  The setting shows the path only.
 *
 * The setting exists only when freetier is preloaded.  A server whose
 * configuration names a key file but that did not preload freetier has no
 * key: every chain hash then errors (ft_chain_key) rather than write or
 * check an entry unkeyed while the operator believes the chains keyed.
 *
 *-------------------------------------------------------------------------
 */
#include "freetier.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "utils/guc.h"

static char *chain_key_file = NULL;

/* The setting names a file, but freetier was not preloaded to read it. */
static bool key_file_not_read = false;

/* The key, or NULL; read-only memory, never copied out of this file but to libsodium. */
static uint8 *chain_key = NULL;

/* Stop the server's start: the key file cannot be used. */
static void
refuse_key_file(const char *why, const char *detail)
{
	ereport(FATAL,
			(errcode(ERRCODE_CONFIG_FILE_ERROR),
			 errmsg("freetier: chain key file \"%s\" %s", chain_key_file, why),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("Make the key with: head -c %d /dev/urandom > FILE; chmod 600 FILE, outside the data directory.",
					 FT_CHAIN_KEY_BYTES)));
}

/* Read the key named by freetier.chain_key_file (the postmaster, at start). */
static void
read_chain_key(void)
{
	char	   *resolved;
	char	   *data_dir;
	size_t		data_dir_len;
	struct stat st;
	int			fd;
	ssize_t		got;

	if (!is_absolute_path(chain_key_file))
		refuse_key_file("is not an absolute path", NULL);
	if ((resolved = realpath(chain_key_file, NULL)) == NULL)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("freetier: could not open chain key file \"%s\": %m", chain_key_file)));
	if ((data_dir = realpath(DataDir, NULL)) == NULL)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("freetier: could not resolve the data directory \"%s\": %m", DataDir)));
	data_dir_len = strlen(data_dir);
	if (strncmp(resolved, data_dir, data_dir_len) == 0 &&
		(resolved[data_dir_len] == '/' || resolved[data_dir_len] == '\0'))
		refuse_key_file("is inside the data directory",
						"Every copy of the data directory, a base backup too, would carry the key that guards its chains.");

	fd = open(resolved, O_RDONLY | O_CLOEXEC, 0);
	free(resolved);
	free(data_dir);
	if (fd < 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("freetier: could not open chain key file \"%s\": %m", chain_key_file)));
	if (fstat(fd, &st) != 0)
		ereport(FATAL,
				(errcode_for_file_access(),
				 errmsg("freetier: could not stat chain key file \"%s\": %m", chain_key_file)));
	if (!S_ISREG(st.st_mode))
		refuse_key_file("is not a regular file", NULL);
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		refuse_key_file("has group or world access",
						"Its mode must give no one but its owner access (chmod 600).");
	if (st.st_size != FT_CHAIN_KEY_BYTES)
		refuse_key_file(psprintf("must hold exactly %d bytes", FT_CHAIN_KEY_BYTES),
						psprintf("It holds %lld bytes.", (long long) st.st_size));

	chain_key = sodium_malloc(FT_CHAIN_KEY_BYTES);
	if (chain_key == NULL)
		ereport(FATAL,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("freetier: could not allocate protected memory for the chain key")));
	got = read(fd, chain_key, FT_CHAIN_KEY_BYTES);
	close(fd);
	if (got != FT_CHAIN_KEY_BYTES)
		refuse_key_file(psprintf("could not be read whole (%zd of %d bytes)", got, FT_CHAIN_KEY_BYTES),
						NULL);
	if (sodium_mprotect_readonly(chain_key) != 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("freetier: could not make the chain key's memory read-only")));
}

/*
 * Define freetier.chain_key_file and read the key (from _PG_init, when the
 * postmaster preloads freetier; a setting of the postmaster's cannot be
 * defined later).  Loaded later, freetier only notes whether the setting
 * names a file, before freetier.c reserves the prefix.
 */
void
ft_chain_key_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
	{
		const char *set = GetConfigOption("freetier.chain_key_file", true, false);

		key_file_not_read = set != NULL && set[0] != '\0';
		return;
	}
	DefineCustomStringVariable("freetier.chain_key_file",
							   "Keys the ledgers' hash chains with the 32-byte key in this file, read at server start.",
							   "Empty (the default) means unkeyed chains. Needs freetier in shared_preload_libraries; the file must be outside the data directory, with mode 600.",
							   &chain_key_file,
							   "",
							   PGC_POSTMASTER,
							   GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	if (chain_key_file[0] != '\0')
		read_chain_key();
}

/*
 * The key new entries are hashed with (chain.c), or NULL for none.  A
 * setting that names a file this server did not read (freetier not
 * preloaded) is 55000, so that no entry is written or checked unkeyed by
 * mistake.
 */
const uint8 *
ft_chain_key(void)
{
	if (key_file_not_read)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("freetier.chain_key_file is set, but freetier was not loaded at server start"),
				 errhint("Add freetier to shared_preload_libraries and restart the server.")));
	return chain_key;
}

/*
 * The key, when something can only be done with it: else 55000, with
 * `detail` saying what needed it.
 */
const uint8 *
ft_chain_key_required(const char *detail)
{
	const uint8 *key = ft_chain_key();

	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no chain key is loaded"),
				 errdetail("%s", detail),
				 errhint("Set freetier.chain_key_file to the chain key's file and restart the server with freetier in shared_preload_libraries.")));
	return key;
}
