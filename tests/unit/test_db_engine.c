/* The `database` engine driven through the HTTP edge and the router, over
 * the recording fake plugin (db_fake.c): connections (the password never
 * answered, in an error or in the audit log), allowed_roles, roles,
 * creds with their lease (revoke and renew statements, TTL caps), a
 * failed creation undone, a database that hangs, rotate-root, reset, and
 * a token allowed only database/creds/ro. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core_fixture.h"
#include "db_fake.h"

#include "core/audit.h"
#include "core/mount.h"
#include "engines/database/database.h"
#include "engines/database/plugins.h"

#define ROOT_PW "s3cr:t@/#%?&' \\x"

struct fx {
	struct core_fixture f;
	struct core *core;
};

static int call(struct fx *x, const char *method, const char *path, const char *json, json_t **body)
{
	return fixture_call(x->core, method, path, json, body);
}

static const json_t *data(const json_t *b)
{
	return json_object_get(b, "data");
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	db_fake_reset();
	core_fixture_start(&x->f, NULL, 600, 7200);
	x->core = x->f.core;
	assert_int_equal(call(x, "POST", "/v1/sys/mounts/database", "{\"type\": \"database\"}", NULL), 204);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	core_fixture_stop(&x->f);
	free(x);
	db_plugin_set_extra(NULL);
	return 0;
}

/* A connection "db" allowing ro and app-*, and a role ro on it. */
static void standard(struct fx *x)
{
	assert_int_equal(
	    call(x, "POST", "/v1/database/config/db",
	         "{\"plugin_name\": \"fake-database-plugin\", \"connection_url\": "
	         "\"fake://{{username}}:{{password}}@db/app\", \"username\": \"root\", \"password\": \""
	         "s3cr:t@/#%?&' \\\\x"
	         "\", "
	         "\"allowed_roles\": \"ro,app-*\"}",
	         NULL),
	    204);
	assert_int_equal(
	    call(x, "POST", "/v1/database/roles/ro",
	         "{\"db_name\": \"db\", \"creation_statements\": [\"CREATE USER {{name}} PASSWORD "
	         "{{password}} UNTIL {{expiration}}\", \"GRANT SELECT TO {{username}}\"], "
	         "\"revocation_statements\": \"DROP ROLE {{name}}\", \"renew_statements\": "
	         "[\"ALTER {{name}} UNTIL {{expiration}}\"], \"default_ttl\": \"1m\", \"max_ttl\": 300}",
	         NULL),
	    204);
}

