/* test_api_extra.c — api_send_extra, the API client's per-request header
 * lines (what the agent's proxy relays from its clients): a line replaces
 * the client's own line of that name in any case, others are added, a
 * malformed or line-breaking one is refused before anything is sent, and
 * plain api_send is unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"
#include "api/headers.h"
#include "api/transport.h"
#include "err.h"

#include "banned.h"

struct seen {
	int calls;
	struct strlist headers;
};

static int fake_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	struct seen *s = ctx;

	s->calls++;
	api_headers_wipe(&s->headers);
	strlist_init(&s->headers);
	for (size_t i = 0; i < w->headers->len; i++)
		strlist_push(&s->headers, w->headers->items[i]);
	resp->status = 200;
	buf_append_str(&resp->body, "{}");
	return 0;
}

static struct api_client *client(struct seen *s, struct api_transport *t)
{
	struct api_config cfg;
	struct api_client *c = NULL;

	t->send = fake_send;
	t->ctx = s;
	strlist_init(&s->headers);
	api_config_init(&cfg);
	api_config_set(&cfg.address, "http://fake:8200");
	api_config_set(&cfg.namespace_name, "eng");
	api_config_set(&cfg.token, "client-token");
	cfg.transport = t;
	assert_int_equal(api_client_new(&cfg, &c, NULL), 0);
	api_config_release(&cfg);
	return c;
}

static int count_name(const struct strlist *l, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < l->len; i++)
		if (strncmp(l->items[i], prefix, strlen(prefix)) == 0)
			n++;
	return n;
}

static void test_extra_replaces_and_adds(void **state)
{
	struct seen s = { 0 };
	struct api_transport t;
	struct api_client *c = client(&s, &t);
	struct api_response resp;
	struct strlist extra;

	(void)state;
	api_response_init(&resp);
	strlist_init(&extra);
	strlist_push(&extra, "x-vault-token: relayed");
	strlist_push(&extra, "X-Vault-Namespace: ops");
	strlist_push(&extra, "X-Vault-Index: abc");
	assert_int_equal(api_send_extra(c, "LIST", "secret/metadata", "a=1", NULL, 0, &extra, &resp), 0);
	assert_int_equal(resp.status, 200);
	assert_true(strlist_contains(&s.headers, "x-vault-token: relayed"));
	assert_false(strlist_contains(&s.headers, "X-Vault-Token: client-token"));
	assert_true(strlist_contains(&s.headers, "X-Vault-Namespace: ops"));
	assert_int_equal(count_name(&s.headers, "X-Vault-Namespace"), 1);
	assert_true(strlist_contains(&s.headers, "X-Vault-Index: abc"));
	assert_true(strlist_contains(&s.headers, "X-Vault-Request: true"));

	/* api_send: the client's own lines */
	assert_int_equal(api_send(c, "GET", "sys/health", NULL, NULL, 0, &resp), 0);
	assert_true(strlist_contains(&s.headers, "X-Vault-Token: client-token"));
	assert_true(strlist_contains(&s.headers, "X-Vault-Namespace: eng"));
	assert_int_equal(count_name(&s.headers, "X-Vault-Index"), 0);
	api_headers_wipe(&extra);
	api_response_release(&resp);
	api_client_free(c);
	api_headers_wipe(&s.headers);
}

static void test_extra_refused(void **state)
{
	const char *bad[] = { "X-Vault-Index: a\r\nX-Evil: 1", "NoColon", ": novalue", "X-Vault-Index:nospace" };
	struct seen s = { 0 };
	struct api_transport t;
	struct api_client *c = client(&s, &t);
	struct api_response resp;

	(void)state;
	api_response_init(&resp);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strlist extra;

		strlist_init(&extra);
		strlist_push(&extra, bad[i]);
		assert_int_equal(api_send_extra(c, "GET", "sys/health", NULL, NULL, 0, &extra, &resp),
		                 TROVE_ERR_INVALID);
		assert_int_equal(resp.failure, API_FAIL_LOCAL);
		strlist_release(&extra);
	}
	assert_int_equal(s.calls, 0);
	api_response_release(&resp);
	api_client_free(c);
	api_headers_wipe(&s.headers);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extra_replaces_and_adds),
		cmocka_unit_test(test_extra_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
