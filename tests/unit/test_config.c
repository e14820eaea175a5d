/* Unit tests for the server config loader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "server/config.h"

static int load(struct server_config *cfg, const char *text, bool json, struct buf *err)
{
	return config_load_text(cfg, "t.hcl", text, strlen(text), json, err);
}

static void test_full_config(void **state)
{
	(void)state;
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	const char *text = "storage \"lmdb\" {\n"
			   "  path = \"/var/lib/trove\"\n"
			   "  max_size = \"2GiB\"\n"
			   "}\n"
			   "listener \"tcp\" {\n"
			   "  address = \"0.0.0.0:8200\"\n"
			   "  tls_disable = \"true\"\n"
			   "  max_request_size = 1024\n"
			   "  max_request_duration = \"30s\"\n"
			   "  socket_receive_buffer = \"1MiB\"\n"
			   "}\n"
			   "listener \"tcp\" { address = \"127.0.0.1:8300\" tls_disable = 1 }\n"
			   "api_addr = \"https://trove.example:8200\"\n"
			   "cluster_name = \"prod\"\n"
			   "disable_mlock = true\n"
			   "log_level = \"debug\"\n"
			   "log_format = \"json\"\n"
			   "default_lease_ttl = \"1h\"\n"
			   "max_lease_ttl = \"24h\"\n"
			   "ui = true\n"
			   "pid_file = \"/run/trove.pid\"\n";
	assert_int_equal(load(&cfg, text, false, &err), 0);
	assert_string_equal(cfg.storage.type, "lmdb");
	assert_string_equal(cfg.storage.path, "/var/lib/trove");
	assert_true(cfg.storage.max_size == (uint64_t)2 << 30);
	assert_int_equal(cfg.nlisteners, 2);
	assert_string_equal(cfg.listeners[0].address, "0.0.0.0:8200");
	assert_true(cfg.listeners[0].tls_disable);
	assert_int_equal(cfg.listeners[0].max_request_size, 1024);
	assert_int_equal(cfg.listeners[0].max_request_duration, 30);
	assert_int_equal(cfg.listeners[1].max_request_size, 32 << 20);
	assert_int_equal(cfg.listeners[1].max_request_duration, 90);
	assert_int_equal(cfg.listeners[0].socket_receive_buffer, 1 << 20);
	assert_int_equal(cfg.listeners[1].socket_receive_buffer, 256 << 10);
	assert_string_equal(cfg.listeners[1].tls_min_version, "tls12");
	assert_string_equal(cfg.cluster_name, "prod");
	assert_true(cfg.disable_mlock);
	assert_true(cfg.ui);
	assert_int_equal(cfg.default_lease_ttl, 3600);
	assert_int_equal(cfg.max_lease_ttl, 86400);
	assert_int_equal(config_validate(&cfg, &err), 0);
	config_release(&cfg);
	buf_release(&err);
}

static void test_defaults(void **state)
{
	(void)state;
	struct server_config cfg;
	config_init(&cfg);
	assert_int_equal(cfg.default_lease_ttl, 768 * 3600);
	assert_int_equal(cfg.max_lease_ttl, 768 * 3600);
	config_release(&cfg);
}

static void expect_error(const char *text, bool json, const char *needle)
{
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	int r = load(&cfg, text, json, &err);
	if (r == 0)
		r = config_validate(&cfg, &err);
	assert_int_not_equal(r, 0);
	if (!strstr(err.data, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err.data, needle);
	config_release(&cfg);
	buf_release(&err);
}

static void test_errors_name_file_line_and_key(void **state)
{
	(void)state;
	expect_error("storage \"inmem\" {}\nbogus = 1\n", false, "t.hcl:2: unknown key \"bogus\"");
	expect_error("storage \"lmdb\" {\n path = \"/x\"\n colour = \"red\"\n}\n", false,
		     "t.hcl:3: storage \"lmdb\": unknown key \"colour\"");
	expect_error("listener \"tcp\" {\n  tls_disable = \"maybe\"\n}\n", false,
		     "t.hcl:2: listener \"tcp\": tls_disable: expected a boolean");
	expect_error("storage \"raft\" { path = \"/x\" }\n", false, "unsupported storage type");
	expect_error("listener \"unix\" { address = \"/s\" }\n", false, "unsupported listener type");
	expect_error("storage \"inmem\" {}\nstorage \"inmem\" {}\n", false, "already defined");
	expect_error("default_lease_ttl = \"soon\"\n", false, "t.hcl:1: default_lease_ttl");
	expect_error("storage \"inmem\" {\n", false, "t.hcl:");
	expect_error("listener \"tcp\" { max_request_size = \"lots\" }\n", false, "max_request_size");
	expect_error("listener \"tcp\" { socket_receive_buffer = \"2GiB\" }\n", false,
		     "socket_receive_buffer: out of range");
	expect_error("listener \"tcp\" { tls_disable = true\n tls_disable = false }\n", false, "set twice");
	/* Whole-config checks. */
	expect_error("listener \"tcp\" { tls_disable = true }\n", false, "no storage configured");
	expect_error("storage \"inmem\" {}\n", false, "no listener configured");
	expect_error("storage \"lmdb\" {}\nlistener \"tcp\" { tls_disable = true }\n", false, "\"path\" is required");
	expect_error("storage \"inmem\" {}\nlistener \"tcp\" {}\n", false, "tls_cert_file and tls_key_file");
	expect_error("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\nlog_level = \"loud\"\n", false,
		     "log_level");
	expect_error("storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = true }\n"
		     "default_lease_ttl = \"2h\"\nmax_lease_ttl = \"1h\"\n",
		     false, "default_lease_ttl must not exceed");
	expect_error("{\"storage\": {\"inmem\": {}}, \"nope\": 1}", true, "unknown key \"nope\"");
}

