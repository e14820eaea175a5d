/* http_response.c — the answer's head and body framing (http_response.h).
 *
 * The head is gathered in a buffer of its own until picohttpparser finds
 * its end (at most API_HTTP_MAX_HEAD bytes: a server that never ends its
 * headers cannot make the client eat memory). Body bytes go to the
 * caller's capped buffer; a chunked body is decoded in a small scratch
 * copy, since the decoder rewrites what it is given and the input is the
 * caller's, and the scratch is wiped (bodies carry secrets). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "api/http_response.h"
#include "api/retry.h"
#include "err.h"
#include "picohttp.h"
#include "secure.h"

#include "banned.h"

#define CHUNK_SCRATCH 4096
/* Chunk sizes, extensions and trailers may add this much to the body's
 * cap on the wire before the answer is refused. */
#define CHUNK_OVERHEAD_MAX ((size_t)1 << 20)

_Static_assert(sizeof(struct phr_chunked_decoder) <= sizeof(((struct api_http_reader *)0)->chunk),
               "chunk decoder storage");

void api_http_reader_init(struct api_http_reader *r, bool head_request, struct buf *body)
{
	memset(r, 0, sizeof(*r));
	r->head_request = head_request;
	r->body = body;
	r->retry_after_ms = -1;
	buf_init_secret(&r->head, API_HTTP_MAX_HEAD);
	strlist_init(&r->headers);
}

void api_http_reader_release(struct api_http_reader *r)
{
	buf_release_secret(&r->head);
	free(r->location);
	r->location = NULL;
	strlist_release(&r->headers);
}

void api_http_reader_drained(struct api_http_reader *r)
{
	r->wire = 0;
}

static int fail(struct api_http_reader *r, int code, const char *why)
{
	r->failed = code;
	r->why = why;
	return code;
}

static bool span_ieq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

/* Whether the comma-separated list (p, n) holds token, in any case. */
static bool list_has(const char *p, size_t n, const char *token)
{
	size_t i = 0, start, end;

	while (i < n) {
		while (i < n && (p[i] == ',' || p[i] == ' ' || p[i] == '\t'))
			i++;
		start = i;
		while (i < n && p[i] != ',')
			i++;
		end = i;
		while (end > start && (p[end - 1] == ' ' || p[end - 1] == '\t'))
			end--;
		if (end > start && span_ieq(p + start, end - start, token))
			return true;
	}
	return false;
}

