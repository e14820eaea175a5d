/* Unit tests for the postgresql storage backend's parts that need no
 * database: table names, parent paths, list bounds, its config block and
 * its failure to open when nothing answers. The backend against a real
 * PostgreSQL: tests/integration/test_storage_postgresql.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "err.h"
#include "server/config.h"
#include "storage/storage_pg.h"

static void test_table_names(void **state)
{
	(void)state;
	assert_null(storage_pg_table_refused("vault_kv_store"));
	assert_null(storage_pg_table_refused("_t1"));
	assert_null(storage_pg_table_refused("ABC_def_9"));
	assert_non_null(storage_pg_table_refused(""));
	assert_non_null(storage_pg_table_refused(NULL));
	assert_non_null(storage_pg_table_refused("1abc"));
	assert_non_null(storage_pg_table_refused("a b"));
	assert_non_null(storage_pg_table_refused("a\"; DROP TABLE x; --"));
	assert_non_null(storage_pg_table_refused("s.t"));
	assert_non_null(storage_pg_table_refused("é"));
	char name[STORAGE_PG_MAX_TABLE + 2];
	memset(name, 'a', sizeof(name));
	name[STORAGE_PG_MAX_TABLE] = '\0';
	assert_null(storage_pg_table_refused(name));
	name[STORAGE_PG_MAX_TABLE] = 'a';
	name[STORAGE_PG_MAX_TABLE + 1] = '\0';
	assert_non_null(storage_pg_table_refused(name));
}

static void test_parent_len(void **state)
{
	(void)state;
	assert_int_equal(storage_pg_parent_len("a"), 0);
	assert_int_equal(storage_pg_parent_len("a/b"), 2);
	assert_int_equal(storage_pg_parent_len("a/b/c"), 4);
	assert_int_equal(storage_pg_parent_len("sys/token/id/h"), 13);
	assert_int_equal(storage_pg_parent_len("a b/%/c"), 6);
}

static void test_prefix_end(void **state)
{
	(void)state;
	char out[32];
	assert_false(storage_pg_prefix_end("", out));
	assert_true(storage_pg_prefix_end("a/", out));
	assert_string_equal(out, "a0");
	assert_true(storage_pg_prefix_end("a/b/", out));
	assert_string_equal(out, "a/b0");
	/* every key under the prefix sorts between it and its end */
	assert_true(strcmp("a/b/", "a/b/\x7f") < 0 && strcmp("a/b/\xff", out) < 0);
	assert_true(strcmp("a/b0", out) == 0 && strcmp("a/b-", out) < 0);
}

static int load(struct server_config *cfg, const char *text, struct buf *err)
{
	return config_load_text(cfg, "t.hcl", text, strlen(text), false, err);
}

static void test_config_block(void **state)
{
	(void)state;
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	const char *text = "storage \"postgresql\" {\n"
	                   "  connection_url = \"host=a,b target_session_attrs=read-write\"\n"
	                   "  table = \"trove_a\"\n"
	                   "  max_parallel = 8\n"
	                   "  max_idle_connections = 2\n"
	                   "  max_connect_retries = 0\n"
	                   "  ha_enabled = \"false\"\n"
	                   "  ha_table = \"locks_a\"\n"
	                   "  skip_create_table = true\n"
	                   "}\n";
	assert_int_equal(load(&cfg, text, &err), 0);
	assert_string_equal(cfg.storage.type, "postgresql");
	assert_string_equal(cfg.storage.connection_url, "host=a,b target_session_attrs=read-write");
	assert_string_equal(cfg.storage.table, "trove_a");
	assert_string_equal(cfg.storage.ha_table, "locks_a");
	assert_int_equal(cfg.storage.max_parallel, 8);
	assert_int_equal(cfg.storage.max_idle_connections, 2);
	assert_int_equal(cfg.storage.max_connect_retries, 0);
	assert_false(cfg.storage.ha_enabled);
	assert_true(cfg.storage.skip_create_table);
	config_release(&cfg);

	/* Vault's string form of the counts */
	config_init(&cfg);
	assert_int_equal(load(&cfg, "storage \"postgresql\" {\n  max_parallel = \"128\"\n  max_connect_retries = \"3\"\n}\n",
	                      &err),
	                 0);
	assert_int_equal(cfg.storage.max_parallel, 128);
	assert_int_equal(cfg.storage.max_connect_retries, 3);
	config_release(&cfg);
	config_init(&cfg);
	assert_int_equal(load(&cfg, "storage \"postgresql\" {\n  max_parallel = \"lots\"\n}\n", &err),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "t.hcl:2:"));
	assert_non_null(strstr(err.data, "max_parallel: expected a whole number"));
	config_release(&cfg);
	config_init(&cfg);
	assert_int_equal(load(&cfg, "storage \"postgresql\" {\n  max_parallel = \"0\"\n}\n", &err),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "max_parallel: out of range"));
	config_release(&cfg);

	/* not given: -1, read as Vault's default of one retry */
	config_init(&cfg);
	assert_int_equal(load(&cfg, "storage \"postgresql\" {}\n", &err), 0);
	assert_int_equal(cfg.storage.max_connect_retries, -1);
	assert_null(cfg.storage.table);
	config_release(&cfg);
	buf_release(&err);
}

