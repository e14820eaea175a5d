/* test_buf.c — buf, span, strlist, secure, rand, err and log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"

/* An allocator that always moves a block when it grows (as realloc may)
 * and counts blocks handed back still holding the marker. */
static const char marker[] = "SECRET-MARKER-7f3a";
static int unwiped;

static bool holds_marker(const void *p, size_t n)
{
	return n >= sizeof(marker) - 1 && memmem(p, n, marker, sizeof(marker) - 1) != NULL;
}

static void watch_release(void *p)
{
	if (p && holds_marker(p, malloc_usable_size(p)))
		unwiped++;
	free(p);
}

static void *watch_resize(void *p, size_t n)
{
	void *q = malloc(n);
	size_t old = malloc_usable_size(p);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	watch_release(p); /* what realloc does with the old block: no wipe */
	return q;
}

static const struct buf_allocator watching = {malloc, watch_resize, watch_release};

/* Grows b from a small allocation past several doublings with the marker
 * at its start; returns how many blocks were handed back holding it. */
static int grow_with_marker(struct buf *b)
{
	unwiped = 0;
	buf_set_allocator(&watching);
	assert_int_equal(buf_append_str(b, marker), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(buf_printf(b, "-%d-", i), 0);
	assert_non_null(strstr(b->data, marker)); /* the contents survive growth */
	assert_int_equal(strncmp(b->data + sizeof(marker) - 1, "-0--1-", 6), 0);
	buf_reset(b);
	assert_int_equal(buf_append_str(b, marker), 0);
	buf_release(b);
	buf_set_allocator(NULL);
	return unwiped;
}

static void test_buf_secret_growth(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 20);
	assert_true(grow_with_marker(&b) > 0); /* the plain mode leaves copies: the watcher sees them */
	buf_init_secret(&b, 1 << 20);
	assert_int_equal(grow_with_marker(&b), 0);
	assert_true(b.secret); /* the mode survives release */

	/* buf_take hands the string over; the buffer stays secret. */
	assert_int_equal(buf_append_str(&b, "x"), 0);
	char *s = buf_take(&b);
	assert_string_equal(s, "x");
	free(s);
	assert_true(b.secret);
	buf_release(&b);
}

/* buf_reserve makes room a writer fills directly, growing as appends do:
 * within the cap, and in the secret mode without leaving copies. */
static void test_buf_reserve(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_reserve(&b, 16), 0);
	assert_true(b.size >= 17);
	memcpy(b.data, "0123456789abcdef", 16);
	b.len = 16;
	b.data[16] = '\0';
	assert_int_equal(buf_reserve(&b, 0), 0);
	assert_int_equal(buf_reserve(&b, 1), TROVE_ERR_TOO_LARGE); /* past the cap */
	assert_string_equal(b.data, "0123456789abcdef"); /* unchanged */
	buf_release(&b);

	unwiped = 0;
	buf_init_secret(&b, 1 << 20);
	buf_set_allocator(&watching);
	assert_int_equal(buf_append_str(&b, marker), 0);
	for (size_t want = 64; want <= 8192; want *= 2) {
		assert_int_equal(buf_reserve(&b, want), 0);
		assert_true(b.size - b.len > want);
		memset(b.data + b.len, 'x', want);
		b.len += want;
		b.data[b.len] = '\0';
	}
	assert_int_equal(strncmp(b.data, marker, sizeof(marker) - 1), 0);
	buf_release(&b);
	buf_set_allocator(NULL);
	assert_int_equal(unwiped, 0);
}

/* secure_str_eq agrees with strcmp on every pair of lengths 0..8 (equal,
 * prefixes, a byte off at each place, high bytes). */
static void test_secure_str_eq_lengths(void **state)
{
	static const char base[] = "\xff" "abcdefg";
	char e[16], g[16];

	(void)state;
	for (size_t le = 0; le <= 8; le++) {
		for (size_t lg = 0; lg <= 8; lg++) {
			memcpy(e, base, le);
			e[le] = '\0';
			memcpy(g, base, lg);
			g[lg] = '\0';
			if (secure_str_eq(e, g) != (strcmp(e, g) == 0))
				fail_msg("lengths %zu, %zu: wrong answer", le, lg);
			for (size_t k = 0; k < lg; k++) {
				g[k] ^= 0x01;
				if (secure_str_eq(e, g) != (strcmp(e, g) == 0))
					fail_msg("lengths %zu, %zu, byte %zu off: wrong answer", le, lg, k);
				g[k] ^= 0x01;
			}
		}
	}
}

