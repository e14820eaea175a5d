/* Static roles of the `database` engine over the recording fake plugin
 * (db_fake.c): creation rotates at once (and a refused first rotation
 * stores nothing), static-creds, rotate-role, a failed rotation keeps the
 * current password and is retried with the same pending password, a
 * pending password left by a crash is set again after unseal, the
 * validation of periods, schedules and windows, and ttl counting down. */
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

#include "clock.h"
#include "core/core.h"
#include "core/mount.h"
#include "engines/database/database.h"
#include "engines/database/plugins.h"
#include "err.h"

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
	assert_int_equal(call(x, "POST", "/v1/database/config/db",
	                      "{\"plugin_name\": \"fake-database-plugin\", \"connection_url\": "
	                      "\"fake://{{username}}:{{password}}@db/app\", \"username\": \"root\", "
	                      "\"password\": \"rootpw\", \"allowed_roles\": \"app,sched,dyn\"}",
	                      NULL),
	                 204);
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

static struct mount *mount_of(struct fx *x)
{
	struct mount *m = mount_match(core_mounts(x->core), "database/");
	assert_non_null(m);
	return m;
}

/* The password static-creds answers now (malloc'd). */
static char *current(struct fx *x, const char *role, int64_t *ttl)
{
	json_t *b;
	char path[128];
	snprintf(path, sizeof(path), "/v1/database/static-creds/%s", role);
	assert_int_equal(call(x, "GET", path, NULL, &b), 200);
	char *p = strdup(json_string_value(json_object_get(data(b), "password")));
	if (ttl)
		*ttl = json_integer_value(json_object_get(data(b), "ttl"));
	json_decref(b);
	return p;
}

static bool ran_set(const char *user, const char *pw)
{
	char s[256];
	snprintf(s, sizeof(s), "ALTER USER %s PASSWORD %s\n", user, pw);
	return db_fake_ran(s);
}

static void create_app(struct fx *x)
{
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app",
	                      "{\"db_name\": \"db\", \"username\": \"appuser\", \"rotation_period\": \"1h\"}",
	                      NULL),
	                 204);
}

static void test_create_rotates(void **state)
{
	struct fx *x = *state;
	json_t *b;
	create_app(x);
	char *pw = current(x, "app", NULL);
	assert_int_equal(strlen(pw), 20);
	assert_true(ran_set("appuser", pw)); /* the plugin's default rotation */

	assert_int_equal(call(x, "GET", "/v1/database/static-creds/app", NULL, &b), 200);
	const json_t *d = data(b);
	assert_string_equal(json_string_value(json_object_get(d, "username")), "appuser");
	assert_int_equal(json_integer_value(json_object_get(d, "rotation_period")), 3600);
	int64_t ttl = json_integer_value(json_object_get(d, "ttl"));
	assert_true(ttl > 3590 && ttl <= 3600);
	const char *last = json_string_value(json_object_get(d, "last_vault_rotation"));
	assert_non_null(last);
	assert_int_equal(strncmp(last, "20", 2), 0);
	assert_non_null(strchr(last, 'T'));
	assert_int_equal(last[strlen(last) - 1], 'Z');
	/* no lease, as Vault */
	assert_int_equal(json_string_length(json_object_get(b, "lease_id")), 0);
	json_decref(b);

	/* the role reads back without its password */
	assert_int_equal(call(x, "GET", "/v1/database/static-roles/app", NULL, &b), 200);
	char *text = json_dumps(b, 0);
	assert_null(strstr(text, pw));
	free(text);
	assert_string_equal(json_string_value(json_object_get(data(b), "db_name")), "db");
	assert_string_equal(json_string_value(json_object_get(data(b), "credential_type")), "password");
	json_decref(b);
	assert_int_equal(call(x, "LIST", "/v1/database/static-roles", NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(data(b), "keys")), 1);
	json_decref(b);

	/* rotate-role: a new password, set in the database */
	assert_int_equal(call(x, "POST", "/v1/database/rotate-role/app", NULL, NULL), 204);
	char *pw2 = current(x, "app", NULL);
	assert_string_not_equal(pw, pw2);
	assert_true(ran_set("appuser", pw2));

	/* an update keeps the password; the username cannot change */
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app",
	                      "{\"rotation_statements\": \"SET PASSWORD {{name}} {{password}}\"}", NULL),
	                 204);
	char *pw3 = current(x, "app", NULL);
	assert_string_equal(pw2, pw3);
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app", "{\"username\": \"other\"}", &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "username: cannot be changed"));
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/database/rotate-role/app", NULL, NULL), 204);
	assert_true(db_fake_ran("SET PASSWORD appuser "));

	/* deleting stops the rotation and leaves the user alone */
	size_t before = db_fake.log.len;
	assert_int_equal(call(x, "DELETE", "/v1/database/static-roles/app", NULL, NULL), 204);
	assert_int_equal(db_fake.log.len, before);
	assert_int_equal(call(x, "GET", "/v1/database/static-creds/app", NULL, &b), 400);
	json_decref(b);
	assert_int_equal(call(x, "POST", "/v1/database/rotate-role/app", NULL, NULL), 400);
	free(pw);
	free(pw2);
	free(pw3);
}

