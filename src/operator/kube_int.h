/* kube_int.h — what the files of the Kubernetes client (kube_*.c) share
 * and nothing outside them uses: reading small files, the connection a
 * client opens, the request head it writes, and SIGPIPE blocking. */
#ifndef TROVE_OPERATOR_KUBE_INT_H
#define TROVE_OPERATOR_KUBE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "api/net_conn.h"
#include "buf.h"
#include "operator/kube.h"

#define KUBE_FILE_MAX ((size_t)4 << 20) /* kubeconfig, CA bundles, tokens */

/* Reads the whole file at path (at most cap bytes) into *out (heap,
 * NUL-terminated; the caller frees or wipes) and *len. 0, or
 * TROVE_ERR_NOT_FOUND / TROVE_ERR_IO / TROVE_ERR_TOO_LARGE with *err
 * naming the file and why. */
int kube_read_file(const char *path, size_t cap, char **out, size_t *len, char **err);

/* Opens a connection to the client's server (TLS for https), by
 * deadline. 0, or a failure with c->why. */
int kube_conn_open(struct kube_client *k, struct api_conn *c, long deadline);

/* Appends the request head for method and path (the server's path prefix
 * is added) with the bearer token (the token file re-read when it
 * changed), Content-Type and Content-Length when body_len is not
 * (size_t)-1. head should be a secret buffer (it carries the token). */
int kube_write_head(struct kube_client *k, const char *method, const char *path, const char *content_type,
                    size_t body_len, struct buf *head);

/* The message of a Status object body (NULL: none), for errors. */
const char *kube_status_message(const json_t *body);

/* SIGPIPE blocked for the calling thread around a write to a peer that
 * may be gone (OpenSSL writes with write(2)); one raised meanwhile is
 * taken back. */
struct kube_sigpipe {
	sigset_t old;
	bool was_pending;
};
void kube_sigpipe_block(struct kube_sigpipe *s);
void kube_sigpipe_restore(struct kube_sigpipe *s);

#endif