/* The lease revocation settings: read as a count and a duration, in
 * bounds, left 0 (the core's default) when absent. */
static void test_lease_revocation_settings(void **state)
{
	struct server_config cfg;
	struct buf err;
	(void)state;
	buf_init(&err, 256);
	config_init(&cfg);
	assert_int_equal(load(&cfg, "lease_revocation_workers = 8\nlease_revocation_timeout = \"1m\"\n", false, &err), 0);
	assert_int_equal(cfg.lease_revocation_workers, 8);
	assert_int_equal(cfg.lease_revocation_timeout, 60);
	config_release(&cfg);
	config_init(&cfg);
	assert_int_equal(load(&cfg, "ui = true\n", false, &err), 0);
	assert_int_equal(cfg.lease_revocation_workers, 0);
	assert_int_equal(cfg.lease_revocation_timeout, 0);
	config_release(&cfg);
	buf_release(&err);
	expect_error("lease_revocation_workers = 0\n", false, "lease_revocation_workers");
	expect_error("lease_revocation_workers = 65\n", false, "lease_revocation_workers");
	expect_error("lease_revocation_timeout = \"2h\"\n", false, "lease_revocation_timeout");
	expect_error("lease_revocation_timeout = \"soon\"\n", false, "lease_revocation_timeout");
}

static void test_json_and_legacy_backend(void **state)
{
	(void)state;
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	assert_int_equal(load(&cfg,
			      "{\"backend\": {\"lmdb\": {\"path\": \"/d\"}},"
			      " \"listener\": [{\"tcp\": {\"address\": \"127.0.0.1:1\", \"tls_disable\": true}},"
			      "                {\"tcp\": {\"address\": \"127.0.0.1:2\", \"tls_disable\": true}}],"
			      " \"ui\": true}",
			      true, &err),
			 0);
	assert_string_equal(cfg.storage.type, "lmdb");
	assert_string_equal(cfg.storage.path, "/d");
	assert_int_equal(cfg.nlisteners, 2);
	assert_string_equal(cfg.listeners[1].address, "127.0.0.1:2");
	config_release(&cfg);

	config_init(&cfg);
	assert_int_equal(load(&cfg, "backend \"inmem\" {}\n", false, &err), 0);
	assert_string_equal(cfg.storage.type, "inmem");
	config_release(&cfg);
	buf_release(&err);
}

