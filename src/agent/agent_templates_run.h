/* agent_templates_run.h — the inside of the template runner
 * (agent_templates.h is its face as a part of the agent).
 *
 * Dependencies. Each distinct call a template makes — secret "path" (a
 * read), secret "path" "k=v"... (a write of those fields), pkiCert "path"
 * "k=v"... — is one dependency, keyed by what it asks for (a write's
 * fields in sorted order), and shared by every template making the same
 * call; pkiCert is keyed by its destination too, since it reads its
 * certificate back from there. A dependency is fetched the first time a
 * rendering asks for it, then kept fresh on the schedule tdep_refresh_ms
 * computes; when its data changes, the templates that used it in their
 * last rendering render again.
 *
 * The runner is driven by one thread (agent_templates.c) calling
 * trunner_run, which returns when the agent stops; everything in here
 * belongs to that thread. How it reaches the server and exec mode comes
 * in through struct trunner_ops, so that tests plug in a scripted
 * server and record what exec mode is handed. */
#ifndef TROVE_AGENT_TEMPLATES_RUN_H
#define TROVE_AGENT_TEMPLATES_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"
#include "api/api.h"
#include "buf.h"

struct tmpl;

#define TRUNNER_SOURCE_MAX ((size_t)1 << 20)   /* a template's source file */
#define TRUNNER_OUTPUT_MAX ((size_t)16 << 20)  /* a rendering */
#define TRUNNER_COMMAND_OUTPUT_MAX 4096        /* what is logged of a command's output */
#define TRUNNER_BACKOFF_MIN_MS 250L            /* after a failure, doubling ... */
#define TRUNNER_BACKOFF_MAX_MS 60000L          /* ... up to this */
#define TRUNNER_MIN_REFRESH_MS 500L            /* no dependency is refreshed more often */
#define TRUNNER_MAX_REFRESH_MS (31L * 86400 * 1000) /* nor waits longer */
#define TRUNNER_DEFAULT_RETRIES 12             /* vault { retry { num_retries = 0 } } */

enum tdep_kind { TDEP_READ, TDEP_WRITE, TDEP_PKI };

/* What decides when a fetched secret is refreshed. */
struct tdep_lease {
	bool leased;          /* a lease_id, or an auth block (a token) */
	bool renewable;
	int64_t duration_s;   /* lease_duration (auth's for a token) */
	int64_t cert_expiry_s; /* unleased data with "certificate" and "expiration": Unix time; else 0 */
	int64_t rotation_ttl_s; /* unleased data with "rotation_period": its "ttl"; else -1 */
};

struct tdep {
	enum tdep_kind kind;
	char *key;   /* identity, see tdep_key */
	char *path;  /* as written, may carry "?query" */
	char **args; /* "k=v" as written */
	size_t nargs;
	char *dest;      /* pkiCert: the destination it reuses a certificate from; else NULL */
	char *read_path; /* TDEP_READ: what is read (KV v2 adds "data/"); NULL until looked up */

	json_t *value; /* what templates see; NULL until fetched. Secret: wiped when freed */
	struct tdep_lease lease;
	char *lease_id;
	char *auth_token; /* a write that made a token: the token, to renew it as itself */
	int64_t increment_s; /* the duration asked for on renewal: the first one given */

	int64_t due_ns; /* CLOCK_MONOTONIC; when to refresh (0: not scheduled) */
	bool renew;     /* the refresh due is a renewal, not a fetch */
	int failures;   /* refreshes failed in a row */
	size_t users;   /* templates whose last rendering used it */
	struct tdep *next;
};

/* The identity of a call: kind, path, sorted args and (pkiCert) the
 * destination, as one heap string. */
char *tdep_key(enum tdep_kind kind, const char *path, const char *const *args, size_t nargs, const char *dest);

/* Milliseconds from now to the next refresh of a secret fetched with
 * lease l (and whether that refresh renews), Vault Agent's rules:
 *  - leased and renewable: renew once two thirds of the lease have passed
 *    (as Vault's renewer; never in its last second);
 *  - leased, not renewable: fetch anew at threshold of the lease;
 *  - a certificate without a lease: fetch anew at threshold of what is
 *    left of its validity;
 *  - a rotating secret (rotation_period, ttl): fetch just after its ttl;
 *  - anything else (KV): fetch anew every static_s.
 * The fraction gets +-5 % of jitter (rnd in [0,1)), as consul-template's
 * leaseCheckWait, so that agents started together spread out. At least
 * TRUNNER_MIN_REFRESH_MS. */