/* The candidate is never measured: a candidate longer than the secret is
 * read no further than one byte past the secret's length. It runs up to a
 * page that cannot be read, with no terminator: measuring it would fault. */
static void test_secure_str_eq_reads_expected_length(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)state;
	assert_true(m != MAP_FAILED);
	assert_int_equal(mprotect(m + page, (size_t)page, PROT_NONE), 0);
	memset(m, 'a', (size_t)page); /* 'a' up to the guard page, unterminated */
	char *given = m + page - 64;
	assert_false(secure_str_eq("aaaa", given));
	assert_false(secure_str_eq("aaab", given));
	assert_false(secure_str_eq("", given));
	assert_int_equal(munmap(m, (size_t)page * 2), 0);
}

static void test_buf_basic(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 100);
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	assert_int_equal(buf_append_byte(&b, ' '), 0);
	assert_int_equal(buf_append(&b, "world!!", 5), 0);
	assert_string_equal(b.data, "hello world");
	assert_int_equal(b.len, 11);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_true(b.size > 0);
	buf_release(&b);
	assert_int_equal(b.size, 0);
	buf_release(&b); /* twice is fine */
	buf_reset(&b);   /* on an unallocated buffer too */
	assert_string_equal(b.data, "");
}

static void test_buf_cap(void **state)
{
	struct buf b;
	char big[200];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, big, 10), 0);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_append_byte(&b, 'y'), TROVE_ERR_TOO_LARGE);
	assert_int_equal(b.len, 10);
	assert_int_equal(strlen(b.data), 10);
	assert_int_equal(buf_append(&b, "", 0), 0);
	buf_reset(&b);
	assert_int_equal(buf_append_str(&b, "abc"), 0);
	assert_int_equal(buf_append(&b, big, 8), TROVE_ERR_TOO_LARGE);
	assert_string_equal(b.data, "abc");
	assert_int_equal(buf_printf(&b, "%s", "0123456789"), TROVE_ERR_TOO_LARGE);
	assert_string_equal(b.data, "abc");
	assert_int_equal(b.len, 3);
	assert_int_equal(buf_printf(&b, "%d", 1234567), 0);
	assert_string_equal(b.data, "abc1234567");
	assert_int_equal(buf_printf(&b, "%s", ""), 0);
	assert_int_equal(buf_printf(&b, "x"), TROVE_ERR_TOO_LARGE);
	assert_string_equal(b.data, "abc1234567");
	/* Size overflow on absurd appends is also just too large. */
	assert_int_equal(buf_append(&b, big, SIZE_MAX), TROVE_ERR_TOO_LARGE);
	buf_release(&b);

	buf_init(&b, 0);
	assert_int_equal(buf_append_byte(&b, 'a'), TROVE_ERR_TOO_LARGE);
	assert_string_equal(b.data, "");
	buf_release(&b);
}

static void test_buf_printf_growth(void **state)
{
	struct buf b;
	size_t i;
	char expect[16];

	(void)state;
	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < 5000; i++)
		assert_int_equal(buf_printf(&b, "%05zu,", i), 0);
	assert_int_equal(b.len, 5000 * 6);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "00000,00001,", 12);
	snprintf(expect, sizeof(expect), "%05d,", 4999);
	assert_string_equal(b.data + b.len - 6, expect);
	/* One printf much larger than the current allocation. */
	buf_reset(&b);
	assert_int_equal(buf_printf(&b, "%0*d", 100000, 7), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(b.data[99999], '7');
	assert_int_equal(b.data[100000], '\0');
	buf_release_secret(&b);
	assert_int_equal(b.size, 0);
}

static void test_buf_take(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 64);
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	assert_int_equal(buf_append_str(&b, "owned"), 0);
	s = buf_take(&b);
	assert_string_equal(s, "owned");
	assert_int_equal(b.len, 0);
	assert_int_equal(b.size, 0);
	assert_string_equal(b.data, "");
	assert_int_equal(b.cap, 64);
	free(s);
	assert_int_equal(buf_append_str(&b, "again"), 0);
	assert_string_equal(b.data, "again");
	buf_release(&b);
}

