/* Unit tests for what lets nodes on one postgresql storage serve reads,
 * without a database: the notification payloads (storage_pg_notify.c)
 * and the X-Vault-Index values (core/ha_reads.c), and the config key
 * that lets standbys serve reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ha_reads.h"
#include "encoding.h"
#include "err.h"
#include "server/config.h"
#include "storage/storage_pg.h"

#define NODE "0123456789abcdef"

/* Parses "<NODE> <idx> " + chunk, the way the listener sees a payload. */
static bool parse_chunk(const char *chunk, uint64_t idx, struct storage_pg_notice *n, struct strlist *keys)
{
	char payload[9000];
	int len = snprintf(payload, sizeof(payload), NODE " %llu %s", (unsigned long long)idx, chunk);
	assert_true(len > 0 && (size_t)len < sizeof(payload));
	return storage_pg_notice_parse(payload, (size_t)len, n, keys);
}

static void test_keys_round_trip(void **state)
{
	const char *keys[] = {"sys/token/id/abc", "logical/u/a b%c", "odd/\n\t\x01\x7f\xc3\xa9", "*"};
	char *chunks = storage_pg_notify_chunks(keys, 4);
	struct storage_pg_notice n;
	struct strlist got;
	(void)state;

	assert_null(strchr(chunks, '\x01'));
	for (const unsigned char *p = (const unsigned char *)chunks; *p; p++)
		assert_true(*p == '\n' || (*p >= 0x21 && *p < 0x7f));
	strlist_init(&got);
	assert_true(parse_chunk(chunks, 42, &n, &got));
	assert_string_equal(n.node, NODE);
	assert_int_equal(n.index, 42);
	assert_true(n.last);
	assert_int_equal(got.len, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(got.items[i], keys[i]);
	strlist_release(&got);
	free(chunks);
}

static void test_no_keys(void **state)
{
	char *chunks = storage_pg_notify_chunks(NULL, 0);
	struct storage_pg_notice n;
	struct strlist got;
	(void)state;

	assert_string_equal(chunks, "K");
	strlist_init(&got);
	assert_true(parse_chunk(chunks, 7, &n, &got));
	assert_int_equal(got.len, 0);
	assert_true(n.last);
	strlist_release(&got);
	free(chunks);
}

/* A transaction of many keys: chunks that each fit a payload, every key
 * once and in order, only the last flagged 'K'. */
static void test_large_commit_split_in_chunks(void **state)
{
	enum { N = 600 };
	char *keys[N];
	const char *ckeys[N];
	char *chunks;
	size_t nchunks = 0, seen = 0;
	(void)state;

	for (int i = 0; i < N; i++) {
		keys[i] = malloc(64);
		snprintf(keys[i], 64, "logical/0000-%04d/some/longer/path/%%%d", i, i);
		ckeys[i] = keys[i];
	}
	chunks = storage_pg_notify_chunks(ckeys, N);
	for (char *c = chunks; c;) {
		char *sep = strchr(c, '\x01');
		struct storage_pg_notice n;
		struct strlist got;
		if (sep)
			*sep = '\0';
		assert_true(strlen(c) <= STORAGE_PG_NOTIFY_CHUNK);
		strlist_init(&got);
		assert_true(parse_chunk(c, 9, &n, &got));
		for (size_t k = 0; k < got.len; k++)
			assert_string_equal(got.items[k], keys[seen++]);
		strlist_release(&got);
		nchunks++;
		assert_int_equal(n.last, sep == NULL);
		c = sep ? sep + 1 : NULL;
	}
	assert_int_equal(seen, N);
	assert_true(nchunks > 1);
	free(chunks);
	for (int i = 0; i < N; i++)
		free(keys[i]);
}

static void test_malformed_payloads_refused(void **state)
{
	static const char *const bad[] = {
	    "",
	    NODE,
	    NODE " 1",
	    NODE " 1 X",
	    NODE " x K",
	    NODE " 99999999999999999999 K",
	    "0123456789ABCDEF 1 K",
	    "0123456789abcdeg 1 K",
	    NODE " 1 K\n",
	    NODE " 1 K\nok\n",
	    NODE " 1 K\na b",
	    NODE " 1 K\n%zz",
	    NODE " 1 K\n%4",
	    NODE " 1 K\n%00",
	    NODE " 1 Kjunk",
	    NODE " 1 K\n\xc3\xa9",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct storage_pg_notice n;
		struct strlist got;
		strlist_init(&got);
		strlist_push(&got, "kept");
		assert_false(storage_pg_notice_parse(bad[i], strlen(bad[i]), &n, &got));
		assert_int_equal(got.len, 1); /* untouched */
		strlist_release(&got);
	}
}

static void test_index_header_round_trip(void **state)
{
	char v[HA_READS_HEADER_MAX];
	uint64_t idx = 1;
	size_t n;
	(void)state;

	n = ha_reads_header_format("vault_kv_store", 123456789012ULL, v, sizeof(v));
	assert_true(n > 0 && n == strlen(v));
	assert_int_equal(ha_reads_header_parse("vault_kv_store", v, n, &idx), 0);
	assert_int_equal(idx, 123456789012ULL);
	/* another cluster's: no constraint here */
	assert_int_equal(ha_reads_header_parse("other", v, n, &idx), 0);
	assert_int_equal(idx, 0);
	/* surrounding blanks are a header's, not the value's */
	char padded[HA_READS_HEADER_MAX + 4];
	snprintf(padded, sizeof(padded), " %s\t", v);
	assert_int_equal(ha_reads_header_parse("vault_kv_store", padded, strlen(padded), &idx), 0);
	assert_int_equal(idx, 123456789012ULL);
	/* too small a buffer gives nothing */
	assert_int_equal(ha_reads_header_format("t", 1, v, 4), 0);
}

static void test_index_header_malformed(void **state)
{
	static const char *const plain[] = {"trove1:t:", "trove1:t:x1", "trove1::5", "trove2:t:5",
	                                    "trove1:t:12345678901234567890", "vault:t:5", "trove1:t:-1"};
	char v[256];
	uint64_t idx;
	(void)state;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		char *b64;
		size_t n = strlen(plain[i]);
		b64 = malloc(base64_encoded_size(n));
		base64_encode((const unsigned char *)plain[i], n, b64);
		assert_int_equal(ha_reads_header_parse("t", b64, strlen(b64), &idx), TROVE_ERR_INVALID);
		free(b64);
	}
	assert_int_equal(ha_reads_header_parse("t", "", 0, &idx), TROVE_ERR_INVALID);
	assert_int_equal(ha_reads_header_parse("t", "!!!!", 4, &idx), TROVE_ERR_INVALID);
	memset(v, 'A', sizeof(v));
	assert_int_equal(ha_reads_header_parse("t", v, sizeof(v), &idx), TROVE_ERR_INVALID);
}