static void test_create_refused_stores_nothing(void **state)
{
	struct fx *x = *state;
	json_t *b;
	db_fake.fail_stmt = "ALTER USER";
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app",
	                      "{\"db_name\": \"db\", \"username\": \"appuser\", \"rotation_period\": 60}",
	                      &b),
	                 502);
	const char *e = fixture_first_error(b);
	assert_non_null(strstr(e, "appuser"));
	assert_non_null(strstr(e, "********************")); /* the new password, scrubbed */
	json_decref(b);
	db_fake.fail_stmt = NULL;
	assert_int_equal(call(x, "GET", "/v1/database/static-roles/app", NULL, NULL), 404);
	/* skip_import_rotation: stored without touching the database */
	size_t before = db_fake.log.len;
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app",
	                      "{\"db_name\": \"db\", \"username\": \"appuser\", \"rotation_period\": 60, "
	                      "\"skip_import_rotation\": true}",
	                      NULL),
	                 204);
	assert_int_equal(db_fake.log.len, before);
	assert_int_equal(call(x, "GET", "/v1/database/static-creds/app", NULL, &b), 200);
	assert_string_equal(json_string_value(json_object_get(data(b), "password")), "");
	assert_string_equal(json_string_value(json_object_get(data(b), "last_vault_rotation")),
	                    "0001-01-01T00:00:00Z");
	json_decref(b);
}

static void expect_400(struct fx *x, const char *path, const char *body, const char *msg)
{
	json_t *b = NULL;
	int st = call(x, "POST", path, body, &b);
	if (st != 400 || !strstr(fixture_first_error(b), msg))
		fail_msg("%s %s: %d %s (want 400 %s)", path, body, st, b ? fixture_first_error(b) : "", msg);
	json_decref(b);
}

