/* test_audit_entry.c — audit entries: Vault's shape, and nothing secret in
 * clear.
 *
 * Expected hashes are computed here independently with OpenSSL's one-shot
 * HMAC(EVP_sha256()) and our own hex, and pinned by fixed vectors checked
 * with `printf 'hello' | openssl dgst -sha256 -hmac trove-audit-salt`. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "core/audit_entry.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/token.h"
#include "secure.h"

#include "banned.h"

#define SALT "trove-audit-salt"
#define CANARY "s3cr3t-CANARY-7f"
#define CLIENT_TOKEN "hvs.0000000000000001ClientTokenCANARY"
#define ACCESSOR "0000000000000001abcdefghijklmnopqrstuvwx"
#define ISSUE_TIME 1796040000 /* 2026-11-30T12:00:00Z */

static const unsigned char *salt = (const unsigned char *)SALT;
static const size_t salt_len = sizeof(SALT) - 1;

/* --- helpers --------------------------------------------------------------- */

/* "hmac-sha256:<hex>" of n bytes, computed independently of audit_entry.c. */
static void ref_hash(const char *text, size_t n, char out[AUDIT_HASH_MAX])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	assert_non_null(
	    HMAC(EVP_sha256(), SALT, (int)salt_len, (const unsigned char *)text, n, mac, &mac_len));
	assert_int_equal(mac_len, 32);
	memcpy(out, "hmac-sha256:", 12);
	for (unsigned i = 0; i < mac_len; i++) {
		out[12 + 2 * i] = hexd[mac[i] >> 4];
		out[12 + 2 * i + 1] = hexd[mac[i] & 15];
	}
	out[12 + 64] = '\0';
}

static void assert_hash_of(const json_t *v, const char *text)
{
	char want[AUDIT_HASH_MAX];

	ref_hash(text, strlen(text), want);
	assert_non_null(v);
	assert_true(json_is_string(v));
	assert_string_equal(json_string_value(v), want);
}

static const char *sget(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Asserts o's keys are exactly names, in this order. */
static void assert_keys(const json_t *o, const char *const *names)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	assert_true(json_is_object(o));
	json_object_foreach((json_t *)o, k, v)
	{
		assert_non_null(names[i]);
		assert_string_equal(k, names[i]);
		i++;
	}
	assert_null(names[i]);
}