/* Without a postgresql storage nothing is active: no header, no wait. */
static void test_inactive(void **state)
{
	char v[HA_READS_HEADER_MAX];
	uint64_t idx = 5;
	(void)state;

	assert_false(ha_reads_active());
	assert_int_equal(ha_reads_index(), 0);
	assert_int_equal(ha_reads_header(9, v, sizeof(v)), 0);
	assert_int_equal(ha_reads_header_read("anything", 8, &idx), 0);
	assert_int_equal(idx, 0);
	assert_true(ha_reads_wait(0, 0));
	assert_false(ha_reads_wait(1, 0));
}

/* Vault's disable_performance_standby; false by default (standbys serve
 * reads, as OpenBao's and Vault Enterprise's). */
static void test_config_performance_standby(void **state)
{
	static const char *const texts[] = {"", "disable_performance_standby = false\n",
	                                    "disable_performance_standby = true\n"};
	static const bool want[] = {false, false, true};
	(void)state;

	for (size_t i = 0; i < 3; i++) {
		struct server_config cfg;
		struct buf err;
		buf_init(&err, 1024);
		config_init(&cfg);
		assert_int_equal(config_load_text(&cfg, "t.hcl", texts[i], strlen(texts[i]), false, &err), 0);
		assert_int_equal(cfg.disable_performance_standby, want[i]);
		config_release(&cfg);
		buf_release(&err);
	}
	struct server_config cfg;
	struct buf err;
	const char *bad = "disable_performance_standby = \"maybe\"\n";
	buf_init(&err, 1024);
	config_init(&cfg);
	assert_int_not_equal(config_load_text(&cfg, "t.hcl", bad, strlen(bad), false, &err), 0);
	assert_non_null(strstr(err.data, "disable_performance_standby"));
	config_release(&cfg);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys_round_trip),
	    cmocka_unit_test(test_no_keys),
	    cmocka_unit_test(test_large_commit_split_in_chunks),
	    cmocka_unit_test(test_malformed_payloads_refused),
	    cmocka_unit_test(test_index_header_round_trip),
	    cmocka_unit_test(test_index_header_malformed),
	    cmocka_unit_test(test_inactive),
	    cmocka_unit_test(test_config_performance_standby),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