static void test_config(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	/* connected once to verify, with the password percent-encoded */
	assert_int_equal(db_fake.connects, 1);
	assert_string_equal(db_fake.last_url, "fake://root:s3cr%3At%40%2F%23%25%3F%26%27%20%5Cx@db/app");
	assert_int_equal(db_fake.pings, 1);
	assert_int_equal(db_fake.open, 0);

	assert_int_equal(call(x, "GET", "/v1/database/config/db", NULL, &b), 200);
	char *text = json_dumps(b, 0);
	assert_null(strstr(text, "s3cr"));
	assert_null(strstr(text, "\"password\""));
	free(text);
	const json_t *d = data(b);
	assert_string_equal(json_string_value(json_object_get(d, "plugin_name")), "fake-database-plugin");
	assert_int_equal(json_array_size(json_object_get(d, "allowed_roles")), 2);
	assert_true(json_is_true(json_object_get(d, "verify_connection")));
	const json_t *cd = json_object_get(d, "connection_details");
	assert_string_equal(json_string_value(json_object_get(cd, "connection_url")),
	                    "fake://{{username}}:{{password}}@db/app");
	assert_string_equal(json_string_value(json_object_get(cd, "username")), "root");
	assert_int_equal(json_integer_value(json_object_get(cd, "max_open_connections")), 4);
	assert_true(json_is_array(json_object_get(d, "root_credentials_rotate_statements")));
	json_decref(b);

	/* an update keeps what it does not name */
	assert_int_equal(call(x, "POST", "/v1/database/config/db", "{\"max_open_connections\": 7}", NULL),
	                 204);
	assert_string_equal(db_fake.last_password, ROOT_PW);
	assert_int_equal(call(x, "GET", "/v1/database/config/db", NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(data(b), "connection_details"),
	                                                    "max_open_connections")),
	                 7);
	json_decref(b);

	/* unknown plugin: 400 naming it, nothing stored */
	assert_int_equal(
	    call(x, "POST", "/v1/database/config/other", "{\"plugin_name\": \"nope-plugin\"}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "nope-plugin"));
	json_decref(b);
	assert_int_equal(call(x, "GET", "/v1/database/config/other", NULL, NULL), 404);

	/* verification fails: the database's reason, the password scrubbed,
	 * nothing stored */
	db_fake.fail_connect = true;
	assert_int_equal(call(x, "POST", "/v1/database/config/bad",
	                      "{\"plugin_name\": \"fake-database-plugin\", \"connection_url\": \"fake://h\", "
	                      "\"username\": \"root\", \"password\": \"hunter2hunter2\"}",
	                      &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "password authentication failed"));
	assert_null(strstr(fixture_first_error(b), "hunter2"));
	json_decref(b);
	assert_int_equal(call(x, "GET", "/v1/database/config/bad", NULL, NULL), 404);
	/* a password written into the URL itself is not answered either */
	assert_int_equal(call(x, "POST", "/v1/database/config/lit",
	                      "{\"plugin_name\": \"fake-database-plugin\", \"verify_connection\": false, "
	                      "\"connection_url\": \"fake://root:literalpw@h/d\"}",
	                      NULL),
	                 204);
	assert_int_equal(call(x, "GET", "/v1/database/config/lit", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(json_object_get(data(b), "connection_details"),
	                                                      "connection_url")),
	                    "fake://root:*****@h/d");
	json_decref(b);
	assert_int_equal(call(x, "DELETE", "/v1/database/config/lit", NULL, NULL), 204);
	/* verify_connection=false stores without connecting */
	int before = db_fake.connects;
	assert_int_equal(call(x, "POST", "/v1/database/config/bad",
	                      "{\"plugin_name\": \"fake-database-plugin\", \"verify_connection\": false}",
	                      NULL),
	                 204);
	assert_int_equal(db_fake.connects, before);
	db_fake.fail_connect = false;

	assert_int_equal(call(x, "LIST", "/v1/database/config", NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(data(b), "keys")), 2);
	json_decref(b);
	assert_int_equal(call(x, "DELETE", "/v1/database/config/bad", NULL, NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/config/bad", NULL, NULL), 404);
	assert_int_equal(call(x, "POST", "/v1/database/reset/bad", NULL, NULL), 400);
	assert_int_equal(call(x, "POST", "/v1/database/reset/db", NULL, NULL), 204);
}

static void test_roles(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	assert_int_equal(call(x, "GET", "/v1/database/roles/ro", NULL, &b), 200);
	const json_t *d = data(b);
	assert_int_equal(json_integer_value(json_object_get(d, "default_ttl")), 60);
	assert_int_equal(json_integer_value(json_object_get(d, "max_ttl")), 300);
	assert_string_equal(json_string_value(json_object_get(d, "db_name")), "db");
	assert_string_equal(json_string_value(json_object_get(d, "credential_type")), "password");
	assert_int_equal(json_array_size(json_object_get(d, "creation_statements")), 2);
	assert_int_equal(json_array_size(json_object_get(d, "revocation_statements")), 1);
	assert_int_equal(json_array_size(json_object_get(d, "rollback_statements")), 0);
	json_decref(b);
	/* a role on a connection that does not exist yet is accepted (Vault) */
	assert_int_equal(call(x, "POST", "/v1/database/roles/later",
	                      "{\"db_name\": \"nowhere\", \"creation_statements\": \"CREATE {{name}}\"}",
	                      NULL),
	                 204);
	assert_int_equal(call(x, "POST", "/v1/database/roles/x", "{\"db_name\": \"db\"}", &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "creation_statements"));
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/database/roles/x",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"c\", \"credential_type\": "
	                      "\"rsa_private_key\"}",
	                      &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "rsa_private_key"));
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/database/roles/x",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"c\", \"default_ttl\": 100, "
	                      "\"max_ttl\": 50}",
	                      NULL),
	                 400);
	assert_int_equal(call(x, "LIST", "/v1/database/roles", NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(data(b), "keys")), 2);
	json_decref(b);
	assert_int_equal(call(x, "DELETE", "/v1/database/roles/later", NULL, NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/roles/later", NULL, NULL), 404);
}

static void test_creds_lease(void **state)
{
	struct fx *x = *state;
	json_t *b;
	char path[512], body[600];
	standard(x);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	const char *user = json_string_value(json_object_get(data(b), "username"));
	const char *pass = json_string_value(json_object_get(data(b), "password"));
	const char *lease = json_string_value(json_object_get(b, "lease_id"));
	assert_non_null(user);
	assert_non_null(pass);
	assert_non_null(lease);
	assert_int_equal(strncmp(lease, "database/creds/ro/", 18), 0);
	assert_int_equal(json_integer_value(json_object_get(b, "lease_duration")), 60);
	assert_true(json_is_true(json_object_get(b, "renewable")));
	assert_int_equal(strncmp(user, "v-root-ro-", 10), 0);
	snprintf(path, sizeof(path), "CREATE USER %s PASSWORD %s UNTIL 20", user, pass);
	assert_true(db_fake_ran(path));
	snprintf(path, sizeof(path), "GRANT SELECT TO %s\n", user);
	assert_true(db_fake_ran(path));

	/* renew: the renew statements with the new expiration; capped by the
	 * role's max_ttl (300 s) */
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"increment\": 100000}", lease);
	json_t *rb;
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/renew", body, &rb), 200);
	assert_true(json_integer_value(json_object_get(rb, "lease_duration")) <= 300);
	assert_true(json_integer_value(json_object_get(rb, "lease_duration")) >= 290);
	json_decref(rb);
	snprintf(path, sizeof(path), "ALTER %s UNTIL 20", user);
	assert_true(db_fake_ran(path));

	/* revoke: the role's revocation statements */
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}", lease);
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	snprintf(path, sizeof(path), "DROP ROLE %s\n", user);
	assert_true(db_fake_ran(path));
	json_decref(b);

	/* a role without revocation statements: the plugin's defaults */
	assert_int_equal(call(x, "POST", "/v1/database/roles/app-x",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"CREATE {{name}}\"}", NULL),
	                 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/app-x", NULL, &b), 200);
	user = json_string_value(json_object_get(data(b), "username"));
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}",
	         json_string_value(json_object_get(b, "lease_id")));
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	snprintf(path, sizeof(path), "DROP USER %s\n", user);
	assert_true(db_fake_ran(path));
	json_decref(b);

	/* a role deleted since: its own statements, kept with the lease */
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	user = json_string_value(json_object_get(data(b), "username"));
	assert_int_equal(call(x, "DELETE", "/v1/database/roles/ro", NULL, NULL), 204);
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}",
	         json_string_value(json_object_get(b, "lease_id")));
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	snprintf(path, sizeof(path), "DROP ROLE %s\n", user);
	assert_true(db_fake_ran(path));
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/database/roles/ro",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"CREATE {{name}}\"}", NULL),
	                 204);

	/* the lease's own data never shows the password */
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}",
	         json_string_value(json_object_get(b, "lease_id")));
	pass = json_string_value(json_object_get(data(b), "password"));
	json_t *lb;
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/lookup", body, &lb), 200);
	char *text = json_dumps(lb, 0);
	assert_null(strstr(text, pass));
	free(text);
	json_decref(lb);
	json_decref(b);
}