/* Checks the line (prefix, one JSON object, one '\n') and parses it. */
static json_t *parse_line(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	json_error_t err;
	json_t *j;

	assert_non_null(line);
	assert_int_equal(strlen(line), len);
	assert_true(len > pl + 1);
	assert_memory_equal(line, prefix, pl);
	assert_int_equal(line[len - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + len - 1);
	j = json_loadb(line + pl, len - pl - 1, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		fail_msg("bad JSON: %s in %s", err.text, line);
	assert_true(json_is_object(j));
	return j;
}

/* --- a request, a token, a mount, a response ------------------------------ */

struct fx {
	struct request req;
	struct response resp;
	struct token_entry *tok;
	struct mount mnt;
	struct strlist granting;
	json_t *headers;
	struct audit_format f;
	struct audit_record r;
};

static struct fx *fx_new(void)
{
	struct fx *x = xcalloc(1, sizeof(*x));

	request_init(&x->req);
	snprintf(x->req.id, sizeof(x->req.id), "%s", "5e0a4a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
	x->req.op = OP_UPDATE;
	x->req.path = xstrdup("secret/data/app");
	x->req.client_token = xstrdup(CLIENT_TOKEN);
	snprintf(x->req.remote_addr, sizeof(x->req.remote_addr), "%s", "10.0.0.7");
	x->req.remote_port = 51234;
	x->req.data = json_loads("{\"data\":{\"password\":\"" CANARY "\",\"pin\":1234,\"ratio\":2.5,"
	                         "\"on\":true,\"off\":false,\"none\":null,"
	                         "\"list\":[\"a\",[\"deep-" CANARY "\",7]]},"
	                         "\"options\":{\"cas\":0},\"note\":\"kept\"}",
	                         0, NULL);
	assert_non_null(x->req.data);

	x->mnt.path = xstrdup("secret/");
	x->mnt.type = xstrdup("kv");
	snprintf(x->mnt.accessor, sizeof(x->mnt.accessor), "%s", "kv_1a2b3c4d");
	strlist_init(&x->mnt.config.audit_non_hmac_request_keys);
	strlist_init(&x->mnt.config.audit_non_hmac_response_keys);
	strlist_push(&x->mnt.config.audit_non_hmac_request_keys, "note");
	strlist_push(&x->mnt.config.audit_non_hmac_response_keys, "metadata");
	x->req.mount = &x->mnt;

	x->tok = token_entry_new();
	snprintf(x->tok->accessor, sizeof(x->tok->accessor), "%s", ACCESSOR);
	strlist_push(&x->tok->policies, "default");
	strlist_push(&x->tok->policies, "dev");
	x->tok->meta = json_pack("{s:s}", "user", "alice");
	token_entry_set(&x->tok->display_name, "token-alice");
	token_entry_set(&x->tok->entity_id, "ent-1");
	x->tok->ttl = 3600;
	x->tok->creation_time = ISSUE_TIME;
	x->tok->num_uses = 5;
	x->tok->type = TOKEN_TYPE_SERVICE;

	strlist_init(&x->granting);
	strlist_push(&x->granting, "dev");
	x->headers = json_pack("{s:s}", "x-request-source", "ci");

	response_init(&x->resp);
	x->resp.data = json_loads("{\"secret\":\"" CANARY "\",\"version\":3,"
	                          "\"metadata\":{\"owner\":\"team-a\"},\"nested\":{\"k\":[\"" CANARY "\"]}}",
	                          0, NULL);
	x->resp.auth = json_loads("{\"client_token\":\"hvs.0000000000000002New" CANARY "\","
	                          "\"accessor\":\"0000000000000002abcdefghijklmnopqrstuvwx\","
	                          "\"policies\":[\"default\"],\"metadata\":{\"role\":\"r1\"},"
	                          "\"lease_duration\":3600,\"renewable\":true}",
	                          0, NULL);
	x->resp.warnings = json_pack("[s]", "a warning");
	assert_non_null(x->resp.data);
	assert_non_null(x->resp.auth);

	x->f = (struct audit_format){.salt = salt, .salt_len = salt_len, .hmac_accessor = true, .prefix = ""};
	x->r = (struct audit_record){
	    .req = &x->req,
	    .token = x->tok,
	    .policy_checked = true,
	    .allowed = true,
	    .granting = &x->granting,
	    .headers = x->headers,
	    .time = "2026-11-30T12:00:00.123456789Z",
	};
	return x;
}

static void fx_free(struct fx *x)
{
	x->req.mount = NULL; /* on the stack of x, not refcounted */
	request_release(&x->req);
	response_release(&x->resp);
	token_entry_free(x->tok);
	free(x->mnt.path);
	free(x->mnt.type);
	strlist_release(&x->mnt.config.audit_non_hmac_request_keys);
	strlist_release(&x->mnt.config.audit_non_hmac_response_keys);
	strlist_release(&x->granting);
	json_decref(x->headers);
	free(x);
}

static json_t *format(struct fx *x, char **line_out)
{
	size_t len = 0;
	char *line = audit_format_entry(&x->f, &x->r, &len);
	json_t *j = parse_line(line, len, x->f.prefix ? x->f.prefix : "");

	if (line_out)
		*line_out = line;
	else
		free(line);
	return j;
}

/* --- HMAC ------------------------------------------------------------------ */

static void test_hash_known_answer(void **state)
{
	char out[AUDIT_HASH_MAX], want[AUDIT_HASH_MAX];

	(void)state;
	/* Fixed vectors from `openssl dgst -sha256 -hmac trove-audit-salt`. */
	audit_hash_text(salt, salt_len, "hello", 5, out);
	assert_string_equal(out,
	                    "hmac-sha256:05257ac510a06abbf2e5b9ce25d4d547a668ebae9a50f19395cf94419b369a40");
	audit_hash_text(salt, salt_len, "", 0, out);
	assert_string_equal(out,
	                    "hmac-sha256:91fc063ff30cf8715946da2a9b0c6a81b661d1b01786197d4c649d2248f33dfa");
	audit_hash_text(salt, salt_len, "1", 1, out);
	assert_string_equal(out,
	                    "hmac-sha256:26a35aa4cceeb8c4674be0989c7bfe7c2a7c931eb7d6343674230a47cb0397a3");
	assert_int_equal(strlen(out), AUDIT_HASH_MAX - 1);

	/* Bytes, not C strings: an embedded NUL is hashed; n bounds the text. */
	audit_hash_text(salt, salt_len, "a\0b", 3, out);
	ref_hash("a\0b", 3, want);
	assert_string_equal(out, want);
	audit_hash_text(salt, salt_len, "abcdef", 3, out);
	ref_hash("abc", 3, want);
	assert_string_equal(out, want);

	/* Another salt, another hash. */
	audit_hash_text((const unsigned char *)"other", 5, "hello", 5, out);
	assert_string_not_equal(
	    out, "hmac-sha256:05257ac510a06abbf2e5b9ce25d4d547a668ebae9a50f19395cf94419b369a40");
}

/* --- audit_mask_leaves ------------------------------------------------------ */

static void test_mask_every_leaf_at_depth(void **state)
{
	(void)state;
	json_t *in =
	    json_loads("{\"s\":\"x\",\"i\":1,\"neg\":-7,\"r\":2.5,\"t\":true,\"f\":false,\"n\":null,"
	               "\"o\":{\"a\":{\"b\":[\"y\",[2,{\"c\":\"z\"}],null,0.1]}},\"e\":{},\"ea\":[]}",
	               0, NULL);
	assert_non_null(in);
	json_t *m = audit_mask_leaves(salt, salt_len, in, NULL);
	assert_non_null(m);

	const char *const top[] = {"s", "i", "neg", "r", "t", "f", "n", "o", "e", "ea", NULL};
	assert_keys(m, top);
	assert_hash_of(json_object_get(m, "s"), "x");
	assert_hash_of(json_object_get(m, "i"), "1");
	assert_hash_of(json_object_get(m, "neg"), "-7");
	assert_hash_of(json_object_get(m, "r"), "2.5");
	assert_hash_of(json_object_get(m, "t"), "true");
	assert_hash_of(json_object_get(m, "f"), "false");
	assert_true(json_is_null(json_object_get(m, "n")));
	json_t *b = json_object_get(json_object_get(json_object_get(m, "o"), "a"), "b");
	assert_true(json_is_array(b));
	assert_int_equal(json_array_size(b), 4);
	assert_hash_of(json_array_get(b, 0), "y");
	json_t *inner = json_array_get(b, 1);
	assert_true(json_is_array(inner));
	assert_hash_of(json_array_get(inner, 0), "2");
	assert_hash_of(json_object_get(json_array_get(inner, 1), "c"), "z");
	assert_true(json_is_null(json_array_get(b, 2)));
	assert_hash_of(json_array_get(b, 3), "0.1");
	assert_true(json_is_object(json_object_get(m, "e")) &&
	            json_object_size(json_object_get(m, "e")) == 0);
	assert_true(json_is_array(json_object_get(m, "ea")) &&
	            json_array_size(json_object_get(m, "ea")) == 0);

	/* A non-object value is masked too. */
	json_t *arr = json_pack("[s,i]", "q", 3);
	json_t *ma = audit_mask_leaves(salt, salt_len, arr, NULL);
	assert_hash_of(json_array_get(ma, 0), "q");
	assert_hash_of(json_array_get(ma, 1), "3");
	json_t *str = json_string("solo");
	json_t *ms = audit_mask_leaves(salt, salt_len, str, NULL);
	assert_hash_of(ms, "solo");
	assert_null(audit_mask_leaves(salt, salt_len, NULL, NULL));

	json_decref(ms);
	json_decref(str);
	json_decref(ma);
	json_decref(arr);
	json_decref(m);
	json_decref(in);
}

/* Reals: the shortest text that reads back as the same double; ".0" for an
 * integral real, as jansson writes it. Strings with embedded NULs. */
static void test_mask_scalar_texts(void **state)
{
	(void)state;
	json_t *in =
	    json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:I,s:I}", "a", 0.1, "b", 1.0, "c", 1e100, "d", -0.0, "e",
	              3.141592653589793, "f", 1.5e-7, "g", (json_int_t)INT64_MAX, "h", (json_int_t)INT64_MIN);
	json_object_set_new(in, "nul", json_stringn("a\0b", 3));
	json_t *m = audit_mask_leaves(salt, salt_len, in, NULL);
	assert_hash_of(json_object_get(m, "a"), "0.1");
	assert_hash_of(json_object_get(m, "b"), "1.0");
	assert_hash_of(json_object_get(m, "c"), "1e+100");
	assert_hash_of(json_object_get(m, "d"), "-0.0");
	assert_hash_of(json_object_get(m, "e"), "3.141592653589793");
	assert_hash_of(json_object_get(m, "f"), "1.5e-07");
	assert_hash_of(json_object_get(m, "g"), "9223372036854775807");
	assert_hash_of(json_object_get(m, "h"), "-9223372036854775808");
	char want[AUDIT_HASH_MAX];
	ref_hash("a\0b", 3, want);
	assert_string_equal(json_string_value(json_object_get(m, "nul")), want);
	json_decref(m);
	json_decref(in);
}

static void test_mask_skip_top_level_only(void **state)
{
	(void)state;
	struct strlist skip;
	strlist_init(&skip);
	strlist_push(&skip, "keep");
	strlist_push(&skip, "num");
	json_t *in =
	    json_loads("{\"keep\":{\"p\":\"clear\",\"l\":[1,\"x\"]},\"num\":5,"
	               "\"other\":{\"keep\":\"nested\",\"num\":6},\"arr\":[{\"keep\":\"in-array\"}]}",
	               0, NULL);
	json_t *before = json_deep_copy(in);
	json_t *m = audit_mask_leaves(salt, salt_len, in, &skip);

	assert_true(json_equal(json_object_get(m, "keep"), json_object_get(in, "keep")));
	assert_int_equal(json_integer_value(json_object_get(m, "num")), 5);
	assert_hash_of(json_object_get(json_object_get(m, "other"), "keep"), "nested");
	assert_hash_of(json_object_get(json_object_get(m, "other"), "num"), "6");
	assert_hash_of(json_object_get(json_array_get(json_object_get(m, "arr"), 0), "keep"), "in-array");

	/* The result is a copy: editing its kept values leaves the input alone. */
	assert_ptr_not_equal(json_object_get(m, "keep"), json_object_get(in, "keep"));
	json_object_set_new(json_object_get(m, "keep"), "p", json_string("changed"));
	assert_true(json_equal(in, before));

	/* An empty skip list skips nothing. */
	struct strlist none;
	strlist_init(&none);
	json_t *m2 = audit_mask_leaves(salt, salt_len, in, &none);
	assert_hash_of(json_object_get(m2, "num"), "5");

	json_decref(m2);
	json_decref(m);
	json_decref(before);
	json_decref(in);
	strlist_release(&skip);
}

/* --- entries ---------------------------------------------------------------- */

static void test_request_entry_shape(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	json_t *j = format(x, NULL);

	const char *const top[] = {"time", "type", "auth", "request", NULL};
	assert_keys(j, top);
	assert_string_equal(sget(j, "time"), "2026-11-30T12:00:00.123456789Z");
	assert_string_equal(sget(j, "type"), "request");

	json_t *a = json_object_get(j, "auth");
	const char *const akeys[] = {"client_token",
	                             "accessor",
	                             "display_name",
	                             "policies",
	                             "token_policies",
	                             "metadata",
	                             "entity_id",
	                             "token_type",
	                             "token_ttl",
	                             "token_issue_time",
	                             "remaining_uses",
	                             "policy_results",
	                             NULL};
	assert_keys(a, akeys);
	assert_hash_of(json_object_get(a, "client_token"), CLIENT_TOKEN);
	assert_hash_of(json_object_get(a, "accessor"), ACCESSOR);
	assert_string_equal(sget(a, "display_name"), "token-alice");
	json_t *pol = json_pack("[s,s]", "default", "dev");
	assert_true(json_equal(json_object_get(a, "policies"), pol));
	assert_true(json_equal(json_object_get(a, "token_policies"), pol));
	json_decref(pol);
	assert_string_equal(sget(json_object_get(a, "metadata"), "user"), "alice");
	assert_string_equal(sget(a, "entity_id"), "ent-1");
	assert_string_equal(sget(a, "token_type"), "service");
	assert_int_equal(json_integer_value(json_object_get(a, "token_ttl")), 3600);
	assert_string_equal(sget(a, "token_issue_time"), "2026-11-30T12:00:00Z");
	assert_int_equal(json_integer_value(json_object_get(a, "remaining_uses")), 5);

	json_t *rq = json_object_get(j, "request");
	const char *const rkeys[] = {"id",
	                             "operation",
	                             "mount_point",
	                             "mount_type",
	                             "mount_accessor",
	                             "client_token",
	                             "client_token_accessor",
	                             "namespace",
	                             "path",
	                             "data",
	                             "remote_address",
	                             "remote_port",
	                             "headers",
	                             NULL};
	assert_keys(rq, rkeys);
	assert_string_equal(sget(rq, "id"), "5e0a4a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
	assert_string_equal(sget(rq, "operation"), "update");
	assert_string_equal(sget(rq, "mount_point"), "secret/");
	assert_string_equal(sget(rq, "mount_type"), "kv");
	assert_string_equal(sget(rq, "mount_accessor"), "kv_1a2b3c4d");
	assert_hash_of(json_object_get(rq, "client_token"), CLIENT_TOKEN);
	assert_hash_of(json_object_get(rq, "client_token_accessor"), ACCESSOR);
	assert_string_equal(sget(json_object_get(rq, "namespace"), "id"), "root");
	assert_int_equal(json_object_size(json_object_get(rq, "namespace")), 1);
	assert_string_equal(sget(rq, "path"), "secret/data/app");
	assert_string_equal(sget(rq, "remote_address"), "10.0.0.7");
	assert_int_equal(json_integer_value(json_object_get(rq, "remote_port")), 51234);
	assert_string_equal(sget(json_object_get(rq, "headers"), "x-request-source"), "ci");

	/* data: every leaf hashed, null kept, the skip key ("note") in clear. */
	json_t *d = json_object_get(rq, "data");
	json_t *dd = json_object_get(d, "data");
	assert_hash_of(json_object_get(dd, "password"), CANARY);
	assert_hash_of(json_object_get(dd, "pin"), "1234");
	assert_hash_of(json_object_get(dd, "ratio"), "2.5");
	assert_hash_of(json_object_get(dd, "on"), "true");
	assert_hash_of(json_object_get(dd, "off"), "false");
	assert_true(json_is_null(json_object_get(dd, "none")));
	json_t *l = json_object_get(dd, "list");
	assert_hash_of(json_array_get(l, 0), "a");
	assert_hash_of(json_array_get(json_array_get(l, 1), 0), "deep-" CANARY);
	assert_hash_of(json_array_get(json_array_get(l, 1), 1), "7");
	assert_hash_of(json_object_get(json_object_get(d, "options"), "cas"), "0");
	assert_string_equal(sget(d, "note"), "kept");

	json_decref(j);
	fx_free(x);
}

/* Entries formatted into one buffer with a batch memo are byte for byte
 * the entries formatted alone: a repeated value's hash is copied, a value
 * that differs (or a salt after a reset) is hashed anew. */
static void test_batch_memo_same_text(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	x->r.resp = &x->resp;
	response_set_data(
	    &x->resp, json_pack("{s:s, s:i, s:s}", "password", "hunter2", "pin", 1234, "long",
	                        "0123456789012345678901234567890123456789012345678901234567890123456789"));
	size_t alone_len = 0;
	char *alone = audit_format_entry(&x->f, &x->r, &alone_len);
	assert_non_null(alone);

	struct audit_hash_memo *memo = audit_hash_memo_new();
	struct buf text;
	buf_init(&text, (size_t)1 << 24);
	for (int i = 0; i < 3; i++)
		assert_int_equal(audit_format_entry_append(&x->f, &x->r, memo, &text), 0);
	assert_int_equal(text.len, 3 * alone_len);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(text.data + i * alone_len, alone, alone_len);

	/* another value, then another salt after a reset */
	response_set_data(&x->resp, json_pack("{s:s, s:i}", "password", "hunter3", "pin", 1234));
	size_t other_len = 0;
	char *other = audit_format_entry(&x->f, &x->r, &other_len);
	buf_reset(&text);
	assert_int_equal(audit_format_entry_append(&x->f, &x->r, memo, &text), 0);
	assert_int_equal(text.len, other_len);
	assert_memory_equal(text.data, other, other_len);
	static const unsigned char salt2[] = "another-device-salt";
	audit_hash_memo_reset(memo);
	x->f.salt = salt2;
	x->f.salt_len = sizeof(salt2) - 1;
	size_t salted_len = 0;
	char *salted = audit_format_entry(&x->f, &x->r, &salted_len);
	buf_reset(&text);
	assert_int_equal(audit_format_entry_append(&x->f, &x->r, memo, &text), 0);
	assert_int_equal(text.len, salted_len);
	assert_memory_equal(text.data, salted, salted_len);
	assert_memory_not_equal(salted, other, other_len < salted_len ? other_len : salted_len);

	audit_hash_memo_free(memo);
	buf_release(&text);
	free(alone);
	free(other);
	free(salted);
	fx_free(x);
}

static void test_response_entry_shape(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	x->r.resp = &x->resp;
	x->r.error = "permission denied";
	json_t *j = format(x, NULL);

	const char *const top[] = {"time", "type", "auth", "request", "response", "error", NULL};
	assert_keys(j, top);
	assert_string_equal(sget(j, "type"), "response");
	assert_string_equal(sget(j, "error"), "permission denied");
	/* The response entry repeats auth and request, as Vault's does. */
	assert_hash_of(json_object_get(json_object_get(j, "auth"), "client_token"), CLIENT_TOKEN);
	assert_string_equal(sget(json_object_get(j, "request"), "path"), "secret/data/app");

	json_t *rs = json_object_get(j, "response");
	const char *const rkeys[] = {"mount_point", "mount_type", "mount_accessor", "auth", "data",
	                             "warnings",    NULL};
	assert_keys(rs, rkeys);
	assert_string_equal(sget(rs, "mount_point"), "secret/");
	assert_string_equal(sget(rs, "mount_type"), "kv");
	assert_string_equal(sget(rs, "mount_accessor"), "kv_1a2b3c4d");

	json_t *ra = json_object_get(rs, "auth");
	const char *const akeys[] = {"client_token",   "accessor",  "policies", "metadata",
	                             "lease_duration", "renewable", NULL};
	assert_keys(ra, akeys);
	assert_hash_of(json_object_get(ra, "client_token"), "hvs.0000000000000002New" CANARY);
	assert_hash_of(json_object_get(ra, "accessor"), "0000000000000002abcdefghijklmnopqrstuvwx");
	assert_true(json_equal(json_object_get(ra, "policies"), json_object_get(x->resp.auth, "policies")));
	assert_true(json_equal(json_object_get(ra, "metadata"), json_object_get(x->resp.auth, "metadata")));
	assert_int_equal(json_integer_value(json_object_get(ra, "lease_duration")), 3600);
	assert_true(json_is_true(json_object_get(ra, "renewable")));

	json_t *d = json_object_get(rs, "data");
	assert_hash_of(json_object_get(d, "secret"), CANARY);
	assert_hash_of(json_object_get(d, "version"), "3");
	assert_hash_of(json_array_get(json_object_get(json_object_get(d, "nested"), "k"), 0), CANARY);
	/* audit_non_hmac_response_keys: "metadata" kept in clear. */
	assert_string_equal(sget(json_object_get(d, "metadata"), "owner"), "team-a");
	assert_string_equal(json_string_value(json_array_get(json_object_get(rs, "warnings"), 0)),
	                    "a warning");

	json_decref(j);

	/* A leased response names its lease (a reference, kept in clear). */
	x->resp.lease_id = xstrdup("database/creds/ro/0123456789abcdefABCDEFGH");
	j = format(x, NULL);
	json_t *sec = json_object_get(json_object_get(j, "response"), "secret");
	assert_string_equal(sget(sec, "lease_id"), "database/creds/ro/0123456789abcdefABCDEFGH");
	json_decref(j);

	/* A bare response (no envelope) logs the bare body as data. */
	json_decref(x->resp.data);
	x->resp.data = NULL;
	x->resp.bare = json_pack("{s:s}", "certificate", "PEM-" CANARY);
	j = format(x, NULL);
	assert_hash_of(
	    json_object_get(json_object_get(json_object_get(j, "response"), "data"), "certificate"),
	    "PEM-" CANARY);
	json_decref(j);
	fx_free(x);
}

static void test_minimal_entries_omit_empty(void **state)
{
	(void)state;
	struct request req;
	struct response resp;
	struct audit_format f = {.salt = salt, .salt_len = salt_len, .hmac_accessor = true, .prefix = NULL};
	struct audit_record r = {.req = &req, .policy_checked = true, .allowed = true};
	size_t len;

	request_init(&req);
	req.op = OP_READ;
	req.path = xstrdup("sys/health");
	req.data = json_object();
	char *line = audit_format_entry(&f, &r, &len);
	json_t *j = parse_line(line, len, "");
	/* No token: no auth, even if a policy decision was recorded. */
	const char *const top[] = {"type", "request", NULL};
	assert_keys(j, top);
	const char *const rkeys[] = {"operation", "namespace", "path", NULL};
	assert_keys(json_object_get(j, "request"), rkeys);
	assert_string_equal(sget(json_object_get(j, "request"), "operation"), "read");
	json_decref(j);
	free(line);

	/* A response entry always has "response", even when empty. */
	response_init(&resp);
	r.resp = &resp;
	r.error = "";
	line = audit_format_entry(&f, &r, &len);
	j = parse_line(line, len, "");
	const char *const top2[] = {"type", "request", "response", NULL};
	assert_keys(j, top2);
	assert_int_equal(json_object_size(json_object_get(j, "response")), 0);
	json_decref(j);
	free(line);

	/* An invalid UTF-8 path is still audited, bad bytes as U+FFFD. */
	free(req.path);
	req.path = xstrdup("secret/\xff\xfe/x");
	r.resp = NULL;
	line = audit_format_entry(&f, &r, &len);
	j = parse_line(line, len, "");
	assert_string_equal(sget(json_object_get(j, "request"), "path"), "secret/\xef\xbf\xbd\xef\xbf\xbd/x");
	json_decref(j);
	free(line);
	request_release(&req);
}

static void test_batch_token(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	x->tok->accessor[0] = '\0';
	x->tok->type = TOKEN_TYPE_BATCH;
	x->tok->num_uses = 0;
	x->tok->ttl = 0;
	json_decref(x->tok->meta);
	x->tok->meta = NULL;
	token_entry_set(&x->tok->entity_id, "");
	x->r.policy_checked = false;
	json_t *j = format(x, NULL);
	json_t *a = json_object_get(j, "auth");
	const char *const akeys[] = {"client_token", "display_name",     "policies", "token_policies",
	                             "token_type",   "token_issue_time", NULL};
	assert_keys(a, akeys);
	assert_string_equal(sget(a, "token_type"), "batch");
	assert_null(json_object_get(json_object_get(j, "request"), "client_token_accessor"));
	json_decref(j);
	fx_free(x);
}

static void test_accessor_not_hmaced(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	x->f.hmac_accessor = false;
	x->r.resp = &x->resp;
	json_t *j = format(x, NULL);
	json_t *a = json_object_get(j, "auth");
	assert_string_equal(sget(a, "accessor"), ACCESSOR);
	assert_hash_of(json_object_get(a, "client_token"), CLIENT_TOKEN);
	json_t *rq = json_object_get(j, "request");
	assert_string_equal(sget(rq, "client_token_accessor"), ACCESSOR);
	assert_hash_of(json_object_get(rq, "client_token"), CLIENT_TOKEN);
	json_t *ra = json_object_get(json_object_get(j, "response"), "auth");
	assert_string_equal(sget(ra, "accessor"), "0000000000000002abcdefghijklmnopqrstuvwx");
	assert_hash_of(json_object_get(ra, "client_token"), "hvs.0000000000000002New" CANARY);
	json_decref(j);
	fx_free(x);
}

/* A wrapped response: wrap_info's token always hashed, its accessors as
 * hmac_accessor says, the rest in clear; the request's wrap_ttl in clear. */
static void test_wrap_info(void **state)
{
	(void)state;
	for (int hmac_acc = 0; hmac_acc < 2; hmac_acc++) {
		struct fx *x = fx_new();
		x->f.hmac_accessor = hmac_acc;
		response_release(&x->resp);
		response_init(&x->resp);
		x->resp.wrap_info = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s}", "token", "hvs.0000000000000009Wrap" CANARY,
		                              "accessor", "0000000000000009wrapaccessorxxxxxxxxxxxx", "ttl", 300,
		                              "creation_time", "2026-11-30T12:00:00Z", "creation_path",
		                              "secret/data/app", "wrapped_accessor",
		                              "0000000000000008wrappedaccessorxxxxxxxxx");
		x->req.wrap_ttl = 300;
		x->r.resp = &x->resp;
		char *line;
		json_t *j = format(x, &line);
		assert_null(strstr(line, CANARY));
		json_t *w = json_object_get(json_object_get(j, "response"), "wrap_info");
		assert_hash_of(json_object_get(w, "token"), "hvs.0000000000000009Wrap" CANARY);
		if (hmac_acc) {
			assert_hash_of(json_object_get(w, "accessor"), "0000000000000009wrapaccessorxxxxxxxxxxxx");
			assert_hash_of(json_object_get(w, "wrapped_accessor"), "0000000000000008wrappedaccessorxxxxxxxxx");
		} else {
			assert_string_equal(sget(w, "accessor"), "0000000000000009wrapaccessorxxxxxxxxxxxx");
			assert_string_equal(sget(w, "wrapped_accessor"), "0000000000000008wrappedaccessorxxxxxxxxx");
		}
		assert_int_equal(json_integer_value(json_object_get(w, "ttl")), 300);
		assert_string_equal(sget(w, "creation_path"), "secret/data/app");
		assert_string_equal(sget(w, "creation_time"), "2026-11-30T12:00:00Z");
		assert_null(json_object_get(json_object_get(j, "response"), "data"));
		assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "request"), "wrap_ttl")), 300);
		free(line);
		json_decref(j);
		fx_free(x);
	}
}

