/* lease_call.c — see lease_call.h. */
#include "lease_call.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "expiration.h"
#include "lease_entry.h"
#include "log.h"
#include "mount.h"
#include "router.h"
#include "timed_call.h"

#include "banned.h"

struct lease_calls {
	pthread_mutex_t mu;
	pthread_cond_t idle;       /* signalled when an overrun call returns */
	struct strlist overrunning; /* lease ids of calls past their limit */
};

/* One call: what its thread needs, owned by whoever finishes with it. */
struct call {
	struct lease_calls *set;
	struct mount *m; /* referenced */
	struct lease *l; /* a copy */
	struct buf err;
};

struct lease_calls *lease_calls_new(void)
{
	struct lease_calls *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	strlist_init(&s->overrunning);
	return s;
}

void lease_calls_free(struct lease_calls *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	while (s->overrunning.len > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	strlist_release(&s->overrunning);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

size_t lease_calls_running(struct lease_calls *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->overrunning.len;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* A deep copy through the stored form, so the copy cannot drift from the
 * fields struct lease has. NULL when it cannot be made. */
static struct lease *lease_copy(const struct lease *l)
{
	char *raw = lease_entry_dump(l);
	struct lease *out = NULL;
	bool is_token = false;
	if (raw && lease_entry_parse((const unsigned char *)raw, strlen(raw), &is_token, &out) != 0)
		out = NULL;
	free(raw);
	return out;
}

static void call_free(struct call *c)
{
	mount_release(c->m);
	lease_free(c->l);
	buf_release(&c->err);
	free(c);
}

static int call_run(void *arg)
{
	struct call *c = arg;
	return c->m->engine->lease_revoke(c->m, c->l, &c->err);
}

/* Takes a lease id off the running list (s->mu held). */
static void forget_locked(struct lease_calls *s, const char *lease_id)
{
	for (size_t i = 0; i < s->overrunning.len; i++) {
		if (strcmp(s->overrunning.items[i], lease_id) == 0) {
			free(s->overrunning.items[i]);
			s->overrunning.items[i] = s->overrunning.items[--s->overrunning.len];
			return;
		}
	}
}

/* The call's own thread, once the waiter has left: forget it, free it. */
static void call_done(void *arg, int rc)
{
	struct call *c = arg;
	struct lease_calls *s = c->set;
	log_info("lease revocation returned after its time limit", "lease_id", c->l->id, "result",
		 rc == 0 ? "revoked" : err_name(rc));
	/* Everything the call holds goes before the set hears of it: once
	 * the set is empty the core may be freed (lease_calls_free). */
	char *id = xstrdup(c->l->id);
	call_free(c);
	pthread_mutex_lock(&s->mu);
	forget_locked(s, id);
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	free(id);
}

int lease_call_revoke(struct lease_calls *s, struct mount *m, const struct lease *l, int64_t timeout_ms,
		      struct buf *err)
{
	struct call *c = NULL;
	int rc = 0, r;

	if (timeout_ms <= 0)
		return m->engine->lease_revoke(m, l, err);
	/* Listed before the call starts, so that call_done always finds it;
	 * taken off again below when the call returns in time. */
	pthread_mutex_lock(&s->mu);
	bool running = strlist_contains(&s->overrunning, l->id);
	if (!running)
		strlist_push(&s->overrunning, l->id);
	pthread_mutex_unlock(&s->mu);
	if (running) {
		buf_append_str(err, "the previous revocation of this lease has not returned yet");
		return TROVE_ERR_UPSTREAM;
	}
	c = xcalloc(1, sizeof(*c));
	c->set = s;
	c->m = m;
	mount_ref(m);
	buf_init(&c->err, 256);
	if (!(c->l = lease_copy(l))) {
		r = TROVE_ERR_NOMEM;
		goto unlist;
	}
	r = timed_call(call_run, c, call_done, timeout_ms, &rc);
	if (r == TROVE_ERR_TIMEOUT) {
		buf_printf(err, "the engine did not answer within %lld ms", (long long)timeout_ms);
		return r; /* c is the call's own now */
	}
	if (r == 0) {
		r = rc;
		if (c->err.len)
			buf_append(err, c->err.data, c->err.len);
	}
unlist:
	pthread_mutex_lock(&s->mu);
	forget_locked(s, l->id);
	pthread_mutex_unlock(&s->mu);
	call_free(c);
	return r;
}
