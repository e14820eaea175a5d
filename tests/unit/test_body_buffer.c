/* test_body_buffer.c — server/body_buffer: a request's size from its
 * head, and its input buffer fitted once a quarter has arrived. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server/body_buffer.h"

#define MAX ((size_t)32 << 20)

static size_t size_of(const char *head)
{
	return body_buffer_request_size(head, strlen(head), MAX);
}

static void test_request_size(void **state)
{
	const char *h = "PUT /v1/secret/data/x HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n";
	(void)state;
	assert_int_equal(size_of(h), strlen(h) + 1000);
	assert_int_equal(size_of("POST /v1/x HTTP/1.1\r\ncOnTeNt-LeNgTh: 7\r\n\r\n{}"),
	                 strlen("POST /v1/x HTTP/1.1\r\ncOnTeNt-LeNgTh: 7\r\n\r\n") + 7);
	/* the size is the head's, whatever of the body has arrived */
	assert_int_equal(body_buffer_request_size(h, strlen(h) - 2, MAX), 0); /* head incomplete */
	assert_int_equal(size_of("GET /v1/sys/health HTTP/1.1\r\n\r\n"), 0);  /* no body */
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_equal(
	    size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: 12a\r\n\r\n"), 0);
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 0);
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: \r\n\r\n"), 0);
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"), 0);
	assert_int_equal(size_of("PUT /v1/x HTTP/1.1\r\nContent-Length: 33554433\r\n\r\n"),
	                 0); /* over max: h2o's 413 */
	assert_int_equal(size_of("garbage\r\n\r\n"), 0);
	assert_int_equal(body_buffer_request_size("", 0, MAX), 0);
}

static h2o_buffer_prototype_t proto = {.allocator = {.max = 16}, ._initial_buf = {.capacity = 8192}};

/* A buffer holding the first `arrived` bytes of a request declaring
 * `length` bytes of body, grown by h2o as a read would grow it. */
static h2o_buffer_t *arriving(size_t length, size_t arrived, size_t *head_len)
{
	h2o_buffer_t *b;
	char head[128];
	int n = snprintf(head, sizeof(head), "PUT /v1/secret/data/x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
	                 length);
	h2o_buffer_init(&b, &proto);
	h2o_iovec_t room = h2o_buffer_reserve(&b, arrived);
	assert_non_null(room.base);
	memcpy(room.base, head, (size_t)n);
	for (size_t i = (size_t)n; i < arrived; i++)
		room.base[i] = (char)('0' + i % 10);
	b->size = arrived;
	*head_len = (size_t)n;
	return b;
}

static void check_bytes(const h2o_buffer_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if (b->bytes[i] != (char)('0' + i % 10))
			fail_msg("byte %zu changed", i);
}

static void test_fit(void **state)
{
	size_t head, length = (size_t)4 << 20;
	(void)state;

	/* under a quarter: left to grow, asked again */
	h2o_buffer_t *b = arriving(length, length / 8, &head), *before = b;
	assert_false(body_buffer_fit(&b, MAX));
	assert_ptr_equal(b, before);
	h2o_buffer_dispose(&b);

	/* a quarter: moved once into a buffer of the request's size */
	b = arriving(length, length / 4 + 1000, &head);
	assert_true(body_buffer_fit(&b, MAX));
	assert_int_equal(b->capacity, head + length + 4096);
	assert_int_equal(b->size, length / 4 + 1000);
	assert_memory_equal(b->bytes, "PUT /v1/secret/data/x HTTP/1.1\r\n", 32);
	check_bytes(b, head, b->size);
	before = b;
	assert_true(body_buffer_fit(&b, MAX)); /* big enough now: nothing to do */
	assert_ptr_equal(b, before);
	/* h2o's reads fill it to the end without growing it */
	h2o_iovec_t room = h2o_buffer_reserve(&b, 4096);
	assert_ptr_equal(b, before);
	assert_true(room.len >= head + length - b->size + 4096);
	h2o_buffer_dispose(&b); /* released by h2o (free) */
}

static void test_fit_leaves(void **state)
{
	size_t head;
	h2o_buffer_t *b, *before;
	(void)state;

	/* small: h2o's own steps */
	b = arriving(1 << 20, BODY_BUFFER_MIN - 1, &head);
	before = b;
	assert_false(body_buffer_fit(&b, MAX));
	assert_ptr_equal(b, before);
	h2o_buffer_dispose(&b);

	/* wholly arrived: never moved (the handler may be reading it) */
	b = arriving(200000, 200000 + 60, &head);
	b->size = head + 200000;
	before = b;
	assert_true(body_buffer_fit(&b, MAX));
	assert_ptr_equal(b, before);
	h2o_buffer_dispose(&b);

	/* over the listener's limit, or no length: left alone, done */
	b = arriving((size_t)8 << 20, (size_t)4 << 20, &head);
	before = b;
	assert_true(body_buffer_fit(&b, (size_t)1 << 20));
	assert_ptr_equal(b, before);
	h2o_buffer_dispose(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_size),
	    cmocka_unit_test(test_fit),
	    cmocka_unit_test(test_fit_leaves),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