static void test_log_raw(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line;
	x->f.log_raw = true;
	x->r.resp = &x->resp;
	json_t *j = format(x, &line);
	assert_null(strstr(line, "hmac-sha256:"));
	json_t *a = json_object_get(j, "auth");
	assert_string_equal(sget(a, "client_token"), CLIENT_TOKEN);
	assert_string_equal(sget(a, "accessor"), ACCESSOR);
	json_t *rq = json_object_get(j, "request");
	assert_string_equal(sget(rq, "client_token"), CLIENT_TOKEN);
	assert_string_equal(sget(rq, "client_token_accessor"), ACCESSOR);
	assert_true(json_equal(json_object_get(rq, "data"), x->req.data));
	json_t *rs = json_object_get(j, "response");
	assert_true(json_equal(json_object_get(rs, "auth"), x->resp.auth));
	assert_true(json_equal(json_object_get(rs, "data"), x->resp.data));
	json_decref(j);
	free(line);

	/* A client token that is not UTF-8 (any header bytes) is still logged. */
	secure_free_str(x->req.client_token);
	x->req.client_token = xstrdup("hvs.\xff\xc0x");
	j = format(x, NULL);
	assert_string_equal(sget(json_object_get(j, "request"), "client_token"),
	                    "hvs.\xef\xbf\xbd\xef\xbf\xbdx");
	json_decref(j);
	x->f.log_raw = false;
	j = format(x, NULL);
	assert_hash_of(json_object_get(json_object_get(j, "request"), "client_token"), "hvs.\xff\xc0x");
	json_decref(j);
	fx_free(x);
}