static const char *const fake_renew[] = {"RENEW {{name}} UNTIL {{expiration}}", NULL};

static void renew_ok(struct fx *x, const char *role)
{
	json_t *b, *rb;
	char body[512];
	assert_int_equal(call(x, "GET", role, NULL, &b), 200);
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"increment\": 30}",
	         json_string_value(json_object_get(b, "lease_id")));
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/renew", body, &rb), 200);
	assert_int_equal(json_integer_value(json_object_get(rb, "lease_duration")), 30);
	json_decref(rb);
	json_decref(b);
}

static void test_renew_defaults(void **state)
{
	struct fx *x = *state;
	standard(x);
	assert_int_equal(call(x, "POST", "/v1/database/roles/app-norenew",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"CREATE {{name}}\"}", NULL),
	                 204);
	/* no renew statements anywhere: only the lease moves */
	renew_ok(x, "/v1/database/creds/app-norenew");
	assert_false(db_fake_ran("RENEW"));
	/* the plugin's defaults when the role has none */
	db_fake_plugin.default_renew = fake_renew;
	renew_ok(x, "/v1/database/creds/app-norenew");
	assert_true(db_fake_ran("RENEW v-root-app-nore"));
	/* a role's own statements win */
	renew_ok(x, "/v1/database/creds/ro");
	assert_true(db_fake_ran("ALTER v-root-ro-"));
	assert_false(db_fake_ran("RENEW v-root-ro-"));
}