static void test_validation(void **state)
{
	struct fx *x = *state;
	const char *p = "/v1/database/static-roles/sched";
	expect_400(x, p, "{\"db_name\": \"db\", \"rotation_period\": 60}", "username: missing");
	expect_400(x, p, "{\"username\": \"u\", \"rotation_period\": 60}", "db_name: missing");
	expect_400(x, p, "{\"db_name\": \"db\", \"username\": \"u\"}", "one is required");
	expect_400(x, p, "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 4}",
	           "rotation_period: must be 5 seconds or more");
	expect_400(x, p,
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 60, "
	           "\"rotation_schedule\": \"* * * * *\"}",
	           "mutually exclusive");
	expect_400(x, p,
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 60, "
	           "\"rotation_window\": \"2h\"}",
	           "rotation_window: only valid with rotation_schedule");
	expect_400(x, p, "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_schedule\": \"61 * * * *\"}",
	           "rotation_schedule: minute: a value is out of range");
	expect_400(x, p, "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_schedule\": \"0 0 30 2 *\"}",
	           "rotation_schedule: never comes");
	expect_400(x, p,
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_schedule\": \"0 * * * *\", "
	           "\"rotation_window\": 600}",
	           "rotation_window: must be 3600 seconds or more");
	expect_400(x, p, "{\"db_name\": \"db\", \"username\": \"u'x\", \"rotation_period\": 60}",
	           "username: holds a quote");
	expect_400(x, p,
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 60, "
	           "\"credential_type\": \"rsa_private_key\"}",
	           "credential_type");
	expect_400(x, p, "{\"db_name\": \"nope\", \"username\": \"u\", \"rotation_period\": 60}",
	           "db_name: no connection named \"nope\"");
	expect_400(x, "/v1/database/static-roles/other",
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 60}",
	           "\"other\" is not an allowed role");
	/* a schedule with a window */
	json_t *b;
	assert_int_equal(
	    call(x, "POST", p,
	         "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_schedule\": \"0 * * * *\", "
	         "\"rotation_window\": \"1h\"}",
	         NULL),
	    204);
	assert_int_equal(call(x, "GET", "/v1/database/static-creds/sched", NULL, &b), 200);
	const json_t *d = data(b);
	assert_string_equal(json_string_value(json_object_get(d, "rotation_schedule")), "0 * * * *");
	assert_int_equal(json_integer_value(json_object_get(d, "rotation_window")), 3600);
	assert_null(json_object_get(d, "rotation_period"));
	int64_t ttl = json_integer_value(json_object_get(d, "ttl"));
	int64_t now = clock_realtime_s();
	assert_int_equal(ttl, (now / 3600 + 1) * 3600 - now); /* the next whole hour */
	json_decref(b);
	/* switching to a period drops the schedule and window */
	assert_int_equal(call(x, "POST", p, "{\"rotation_period\": \"10m\"}", NULL), 204);
	assert_int_equal(call(x, "GET", "/v1/database/static-roles/sched", NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(data(b), "rotation_period")), 600);
	assert_null(json_object_get(data(b), "rotation_schedule"));
	json_decref(b);
	/* dynamic and static roles do not share names */
	expect_400(x, "/v1/database/roles/sched", "{\"db_name\": \"db\", \"creation_statements\": \"x\"}",
	           "names must be unique");
	assert_int_equal(call(x, "POST", "/v1/database/roles/dyn",
	                      "{\"db_name\": \"db\", \"creation_statements\": \"x\"}", NULL),
	                 204);
	expect_400(x, "/v1/database/static-roles/dyn",
	           "{\"db_name\": \"db\", \"username\": \"u\", \"rotation_period\": 60}",
	           "names must be unique");
}

static void test_failure_keeps_password_and_retries(void **state)
{
	struct fx *x = *state;
	json_t *b;
	create_app(x);
	char *pw = current(x, "app", NULL);
	struct mount *m = mount_of(x);

	db_fake.fail_stmt = "ALTER USER";
	assert_int_equal(call(x, "POST", "/v1/database/rotate-role/app", NULL, &b), 502);
	json_decref(b);
	/* the current password stays what static-creds answers */
	char *still = current(x, "app", NULL);
	assert_string_equal(pw, still);
	/* the pending password was stored before the database was asked */
	struct db_static_role *ro = NULL;
	assert_int_equal(db_static_role_load(m->view, "app", &ro), 0);
	assert_non_null(ro->pending);
	char *pending = strdup(ro->pending);
	db_static_role_free(ro);
	assert_string_not_equal(pending, pw);

	/* the retry (after its backoff) sets the same pending password */
	db_static_arm(m, "app", clock_realtime_s() - 1);
	db_static_tick(m); /* still failing: backed off */
	db_fake.fail_stmt = NULL;
	size_t before = db_fake.log.len;
	db_static_tick(m); /* not due yet: nothing runs */
	assert_int_equal(db_fake.log.len, before);
	db_static_arm(m, "app", clock_realtime_s() - 1);
	db_static_tick(m);
	assert_true(ran_set("appuser", pending));
	char *now = current(x, "app", NULL);
	assert_string_equal(now, pending);
	assert_int_equal(db_static_role_load(m->view, "app", &ro), 0);
	assert_null(ro->pending);
	db_static_role_free(ro);
	mount_release(m);
	free(pw);
	free(still);
	free(pending);
	free(now);
}