static void test_policy_results(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	strlist_push(&x->granting, "root-ish");
	json_t *j = format(x, NULL);
	json_t *pr = json_object_get(json_object_get(j, "auth"), "policy_results");
	const char *const keys[] = {"allowed", "granting_policies", NULL};
	assert_keys(pr, keys);
	assert_true(json_is_true(json_object_get(pr, "allowed")));
	json_t *want = json_loads("[{\"name\":\"dev\",\"namespace_id\":\"root\",\"type\":\"acl\"},"
	                          "{\"name\":\"root-ish\",\"namespace_id\":\"root\",\"type\":\"acl\"}]",
	                          0, NULL);
	assert_true(json_equal(json_object_get(pr, "granting_policies"), want));
	const char *const pkeys[] = {"name", "namespace_id", "type", NULL};
	assert_keys(json_array_get(json_object_get(pr, "granting_policies"), 0), pkeys);
	json_decref(want);
	json_decref(j);

	/* Denied: allowed false, no granting policies. */
	x->r.allowed = false;
	strlist_release(&x->granting);
	strlist_init(&x->granting);
	x->r.error = "permission denied";
	j = format(x, NULL);
	pr = json_object_get(json_object_get(j, "auth"), "policy_results");
	const char *const dkeys[] = {"allowed", NULL};
	assert_keys(pr, dkeys);
	assert_true(json_is_false(json_object_get(pr, "allowed")));
	assert_string_equal(sget(j, "error"), "permission denied");
	json_decref(j);

	/* No decision made: no policy_results. A NULL granting list is fine. */
	x->r.granting = NULL;
	x->r.allowed = true;
	j = format(x, NULL);
	assert_non_null(
	    json_object_get(json_object_get(json_object_get(j, "auth"), "policy_results"), "allowed"));
	json_decref(j);
	x->r.policy_checked = false;
	j = format(x, NULL);
	assert_null(json_object_get(json_object_get(j, "auth"), "policy_results"));
	json_decref(j);
	fx_free(x);
}