static void test_creds_refused(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	/* not in allowed_roles */
	assert_int_equal(call(x, "POST", "/v1/database/roles/rw",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"CREATE {{name}}\"}", NULL),
	                 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/rw", NULL, &b), 400);
	assert_string_equal(fixture_first_error(b), "\"rw\" is not an allowed role");
	json_decref(b);
	assert_int_equal(call(x, "GET", "/v1/database/creds/none", NULL, &b), 400);
	assert_string_equal(fixture_first_error(b), "unknown role: none");
	json_decref(b);
	/* a role on a connection that does not exist */
	assert_int_equal(call(x, "POST", "/v1/database/roles/app-nowhere",
	                      "{\"db_name\": \"nowhere\", \"creation_statements\": \"CREATE {{name}}\"}",
	                      NULL),
	                 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/app-nowhere", NULL, NULL), 400);
	assert_false(db_fake_ran("CREATE"));
}

static int lease_count(struct fx *x)
{
	json_t *b;
	int st = call(x, "LIST", "/v1/sys/leases/lookup/database/creds/ro/", NULL, &b);
	int n = st == 200 ? (int)json_array_size(json_object_get(data(b), "keys")) : 0;
	json_decref(b);
	return n;
}

static void test_creds_failure_undone(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	/* the second statement fails: no lease, the database's reason, and
	 * (DDL not transactional) the new user dropped again */
	db_fake.fail_stmt = "GRANT";
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 502);
	assert_non_null(strstr(fixture_first_error(b), "syntax error in: GRANT SELECT TO v-root-ro-"));
	assert_null(json_object_get(b, "lease_id"));
	json_decref(b);
	assert_int_equal(lease_count(x), 0);
	assert_true(db_fake_ran("DROP ROLE v-root-ro-"));
	/* a database whose DDL rolls back needs nothing undone */
	db_fake_reset();
	db_fake_plugin.ddl_transactional = true;
	db_fake.fail_stmt = "GRANT";
	assert_int_equal(call(x, "POST", "/v1/database/reset/db", NULL, NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, NULL), 502);
	assert_true(db_fake_ran("GRANT"));
	assert_false(db_fake_ran("DROP ROLE"));
	assert_int_equal(lease_count(x), 0);
	/* revocation failing: the lease stays for a retry */
	db_fake.fail_stmt = NULL;
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	char body[512];
	snprintf(body, sizeof(body), "{\"lease_id\": \"%s\", \"sync\": true}",
	         json_string_value(json_object_get(b, "lease_id")));
	json_decref(b);
	db_fake.fail_stmt = "DROP";
	assert_int_not_equal(call(x, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	assert_int_equal(lease_count(x), 1);
	db_fake.fail_stmt = NULL;
	assert_int_equal(call(x, "PUT", "/v1/sys/leases/revoke", body, NULL), 204);
	assert_int_equal(lease_count(x), 0);
}

static void test_hung_database(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	db_fake_plugin.ddl_transactional = true; /* else the undo waits its own deadline too */
	db_fake.block = true;
	int64_t t0 = db_now_ms();
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 504);
	int64_t took = db_now_ms() - t0;
	assert_true(took >= DB_CALL_TIMEOUT_MS - 100 && took < DB_CALL_TIMEOUT_MS + 3000);
	json_decref(b);
	assert_int_equal(lease_count(x), 0);
	db_fake.block = false;
	/* the connection that timed out was discarded, not reused */
	struct mount *m = mount_match(core_mounts(x->core), "database/");
	struct db_pool *p = NULL;
	int64_t open, idle;
	assert_int_equal(db_state_pool(m, "db", &p, NULL), 0);
	db_pool_counts(p, &open, &idle);
	assert_int_equal(open, 0);
	db_pool_unref(p);
	mount_release(m);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
}

/* How many statements run so far held s. */
static int ran_count(const char *s)
{
	int k = 0;
	for (const char *p = db_fake.log.data; p && (p = strstr(p, s)); p += strlen(s))
		k++;
	return k;
}

static void test_broken_connection_retried(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	db_fake_plugin.ddl_transactional = true;
	/* a statement error on a connection that still answers: not run again */
	db_fake.fail_stmt = "GRANT";
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 502);
	assert_non_null(strstr(fixture_first_error(b), "connection \"db\": syntax error in: GRANT"));
	json_decref(b);
	assert_int_equal(ran_count("GRANT"), 1);
	/* a connection that fails and no longer answers a ping was broken:
	 * the statements run once more, on another connection */
	db_fake.fail_ping = true;
	int connects = db_fake.connects;
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 502);
	json_decref(b);
	assert_int_equal(ran_count("GRANT"), 3);
	assert_int_equal(db_fake.connects, connects + 2);
	/* and the retry is what answers when it succeeds */
	db_fake.fail_stmt = NULL;
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
	assert_int_equal(lease_count(x), 1);
}