static void test_pending_after_crash(void **state)
{
	struct fx *x = *state;
	create_app(x);
	struct mount *m = mount_of(x);
	/* as if Trove stopped between storing the pending password and the
	 * database answering */
	struct db_static_role *ro = NULL;
	assert_int_equal(db_static_role_load(m->view, "app", &ro), 0);
	char *old = strdup(ro->password);
	ro->pending = strdup("Pending0Password0123");
	assert_int_equal(db_static_role_store(m->view, "app", ro), 0);
	db_static_role_free(ro);
	mount_release(m);

	assert_int_equal(core_seal(x->core), 0);
	struct seal_status st;
	struct buf err;
	buf_init(&err, BUF_CAP_DEFAULT);
	assert_int_equal(core_unseal(x->core, x->f.res.keys[0], x->f.res.key_len, &st, &err), 0);
	buf_release(&err);
	char *cur = current(x, "app", NULL);
	assert_string_equal(cur, old); /* not confirmed yet */
	free(cur);

	m = mount_of(x);
	db_static_tick(m); /* the first run after unseal finds the pending one due */
	mount_release(m);
	assert_true(ran_set("appuser", "Pending0Password0123"));
	cur = current(x, "app", NULL);
	assert_string_equal(cur, "Pending0Password0123");
	free(cur);
	free(old);
}

static void test_period_rotates_and_ttl_counts_down(void **state)
{
	struct fx *x = *state;
	assert_int_equal(call(x, "POST", "/v1/database/static-roles/app",
	                      "{\"db_name\": \"db\", \"username\": \"appuser\", \"rotation_period\": 5}",
	                      NULL),
	                 204);
	int64_t t1, t2;
	char *pw = current(x, "app", &t1);
	assert_true(t1 >= 4 && t1 <= 5);
	struct mount *m = mount_of(x);
	db_static_tick(m); /* not due */
	char *same = current(x, "app", NULL);
	assert_string_equal(pw, same);
	sleep(2);
	char *tmp = current(x, "app", &t2);
	free(tmp);
	assert_true(t2 < t1);
	assert_true(t2 >= 1);
	sleep(4);
	db_static_tick(m); /* due now */
	mount_release(m);
	char *pw2 = current(x, "app", &t2);
	assert_string_not_equal(pw, pw2);
	assert_true(t2 >= 4);
	free(pw);
	free(same);
	free(pw2);
}

/* A role changed in storage by someone else (a replica's write): after
 * the engine's invalidate hook the queue is read back, so its new time
 * counts. */
static void test_invalidate_reloads_queue(void **state)
{
	struct fx *x = *state;
	create_app(x);
	char *pw = current(x, "app", NULL);
	struct mount *m = mount_of(x);
	db_static_tick(m); /* the queue read from storage: due in an hour */
	struct db_static_role *ro = NULL;
	assert_int_equal(db_static_role_load(m->view, "app", &ro), 0);
	ro->next_rotation_s = clock_realtime_s() - 1;
	assert_int_equal(db_static_role_store(m->view, "app", ro), 0);
	db_static_role_free(ro);
	db_static_tick(m); /* the queue still says in an hour */
	char *same = current(x, "app", NULL);
	assert_string_equal(pw, same);
	database_engine.invalidate(m, "static-role/app");
	db_static_tick(m);
	mount_release(m);
	char *pw2 = current(x, "app", NULL);
	assert_string_not_equal(pw, pw2);
	assert_true(ran_set("appuser", pw2));
	free(pw);
	free(same);
	free(pw2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_rotates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_refused_stores_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_failure_keeps_password_and_retries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pending_after_crash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_period_rotates_and_ttl_counts_down, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalidate_reloads_queue, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