static void expect_refused(const char *text, const char *needle)
{
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	assert_int_equal(load(&cfg, text, &err), TROVE_ERR_INVALID);
	if (strstr(err.data, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err.data, needle);
	config_release(&cfg);
	buf_release(&err);
}

/* Loads text (plus a listener) and validates it: the validation's code. */
static int validate(const char *text, struct buf *err)
{
	struct server_config cfg;
	struct buf full;
	int r;
	config_init(&cfg);
	buf_init(&full, 4096);
	buf_printf(&full, "%slistener \"tcp\" {\n  tls_disable = true\n}\n", text);
	r = load(&cfg, full.data, err);
	if (r == 0)
		r = config_validate(&cfg, err);
	config_release(&cfg);
	buf_release(&full);
	return r;
}

/* ha_enabled needs this node's api_addr and cluster_addr, from the
 * config or Vault's environment variables. */
static void test_config_ha(void **state)
{
	(void)state;
	struct buf err;
	const char *ha = "storage \"postgresql\" {\n  connection_url = \"x\"\n  ha_enabled = true\n}\n";
	const char *both = "api_addr = \"http://10.0.0.1:8200\"\ncluster_addr = \"https://10.0.0.1:8201\"\n";
	char text[1024];
	buf_init(&err, 4096);
	unsetenv("VAULT_API_ADDR");
	unsetenv("VAULT_CLUSTER_ADDR");

	assert_int_equal(validate(ha, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "t.hcl:1: storage \"postgresql\": ha_enabled = true needs api_addr"));
	snprintf(text, sizeof(text), "%sapi_addr = \"http://10.0.0.1:8200\"\n", ha);
	assert_int_equal(validate(text, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "needs cluster_addr"));
	snprintf(text, sizeof(text), "%s%s", ha, both);
	assert_int_equal(validate(text, &err), 0);
	/* from the environment */
	setenv("VAULT_API_ADDR", "https://node1:8200", 1);
	setenv("VAULT_CLUSTER_ADDR", "https://node1:8201", 1);
	assert_int_equal(validate(ha, &err), 0);
	unsetenv("VAULT_API_ADDR");
	unsetenv("VAULT_CLUSTER_ADDR");
	/* an address a Location header could not carry */
	snprintf(text, sizeof(text), "%sapi_addr = \"10.0.0.1:8200\"\ncluster_addr = \"https://a:1\"\n", ha);
	assert_int_equal(validate(text, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "api_addr \"10.0.0.1:8200\" must be an http:// or https:// URL"));
	snprintf(text, sizeof(text), "%sapi_addr = \"http://a\\r\\nX: y\"\ncluster_addr = \"https://a:1\"\n", ha);
	assert_int_equal(validate(text, &err), TROVE_ERR_INVALID);
	/* without HA neither is needed */
	assert_int_equal(validate("storage \"postgresql\" {\n  connection_url = \"x\"\n}\n", &err), 0);
	buf_release(&err);
}

static void test_config_refusals(void **state)
{
	(void)state;
	expect_refused("storage \"postgresql\" {\n  table = \"a;b\"\n}\n",
	               "t.hcl:2: storage \"postgresql\": table \"a;b\" may hold only letters");
	expect_refused("storage \"postgresql\" {\n\n  ha_table = \"9x\"\n}\n",
	               "t.hcl:3: storage \"postgresql\": ha_table \"9x\" must not start with a digit");
	expect_refused("storage \"postgresql\" {\n  max_parallel = 0\n}\n", "max_parallel: out of range");
	expect_refused("storage \"postgresql\" {\n  path = \"/x\"\n}\n", "unknown key");
	expect_refused("storage \"raft\" {}\n", "supported: lmdb, postgresql, inmem");
}

/* Nothing listens: open fails with the reason, after its one retry, and
 * does not hang. */
static void test_open_unreachable(void **state)
{
	(void)state;
	struct buf err;
	buf_init(&err, 4096);
	struct storage_pg_config pc = {
	    .connection_url = "host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2",
	    .max_connect_retries = 1,
	};
	time_t t0 = time(NULL);
	assert_null(storage_pg_new(&pc, &err));
	assert_true(time(NULL) - t0 < 10);
	assert_non_null(strstr(err.data, "postgresql: cannot connect (table \"vault_kv_store\")"));

	pc.table = "bad name";
	assert_null(storage_pg_new(&pc, &err));
	assert_non_null(strstr(err.data, "table \"bad name\" may hold only"));
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_names),     cmocka_unit_test(test_parent_len),
	    cmocka_unit_test(test_prefix_end),      cmocka_unit_test(test_config_block),
	    cmocka_unit_test(test_config_refusals), cmocka_unit_test(test_config_ha), cmocka_unit_test(test_open_unreachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