static void test_rotate_root(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	/* no statements: the plugin's defaults, for the root user */
	assert_int_equal(call(x, "POST", "/v1/database/rotate-root/db", NULL, NULL), 204);
	assert_true(db_fake_ran("ALTER USER root PASSWORD "));
	/* the new password is the one connections use from now on */
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
	assert_string_not_equal(db_fake.last_password, ROOT_PW);
	assert_int_equal(strlen(db_fake.last_password), 20);
	char rotated[64];
	snprintf(rotated, sizeof(rotated), "ALTER USER root PASSWORD %s\n", db_fake.last_password);
	assert_true(db_fake_ran(rotated));
	/* refused by the database: nothing stored */
	assert_int_equal(
	    call(x, "POST", "/v1/database/config/db",
	         "{\"root_rotation_statements\": [\"SET PASSWORD FOR {{username}} = {{password}}\"]}", NULL),
	    204);
	char before[256];
	snprintf(before, sizeof(before), "%s", db_fake.last_password);
	db_fake.fail_stmt = "SET PASSWORD";
	assert_int_equal(call(x, "POST", "/v1/database/rotate-root/db", NULL, &b), 502);
	assert_non_null(strstr(fixture_first_error(b), "SET PASSWORD FOR root = ********************"));
	json_decref(b);
	db_fake.fail_stmt = NULL;
	assert_int_equal(call(x, "POST", "/v1/database/reset/db", NULL, NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
	assert_string_equal(db_fake.last_password, before);
}

static void test_unmount_closes(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	char drop[256];
	snprintf(drop, sizeof(drop), "DROP ROLE %s\n",
	         json_string_value(json_object_get(data(b), "username")));
	json_decref(b);
	assert_true(db_fake.open > 0); /* kept idle in the pool */
	/* disabling the mount revokes its leases (the user dropped) and closes
	 * its pools */
	assert_int_equal(call(x, "DELETE", "/v1/sys/mounts/database", NULL, NULL), 204);
	assert_true(db_fake_ran(drop));
	assert_int_equal(db_fake.open, 0);
	assert_int_equal(db_fake.connects, db_fake.disconnects);
}

static void test_seal_closes(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
	assert_true(db_fake.open > 0);
	assert_int_equal(call(x, "PUT", "/v1/sys/seal", NULL, NULL), 204);
	assert_int_equal(db_fake.open, 0);
}

struct concurrent {
	struct core *core;
	const char *method, *path, *body;
	int status;
};

static void *send_one(void *arg)
{
	struct concurrent *c = arg;
	c->status = fixture_call(c->core, c->method, c->path, c->body, NULL);
	return NULL;
}

/* A config write that reads the stored connection while rotate-root is
 * changing the password must not store the old password back. */
static void test_rotate_vs_config_write(void **state)
{
	struct fx *x = *state;
	json_t *b;
	pthread_t ta, tb;
	standard(x);
	db_fake.delay_ms = 300; /* the rotation's statement and the write's verification ping */
	struct concurrent rot = {x->core, "POST", "/v1/database/rotate-root/db", NULL, 0};
	struct concurrent upd = {x->core, "POST", "/v1/database/config/db", "{\"max_open_connections\": 3}",
	                         0};
	assert_int_equal(pthread_create(&ta, NULL, send_one, &rot), 0);
	usleep(100 * 1000);
	assert_int_equal(pthread_create(&tb, NULL, send_one, &upd), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(rot.status, 204);
	assert_int_equal(upd.status, 204);
	db_fake.delay_ms = 0;
	/* the password connections now use is the one the database was given */
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	json_decref(b);
	char set[320];
	snprintf(set, sizeof(set), "ALTER USER root PASSWORD %s\n", db_fake.last_password);
	assert_true(db_fake_ran(set));
}

static void test_acl_only_creds_ro(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	assert_int_equal(call(x, "POST", "/v1/database/roles/app-rw",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"CREATE {{name}}\"}", NULL),
	                 204);
	assert_int_equal(
	    call(x, "PUT", "/v1/sys/policies/acl/ro",
	         "{\"policy\": \"path \\\"database/creds/ro\\\" { capabilities = [\\\"read\\\"] }\"}", NULL),
	    204);
	assert_int_equal(call(x, "POST", "/v1/auth/token/create", "{\"policies\": [\"ro\"]}", &b), 200);
	char *tok = strdup(json_string_value(json_object_get(json_object_get(b, "auth"), "client_token")));
	json_decref(b);
	struct {
		const char *method, *path;
		int status;
	} cases[] = {
	    {"GET", "/v1/database/creds/ro", 200},  {"GET", "/v1/database/creds/app-rw", 403},
	    {"GET", "/v1/database/config/db", 403}, {"POST", "/v1/database/config/db", 403},
	    {"GET", "/v1/database/roles/ro", 403},  {"POST", "/v1/database/roles/ro", 403},
	    {"LIST", "/v1/database/roles", 403},    {"POST", "/v1/database/rotate-root/db", 403},
	    {"POST", "/v1/database/reset/db", 403},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fixture_request rq = {.method = cases[i].method,
		                             .path = cases[i].path,
		                             .token = tok,
		                             .body = strcmp(cases[i].method, "POST") == 0 ? "{}" : NULL,
		                             .len = strcmp(cases[i].method, "POST") == 0 ? 2 : 0};
		assert_int_equal(fixture_send(x->core, &rq, NULL, NULL), cases[i].status);
	}
	free(tok);
}

static void test_audit_never_holds_password(void **state)
{
	struct fx *x = *state;
	char dir[] = "/tmp/trove-db-audit-XXXXXX";
	char log[600], body[800];
	assert_non_null(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/audit.log", dir);
	const char *dirs[] = {dir};
	struct audit_settings as = {.file_dirs = dirs, .nfile_dirs = 1};
	audit_broker_configure(core_audit(x->core), &as);
	snprintf(body, sizeof(body), "{\"type\": \"file\", \"options\": {\"file_path\": \"%s\"}}", log);
	assert_int_equal(call(x, "PUT", "/v1/sys/audit/file", body, NULL), 204);
	standard(x);
	json_t *b;
	assert_int_equal(call(x, "GET", "/v1/database/config/db", NULL, NULL), 200);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	char pass[64];
	snprintf(pass, sizeof(pass), "%s", json_string_value(json_object_get(data(b), "password")));
	json_decref(b);
	db_fake.fail_connect = true;
	assert_int_equal(call(x, "POST", "/v1/database/config/db2",
	                      "{\"plugin_name\": \"fake-database-plugin\", \"password\": \"hunter2hunter2\"}",
	                      NULL),
	                 400);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	char *all = calloc(1, 1 << 20);
	size_t n = fread(all, 1, (1 << 20) - 1, f);
	fclose(f);
	assert_true(n > 0);
	assert_non_null(strstr(all, "database/config/db"));
	assert_null(strstr(all, "s3cr"));
	assert_null(strstr(all, "hunter2"));
	assert_null(strstr(all, pass));
	free(all);
	unlink(log);
	rmdir(dir);
}

/* The connection's username_template and password_policy make the
 * credentials; a bad template is refused at write, an unknown or unsafe
 * policy at creation, and nothing runs then. */
static void test_templates_and_policies(void **state)
{
	struct fx *x = *state;
	json_t *b;
	standard(x);
	assert_int_equal(call(x, "POST", "/v1/sys/policies/password/digits",
	                      "{\"policy\": \"length = 12\\nrule \\\"charset\\\" { charset = \\\"0123456789\\\" }\"}",
	                      NULL),
	                 204);
	assert_int_equal(call(x, "POST", "/v1/database/config/db",
	                      "{\"username_template\": \"app-{{ .RoleName }}-{{ random 4 | lowercase }}\", "
	                      "\"password_policy\": \"digits\"}",
	                      NULL),
	                 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 200);
	const char *user = json_string_value(json_object_get(data(b), "username"));
	const char *pass = json_string_value(json_object_get(data(b), "password"));
	assert_int_equal(strncmp(user, "app-ro-", 7), 0);
	assert_int_equal(strlen(user), 11);
	assert_int_equal(strlen(pass), 12);
	assert_int_equal(strspn(pass, "0123456789"), 12);
	json_decref(b);

	assert_int_equal(call(x, "POST", "/v1/database/config/db", "{\"username_template\": \"{{ .Nope }}\"}", &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "username_template"));
	json_decref(b);

	db_fake_reset();
	assert_int_equal(call(x, "POST", "/v1/database/config/db", "{\"password_policy\": \"missing\"}", NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "no password policy named \"missing\""));
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/sys/policies/password/quotes",
	                      "{\"policy\": \"length = 8\\nrule \\\"charset\\\" { charset = \\\"';\\\" }\"}", NULL),
	                 204);
	assert_int_equal(call(x, "POST", "/v1/database/config/db", "{\"password_policy\": \"quotes\"}", NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/creds/ro", NULL, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "quotes"));
	json_decref(b);
	assert_false(db_fake_ran("CREATE"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_roles, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_creds_lease, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_templates_and_policies, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_creds_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_creds_failure_undone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hung_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_broken_connection_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unmount_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seal_closes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rotate_vs_config_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_acl_only_creds_ro, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_audit_never_holds_password, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
