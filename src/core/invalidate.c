/* invalidate.c — routes a changed storage key to the cache that holds it
 * (see invalidate.h for the map). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "invalidate.h"

#include "audit.h"
#include "barrier.h"
#include "core.h"
#include "log.h"
#include "mount.h"
#include "policy_store.h"
#include "router.h"
#include "token.h"
#include "storage/storage.h"

#include "banned.h"

#define UUID_LEN 36

/* "<uuid>/<rest>" under a mount table's prefix: the mount's engine sees
 * <rest>. */
static void mount_key_changed(struct core *c, bool auth, const char *key)
{
	char uuid[UUID_LEN + 1];
	const char *slash = strchr(key, '/');
	if (!slash || slash - key != UUID_LEN || !slash[1])
		return;
	memcpy(uuid, key, UUID_LEN);
	uuid[UUID_LEN] = '\0';
	struct mount *m = mount_by_uuid(core_mounts(c), auth, uuid);
	if (!m)
		return;
	if (m->engine && m->engine->invalidate)
		m->engine->invalidate(m, slash + 1);
	mount_release(m);
}

/* Tells m's engine of every key under its view, breadth-first. */
static void mount_all_changed(struct mount *m, void *arg)
{
	struct strlist todo, names;
	(void)arg;

	if (!m->engine || !m->engine->invalidate || !m->view)
		return;
	strlist_init(&todo);
	strlist_push(&todo, "");
	for (size_t i = 0; i < todo.len; i++) {
		strlist_init(&names);
		if (storage_list(m->view, todo.items[i], &names) == 0) {
			for (size_t k = 0; k < names.len; k++) {
				size_t pl = strlen(todo.items[i]), n = pl + strlen(names.items[k]);
				char *full = xmalloc(n + 1);
				memcpy(full, todo.items[i], pl);
				memcpy(full + pl, names.items[k], n - pl + 1);
				if (n > 0 && full[n - 1] == '/')
					strlist_push_owned(&todo, full);
				else {
					m->engine->invalidate(m, full);
					free(full);
				}
			}
		}
		strlist_release(&names);
	}
	strlist_release(&todo);
}

/* The tables loaded at unseal, read again: the keyring first (what
 * follows may be sealed with a new term), then the mount tables and the
 * audit devices. */
static void tables_changed(struct core *c, bool keyring, bool secret, bool auth, bool audit)
{
	if (keyring && barrier_reload(core_barrier(c)) != 0)
		log_error("keyring not reloaded from storage");
	if (secret)
		mount_table_reload(core_mounts(c), false);
	if (auth)
		mount_table_reload(core_mounts(c), true);
	if (audit)
		audit_broker_reload(core_audit(c));
}

void core_storage_changed_all(struct core *c)
{
	if (!c || core_sealed(c))
		return;
	tables_changed(c, true, true, true, true);
	token_store_invalidate_all(core_tokens(c));
	policy_store_invalidate_all(core_policies(c));
	mount_table_foreach(core_mounts(c), false, mount_all_changed, NULL);
	mount_table_foreach(core_mounts(c), true, mount_all_changed, NULL);
}

void core_storage_changed(struct core *c, const char *key)
{
	if (!c || !key || core_sealed(c))
		return;
	if (strncmp(key, TOKEN_ID_PREFIX, sizeof(TOKEN_ID_PREFIX) - 1) == 0)
		token_store_invalidate(core_tokens(c), key);
	else if (strncmp(key, POLICY_PATH_PREFIX, sizeof(POLICY_PATH_PREFIX) - 1) == 0)
		policy_store_invalidate(core_policies(c), key);
	else if (strncmp(key, "logical/", 8) == 0)
		mount_key_changed(c, false, key + 8);
	else if (strncmp(key, "auth/", 5) == 0)
		mount_key_changed(c, true, key + 5);
	else if (strncmp(key, "core/", 5) == 0)
		tables_changed(c, strcmp(key, BARRIER_KEYRING_PATH) == 0, strcmp(key, MOUNT_TABLE_PATH) == 0,
		               strcmp(key, AUTH_TABLE_PATH) == 0,
		               strcmp(key, AUDIT_TABLE_PATH) == 0 || strcmp(key, AUDIT_HEADERS_PATH) == 0);
}
