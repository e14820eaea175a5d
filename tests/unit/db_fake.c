/* db_fake.c — the recording plugin of db_fake.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_fake.h"

#include "engines/database/database.h"
#include "engines/database/plugins.h"
#include "err.h"

struct db_fake db_fake;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

struct db_conn {
	int id;
};

static int fake_connect(const struct db_connect_params *p, struct db_conn **out, char **why)
{
	pthread_mutex_lock(&mu);
	db_fake.connects++;
	snprintf(db_fake.last_url, sizeof(db_fake.last_url), "%s",
	         p->connection_url ? p->connection_url : "");
	snprintf(db_fake.last_password, sizeof(db_fake.last_password), "%s", p->password ? p->password : "");
	bool fail = db_fake.fail_connect;
	if (!fail)
		db_fake.open++;
	pthread_mutex_unlock(&mu);
	if (fail) {
		/* a careless database that echoes the password: the engine scrubs */
		struct buf b;
		buf_init(&b, BUF_CAP_DEFAULT);
		buf_printf(&b, "password authentication failed (password was %s)",
		           p->password ? p->password : "");
		*why = buf_take(&b);
		return TROVE_ERR_UPSTREAM;
	}
	*out = calloc(1, sizeof(**out));
	return 0;
}

static void fake_disconnect(struct db_conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&mu);
	db_fake.disconnects++;
	db_fake.open--;
	pthread_mutex_unlock(&mu);
	free(c);
}

static void sleep_until(int64_t deadline_ms)
{
	int64_t left = deadline_ms - db_now_ms();
	if (left > 0) {
		struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

static void delay(void)
{
	if (db_fake.delay_ms > 0)
		sleep_until(db_now_ms() + db_fake.delay_ms);
}

static int fake_exec(struct db_conn *c, const char *const *stmts, size_t n, int64_t deadline_ms, char **why)
{
	(void)c;
	delay();
	if (db_fake.block) {
		sleep_until(deadline_ms);
		*why = strdup("the database did not answer");
		return TROVE_ERR_TIMEOUT;
	}
	pthread_mutex_lock(&mu);
	for (size_t i = 0; i < n; i++) {
		buf_append_str(&db_fake.log, stmts[i]);
		buf_append_byte(&db_fake.log, '\n');
	}
	const char *bad = db_fake.fail_stmt;
	pthread_mutex_unlock(&mu);
	for (size_t i = 0; bad && i < n; i++) {
		if (strstr(stmts[i], bad)) {
			struct buf b;
			buf_init(&b, BUF_CAP_DEFAULT);
			buf_printf(&b, "syntax error in: %s", stmts[i]);
			*why = buf_take(&b);
			return TROVE_ERR_UPSTREAM;
		}
	}
	return 0;
}

static int fake_ping(struct db_conn *c, int64_t deadline_ms, char **why)
{
	(void)c;
	(void)deadline_ms;
	delay();
	pthread_mutex_lock(&mu);
	db_fake.pings++;
	bool fail = db_fake.fail_ping;
	pthread_mutex_unlock(&mu);
	if (fail && why)
		*why = strdup("server closed the connection");
	return fail ? TROVE_ERR_UPSTREAM : 0;
}

static const char *const fake_revocation[] = {"DROP USER {{name}}", NULL};
static const char *const fake_rotation[] = {"ALTER USER {{username}} PASSWORD {{password}}", NULL};

struct db_plugin db_fake_plugin = {
    .name = "fake-database-plugin",
    .username_max = 63,
    .default_revocation = fake_revocation,
    .default_rotation = fake_rotation,
    .ddl_transactional = false,
    .connect = fake_connect,
    .disconnect = fake_disconnect,
    .exec_tx = fake_exec,
    .ping = fake_ping,
};

void db_fake_reset(void)
{
	pthread_mutex_lock(&mu);
	buf_release(&db_fake.log);
	memset(&db_fake, 0, sizeof(db_fake));
	buf_init(&db_fake.log, BUF_CAP_DEFAULT);
	pthread_mutex_unlock(&mu);
	db_fake_plugin.ddl_transactional = false;
	db_fake_plugin.default_renew = NULL;
	db_plugin_set_extra(&db_fake_plugin);
}

bool db_fake_ran(const char *s)
{
	pthread_mutex_lock(&mu);
	bool r = db_fake.log.data && strstr(db_fake.log.data, s) != NULL;
	pthread_mutex_unlock(&mu);
	return r;
}