static void test_elide_list_responses(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	json_decref(x->resp.data);
	x->resp.data = json_loads("{\"keys\":[\"a\",\"b/\",\"c\"],\"key_info\":{\"a\":{\"x\":1},\"b/\":{}},"
	                          "\"other\":\"o\"}",
	                          0, NULL);
	json_t *orig = json_deep_copy(x->resp.data);
	x->req.op = OP_LIST;
	x->r.resp = &x->resp;
	x->f.elide_list_responses = true;

	json_t *j = format(x, NULL);
	json_t *d = json_object_get(json_object_get(j, "response"), "data");
	/* Counts, in clear (they are not data); the rest still hashed. */
	assert_true(json_is_integer(json_object_get(d, "keys")));
	assert_int_equal(json_integer_value(json_object_get(d, "keys")), 3);
	assert_int_equal(json_integer_value(json_object_get(d, "key_info")), 2);
	assert_hash_of(json_object_get(d, "other"), "o");
	json_decref(j);

	/* Also with log_raw. */
	x->f.log_raw = true;
	j = format(x, NULL);
	d = json_object_get(json_object_get(j, "response"), "data");
	assert_int_equal(json_integer_value(json_object_get(d, "keys")), 3);
	assert_string_equal(sget(d, "other"), "o");
	json_decref(j);
	x->f.log_raw = false;

	/* Not a LIST: not elided. */
	x->req.op = OP_READ;
	j = format(x, NULL);
	d = json_object_get(json_object_get(j, "response"), "data");
	assert_hash_of(json_array_get(json_object_get(d, "keys"), 0), "a");
	assert_hash_of(json_object_get(json_object_get(json_object_get(d, "key_info"), "a"), "x"), "1");
	json_decref(j);

	/* LIST without the option: keys hashed one by one. */
	x->req.op = OP_LIST;
	x->f.elide_list_responses = false;
	j = format(x, NULL);
	d = json_object_get(json_object_get(j, "response"), "data");
	assert_int_equal(json_array_size(json_object_get(d, "keys")), 3);
	assert_hash_of(json_array_get(json_object_get(d, "keys"), 1), "b/");
	json_decref(j);

	assert_true(json_equal(x->resp.data, orig));
	json_decref(orig);
	fx_free(x);
}

static void test_prefix_one_line(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line;
	x->f.prefix = "@cee: ";
	/* A newline inside a value must not break the line. */
	json_object_set_new(x->req.data, "multi", json_string("line1\nline2"));
	x->r.resp = &x->resp;
	json_t *j = format(x, &line); /* parse_line checks prefix, single '\n' at the end */
	assert_memory_equal(line, "@cee: {\"time\":", 14);
	/* Compact: no whitespace between tokens. */
	assert_null(strstr(line, "\": "));
	assert_null(strstr(line, ", \""));
	json_decref(j);
	free(line);
	fx_free(x);
}

/* The response entry written from the text the request entry kept is
 * byte for byte the response entry formatted in full. */
static void test_reuse_between_entries(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	for (int raw = 0; raw < 2; raw++) {
		struct buf keep;
		size_t n_full = 0, n_reused = 0;
		buf_init(&keep, BUF_CAP_DEFAULT);
		x->f.log_raw = raw;
		x->r.resp = NULL;
		x->r.keep = &keep;
		char *req_line = audit_format_entry(&x->f, &x->r, NULL);
		x->r.keep = NULL;
		assert_non_null(req_line);
		assert_true(keep.len > 0);
		assert_int_equal(keep.data[0], ',');
		assert_non_null(strstr(req_line, keep.data));

		x->r.resp = &x->resp;
		char *full = audit_format_entry(&x->f, &x->r, &n_full);
		x->r.reuse = keep.data;
		x->r.reuse_len = keep.len;
		char *reused = audit_format_entry(&x->f, &x->r, &n_reused);
		x->r.reuse = NULL;
		x->r.reuse_len = 0;
		assert_int_equal(n_full, n_reused);
		assert_string_equal(full, reused);
		free(req_line);
		free(full);
		free(reused);
		buf_release_secret(&keep);
	}
	fx_free(x);
}

static void test_inputs_unchanged(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	x->r.resp = &x->resp;
	x->f.elide_list_responses = true;
	x->req.op = OP_LIST;
	json_object_set_new(x->resp.data, "keys", json_pack("[s,s]", "k1", "k2"));
	json_t *rd = json_deep_copy(x->req.data), *sd = json_deep_copy(x->resp.data),
	       *sa = json_deep_copy(x->resp.auth), *sw = json_deep_copy(x->resp.warnings),
	       *h = json_deep_copy(x->headers), *meta = json_deep_copy(x->tok->meta);
	size_t rc_rd = x->req.data->refcount, rc_sd = x->resp.data->refcount, rc_sa = x->resp.auth->refcount,
	       rc_note = json_object_get(x->req.data, "note")->refcount, rc_h = x->headers->refcount;

	for (int raw = 0; raw < 2; raw++) {
		x->f.log_raw = raw;
		json_decref(format(x, NULL));
		x->r.resp = NULL;
		json_decref(format(x, NULL));
		x->r.resp = &x->resp;
	}
	assert_true(json_equal(x->req.data, rd));
	assert_true(json_equal(x->resp.data, sd));
	assert_true(json_equal(x->resp.auth, sa));
	assert_true(json_equal(x->resp.warnings, sw));
	assert_true(json_equal(x->headers, h));
	assert_true(json_equal(x->tok->meta, meta));
	assert_int_equal(x->req.data->refcount, rc_rd);
	assert_int_equal(x->resp.data->refcount, rc_sd);
	assert_int_equal(x->resp.auth->refcount, rc_sa);
	assert_int_equal(json_object_get(x->req.data, "note")->refcount, rc_note);
	assert_int_equal(x->headers->refcount, rc_h);
	assert_string_equal(x->req.client_token, CLIENT_TOKEN);
	json_decref(rd);
	json_decref(sd);
	json_decref(sa);
	json_decref(sw);
	json_decref(h);
	json_decref(meta);
	fx_free(x);
}

static void test_canary_never_in_output(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line;

	/* Canaries: request data (top level, nested, inside a nested array),
	 * response data, response auth client_token, the request token. */
	json_object_set_new(x->req.data, "top", json_string(CANARY));
	json_object_set_new(x->req.data, "arr", json_pack("[[{s:[s]}]]", "k", "x" CANARY "x"));
	json_object_set_new(x->resp.data, "deep", json_pack("{s:[i,[s]]}", "z", 1, CANARY));
	for (int hmac_acc = 0; hmac_acc < 2; hmac_acc++)
		for (int resp = 0; resp < 2; resp++) {
			x->f.hmac_accessor = hmac_acc;
			x->r.resp = resp ? &x->resp : NULL;
			json_decref(format(x, &line));
			assert_null(strstr(line, "CANARY"));
			assert_null(strstr(line, "ClientToken"));
			free(line);
		}
	/* ...whereas log_raw writes them (the test would catch a broken check). */
	x->f.log_raw = true;
	json_decref(format(x, &line));
	assert_non_null(strstr(line, "x" CANARY "x"));
	free(line);
	fx_free(x);
}