long tdep_refresh_ms(const struct tdep_lease *l, double threshold, int64_t static_s, int64_t now_s, double rnd,
                     bool *renew);

/* A random number in [0,1), for jitter. */
double tdep_jitter(void);
/* The wait after failures (>= 1) in a row: TRUNNER_BACKOFF_MIN_MS,
 * doubling, at most TRUNNER_BACKOFF_MAX_MS. */
long tdep_backoff_ms(int failures);

/* wait { min max } of a template (seconds; 0 0: none): when to render
 * after changes, the first not rendered yet at first_ns and the latest at
 * now_ns (CLOCK_MONOTONIC ns): min after the latest, but no later than
 * max after the first (max 0: 4 x min, as consul-template). */
int64_t tdep_wait_until(int64_t first_ns, int64_t now_ns, int64_t min_s, int64_t max_s);

/* Reads the lease facts of an API answer's JSON (request_id, lease_id,
 * lease_duration, renewable, data, auth). */
void tdep_lease_from_answer(const json_t *answer, struct tdep_lease *l);

/* The value templates see for a secret answer:
 * {"RequestID","LeaseID","LeaseDuration","Renewable","Data","Warnings"}
 * and "Auth" {"ClientToken","Accessor","Policies","Metadata",
 * "LeaseDuration","Renewable"} when the answer made a token. New ref. */
json_t *tdep_secret_value(const json_t *answer);

/* Whether two values differ in what a template could print from them
 * (Data, Auth; for pkiCert the PEMs), not merely in their lease facts. */
bool tdep_value_changed(const json_t *old, const json_t *cur);

/* KV v2: the path to read for a template's path, given the mount's path
 * ("secret/") from sys/internal/ui/mounts, as consul-template shims it:
 * "secret/foo" -> "secret/data/foo"; paths already under data/,
 * metadata/ or subkeys/ are kept. Heap string. */
char *tdep_kv2_path(const char *path, const char *mount);

/* pkiCert: the value templates see, from PEM text holding a certificate,
 * maybe its key and CAs (an issue answer's fields or the destination
 * file): {"Cert","Key","CA","CAChain":[...],"Data":{the same}}, the first
 * CA certificate as CA. Returns NULL when no leaf certificate is in it.
 * *not_before_s and *not_after_s: the leaf's validity (Unix seconds). */
json_t *tpki_value_from_pem(const char *pem, size_t len, int64_t *not_before_s, int64_t *not_after_s);
/* Milliseconds until a certificate valid from nb to na should be replaced
 * (threshold of its lifetime, +-3 % jitter from rnd in [0,1)); <= 0 when
 * it is due now or expired. */
long tpki_refresh_ms(int64_t nb, int64_t na, int64_t now_s, double threshold, double rnd);

/* How the runner reaches the world. */
struct trunner_ops {
	/* A client for the runner's thread (no token). */
	int (*make_client)(struct agent *a, struct api_client **out, struct buf *err);
	/* exec mode: the env_templates' newest "NAME=value" strings. */
	void (*set_env)(struct agent *a, const struct strlist *env);
};

struct trunner;

/* Parses every template of a->cfg; a parse error or an unreadable source
 * fails naming the block's where. 0 with *out, or an error with err. */
int trunner_new(struct agent *a, const struct trunner_ops *ops, struct trunner **out, struct buf *err);
/* Renders, refreshes and writes until the agent stops (or, with
 * exit_after_auth, until every template has rendered once: then it asks
 * the agent to stop with 0). */
void trunner_run(struct trunner *r);
void trunner_free(struct trunner *r);

/* For tests: the dependencies now held, the first of a list. */
const struct tdep *trunner_deps(const struct trunner *r);
/* For tests: how many times templates ran their commands, and how many
 * files were written. */
size_t trunner_commands_run(const struct trunner *r);
size_t trunner_files_written(const struct trunner *r);

#endif
