/* linger.c — h2o's own refusals as JSON, and a bounded lingering close
 * after them (linger.h).
 *
 * h2o 2.2.5 sends its refusals through h2o_send_error_generic on the
 * host's fallback path, so a filter there sees each of them, and only
 * them: Trove's handler answers on its own path. The filter swaps the
 * plain-text body for the envelope in an output stream of its own. It
 * cannot delay h2o's close, which follows the write, so it keeps a
 * duplicate of the descriptor: the kernel closes the connection only when
 * the duplicate goes, after the drain. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "linger.h"

#include "buf.h"

#include "banned.h"

struct drain {
	h2o_linklist_t link;
	h2o_socket_t *sock;
	h2o_timeout_entry_t timer;
	size_t discarded;
};

struct error_filter {
	h2o_filter_t super;
	size_t max_request_size;
	linger_keep_fn keep;
};

struct error_ostream {
	h2o_ostream_t super;
	h2o_iovec_t body;
	bool sent;
};

static void drain_close(struct drain *d)
{
	h2o_timeout_unlink(&d->timer);
	h2o_linklist_unlink(&d->link);
	h2o_socket_close(d->sock);
	free(d);
}

static void on_drain_timeout(h2o_timeout_entry_t *entry)
{
	drain_close(H2O_STRUCT_FROM_MEMBER(struct drain, timer, entry));
}

static void on_drain_read(h2o_socket_t *sock, const char *err)
{
	struct drain *d = sock->data;
	if (err != NULL) {
		drain_close(d); /* EOF: the client has sent everything */
		return;
	}
	d->discarded += sock->input->size;
	h2o_buffer_consume(&sock->input, sock->input->size);
	if (d->discarded > LINGER_MAX_BYTES)
		drain_close(d);
}

void linger_init(struct linger_set *ls, h2o_loop_t *loop)
{
	ls->loop = loop;
	h2o_timeout_init(loop, &ls->timeout, LINGER_MS);
	h2o_linklist_init_anchor(&ls->socks);
}

void linger_dispose(struct linger_set *ls)
{
	while (!h2o_linklist_is_empty(&ls->socks))
		drain_close(H2O_STRUCT_FROM_MEMBER(struct drain, link, ls->socks.next));
	h2o_timeout_dispose(ls->loop, &ls->timeout);
}

void linger_start(struct linger_set *ls, int fd)
{
	/* The answer is in the kernel's queue: FIN goes after it. */
	if (shutdown(fd, SHUT_WR) != 0) {
		close(fd);
		return;
	}
	struct drain *d = xcalloc(1, sizeof(*d));
	d->sock = h2o_evloop_socket_create(ls->loop, fd, 0);
	d->sock->data = d;
	d->timer.cb = on_drain_timeout;
	h2o_linklist_insert(&ls->socks, &d->link);
	h2o_timeout_link(ls->loop, &ls->timeout, &d->timer);
	h2o_socket_read_start(d->sock, on_drain_read);
}

static void error_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
			  h2o_send_state_t state)
{
	struct error_ostream *o = (struct error_ostream *)self;
	(void)bufs;
	(void)bufcnt; /* h2o's plain-text body: replaced */
	h2o_ostream_send_next(&o->super, req, o->sent ? NULL : &o->body, o->sent ? 0 : 1, state);
	o->sent = true;
}

static const char *error_message(int status, size_t max, char *tmp, size_t n)
{
	switch (status) {
	case 413:
		snprintf(tmp, n, "request body is larger than max_request_size (%zu bytes)", max);
		return tmp;
	case 417:
		return "unsupported Expect header";
	default:
		return "malformed HTTP request";
	}
}

static void on_setup_error(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	struct error_filter *f = (struct error_filter *)self;
	char tmp[96];
	if (req->res.status >= 400) {
		const char *msg = error_message(req->res.status, f->max_request_size, tmp, sizeof(tmp));
		json_t *j = json_pack("{s:[s]}", "errors", msg);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (text) {
			struct error_ostream *o =
				(struct error_ostream *)h2o_add_ostream(req, sizeof(*o), slot);
			size_t len = strlen(text);
			o->body.base = h2o_mem_alloc_pool(&req->pool, len + 1);
			memcpy(o->body.base, text, len);
			o->body.base[len] = '\n';
			o->body.len = len + 1;
			o->sent = false;
			o->super.do_send = error_do_send;
			free(text);
			req->res.content_length = o->body.len;
			h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
				       H2O_STRLIT("application/json"), 1);
			h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"),
				       1);
			slot = &o->super.next;
		}
		h2o_socket_t *sock = req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn)
								       : NULL;
		if (sock && f->keep)
			f->keep(sock);
	}
	h2o_setup_next_ostream(req, slot);
}

void linger_register_errors(h2o_hostconf_t *host, size_t max_request_size, linger_keep_fn keep)
{
	struct error_filter *f = (struct error_filter *)h2o_create_filter(&host->fallback_path, sizeof(*f));
	f->super.on_setup_ostream = on_setup_error;
	f->max_request_size = max_request_size;
	f->keep = keep;
}