/* --- the streaming writer: exact text -------------------------------------- */

/* HMAC-SHA256 under any key, computed independently (one-shot HMAC()). */
static void ref_hmac(const unsigned char *key, size_t klen, const char *text, size_t n,
                     char out[AUDIT_HASH_MAX])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	assert_non_null(HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)text, n, mac, &mac_len));
	assert_int_equal(mac_len, 32);
	memcpy(out, "hmac-sha256:", 12);
	for (unsigned i = 0; i < mac_len; i++) {
		out[12 + 2 * i] = hexd[mac[i] >> 4];
		out[12 + 2 * i + 1] = hexd[mac[i] & 15];
	}
	out[12 + 64] = '\0';
}

/* The line is one line of printable JSON (every byte below 0x20 escaped)
 * and exactly what jansson writes for the tree it parses to. */
static void assert_redump_equal(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	json_error_t err;
	json_t *j;
	char *again;

	assert_true(len > pl + 1);
	assert_int_equal(line[len - 1], '\n');
	for (size_t i = pl; i + 1 < len; i++)
		if ((unsigned char)line[i] < 0x20)
			fail_msg("raw control byte 0x%02x at %zu", (unsigned char)line[i], i);
	j = json_loadb(line + pl, len - pl - 1, JSON_ALLOW_NUL, &err);
	if (j == NULL)
		fail_msg("bad JSON: %s in %s", err.text, line);
	again = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	assert_non_null(again);
	if (strlen(again) != len - pl - 1 || memcmp(again, line + pl, len - pl - 1) != 0)
		fail_msg("differs from jansson:\n ours: %.*s\n jansson: %s", (int)(len - pl - 1), line + pl,
		         again);
	free(again);
	json_decref(j);
}

/* parse_line, for lines whose strings may hold an escaped NUL. */
static json_t *parse_line_nul(const char *line, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	json_error_t err;
	json_t *j;

	assert_non_null(line);
	assert_true(len > pl + 1);
	assert_memory_equal(line, prefix, pl);
	assert_ptr_equal(memchr(line, '\n', len), line + len - 1);
	assert_int_equal(line[len], '\0');
	j = json_loadb(line + pl, len - pl - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
	if (j == NULL)
		fail_msg("bad JSON: %s in %s", err.text, line);
	assert_true(json_is_object(j));
	return j;
}

/* The text of the member "key" of the line, from its opening quote, or NULL. */
static const char *member(const char *line, const char *key)
{
	char pat[128];

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(line, pat);
	return p ? p + strlen(pat) : NULL;
}

static void test_string_escapes_exact(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line;
	size_t len;
	/* Quote, backslash, slash (not escaped), the short escapes, other
	 * control bytes, DEL, U+2028/U+2029, 2/3/4-byte UTF-8, an embedded NUL. */
	static const char in[] = "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f"
	                         "\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                         "\0end";
	static const char want[] = "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001F\x7f"
	                           "\xe2\x80\xa8\xe2\x80\xa9\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	                           "\\u0000end\"";
	json_object_set_new(x->req.data, "note", json_stringn(in, sizeof(in) - 1)); /* kept in clear */

	/* Every byte below 0x20, in order. */
	char ctl[32], ctl_want[32 * 6 + 3], *w = ctl_want;
	*w++ = '"';
	for (int c = 0; c < 32; c++) {
		ctl[c] = (char)c;
		const char *s = c == '\b'   ? "\\b"
		                : c == '\f' ? "\\f"
		                : c == '\n' ? "\\n"
		                : c == '\r' ? "\\r"
		                : c == '\t' ? "\\t"
		                            : NULL;
		if (s != NULL)
			w += snprintf(w, 7, "%s", s);
		else
			w += snprintf(w, 7, "\\u%04X", c);
	}
	*w++ = '"';
	*w = '\0';
	json_object_set_new(x->tok->meta, "ctl", json_stringn(ctl, sizeof(ctl)));
	/* Keys are escaped alike. */
	json_object_set_new(x->tok->meta, "k\"\\\n\x01z", json_string("v"));

	for (int raw = 0; raw < 2; raw++) {
		x->f.log_raw = raw;
		line = audit_format_entry(&x->f, &x->r, &len);
		json_decref(parse_line_nul(line, len, ""));
		assert_redump_equal(line, len, "");
		const char *p = member(line, "note");
		assert_non_null(p);
		assert_memory_equal(p, want, sizeof(want) - 1);
		p = member(line, "ctl");
		assert_non_null(p);
		assert_memory_equal(p, ctl_want, strlen(ctl_want));
		assert_non_null(strstr(line, "\"k\\\"\\\\\\n\\u0001z\":\"v\""));
		free(line);
	}
	/* A key with an embedded NUL (jansson's parser takes none: text only). */
	json_object_setn_new(x->tok->meta, "n\0ul", 4, json_true());
	line = audit_format_entry(&x->f, &x->r, &len);
	assert_non_null(strstr(line, ",\"n\\u0000ul\":true}"));
	free(line);
	fx_free(x);
}

/* Invalid UTF-8 becomes U+FFFD byte by byte, in json_t strings (made with
 * a _nocheck call) and keys exactly as in strings from C structs; hashes
 * are of the original bytes. */
static void test_invalid_utf8_replaced(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line, hash[AUDIT_HASH_MAX];
	size_t len;
#define R "\xef\xbf\xbd"
	/* A stray byte, an overlong NUL, a surrogate, a code point above
	 * U+10FFFF, a truncated sequence at the end. */
	static const char bad[] = "a\xff"
	                          "b\xc0\x80"
	                          "c\xed\xa0\x80"
	                          "d\xf4\x90\x80\x80"
	                          "e\xe2\x80";
	static const char fixed[] = "\"a" R "b" R R "c" R R R "d" R R R R "e" R R "\"";
#undef R
	json_object_set_new(x->req.data, "note", json_stringn_nocheck(bad, sizeof(bad) - 1));
	json_object_set_new(x->req.data, "hashed", json_stringn_nocheck(bad, sizeof(bad) - 1));
	json_object_setn_new_nocheck(x->req.data, bad, sizeof(bad) - 1, json_true());
	free(x->req.path);
	x->req.path = xstrdup(bad);

	line = audit_format_entry(&x->f, &x->r, &len);
	json_t *j = parse_line(line, len, "");
	assert_redump_equal(line, len, "");
	assert_memory_equal(member(line, "note"), fixed, sizeof(fixed) - 1);
	assert_memory_equal(member(line, "path"), fixed, sizeof(fixed) - 1);
	/* The key, repaired the same way, with the hash of "true". */
	assert_non_null(strstr(line, fixed));
	json_t *d = json_object_get(json_object_get(j, "request"), "data");
	char key[sizeof(fixed)];
	memcpy(key, fixed + 1, sizeof(fixed) - 3);
	key[sizeof(fixed) - 3] = '\0';
	assert_hash_of(json_object_get(d, key), "true");
	ref_hash(bad, sizeof(bad) - 1, hash);
	assert_string_equal(sget(d, "hashed"), hash);
	json_decref(j);
	free(line);
	fx_free(x);
}

/* Reals in clear: jansson's own text, and they read back as the very same
 * double. Hashed reals use the shortest text (test_mask_scalar_texts). */
static void test_clear_reals_round_trip(void **state)
{
	(void)state;
	static const double ds[] = {0.1,
	                            1.0,
	                            -0.0,
	                            1e100,
	                            1.5e-7,
	                            5e-324,
	                            1.7976931348623157e308,
	                            1e21,
	                            1e-5,
	                            100.0,
	                            -2.5,
	                            1e17,
	                            3.141592653589793,
	                            123456789012345678.0,
	                            2.2250738585072014e-308};
	struct fx *x = fx_new();
	json_t *arr = json_array();
	char *line;
	size_t len;

	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++)
		json_array_append_new(arr, json_real(ds[i]));
	json_object_set(x->req.data, "note", arr);   /* a skipped key: in clear */
	json_object_set(x->tok->meta, "reals", arr); /* metadata: in clear */
	char *want = json_dumps(arr, JSON_COMPACT);
	assert_string_equal(want, "[0.10000000000000001,1.0,-0.0,1e100,1.4999999999999999e-7,"
	                          "4.9406564584124654e-324,1.7976931348623157e308,1e21,1.0000000000000001e-5,"
	                          "100.0,-2.5,1e17,3.1415926535897931,1.2345678901234568e17,"
	                          "2.2250738585072014e-308]");
	for (int raw = 0; raw < 2; raw++) {
		x->f.log_raw = raw;
		line = audit_format_entry(&x->f, &x->r, &len);
		json_t *j = parse_line(line, len, "");
		assert_redump_equal(line, len, "");
		assert_memory_equal(member(line, "note"), want, strlen(want));
		assert_memory_equal(member(line, "reals"), want, strlen(want));
		json_t *back =
		    json_object_get(json_object_get(json_object_get(j, "request"), "data"), "note");
		assert_int_equal(json_array_size(back), sizeof(ds) / sizeof(ds[0]));
		for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
			double d = json_real_value(json_array_get(back, i));
			assert_true(json_is_real(json_array_get(back, i)));
			assert_memory_equal(&d, &ds[i], sizeof(d)); /* bit for bit: -0.0 too */
		}
		json_decref(j);
		free(line);
	}
	free(want);
	json_decref(arr);
	fx_free(x);
}

