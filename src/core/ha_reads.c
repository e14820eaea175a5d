/* ha_reads.c — cross-node invalidation and X-Vault-Index (ha_reads.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "ha_reads.h"

#include "encoding.h"
#include "core.h"
#include "engine.h"
#include "err.h"
#include "ha.h"
#include "request.h"
#include "router.h"
#include "invalidate.h"
#include "storage/storage_pg.h"

#include "banned.h"

#define MAGIC "trove1:"

static struct storage *_Atomic store; /* the listened-to storage, or NULL */

static void changed(void *arg, const char *key)
{
	core_storage_changed(arg, key);
}

static void all_changed(void *arg)
{
	core_storage_changed_all(arg);
}

int ha_reads_start(struct core *c, struct storage *physical, bool standby_reads)
{
	struct storage_pg_hooks h = {.changed = changed, .all_changed = all_changed, .arg = c};

	if (!storage_pg_notifies(physical))
		return 0; /* alone on its storage: nothing to hear, no index */
	if (storage_pg_listen(physical, &h) != 0)
		return TROVE_ERR_INTERNAL;
	atomic_store(&store, physical);
	/* its caches kept right, a standby may answer reads itself */
	ha_set_standby_reads(core_ha(c), standby_reads);
	return 0;
}

void ha_reads_stop(void)
{
	struct storage *s = atomic_exchange(&store, NULL);
	if (s)
		storage_pg_unlisten(s);
}

bool ha_reads_serves_here(const struct request *req, const struct route_match *m)
{
	struct ha *h = core_ha(req->core);
	bool read = req->op == OP_READ || req->op == OP_LIST || req->op == OP_HEAD;

	if (ha_role(h) != HA_ROLE_STANDBY || !ha_standby_reads(h))
		return false;
	return read && req->wrap_ttl == 0 && m->route && (m->route->flags & ROUTE_LOOP_READS);
}

bool ha_reads_active(void)
{
	return atomic_load(&store) != NULL;
}

uint64_t ha_reads_index(void)
{
	struct storage *s = atomic_load(&store);
	return s ? storage_pg_applied(s) : 0;
}

bool ha_reads_wait(uint64_t index, int64_t timeout_ms)
{
	struct storage *s = atomic_load(&store);
	if (index == 0)
		return true;
	return s ? storage_pg_wait_applied(s, index, timeout_ms) : false;
}

size_t ha_reads_header_format(const char *table, uint64_t index, char *out, size_t cap)
{
	char plain[96];
	int n = snprintf(plain, sizeof(plain), MAGIC "%s:%llu", table, (unsigned long long)index);

	if (n < 0 || (size_t)n >= sizeof(plain) || base64_encoded_size((size_t)n) > cap) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	base64_encode((const unsigned char *)plain, (size_t)n, out);
	return strlen(out);
}

int ha_reads_header_parse(const char *table, const char *v, size_t len, uint64_t *index)
{
	unsigned char plain[HA_READS_HEADER_MAX];
	size_t n = 0, tl;
	uint64_t idx = 0;
	const char *colon;

	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	if (len == 0 || len >= HA_READS_HEADER_MAX || base64_decode(v, len, plain, sizeof(plain) - 1, &n) != 0)
		return TROVE_ERR_INVALID;
	plain[n] = '\0';
	if (n <= sizeof(MAGIC) - 1 || memcmp(plain, MAGIC, sizeof(MAGIC) - 1) != 0 || memchr(plain, '\0', n))
		return TROVE_ERR_INVALID;
	colon = strrchr((const char *)plain, ':');
	/* a table of at least one byte, then 1..19 digits */
	if (colon <= (const char *)plain + sizeof(MAGIC) - 1 || !colon[1] || strlen(colon + 1) > 19)
		return TROVE_ERR_INVALID;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return TROVE_ERR_INVALID;
		idx = idx * 10 + (uint64_t)(*d - '0');
	}
	tl = (size_t)(colon - (const char *)plain) - (sizeof(MAGIC) - 1);
	*index = strlen(table) == tl && memcmp(plain + sizeof(MAGIC) - 1, table, tl) == 0 ? idx : 0;
	return 0;
}

size_t ha_reads_header(uint64_t write_index, char *out, size_t cap)
{
	struct storage *s = atomic_load(&store);
	uint64_t applied;

	if (s == NULL) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	applied = storage_pg_applied(s);
	return ha_reads_header_format(storage_pg_table_name(s), write_index > applied ? write_index : applied, out,
	                              cap);
}

int ha_reads_header_read(const char *v, size_t len, uint64_t *index)
{
	struct storage *s = atomic_load(&store);

	*index = 0;
	if (s == NULL)
		return 0; /* nothing to wait for on this storage */
	return ha_reads_header_parse(storage_pg_table_name(s), v, len, index);
}
