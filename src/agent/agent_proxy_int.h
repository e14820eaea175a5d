/* agent_proxy_int.h — what the API proxy's files share (agent_proxy.c:
 * the part and its event loop; agent_proxy_listen.c: sockets and TLS;
 * agent_proxy_forward.c: the workers, the cache and the renewer;
 * agent_proxy_api.c: the /agent/v1/ endpoints). Not a public contract. */
#ifndef TROVE_AGENT_PROXY_INT_H
#define TROVE_AGENT_PROXY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "agent/agent.h"
#include "agent/agent_cache.h"
#include "buf.h"

#define PROXY_WORKERS 2                     /* upstream calls in parallel */
#define PROXY_MAX_BODY ((size_t)32 << 20)   /* request body cap, as the server's */
#define PROXY_AUTO_TOKEN_WAIT_MS 2000L      /* how long a request waits for a first auto-auth token */
#define PROXY_HEADER_TIMEOUT_MS 10000       /* a request's headers must arrive within this */
#define PROXY_HANDSHAKE_TIMEOUT_MS 10000

struct agent_proxy;

struct proxy_inflight {
	char key[AGENT_CACHE_KEY_LEN + 1];
	struct proxy_inflight *next;
};

/* One listener block, bound. */
struct proxy_listener {
	h2o_context_t ctx; /* first: a request finds its listener through conn->ctx */
	h2o_accept_ctx_t accept;
	h2o_globalconf_t gconf;
	bool gconf_init;
	h2o_socket_t *sock;
	SSL_CTX *ssl;
	int fd;
	char *unix_path; /* the socket file made, removed at stop */
	char *address;   /* for logs */
	const struct agent_listener_config *cfg;
	struct agent_proxy *p;
};

/* A proxied request, from the loop to a worker and back. */
struct proxy_job {
	h2o_multithread_message_t msg; /* first: the receiver casts back */
	h2o_req_t *hreq;
	struct proxy_job *next; /* in the workers' queue */
	/* The request, copied on the loop. */
	char *method;
	char *path;  /* "/v1/..." as received, without the query */
	char *query; /* NULL when none */
	char *token; /* X-Vault-Token as sent, NULL when none */
	char *namespace_name;
	struct strlist relay; /* other X-Vault-* lines to forward */
	struct buf body;      /* secret */
	/* The answer, filled by a worker. */
	int status;
	struct strlist headers; /* "name: value" lines, names lowercase */
	struct buf out;         /* secret */
};

struct proxy_counters {
	atomic_ulong success, client_error, error, cache_hit, cache_miss;
};

struct agent_proxy {
	struct agent *a;
	struct proxy_listener *ls;
	size_t nls;

	/* The event loop, on its own thread; everything h2o is made and used there. */
	pthread_t loop_tid;
	bool loop_started;
	h2o_evloop_t *loop;
	h2o_multithread_queue_t *queue;
	h2o_multithread_receiver_t done_rx; /* answers from the workers */
	h2o_multithread_receiver_t stop_rx; /* the stop message */
	h2o_multithread_message_t stop_msg;
	h2o_linklist_t conns;   /* open connections */
	unsigned jobs_in_flight; /* loop only */
	bool loop_stop;          /* loop only */
	pthread_mutex_t ready_mu;
	pthread_cond_t ready_cond;
	bool ready;

	/* The workers' queue. */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct proxy_job *q_head, **q_tail;
	bool stopping;
	pthread_t workers[PROXY_WORKERS];
	unsigned nworkers;

	/* cache { }: the store and its renewer. */
	struct agent_cache *cache;
	pthread_t renewer;
	bool renewer_started;
	pthread_cond_t renew_cond; /* under mu: a new entry, or stop */
	bool renew_cond_init;
	/* Keys of cacheable requests being forwarded now (under mu): an
	 * identical request waits for the first's answer, then finds it in
	 * the cache, as in Vault Agent. */
	struct proxy_inflight *inflight;
	pthread_cond_t inflight_cond;

	struct proxy_counters n;
};

/* agent_proxy_listen.c: binds l->cfg (tcp or unix) into l->fd and makes
 * its TLS context; err names l->cfg->where and the key. */
int proxy_listen(struct proxy_listener *l, struct buf *err);
/* Closes what proxy_listen made that h2o does not own (the fd before the
 * loop took it, the TLS context) and removes a unix socket file. */
void proxy_listen_release(struct proxy_listener *l);

/* agent_proxy_forward.c */
int proxy_workers_start(struct agent_proxy *p, struct buf *err);
/* Wakes and joins the workers and the renewer (jobs still queued are
 * answered 503). */
void proxy_workers_stop(struct agent_proxy *p);
/* A new entry was kept: the renewer looks at its due time again. */
void proxy_cache_kept(struct agent_proxy *p);
/* Queues j for a worker; its answer comes back through p->done_rx. */
void proxy_submit(struct agent_proxy *p, struct proxy_job *j);
void proxy_job_free(struct proxy_job *j);
/* Sets j's answer to a Vault error envelope {"errors":[msg]}. */
void proxy_job_error(struct proxy_job *j, int status, const char *msg);

/* agent_proxy_strip.c: Vault Agent's guard for the auto-auth token. When
 * a 200 answer to auth/token/lookup-self or renew-self made with the
 * auto-auth token, or to auth/token/lookup or renew naming it in the body
 * (or naming none), would show that token to the client, removes data's
 * id and accessor, or empties auth's client_token and accessor, in
 * answer. path is "/v1/...". Returns true when answer changed. */
bool proxy_strip_auto_token(const char *path, const char *sent_token, const json_t *req_body,
                            const char *auto_token, json_t *answer);

/* agent_proxy_api.c: the /agent/v1/ endpoints, on the loop. Sets j's
 * answer and returns true when path is one of them. */
bool proxy_agent_api(struct agent_proxy *p, const struct proxy_listener *l, struct proxy_job *j);
/* The metrics body: Vault's JSON ("format" NULL) or Prometheus text. */
void proxy_metrics_render(const struct proxy_counters *n, bool prometheus, struct buf *out);

#endif
