/* kube_fake.h — a loopback HTTP/1.1 server for the Kubernetes client's
 * unit tests: each connection has its own thread, reads requests
 * (head and Content-Length body) and hands each to the test's handler,
 * which writes what it likes on the socket (a canned answer, a chunked
 * watch stream, nothing before closing). */
#ifndef TROVE_TESTS_KUBE_FAKE_H
#define TROVE_TESTS_KUBE_FAKE_H

#include <stdbool.h>
#include <stddef.h>

struct kube_fake_req {
	char method[16];
	char path[2048];
	char auth[4096];  /* the Authorization value, or "" */
	char ctype[128];  /* the Content-Type value, or "" */
	char *body;       /* NUL-terminated, "" when none */
	size_t body_len;
	int conn_no;      /* which connection (0, 1, ...) */
	int req_no;       /* which request on it (0, 1, ...) */
};

/* Returns true to keep reading requests on the connection, false to close. */
typedef bool (*kube_fake_fn)(void *ctx, int fd, const struct kube_fake_req *rq);

struct kube_fake;

/* Listens on 127.0.0.1 (a free port); *port set. */
struct kube_fake *kube_fake_start(kube_fake_fn fn, void *ctx, int *port);
/* Shuts every connection and joins every thread. */
void kube_fake_stop(struct kube_fake *f);
/* Whether the fake is stopping (handlers streaming a watch poll it). */
bool kube_fake_stopping(struct kube_fake *f);
/* How many connections were accepted so far. */
int kube_fake_conns(struct kube_fake *f);

struct kube_client;
/* A client of the operator's Kubernetes client for http://127.0.0.1:port
 * with token and token_file (either NULL). Aborts when it cannot be made. */
struct kube_client *kube_fake_client(int port, const char *token, const char *token_file);

/* A whole answer with a JSON body (NULL: none) and Content-Length. */
void kube_fake_reply(int fd, int status, const char *json);
/* The head of a chunked 200 answer, then chunks, then the last chunk. */
void kube_fake_chunked_head(int fd);
void kube_fake_chunk(int fd, const char *text);
void kube_fake_chunk_end(int fd);

#endif