/* Whether the last coding of a Transfer-Encoding value is chunked. */
static bool last_is_chunked(const char *p, size_t n)
{
	size_t end = n, start;

	while (end > 0 && (p[end - 1] == ' ' || p[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && p[start - 1] != ',' && p[start - 1] != ' ' && p[start - 1] != '\t')
		start--;
	return span_ieq(p + start, end - start, "chunked");
}

/* Content-Length: digits only, at most 18 of them (no overflow). */
static int parse_length(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 18)
		return TROVE_ERR_INVALID;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return TROVE_ERR_INVALID;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* Reads the final answer's headers into r. */
static int take_headers(struct api_http_reader *r, int minor, const struct phr_header *h, size_t nh)
{
	bool has_length = false, has_te = false, chunked = false, close = false, keep = false;
	uint64_t length = 0, v;
	size_t i;

	for (i = 0; i < nh; i++) {
		const char *name = h[i].name, *value = h[i].value;
		size_t nl = h[i].name_len, vl = h[i].value_len;

		if (name == NULL) /* an obsolete folded line */
			return fail(r, TROVE_ERR_INVALID, "a folded header line in the answer");
		if (r->headers.len < API_HTTP_MAX_KEPT_HEADERS) {
			char *line = xmalloc(nl + 2 + vl + 1);

			memcpy(line, name, nl);
			memcpy(line + nl, ": ", 2);
			memcpy(line + nl + 2, value, vl);
			line[nl + 2 + vl] = '\0';
			(void)strlist_push_owned(&r->headers, line);
		}
		if (span_ieq(name, nl, "Content-Length")) {
			if (parse_length(value, vl, &v) != 0 || (has_length && v != length))
				return fail(r, TROVE_ERR_INVALID, "a bad Content-Length in the answer");
			has_length = true;
			length = v;
		} else if (span_ieq(name, nl, "Transfer-Encoding")) {
			has_te = true;
			chunked = last_is_chunked(value, vl);
		} else if (span_ieq(name, nl, "Connection")) {
			close = close || list_has(value, vl, "close");
			keep = keep || list_has(value, vl, "keep-alive");
		} else if (span_ieq(name, nl, "Retry-After") && value >= name) {
			r->retry_after_ms = api_retry_after_ms(name, (size_t)(value + vl - name));
		} else if (span_ieq(name, nl, "Location")) {
			free(r->location);
			r->location = xstrndup(value, vl);
		}
	}
	r->keep_alive = !close && (minor >= 1 || keep);
	if (r->head_request || r->status == 204 || r->status == 304) {
		r->framing = API_HTTP_NO_BODY;
	} else if (has_te) {
		/* Transfer-Encoding overrides Content-Length (RFC 9112 6.3); a
		 * body that is not chunked runs to the close. */
		r->framing = chunked ? API_HTTP_CHUNKED : API_HTTP_TO_CLOSE;
		r->keep_alive = r->keep_alive && chunked && !has_length;
	} else if (has_length) {
		r->framing = API_HTTP_LENGTH;
		r->length = length;
		if (length > r->body->cap - r->body->len)
			return fail(r, TROVE_ERR_TOO_LARGE,
			            "the answer's Content-Length passes the body cap");
	} else {
		r->framing = API_HTTP_TO_CLOSE;
		r->keep_alive = false;
	}
	((struct phr_chunked_decoder *)(void *)&r->chunk)->consume_trailer = 1;
	r->done = r->framing == API_HTTP_NO_BODY || (r->framing == API_HTTP_LENGTH && length == 0);
	return 0;
}

static int append_body(struct api_http_reader *r, const char *p, size_t n)
{
	int e = buf_append(r->body, p, n);

	if (e == TROVE_ERR_TOO_LARGE)
		return fail(r, e, "the answer's body passes the body cap");
	if (e != 0)
		return fail(r, e, "out of memory for the answer's body");
	return 0;
}

/* Decodes chunked bytes; sets *used short of n when the body ended. */
static int feed_chunked(struct api_http_reader *r, const char *p, size_t n, size_t *used)
{
	struct phr_chunked_decoder *d = (struct phr_chunked_decoder *)(void *)&r->chunk;
	char scratch[CHUNK_SCRATCH];
	size_t off = 0, take, len;
	ssize_t left;
	int e = 0;

	while (off < n && !r->done) {
		take = n - off < sizeof(scratch) ? n - off : sizeof(scratch);
		r->wire += take;
		if (r->wire > r->body->cap + CHUNK_OVERHEAD_MAX) {
			e = fail(r, TROVE_ERR_TOO_LARGE, "the answer's body passes the body cap");
			break;
		}
		memcpy(scratch, p + off, take);
		len = take;
		left = phr_decode_chunked(d, scratch, &len);
		if (left == -1) {
			e = fail(r, TROVE_ERR_INVALID, "a malformed chunk in the answer's body");
			break;
		}
		if ((e = append_body(r, scratch, len)) != 0)
			break;
		if (left >= 0) {
			r->done = true;
			off += take - (size_t)left;
		} else {
			off += take;
		}
	}
	secure_wipe(scratch, sizeof(scratch));
	*used = off;
	return e;
}

static int feed_body(struct api_http_reader *r, const char *p, size_t n, size_t *used)
{
	size_t k;
	int e;

	*used = 0;
	switch (r->framing) {
	case API_HTTP_NO_BODY:
		return 0;
	case API_HTTP_LENGTH:
		k = (uint64_t)n < r->length ? n : (size_t)r->length;
		if ((e = append_body(r, p, k)) != 0)
			return e;
		r->length -= k;
		r->done = r->length == 0;
		*used = k;
		return 0;
	case API_HTTP_TO_CLOSE:
		if ((e = append_body(r, p, n)) != 0)
			return e;
		*used = n;
		return 0;
	case API_HTTP_CHUNKED:
		return feed_chunked(r, p, n, used);
	}
	return fail(r, TROVE_ERR_INTERNAL, "unknown body framing");
}

/* Parses the head gathered so far. Returns API_HTTP_MORE, 0 with *head_len
 * set (the final answer's head, r->have_head), or a failure. 1xx answers
 * are dropped from the buffer on the way. */
static int parse_head(struct api_http_reader *r, size_t *head_len)
{
	struct phr_header h[API_HTTP_MAX_HEADERS];
	const char *msg;
	size_t msg_len, nh;
	int minor, status, n;

	for (;;) {
		if (r->head.len == 0)
			return API_HTTP_MORE;
		nh = API_HTTP_MAX_HEADERS;
		n = phr_parse_response(r->head.data, r->head.len, &minor, &status, &msg, &msg_len, h, &nh, 0);
		if (n == -2) {
			if (r->head.len >= API_HTTP_MAX_HEAD)
				return fail(r, TROVE_ERR_HEADERS_TOO_LARGE,
				            "the answer's head passes 64 KiB");
			return API_HTTP_MORE;
		}
		if (n < 0)
			return fail(r, TROVE_ERR_INVALID,
			            "a malformed answer head (or more than 100 headers)");
		if (status < 100 || status > 999)
			return fail(r, TROVE_ERR_INVALID, "a status outside 100-999");
		if (status == 101)
			return fail(r, TROVE_ERR_INVALID, "an unasked-for protocol switch (101)");
		if (status >= 200)
			break;
		/* An interim answer (100 Continue, 103 Early Hints): skip it. */
		memmove(r->head.data, r->head.data + n, r->head.len - (size_t)n);
		secure_wipe(r->head.data + r->head.len - (size_t)n, (size_t)n);
		r->head.len -= (size_t)n;
		r->head.data[r->head.len] = '\0';
	}
	r->status = status;
	*head_len = (size_t)n;
	n = take_headers(r, minor, h, nh);
	if (n != 0)
		return n;
	r->have_head = true;
	return 0;
}

int api_http_reader_feed(struct api_http_reader *r, const char *p, size_t n, size_t *used)
{
	size_t take = 0, head_len = 0, tail, u = 0;
	int e;

	*used = 0;
	if (r->failed)
		return r->failed;
	if (r->done)
		return 0;
	if (n > 0)
		r->started = true;
	if (!r->have_head) {
		take = API_HTTP_MAX_HEAD - r->head.len;
		take = n < take ? n : take;
		if ((e = buf_append(&r->head, p, take)) != 0)
			return fail(r, e, "out of memory for the answer's head");
		e = parse_head(r, &head_len);
		if (e != 0) {
			*used = take;
			return e;
		}
		/* Bytes after the head came with it: the start of the body. */
		tail = r->head.len - head_len;
		if (!r->done && (e = feed_body(r, r->head.data + head_len, tail, &u)) != 0)
			return e;
		if (r->done) {
			*used = take - (tail - u);
			buf_release_secret(&r->head);
			return 0;
		}
		buf_release_secret(&r->head);
		p += take;
		n -= take;
	}
	e = feed_body(r, p, n, &u);
	*used = take + u;
	if (e != 0)
		return e;
	return r->done ? 0 : API_HTTP_MORE;
}

int api_http_reader_eof(struct api_http_reader *r)
{
	if (r->done)
		return 0;
	if (r->failed)
		return r->failed;
	if (!r->have_head)
		return fail(r, TROVE_ERR_INVALID,
		            r->started ? "the connection closed in the answer's head"
		                       : "the server closed the connection without answering");
	if (r->framing == API_HTTP_TO_CLOSE) {
		r->done = true;
		return 0;
	}
	return fail(r, TROVE_ERR_INVALID, "the connection closed in the middle of the answer's body");
}

bool api_http_reader_started(const struct api_http_reader *r)
{
	return r->started;
}