static void test_directory_merge(void **state)
{
	(void)state;
	char dir[] = "/tmp/trove-config-XXXXXX";
	char path[256];
	FILE *f;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/10-storage.hcl", dir);
	f = fopen(path, "w");
	fputs("storage \"inmem\" {}\nlog_level = \"info\"\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/20-listener.json", dir);
	f = fopen(path, "w");
	fputs("{\"listener\": {\"tcp\": {\"address\": \"127.0.0.1:9\", \"tls_disable\": true}}, \"log_level\": \"warn\"}",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/README.txt", dir);
	f = fopen(path, "w");
	fputs("not config", f);
	fclose(f);

	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	assert_int_equal(config_load_path(&cfg, dir, &err), 0);
	assert_string_equal(cfg.storage.type, "inmem");
	assert_int_equal(cfg.nlisteners, 1);
	assert_string_equal(cfg.log_level, "warn"); /* later file wins */
	assert_int_equal(config_validate(&cfg, &err), 0);
	config_release(&cfg);

	config_init(&cfg);
	snprintf(path, sizeof(path), "%s/missing.hcl", dir);
	assert_int_not_equal(config_load_path(&cfg, path, &err), 0);
	assert_non_null(strstr(err.data, "missing.hcl"));
	config_release(&cfg);
	buf_release(&err);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

/* audit blocks in their three shapes, and the audit keys. */
static void test_audit_blocks(void **state)
{
	(void)state;
	struct server_config cfg;
	struct buf err;
	config_init(&cfg);
	buf_init(&err, 4096);
	const char *hcl = "audit_file_dirs = [\"/var/log/trove\", \"/srv/audit/\"]\n"
			  "allow_audit_log_prefixing = true\n"
			  "audit \"file\" {\n"
			  "  description = \"main\"\n"
			  "  local = true\n"
			  "  options = { file_path = \"/var/log/trove/a.log\", mode = \"0640\", log_raw = false }\n"
			  "}\n"
			  "audit \"socket\" \"siem\" {\n"
			  "  options { address = \"10.0.0.5:9000\" }\n"
			  "}\n";
	assert_int_equal(load(&cfg, hcl, false, &err), 0);
	const char *json = "{\"audit\": [{\"syslog\": {\"path\": \"sys/\", \"options\": {\"tag\": \"t\"}}}]}";
	assert_int_equal(load(&cfg, json, true, &err), 0);
	assert_int_equal(cfg.naudits, 3);
	assert_string_equal(cfg.audits[0].type, "file");
	assert_string_equal(cfg.audits[0].path, "file");
	assert_string_equal(cfg.audits[0].description, "main");
	assert_true(cfg.audits[0].local);
	assert_string_equal(json_string_value(json_object_get(cfg.audits[0].options, "mode")), "0640");
	assert_true(json_is_false(json_object_get(cfg.audits[0].options, "log_raw")));
	assert_string_equal(cfg.audits[0].where, "t.hcl:3");
	assert_string_equal(cfg.audits[1].path, "siem");
	assert_string_equal(cfg.audits[2].type, "syslog");
	assert_string_equal(cfg.audits[2].path, "sys/");
	assert_int_equal(cfg.audit_file_dirs.len, 2);
	assert_true(cfg.allow_audit_log_prefixing);

	/* errors name file:line */
	struct server_config bad;
	config_init(&bad);
	assert_int_equal(load(&bad, "\n\naudit \"file\" {\n  options = { file_path = [1] }\n}\n", false, &err),
			 TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "t.hcl:4: audit \"file\": options.file_path: expected a string"));
	config_release(&bad);
	config_init(&bad);
	assert_int_equal(load(&bad, "audit_file_dirs = [\"/a/../b\"]\n", false, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "t.hcl:1: audit_file_dirs: \"/a/../b\""));
	config_release(&bad);
	config_release(&cfg);
	buf_release(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_errors_name_file_line_and_key),
		cmocka_unit_test(test_json_and_legacy_backend),
		cmocka_unit_test(test_directory_merge),
		cmocka_unit_test(test_audit_blocks),
		cmocka_unit_test(test_lease_revocation_settings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