/* Integers in clear and hashed, the extremes included. */
static void test_integers(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *line;
	size_t len;

	json_t *ints = json_pack("[I,I,I,I,I]", (json_int_t)0, (json_int_t)-1, (json_int_t)INT64_MAX,
	                         (json_int_t)INT64_MIN, (json_int_t)-1234567890123LL);
	json_object_set(x->req.data, "note", ints);
	json_object_set(x->req.data, "hashed", ints);
	line = audit_format_entry(&x->f, &x->r, &len);
	json_t *j = parse_line(line, len, "");
	assert_redump_equal(line, len, "");
	static const char want[] = "[0,-1,9223372036854775807,-9223372036854775808,-1234567890123]";
	assert_memory_equal(member(line, "note"), want, sizeof(want) - 1);
	json_t *h = json_object_get(json_object_get(json_object_get(j, "request"), "data"), "hashed");
	assert_hash_of(json_array_get(h, 2), "9223372036854775807");
	assert_hash_of(json_array_get(h, 3), "-9223372036854775808");
	json_decref(j);
	free(line);
	json_decref(ints);
	fx_free(x);
}

/* HMAC under salts shorter than, as long as and longer than a SHA-256
 * block, for texts around the padding boundaries. */
static void test_hash_salt_lengths(void **state)
{
	(void)state;
	static const size_t klens[] = {0, 1, 16, 32, 63, 64, 65, 100, 200};
	static const size_t tlens[] = {0, 1, 31, 55, 56, 63, 64, 65, 119, 120, 1000};
	unsigned char key[200];
	char text[1000], out[AUDIT_HASH_MAX], want[AUDIT_HASH_MAX];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 7 + 3);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)(i * 13 + 1);
	for (size_t a = 0; a < sizeof(klens) / sizeof(klens[0]); a++)
		for (size_t b = 0; b < sizeof(tlens) / sizeof(tlens[0]); b++) {
			audit_hash_text(key, klens[a], text, tlens[b], out);
			ref_hmac(key, klens[a], text, tlens[b], want);
			assert_string_equal(out, want);
		}

	/* The same through an entry, with a long salt: tokens and leaves. */
	struct fx *x = fx_new();
	size_t len;
	x->f.salt = key;
	x->f.salt_len = 100;
	char *line = audit_format_entry(&x->f, &x->r, &len);
	json_t *j = parse_line(line, len, "");
	ref_hmac(key, 100, CLIENT_TOKEN, strlen(CLIENT_TOKEN), want);
	assert_string_equal(sget(json_object_get(j, "auth"), "client_token"), want);
	assert_string_equal(sget(json_object_get(j, "request"), "client_token"), want);
	ref_hmac(key, 100, "1234", 4, want);
	assert_string_equal(
	    sget(json_object_get(json_object_get(json_object_get(j, "request"), "data"), "data"), "pin"),
	    want);
	json_decref(j);
	free(line);
	fx_free(x);
}

/* Nesting: whatever jansson parses is logged, up to 2048 levels; deeper
 * (only possible for a value built in code, or a cycle) fails the entry
 * instead of the stack. On a thread with a worker-sized stack. */
#define DEPTH_PARSED 2047 /* arrays around a scalar: jansson's parser limit */

struct deep_job {
	struct fx *x;
	char *line;
	size_t len;
};

static void *deep_format(void *arg)
{
	struct deep_job *d = arg;

	d->line = audit_format_entry(&d->x->f, &d->x->r, &d->len);
	return NULL;
}

static void format_on_small_stack(struct deep_job *d)
{
	pthread_attr_t attr;
	pthread_t th;
	size_t stack = (size_t)1 << 20; /* a worker's */
#if defined(__SANITIZE_ADDRESS__)
	stack *= 8; /* ASan's frames are several times larger */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	stack *= 8;
#endif
#endif
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, stack), 0);
	assert_int_equal(pthread_create(&th, &attr, deep_format, d), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	pthread_attr_destroy(&attr);
}

static json_t *wrap(json_t *v)
{
	json_t *a = json_array();

	json_array_append_new(a, v);
	return a;
}

static void test_deep_nesting(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	char *text = xmalloc(2 * DEPTH_PARSED + 8);
	size_t n = 0;
	json_error_t err;

	for (int i = 0; i < DEPTH_PARSED; i++)
		text[n++] = '[';
	text[n++] = '1';
	for (int i = 0; i < DEPTH_PARSED; i++)
		text[n++] = ']';
	json_t *deep = json_loadb(text, n, 0, &err);
	assert_non_null(deep);
	text[DEPTH_PARSED] = '[';
	assert_null(json_loadb(text, n, 0, &err)); /* one more is not parsed */

	json_decref(x->req.data);
	x->req.data = json_incref(deep);
	json_decref(x->resp.data);
	x->resp.data = wrap(json_incref(deep)); /* 2048 levels */
	x->r.resp = &x->resp;
	/* The line nests deeper than jansson parses: check its text. */
	char hash[AUDIT_HASH_MAX];
	ref_hash("1", 1, hash);
	for (int raw = 0; raw < 2; raw++) {
		struct deep_job d = {.x = x};
		char *want = xmalloc(2 * DEPTH_PARSED + 200), *w = want;
		x->f.log_raw = raw;
		format_on_small_stack(&d);
		assert_non_null(d.line);
		assert_ptr_equal(strchr(d.line, '\n'), d.line + d.len - 1);
		for (int level = DEPTH_PARSED; level <= DEPTH_PARSED + 1; level++) {
			w = want;
			w += snprintf(w, 32, "\"data\":");
			memset(w, '[', (size_t)level);
			w += level;
			w += snprintf(w, 100, raw ? "1" : "\"%s\"", hash);
			memset(w, ']', (size_t)level);
			w += level;
			*w++ = ','; /* remote_address, warnings follow */
			*w = '\0';
			assert_non_null(strstr(d.line, want));
		}
		free(want);
		free(d.line);
	}

	/* 2049 levels. */
	x->resp.data = wrap(x->resp.data);
	for (int raw = 0; raw < 2; raw++) {
		struct deep_job d = {.x = x};
		x->f.log_raw = raw;
		format_on_small_stack(&d);
		assert_null(d.line);
	}
	json_decref(deep);
	free(text);
	fx_free(x);
}

/* A large entry (the line grows well past its first allocation), hashed
 * and raw. */
static void test_large_entry(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	size_t big = 9 * 33334, len;
	char *s = xmalloc(big), k[32];

	for (size_t i = 0; i < big; i++)
		s[i] = " \"\\a\n\x01\xc3\xa9z"[i % 9];
	json_object_set_new(x->req.data, "note", json_stringn(s, big));
	for (int i = 0; i < 3000; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(x->resp.data, k, json_integer(i));
	}
	x->r.resp = &x->resp;
	for (int raw = 0; raw < 2; raw++) {
		x->f.log_raw = raw;
		char *line = audit_format_entry(&x->f, &x->r, &len);
		json_t *j = parse_line(line, len, "");
		assert_redump_equal(line, len, "");
		assert_true(len > big);
		json_t *note =
		    json_object_get(json_object_get(json_object_get(j, "request"), "data"), "note");
		assert_int_equal(json_string_length(note), big);
		assert_memory_equal(json_string_value(note), s, big);
		json_t *rd = json_object_get(json_object_get(j, "response"), "data");
		if (raw)
			assert_int_equal(json_integer_value(json_object_get(rd, "k2999")), 2999);
		else
			assert_hash_of(json_object_get(rd, "k2999"), "2999");
		json_decref(j);
		free(line);
	}
	free(s);
	fx_free(x);
}