static void test_span(void **state)
{
	struct span s = span_from_str("secret/data");
	struct span lit = SPAN_LIT("abc");
	struct span part = {"abcdef", 3};
	struct span withnul = {"a\0b", 3};
	char *d;

	(void)state;
	assert_int_equal(s.len, 11);
	assert_true(span_eq_str(s, "secret/data"));
	assert_false(span_eq_str(s, "secret/dat"));
	assert_false(span_eq_str(s, "secret/data/"));
	assert_int_equal(lit.len, 3);
	assert_true(span_eq_str(part, "abc"));
	assert_true(span_eq_str(span_from_str(""), ""));
	assert_int_equal(span_from_str(NULL).len, 0);
	d = span_dup(part);
	assert_string_equal(d, "abc");
	free(d);
	d = span_dup(withnul);
	assert_memory_equal(d, "a\0b\0", 4);
	free(d);
	d = span_dup((struct span){NULL, 0});
	assert_string_equal(d, "");
	free(d);
	d = xstrndup("abcdef", 2);
	assert_string_equal(d, "ab");
	free(d);
	d = xstrdup("x");
	assert_string_equal(d, "x");
	free(d);
}

static void test_strlist(void **state)
{
	struct strlist l;
	size_t i;

	(void)state;
	strlist_init(&l);
	strlist_sort_unique(&l);
	assert_int_equal(l.len, 0);
	assert_int_equal(strlist_push(&l, "read"), 0);
	assert_int_equal(strlist_push(&l, "list"), 0);
	assert_int_equal(strlist_push(&l, "read"), 0);
	assert_int_equal(strlist_push_owned(&l, xstrdup("create")), 0);
	assert_int_equal(strlist_push(&l, "list"), 0);
	assert_int_equal(strlist_push(&l, "read"), 0);
	for (i = 0; i < 20; i++)
		assert_int_equal(strlist_push(&l, "zzz"), 0);
	assert_true(strlist_contains(&l, "create"));
	assert_false(strlist_contains(&l, "delete"));
	strlist_sort_unique(&l);
	assert_int_equal(l.len, 4);
	assert_string_equal(l.items[0], "create");
	assert_string_equal(l.items[1], "list");
	assert_string_equal(l.items[2], "read");
	assert_string_equal(l.items[3], "zzz");
	strlist_release(&l);
	assert_int_equal(l.len, 0);
	strlist_release(&l);

	strlist_init(&l);
	assert_int_equal(strlist_push(&l, "b"), 0);
	assert_int_equal(strlist_push(&l, "a"), 0);
	assert_int_equal(strlist_push(&l, "b"), 0);
	strlist_sort(&l);
	assert_int_equal(l.len, 3);
	assert_string_equal(l.items[0], "a");
	assert_string_equal(l.items[2], "b");
	strlist_release(&l);
}

