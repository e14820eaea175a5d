/* storage_open.c — from a storage block to an open backend. Shared by the
 * server and by `trove operator migrate` (migrate.c), which opens two. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/storage_open.h"
#include "storage/storage_pg.h"

#include "err.h"

#include "banned.h"

struct storage *server_storage_open(const struct storage_config *sc, struct buf *err)
{
	if (strcmp(sc->type, "inmem") == 0)
		return storage_inmem_new();
	if (strcmp(sc->type, "postgresql") == 0) {
		struct storage_pg_config pc = {
		    .connection_url = sc->connection_url,
		    .table = sc->table,
		    .max_parallel = (size_t)sc->max_parallel,
		    .max_idle = (size_t)sc->max_idle_connections,
		    /* Vault's default: one retry */
		    .max_connect_retries = sc->max_connect_retries < 0 ? 1u : (unsigned)sc->max_connect_retries,
		    .skip_create_table = sc->skip_create_table,
		    .ha_enabled = sc->ha_enabled,
		    .ha_table = sc->ha_table,
		};
		return storage_pg_new(&pc, err);
	}
	struct storage_lmdb_config lc = {sc->path, (size_t)sc->max_size};
	return storage_lmdb_new(&lc, err);
}

int server_storage_migration_locked(struct storage *s, char *started, size_t cap)
{
	unsigned char *v = NULL;
	size_t n = 0;
	json_t *j;
	const char *t;
	int r = storage_get(s, STORAGE_MIGRATION_LOCK, &v, &n);

	if (r == TROVE_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	j = json_loadb((const char *)v, n, 0, NULL);
	t = json_string_value(json_object_get(j, "start"));
	snprintf(started, cap, "%s", t ? t : "unknown");
	json_decref(j);
	free(v);
	return 1;
}