/* Pseudo-random values: every kind of leaf and string the writer treats
 * differently. Deterministic. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

/* A string of valid UTF-8 (NULs only if nul), or with invalid bytes if bad. */
static size_t rnd_text(char *out, bool nul, bool bad)
{
	static const char *const pieces[] = {"a",
	                                     "key",
	                                     "\"",
	                                     "\\",
	                                     "/",
	                                     "\n",
	                                     "\t",
	                                     "\r",
	                                     "\b",
	                                     "\f",
	                                     "\x01",
	                                     "\x1f",
	                                     "\x7f",
	                                     "\xe2\x80\xa8",
	                                     "\xe2\x80\xa9",
	                                     "\xc3\xa9",
	                                     "\xf0\x9f\x98\x80",
	                                     "\xef\xbf\xbd",
	                                     "\xed\x9f\xbf",
	                                     "hmac-sha256:",
	                                     "keys",
	                                     "note",
	                                     "  ",
	                                     "0",
	                                     "\xc2\x80",
	                                     "\xf4\x8f\xbf\xbf"};
	static const char *const invalid[] = {"\xff",     "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
	                                      "\xe2\x80", "\x80",     "\xf5",         "\xc2"};
	size_t n = 0;

	for (unsigned i = rnd(6); i > 0; i--) {
		unsigned c = rnd(30);
		const char *p;
		if (nul && c == 0) {
			out[n++] = '\0';
			continue;
		}
		p = bad && c == 1 ? invalid[rnd(8)] : pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
		memcpy(out + n, p, strlen(p));
		n += strlen(p);
	}
	return n;
}

static json_t *rnd_value(int depth, bool bad)
{
	static const double reals[] = {0.1, 1.0,  -0.0, 1e100, 1.5e-7, 5e-324, 1.7976931348623157e308,
	                               2.5, 1e21, -1e-5};
	static const json_int_t ints[] = {0, 1, -7, INT64_MAX, INT64_MIN, 1234};
	char b[256];
	size_t n;

	switch (rnd(depth > 3 ? 7 : 9)) {
	case 0:
		n = rnd_text(b, true, bad);
		return json_stringn_nocheck(b, n);
	case 1:
		return json_integer(rnd(2) ? ints[rnd(6)] : (json_int_t)rnd(100000) - 50000);
	case 2: {
		double d = reals[rnd(10)];
		if (rnd(2)) {
			uint64_t u = rng;
			memcpy(&d, &u, sizeof(d));
			if (!isfinite(d))
				d = 0.5;
		}
		return json_real(d);
	}
	case 3:
		return json_true();
	case 4:
		return json_false();
	case 5:
		return json_null();
	case 6:
		n = rnd_text(b, false, false);
		return json_stringn(b, n);
	case 7: {
		json_t *o = json_object();
		for (unsigned i = rnd(5); i > 0; i--) {
			n = rnd_text(b, false, false); /* jansson parses no NUL in keys */
			json_object_setn_new(o, b, n, rnd_value(depth + 1, bad));
		}
		return o;
	}
	default: {
		json_t *a = json_array();
		for (unsigned i = rnd(5); i > 0; i--)
			json_array_append_new(a, rnd_value(depth + 1, bad));
		return a;
	}
	}
}

static json_t *rnd_object(bool bad)
{
	json_t *o = json_object();
	static const char *const names[] = {"note",     "metadata",     "keys",
	                                    "key_info", "client_token", "accessor"};
	char b[256];

	for (unsigned i = rnd(6); i > 0; i--) {
		if (rnd(3) == 0) {
			json_object_set_new(o, names[rnd(6)], rnd_value(1, bad));
		} else {
			size_t n = rnd_text(b, false, false);
			json_object_setn_new(o, b, n, rnd_value(1, bad));
		}
	}
	return o;
}

/* Whatever the input, the line is exactly what jansson writes for the tree
 * it parses to; with log_raw and valid input, the data reads back equal. */
static void test_redump_random(void **state)
{
	(void)state;
	for (int it = 0; it < 400; it++) {
		struct fx *x = fx_new();
		bool bad = rnd(4) == 0;
		json_decref(x->req.data);
		x->req.data = rnd(5) == 0 ? rnd_value(0, bad) : rnd_object(bad);
		json_decref(x->resp.data);
		x->resp.data = rnd_object(bad);
		json_decref(x->resp.auth);
		x->resp.auth = rnd_object(bad);
		json_decref(x->tok->meta);
		x->tok->meta = rnd_object(bad);
		json_decref(x->headers);
		x->headers = rnd_object(bad);
		x->r.headers = x->headers;
		json_decref(x->resp.warnings);
		x->resp.warnings = json_array();
		json_array_append_new(x->resp.warnings, rnd_value(1, bad));
		x->f.log_raw = rnd(2);
		x->f.hmac_accessor = rnd(2);
		x->f.elide_list_responses = rnd(2);
		x->f.prefix = rnd(2) ? "@cee: " : "";
		x->req.op = rnd(2) ? OP_LIST : OP_UPDATE;
		x->r.resp = rnd(2) ? &x->resp : NULL;

		size_t len;
		char *line = audit_format_entry(&x->f, &x->r, &len);
		json_t *j = parse_line_nul(line, len, x->f.prefix);
		assert_redump_equal(line, len, x->f.prefix);
		if (x->f.log_raw && !bad && json_is_object(x->req.data)) {
			json_t *logged = json_object_get(json_object_get(j, "request"), "data");
			if (json_object_size(x->req.data) == 0)
				assert_null(logged);
			else
				assert_true(json_equal(logged, x->req.data));
		}
		json_decref(j);
		free(line);
		fx_free(x);
	}
}

/* The cost of one request entry and one response entry for a typical KV
 * write (about 15 hashed leaves each), printed for the record. */
static void test_cost_per_entry(void **state)
{
	(void)state;
	struct fx *x = fx_new();
	struct timespec t0, t1;
	const int n = 2000;
	size_t len, total = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		x->r.resp = (i & 1) ? &x->resp : NULL;
		char *line = audit_format_entry(&x->f, &x->r, &len);
		assert_non_null(line);
		total += len;
		free(line);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
	print_message("audit_format_entry: %.2f us per entry (avg %zu bytes)\n", us, total / (size_t)n);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	char out[AUDIT_HASH_MAX];
	for (int i = 0; i < n; i++)
		audit_hash_text(salt, salt_len, "hello", 5, out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	us = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / n;
	print_message("audit_hash_text: %.2f us per call\n", us);
	fx_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_known_answer),
	    cmocka_unit_test(test_batch_memo_same_text),
	    cmocka_unit_test(test_mask_every_leaf_at_depth),
	    cmocka_unit_test(test_mask_scalar_texts),
	    cmocka_unit_test(test_mask_skip_top_level_only),
	    cmocka_unit_test(test_request_entry_shape),
	    cmocka_unit_test(test_response_entry_shape),
	    cmocka_unit_test(test_minimal_entries_omit_empty),
	    cmocka_unit_test(test_batch_token),
	    cmocka_unit_test(test_accessor_not_hmaced),
	    cmocka_unit_test(test_log_raw),
	    cmocka_unit_test(test_policy_results),
	    cmocka_unit_test(test_elide_list_responses),
	    cmocka_unit_test(test_prefix_one_line),
	    cmocka_unit_test(test_reuse_between_entries),
	    cmocka_unit_test(test_inputs_unchanged),
	    cmocka_unit_test(test_canary_never_in_output),
	    cmocka_unit_test(test_string_escapes_exact),
	    cmocka_unit_test(test_invalid_utf8_replaced),
	    cmocka_unit_test(test_clear_reals_round_trip),
	    cmocka_unit_test(test_integers),
	    cmocka_unit_test(test_hash_salt_lengths),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_large_entry),
	    cmocka_unit_test(test_redump_random),
	    cmocka_unit_test(test_cost_per_entry),
	    cmocka_unit_test(test_wrap_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
