/* http_response.h — an HTTP/1.1 answer read from bytes as they arrive.
 *
 * The native transport (transport_native.h) feeds what it reads from the
 * connection into a struct api_http_reader; the reader parses the status
 * line and headers (picohttpparser, as libh2o exports it), skips 1xx
 * interim answers, finds how the body is framed (Content-Length, chunked,
 * or up to the close) and collects the body into a capped buffer. It does
 * no I/O, so a fuzz target drives it as the transport does. */
#ifndef TROVE_API_HTTP_RESPONSE_H
#define TROVE_API_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define API_HTTP_MAX_HEAD ((size_t)64 << 10) /* status line and headers */
#define API_HTTP_MAX_HEADERS 100
#define API_HTTP_MAX_KEPT_HEADERS 64
#define API_HTTP_MORE 1 /* api_http_reader_feed: the answer is not complete yet */

enum api_http_framing {
	API_HTTP_NO_BODY, /* HEAD, 1xx, 204, 304 */
	API_HTTP_LENGTH,  /* Content-Length */
	API_HTTP_CHUNKED, /* Transfer-Encoding: chunked */
	API_HTTP_TO_CLOSE /* neither: the body ends when the server closes */
};

struct api_http_reader {
	/* Set by api_http_reader_init. */
	bool head_request; /* the request was HEAD: no body follows */
	struct buf *body;  /* where the body goes; borrowed, its cap applies */
	/* The final answer's head, once parsed. */
	bool have_head;
	int status;
	enum api_http_framing framing;
	uint64_t length;     /* API_HTTP_LENGTH: bytes still to come */
	bool keep_alive;     /* the connection may carry another request */
	long retry_after_ms; /* Retry-After in whole seconds, else -1 */
	char *location;      /* Location value (owned), or NULL */
	/* The final answer's header lines, "Name: value", at most
	 * API_HTTP_MAX_KEPT_HEADERS (the rest are read, not kept). */
	struct strlist headers;
	bool done;
	/* Internal. */
	struct buf head; /* head bytes until the head is complete (wiped) */
	size_t wire;     /* bytes fed since the head, for the chunked cap */
	union {
		size_t align;
		unsigned char bytes[64]; /* picohttpparser's chunk decoder */
	} chunk;
	bool started;    /* a byte arrived */
	int failed;      /* the failure returned, once finished with one */
	const char *why; /* the reason of the last failure (static) */
};

/* Starts reading the answer to a request (head_request: it was HEAD),
 * collecting the body into body (borrowed; its cap is the body cap). */
void api_http_reader_init(struct api_http_reader *r, bool head_request, struct buf *body);
/* Frees what the reader holds (the head bytes wiped). */
void api_http_reader_release(struct api_http_reader *r);

/* Feeds n bytes that arrived. *used is set to the bytes consumed: all of
 * them unless the answer ended inside them (the rest is not part of it).
 * Returns API_HTTP_MORE when the answer needs more bytes, 0 when it is
 * complete (r->done), or on a failure (r->why says what, and the reader
 * is finished):
 *   TROVE_ERR_TOO_LARGE          the body passed the buffer's cap
 *   TROVE_ERR_HEADERS_TOO_LARGE  the head passed API_HTTP_MAX_HEAD or
 *                                API_HTTP_MAX_HEADERS headers
 *   TROVE_ERR_INVALID            bytes that are not an HTTP/1.x answer (a
 *                                bad status line, header, Content-Length
 *                                or chunk; a 101)
 * n may be 0. Feeding after completion or failure returns the same. */
int api_http_reader_feed(struct api_http_reader *r, const char *p, size_t n, size_t *used);

/* For a body read as a stream (a watch that never ends): the caller took
 * the bytes the body buffer held and emptied it, so the buffer's cap
 * bounds what arrives from here on rather than the whole stream. */
void api_http_reader_drained(struct api_http_reader *r);

/* The server closed the connection. Returns 0 when that completes the
 * answer (a body read to the close; or an answer already complete),
 * otherwise TROVE_ERR_INVALID with r->why saying where it broke off. */
int api_http_reader_eof(struct api_http_reader *r);

/* Whether any byte of an answer (interim answers included) arrived. */
bool api_http_reader_started(const struct api_http_reader *r);

#endif