static void test_secure(void **state)
{
	unsigned char a[32], b[32];
	char *s;

	(void)state;
	memset(a, 0x5a, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(secure_eq(a, b, sizeof(a)));
	b[31] ^= 1;
	assert_false(secure_eq(a, b, sizeof(a)));
	b[31] ^= 1;
	b[0] ^= 0x80;
	assert_false(secure_eq(a, b, sizeof(a)));
	assert_true(secure_eq(a, b, 0));

	assert_true(secure_str_eq("", ""));
	assert_true(secure_str_eq("s.token", "s.token"));
	assert_false(secure_str_eq("s.token", "s.tokem"));
	assert_false(secure_str_eq("s.token", "s.toke"));
	assert_false(secure_str_eq("s.toke", "s.token"));
	assert_false(secure_str_eq("", "a"));
	assert_false(secure_str_eq("a", ""));
	assert_false(secure_str_eq("Xbc", "abc"));

	secure_wipe(a, sizeof(a));
	for (size_t i = 0; i < sizeof(a); i++)
		assert_int_equal(a[i], 0);
	secure_wipe(NULL, 10);
	secure_free(NULL, 10);
	secure_free_str(NULL);
	s = xstrdup("hunter2");
	secure_free_str(s);
	secure_free(xmalloc(16), 16);
}

static void test_rand(void **state)
{
	char uuid[37], other[37], tok[65];
	unsigned char bytes[64], zero[64];
	int seen[256];
	size_t i;

	(void)state;
	memset(zero, 0, sizeof(zero));
	assert_int_equal(rand_bytes(bytes, sizeof(bytes)), 0);
	assert_memory_not_equal(bytes, zero, sizeof(bytes));
	assert_int_equal(rand_bytes(bytes, 0), 0);

	for (int n = 0; n < 50; n++) {
		assert_int_equal(rand_uuid(uuid), 0);
		assert_int_equal(strlen(uuid), 36);
		for (i = 0; i < 36; i++) {
			if (i == 8 || i == 13 || i == 18 || i == 23)
				assert_int_equal(uuid[i], '-');
			else
				assert_non_null(strchr("0123456789abcdef", uuid[i]));
		}
		assert_int_equal(uuid[14], '4');
		assert_non_null(strchr("89ab", uuid[19]));
	}
	assert_int_equal(rand_uuid(other), 0);
	assert_string_not_equal(uuid, other);

	memset(seen, 0, sizeof(seen));
	for (int n = 0; n < 200; n++) {
		assert_int_equal(rand_base62(tok, 64), 0);
		assert_int_equal(strlen(tok), 64);
		for (i = 0; i < 64; i++) {
			unsigned char c = (unsigned char)tok[i];
			assert_true((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			            (c >= 'A' && c <= 'Z'));
			seen[c]++;
		}
	}
	/* 12800 draws: every one of the 62 characters shows up. */
	for (i = 0; i < 256; i++) {
		bool in = (i >= '0' && i <= '9') || (i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z');
		if (in)
			assert_true(seen[i] > 0);
	}
	assert_int_equal(rand_base62(tok, 0), 0);
	assert_string_equal(tok, "");
	assert_int_equal(rand_base62(tok, 1), 0);
	assert_int_equal(strlen(tok), 1);
}

static void test_err_table(void **state)
{
	(void)state;
	assert_int_equal(err_http_status(TROVE_ERR_INVALID), 400);
	assert_string_equal(err_message(TROVE_ERR_INVALID), "invalid request");
	assert_int_equal(err_http_status(TROVE_ERR_PERMISSION), 403);
	assert_string_equal(err_message(TROVE_ERR_PERMISSION), "permission denied");
	assert_int_equal(err_http_status(TROVE_ERR_NOT_FOUND), 404);
	assert_string_equal(err_message(TROVE_ERR_NOT_FOUND), "");
	assert_int_equal(err_http_status(TROVE_ERR_UNSUPPORTED_OP), 405);
	assert_string_equal(err_message(TROVE_ERR_UNSUPPORTED_OP), "unsupported operation");
	assert_int_equal(err_http_status(TROVE_ERR_CONFLICT), 409);
	assert_int_equal(err_http_status(TROVE_ERR_TOO_LARGE), 413);
	assert_string_equal(err_message(TROVE_ERR_TOO_LARGE), "request body too large");
	assert_int_equal(err_http_status(TROVE_ERR_MEDIA_TYPE), 415);
	assert_int_equal(err_http_status(TROVE_ERR_RATE_LIMIT), 429);
	assert_int_equal(err_http_status(TROVE_ERR_INTERNAL), 500);
	assert_int_equal(err_http_status(TROVE_ERR_NOMEM), 500);
	assert_int_equal(err_http_status(TROVE_ERR_IO), 500);
	assert_int_equal(err_http_status(TROVE_ERR_INTEGRITY), 500);
	assert_string_equal(err_message(TROVE_ERR_INTEGRITY), "internal error");
	assert_string_equal(err_message(TROVE_ERR_IO), "internal error");
	assert_int_equal(err_http_status(TROVE_ERR_UPSTREAM), 502);
	assert_int_equal(err_http_status(TROVE_ERR_SEALED), 503);
	assert_string_equal(err_message(TROVE_ERR_SEALED), "Vault is sealed");
	assert_int_equal(err_http_status(TROVE_ERR_UNAVAILABLE), 503);
	assert_int_equal(err_http_status(TROVE_ERR_UNINITIALIZED), 400);
	assert_string_equal(err_message(TROVE_ERR_UNINITIALIZED), "Trove is not initialized");
	assert_int_equal(err_http_status(TROVE_ERR_TIMEOUT), 504);
	assert_string_equal(err_name(TROVE_ERR_INTEGRITY), "ERR_INTEGRITY");
	assert_string_equal(err_name(TROVE_ERR_SEALED), "ERR_SEALED");
	/* Every code has a status, a message and a distinct name. */
	for (int e = -1; e > -TROVE_ERR__COUNT; e--) {
		assert_true(err_http_status(e) >= 400);
		assert_non_null(err_message(e));
		assert_non_null(err_name(e));
		for (int f = e - 1; f > -TROVE_ERR__COUNT; f--)
			assert_string_not_equal(err_name(e), err_name(f));
	}
	/* Unknown codes are internal errors. */
	assert_int_equal(err_http_status(-1000), 500);
	assert_int_equal(err_http_status(7), 500);
	assert_string_equal(err_message(-1000), "internal error");
	assert_non_null(err_name(-1000));
}

/* Runs log_msg with stderr redirected into a temp file; returns the text. */
static char *capture_log(enum log_level level, const char *msg, const char *k1, const char *v1,
                         const char *k2, const char *v2)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out = xcalloc(1, 8192);
	size_t n;

	assert_non_null(tmp);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	log_msg(level, msg, k1, v1, k2, v2, NULL);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, 8191, tmp);
	out[n] = '\0';
	fclose(tmp);
	return out;
}

static void test_log(void **state)
{
	enum log_level lv;
	enum log_format lf;
	json_error_t jerr;
	json_t *j;
	char *s;

	(void)state;
	assert_int_equal(log_level_parse("TRACE", &lv), 0);
	assert_int_equal(lv, LOG_TRACE);
	assert_int_equal(log_level_parse("Warning", &lv), 0);
	assert_int_equal(lv, LOG_WARN);
	assert_int_equal(log_level_parse("warn", &lv), 0);
	assert_int_equal(log_level_parse("off", &lv), 0);
	assert_int_equal(lv, LOG_OFF);
	assert_int_equal(log_level_parse("verbose", &lv), TROVE_ERR_INVALID);
	assert_int_equal(log_level_parse("", &lv), TROVE_ERR_INVALID);
	assert_int_equal(log_format_parse("JSON", &lf), 0);
	assert_int_equal(lf, LOG_FORMAT_JSON);
	assert_int_equal(log_format_parse("standard", &lf), 0);
	assert_int_equal(lf, LOG_FORMAT_STANDARD);
	assert_int_equal(log_format_parse("xml", &lf), TROVE_ERR_INVALID);

	log_configure(LOG_INFO, LOG_FORMAT_STANDARD);
	assert_true(log_enabled(LOG_ERROR));
	assert_false(log_enabled(LOG_DEBUG));
	assert_false(log_enabled(LOG_OFF));

	s = capture_log(LOG_DEBUG, "hidden", NULL, NULL, NULL, NULL);
	assert_string_equal(s, "");
	free(s);

	s = capture_log(LOG_INFO, "listener started", "address", "127.0.0.1:8200", "tls", "off");
	/* 2026-11-28T01:02:03.123Z [INFO]  listener started: address=127.0.0.1:8200 tls=off */
	assert_int_equal(s[4], '-');
	assert_int_equal(s[10], 'T');
	assert_int_equal(s[19], '.');
	assert_int_equal(s[23], 'Z');
	assert_string_equal(s + 24, " [INFO]  listener started: address=127.0.0.1:8200 tls=off\n");
	free(s);

	log_set_request_id("req-1");
	s = capture_log(LOG_ERROR, "bad\nline", "path", "a b\"c", NULL, NULL);
	assert_string_equal(s + 24, " [ERROR] bad\\nline: path=\"a b\\\"c\" request_id=req-1\n");
	free(s);
	s = capture_log(LOG_WARN, "plain", NULL, NULL, NULL, NULL);
	assert_string_equal(s + 24, " [WARN]  plain: request_id=req-1\n");
	free(s);
	log_set_request_id(NULL);
	s = capture_log(LOG_WARN, "plain", NULL, NULL, NULL, NULL);
	assert_string_equal(s + 24, " [WARN]  plain\n");
	free(s);

	log_configure(LOG_TRACE, LOG_FORMAT_JSON);
	log_set_request_id("r\"2");
	s = capture_log(LOG_TRACE, "m\x01\xff", "key", "v\n\"\\", "mount", "kv/");
	assert_non_null(strchr(s, '\n'));
	assert_int_equal(strchr(s, '\n')[1], '\0');
	j = json_loads(s, 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "@level")), "trace");
	assert_string_equal(json_string_value(json_object_get(j, "@message")), "m\x01\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(j, "key")), "v\n\"\\");
	assert_string_equal(json_string_value(json_object_get(j, "mount")), "kv/");
	assert_string_equal(json_string_value(json_object_get(j, "request_id")), "r\"2");
	assert_int_equal(strlen(json_string_value(json_object_get(j, "@timestamp"))), 24);
	json_decref(j);
	free(s);
	log_set_request_id(NULL);
	log_configure(LOG_INFO, LOG_FORMAT_STANDARD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_basic),
	    cmocka_unit_test(test_buf_cap),
	    cmocka_unit_test(test_buf_printf_growth),
	    cmocka_unit_test(test_buf_take),
	    cmocka_unit_test(test_buf_secret_growth),
	    cmocka_unit_test(test_buf_reserve),
	    cmocka_unit_test(test_secure_str_eq_lengths),
	    cmocka_unit_test(test_secure_str_eq_reads_expected_length),
	    cmocka_unit_test(test_span),
	    cmocka_unit_test(test_strlist),
	    cmocka_unit_test(test_secure),
	    cmocka_unit_test(test_rand),
	    cmocka_unit_test(test_err_table),
	    cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
