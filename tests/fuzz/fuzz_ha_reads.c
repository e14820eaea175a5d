/* libFuzzer target: the two parsers of untrusted bytes that cross-node
 * reads add. The first byte picks one: even, a notification payload
 * (storage_pg_notice_parse: anyone allowed to NOTIFY on the channel can
 * send one); odd, an X-Vault-Index value (ha_reads_header_parse: any
 * client sends one). Nothing crashes or reads past the input; a payload
 * that parses gives keys that are non-empty and hold no NUL, and whose
 * re-encoding parses back to the same keys; a header that parses as this
 * cluster's formats back to a value that parses to the same index. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "core/ha_reads.h"
#include "storage/storage_pg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void payload(const char *in, size_t n)
{
	struct storage_pg_notice notice;
	struct strlist keys;

	strlist_init(&keys);
	if (storage_pg_notice_parse(in, n, &notice, &keys)) {
		char *chunks = storage_pg_notify_chunks((const char *const *)keys.items, keys.len);
		if (strchr(chunks, '\x01') == NULL) {
			size_t cap = strlen(chunks) + 64;
			char *again = malloc(cap);
			struct storage_pg_notice n2;
			struct strlist k2;
			int len = snprintf(again, cap, "%s %llu %s", notice.node, (unsigned long long)notice.index, chunks);
			strlist_init(&k2);
			if (!storage_pg_notice_parse(again, (size_t)len, &n2, &k2) || k2.len != keys.len)
				abort();
			for (size_t i = 0; i < keys.len; i++)
				if (keys.items[i][0] == '\0' || strcmp(keys.items[i], k2.items[i]) != 0)
					abort();
			strlist_release(&k2);
			free(again);
		}
		free(chunks);
	}
	strlist_release(&keys);
}

static void header(const char *in, size_t n)
{
	uint64_t idx = 0, again = 0;
	char v[HA_READS_HEADER_MAX];

	if (ha_reads_header_parse("vault_kv_store", in, n, &idx) != 0 || idx == 0)
		return;
	size_t len = ha_reads_header_format("vault_kv_store", idx, v, sizeof(v));
	if (len == 0 || ha_reads_header_parse("vault_kv_store", v, len, &again) != 0 || again != idx)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 20000)
		return 0;
	/* a copy of exactly the input's bytes: reading past it is caught */
	char *in = malloc(size - 1 ? size - 1 : 1);
	memcpy(in, data + 1, size - 1);
	if (data[0] % 2 == 0)
		payload(in, size - 1);
	else
		header(in, size - 1);
	free(in);
	return 0;
}
