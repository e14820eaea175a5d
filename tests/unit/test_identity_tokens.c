/* Identity tokens (identity/oidc) through the HTTP edge and the router of
 * a real core: issuer config, named keys, roles and their templates, the
 * signed tokens (verified against the published JWKS), rotation and the
 * verification window, introspection, and the discovery documents served
 * without a token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "clock.h"
#include "core/identity.h"
#include "core/mount.h"
#include "core_fixture.h"
#include "encoding.h"
#include "engines/identity_oidc.h"
#include "err.h"
#include "jwt.h"

static int64_t now_s = 1800000000;
static int64_t test_now(void *arg)
{
	(void)arg;
	return now_s;
}
static const struct clock test_clock = {.now = test_now};

struct fx {
	struct core_fixture f;
	char user_token[128];
	char entity_id[64];
};

/* A request with token tok (NULL: root, "": none); *body when asked. */
static int send(struct fx *x, const char *method, const char *path, const char *json, const char *tok,
                json_t **body)
{
	struct fixture_request rq = {
	    .method = method, .path = path, .body = json, .len = json ? strlen(json) : 0, .token = tok};
	json_t *b = NULL;
	int st = fixture_send(x->f.core, &rq, &b, NULL);
	if (body)
		*body = b;
	else
		json_decref(b);
	return st;
}

static const char *dstr(const json_t *body, const char *k)
{
	return json_string_value(json_object_get(json_object_get(body, "data"), k));
}

static int setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	json_t *b = NULL;
	char body[512];

	identity_oidc_set_clock(&test_clock);
	core_fixture_start(&x->f, NULL, 3600, 86400);
	assert_int_equal(send(x, "POST", "/v1/sys/auth/userpass", "{\"type\":\"userpass\"}", NULL, NULL),
	                 204);
	assert_int_equal(
	    send(x, "POST", "/v1/sys/policies/acl/idtok",
	         "{\"policy\":\"path \\\"identity/oidc/token/*\\\" { capabilities = [\\\"read\\\"] }\"}",
	         NULL, NULL),
	    204);
	assert_int_equal(send(x, "POST", "/v1/auth/userpass/users/alice",
	                      "{\"password\":\"pw-alice-1\",\"token_policies\":\"idtok\"}", NULL, NULL),
	                 204);
	assert_int_equal(
	    send(x, "POST", "/v1/auth/userpass/login/alice", "{\"password\":\"pw-alice-1\"}", "", &b), 200);
	json_t *auth = json_object_get(b, "auth");
	snprintf(x->user_token, sizeof(x->user_token), "%s",
	         json_string_value(json_object_get(auth, "client_token")));
	snprintf(x->entity_id, sizeof(x->entity_id), "%s",
	         json_string_value(json_object_get(auth, "entity_id")));
	json_decref(b);
	assert_true(strlen(x->entity_id) == 36);
	snprintf(body, sizeof(body), "{\"metadata\":{\"team\":\"blue\"}}");
	char path[256];
	snprintf(path, sizeof(path), "/v1/identity/entity/id/%s", x->entity_id);
	assert_in_range(send(x, "POST", path, body, NULL, NULL), 200, 204);
	snprintf(body, sizeof(body), "{\"name\":\"ops\",\"member_entity_ids\":[\"%s\"]}", x->entity_id);
	assert_int_equal(send(x, "POST", "/v1/identity/group", body, NULL, NULL), 200);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fx *x = *state;
	core_fixture_stop(&x->f);
	identity_oidc_set_clock(NULL);
	free(x);
	return 0;
}

/* The JWKS the server publishes, without a token, into ks. */
static void published_keys(struct fx *x, struct jwt_keyset *ks, size_t *n)
{
	json_t *b = NULL;
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/.well-known/keys", NULL, "", &b), 200);
	char *text = json_dumps(b, JSON_COMPACT);
	jwt_keyset_init(ks);
	*n = json_array_size(json_object_get(b, "keys"));
	if (*n)
		assert_int_equal(jwt_keyset_add_jwks(ks, text, strlen(text), NULL), 0);
	free(text);
	json_decref(b);
}

static void test_config_and_discovery(void **state)
{
	struct fx *x = *state;
	json_t *b = NULL;

	assert_int_equal(send(x, "POST", "/v1/identity/oidc/config", "{\"issuer\":\"ftp://x\"}", NULL, &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "issuer"));
	json_decref(b);
	assert_int_equal(
	    send(x, "POST", "/v1/identity/oidc/config", "{\"issuer\":\"https://a.example?x=1\"}", NULL, NULL),
	    400);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/config",
	                      "{\"issuer\":\"https://trove.example:8200/\"}", NULL, NULL),
	                 204);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/config", NULL, NULL, &b), 200);
	assert_string_equal(dstr(b, "issuer"), "https://trove.example:8200");
	json_decref(b);
	/* no token needed */
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/.well-known/openid-configuration", NULL, "", &b),
	                 200);
	assert_string_equal(json_string_value(json_object_get(b, "issuer")),
	                    "https://trove.example:8200/v1/identity/oidc");
	assert_string_equal(json_string_value(json_object_get(b, "jwks_uri")),
	                    "https://trove.example:8200/v1/identity/oidc/.well-known/keys");
	assert_int_equal(json_array_size(json_object_get(b, "id_token_signing_alg_values_supported")), 7);
	json_decref(b);
	/* the rest of identity/oidc still needs one */
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/config", NULL, "", NULL), 403);
}

static void test_keys(void **state)
{
	struct fx *x = *state;
	json_t *b = NULL;

	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k1", "{\"algorithm\":\"HS256\"}", NULL, &b),
	                 400);
	assert_non_null(strstr(fixture_first_error(b), "algorithm"));
	json_decref(b);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k1",
	                      "{\"rotation_period\":\"1h\",\"verification_ttl\":\"11h\"}", NULL, NULL),
	                 400);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/key/k1", NULL, NULL, NULL), 404);
	const char *algs[] = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"};
	for (size_t i = 0; i < 7; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"algorithm\":\"%s\",\"allowed_client_ids\":\"*\"}", algs[i]);
		assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k1", body, NULL, NULL), 204);
		assert_int_equal(send(x, "GET", "/v1/identity/oidc/key/k1", NULL, NULL, &b), 200);
		assert_string_equal(dstr(b, "algorithm"), algs[i]);
		char *text = json_dumps(b, 0);
		assert_null(strstr(text, "PRIVATE"));
		assert_null(strstr(text, "private"));
		free(text);
		json_decref(b);
	}
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/key/k1", NULL, NULL, &b), 200);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "data"), "rotation_period")),
	                 86400);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "data"), "verification_ttl")),
	                 86400);
	json_decref(b);
	assert_int_equal(send(x, "LIST", "/v1/identity/oidc/key", NULL, NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(b, "data"), "keys")), 1);
	json_decref(b);
	/* every algorithm change rotated: the old public keys still verify */
	struct jwt_keyset ks;
	size_t n = 0;
	published_keys(x, &ks, &n);
	assert_int_equal(n, 7);
	jwt_keyset_release(&ks);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/key/k1", NULL, NULL, NULL), 204);
}

/* Makes key "k" (alg) and role "r" with tpl; *client_id gets its id. */
static void key_and_role(struct fx *x, const char *alg, const char *clients, const char *tpl, char *client_id)
{
	char body[2048];
	json_t *b = NULL;
	snprintf(body, sizeof(body), "{\"algorithm\":\"%s\",\"allowed_client_ids\":%s}", alg, clients);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k", body, NULL, NULL), 204);
	json_t *r = json_pack("{s:s, s:s, s:s}", "key", "k", "template", tpl, "ttl", "1h");
	char *rt = json_dumps(r, 0);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/role/r", rt, NULL, &b), 204);
	free(rt);
	json_decref(r);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/role/r", NULL, NULL, &b), 200);
	snprintf(client_id, 64, "%s", dstr(b, "client_id"));
	assert_int_equal(strlen(client_id), 24);
	json_decref(b);
}

/* An ID token of role r for the user; NULL when refused (*status). */
static char *get_token(struct fx *x, int want)
{
	json_t *b = NULL;
	char *tok = NULL;
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/token/r", NULL, x->user_token, &b), want);
	if (want == 200)
		tok = strdup(dstr(b, "token"));
	json_decref(b);
	return tok;
}

static void test_token_claims(void **state)
{
	struct fx *x = *state;
	char client_id[64];
	const char *tpl =
	    "{\"team\": {{identity.entity.metadata.team}}, \"meta\": {{ identity.entity.metadata }},"
	    " \"groups\": {{identity.entity.groups.names}}, \"who\": {{identity.entity.name}},"
	    " \"none\": {{identity.entity.metadata.missing}}, \"nbf\": {{time.now.minus.1m}}}";

	assert_int_equal(
	    send(x, "POST", "/v1/identity/oidc/config", "{\"issuer\":\"https://iss.example\"}", NULL, NULL),
	    204);
	key_and_role(x, "RS256", "[\"*\"]", tpl, client_id);
	char *tok = get_token(x, 200);
	struct jwt_keyset ks;
	size_t n = 0;
	published_keys(x, &ks, &n);
	assert_int_equal(n, 1);
	const char *auds[] = {client_id, NULL};
	struct jwt_expect e = {.now = now_s,
	                       .issuer = "https://iss.example/v1/identity/oidc",
	                       .audiences = auds,
	                       .subject = x->entity_id};
	json_t *claims = NULL;
	assert_int_equal(jwt_verify(tok, strlen(tok), &ks, &e, &claims, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(claims, "team")), "blue");
	assert_string_equal(json_string_value(json_object_get(json_object_get(claims, "meta"), "team")),
	                    "blue");
	assert_string_equal(json_string_value(json_array_get(json_object_get(claims, "groups"), 0)), "ops");
	assert_string_equal(json_string_value(json_object_get(claims, "none")), "");
	assert_int_equal(json_integer_value(json_object_get(claims, "nbf")), now_s - 60);
	assert_string_equal(json_string_value(json_object_get(claims, "namespace")), "root");
	assert_int_equal(json_integer_value(json_object_get(claims, "iat")), now_s);
	assert_int_equal(json_integer_value(json_object_get(claims, "exp")), now_s + 3600);
	assert_non_null(json_string_value(json_object_get(claims, "who")));
	json_decref(claims);
	/* a flipped signature byte does not verify */
	tok[strlen(tok) - 3] = tok[strlen(tok) - 3] == 'A' ? 'B' : 'A';
	assert_int_not_equal(jwt_verify(tok, strlen(tok), &ks, &e, &claims, NULL), 0);
	free(tok);
	jwt_keyset_release(&ks);

	/* every algorithm signs a token its JWK verifies */
	const char *algs[] = {"RS384", "RS512", "ES256", "ES384", "ES512", "EdDSA"};
	for (size_t i = 0; i < 6; i++) {
		key_and_role(x, algs[i], "[\"*\"]", "", client_id);
		tok = get_token(x, 200);
		published_keys(x, &ks, &n);
		const char *one[] = {algs[i], NULL};
		struct jwt_expect e2 = {.now = now_s, .algs = one, .audiences = auds};
		assert_int_equal(jwt_verify(tok, strlen(tok), &ks, &e2, &claims, NULL), 0);
		json_decref(claims);
		jwt_keyset_release(&ks);
		free(tok);
	}
	/* the root token has no entity */
	json_t *b = NULL;
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/token/r", NULL, NULL, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "no entity"));
	json_decref(b);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/token/nope", NULL, x->user_token, NULL), 400);
}

/* The alias of the user on userpass: its custom metadata and name reach
 * the token through the alias's mount accessor. */
static void test_alias_claims(void **state)
{
	struct fx *x = *state;
	char client_id[64], path[256], tpl[512];
	json_t *b = NULL;

	snprintf(path, sizeof(path), "/v1/identity/entity/id/%s", x->entity_id);
	assert_int_equal(send(x, "GET", path, NULL, NULL, &b), 200);
	json_t *alias = json_array_get(json_object_get(json_object_get(b, "data"), "aliases"), 0);
	char acc[128], alias_id[64];
	snprintf(acc, sizeof(acc), "%s", json_string_value(json_object_get(alias, "mount_accessor")));
	snprintf(alias_id, sizeof(alias_id), "%s", json_string_value(json_object_get(alias, "id")));
	json_decref(b);
	snprintf(path, sizeof(path), "/v1/identity/entity-alias/id/%s", alias_id);
	assert_in_range(send(x, "POST", path, "{\"custom_metadata\":{\"tier\":\"gold\"}}", NULL, NULL), 200,
	                204);
	snprintf(tpl, sizeof(tpl),
	         "{\"tier\": {{identity.entity.aliases.%s.custom_metadata.tier}},"
	         " \"login\": {{identity.entity.aliases.%s.name}},"
	         " \"other\": {{identity.entity.aliases.auth_none_1.name}}}",
	         acc, acc);
	key_and_role(x, "ES256", "[\"*\"]", tpl, client_id);
	char *tok = get_token(x, 200);
	json_t *claims = NULL;
	struct jwt_keyset ks;
	size_t n = 0;
	published_keys(x, &ks, &n);
	struct jwt_expect e = {
	    .now = now_s, .algs = (const char *const[]){"ES256", NULL}, .allow_unbound_aud = true};
	assert_int_equal(jwt_verify(tok, strlen(tok), &ks, &e, &claims, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(claims, "tier")), "gold");
	assert_string_equal(json_string_value(json_object_get(claims, "login")), "alice");
	assert_string_equal(json_string_value(json_object_get(claims, "other")), "");
	json_decref(claims);
	jwt_keyset_release(&ks);
	free(tok);
}

static void test_client_ids_and_delete(void **state)
{
	struct fx *x = *state;
	char client_id[64], body[256];
	json_t *b = NULL;

	key_and_role(x, "ES256", "[\"someone-else\"]", "", client_id);
	char *t = get_token(x, 400);
	assert_null(t);
	snprintf(body, sizeof(body), "{\"allowed_client_ids\":[\"%s\"]}", client_id);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k", body, NULL, NULL), 204);
	t = get_token(x, 200);
	free(t);
	/* a key in use cannot go */
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/key/k", NULL, NULL, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "referenced by these roles: r"));
	json_decref(b);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/role/r2", "{\"key\":\"missing\"}", NULL, NULL),
	                 400);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/role/r2", "{}", NULL, NULL), 400);
	/* a token may not outlive the key's verification of it (Vault's rule) */
	assert_int_equal(
	    send(x, "POST", "/v1/identity/oidc/role/r2", "{\"key\":\"k\",\"ttl\":\"25h\"}", NULL, &b), 400);
	assert_non_null(strstr(fixture_first_error(b), "verification_ttl"));
	json_decref(b);
	assert_int_equal(send(x, "LIST", "/v1/identity/oidc/role", NULL, NULL, &b), 200);
	assert_int_equal(json_array_size(json_object_get(json_object_get(b, "data"), "keys")), 1);
	json_decref(b);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/role/r", NULL, NULL, NULL), 204);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/key/k", NULL, NULL, NULL), 204);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/key/k", NULL, NULL, NULL), 404);
}

static void test_templates_refused(void **state)
{
	struct fx *x = *state;
	json_t *b = NULL;
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k", "{}", NULL, NULL), 204);
	const char *bad[] = {"{\"iss\":\"me\"}",
	                     "{\"sub\":1}",
	                     "{\"exp\":1}",
	                     "{\"namespace\":\"x\"}",
	                     "[1,2]",
	                     "{\"a\":",
	                     "{\"a\": {{identity.entity.password}}}",
	                     "{\"a\": {{identity.entity.custom_metadata}}}",
	                     "{\"a\": {{identity.entity.id}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *r = json_pack("{s:s, s:s}", "key", "k", "template", bad[i]);
		char *text = json_dumps(r, 0);
		assert_int_equal(send(x, "POST", "/v1/identity/oidc/role/bad", text, NULL, &b), 400);
		assert_non_null(strstr(fixture_first_error(b), "template"));
		json_decref(b);
		free(text);
		json_decref(r);
	}
	/* base64 of a JSON template is taken */
	const char *tpl = "{\"team\": {{identity.entity.metadata.team}}}";
	char *b64 = malloc(base64_encoded_size(strlen(tpl)) + 1);
	base64_encode((const unsigned char *)tpl, strlen(tpl), b64);
	json_t *r = json_pack("{s:s, s:s}", "key", "k", "template", b64);
	char *text = json_dumps(r, 0);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/role/good", text, NULL, NULL), 204);
	assert_int_equal(send(x, "GET", "/v1/identity/oidc/role/good", NULL, NULL, &b), 200);
	assert_string_equal(dstr(b, "template"), tpl);
	json_decref(b);
	free(text);
	free(b64);
	json_decref(r);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/role/good", NULL, NULL, NULL), 204);
}

/* A refusal always has a reason, however long the action it names: an
 * unknown action of 4,000 bytes is quoted in part, one past 4,096 bytes
 * is refused as such (both once left a caller's 4 KiB buffer empty). */
static void test_template_reasons_bounded(void **state)
{
	(void)state;
	for (size_t len = 4000; len <= 5000; len += 1000) {
		char *tpl = malloc(len + 16);
		struct buf err;
		json_t *out = NULL;
		memcpy(tpl, "{\"a\": {{", 8);
		memset(tpl + 8, 'x', len);
		memcpy(tpl + 8 + len, "}}}", 4);
		buf_init(&err, 4096);
		assert_int_equal(oidc_template_render(tpl, NULL, &out, &err), TROVE_ERR_INVALID);
		assert_null(out);
		assert_true(err.len > 0 && err.len < 300);
		assert_non_null(strstr(err.data, len < 4096 ? "unknown action xxx" : "an action longer than 4096 bytes"));
		buf_release(&err);
		free(tpl);
	}
}

static void test_rotation(void **state)
{
	struct fx *x = *state;
	char client_id[64];
	struct jwt_keyset ks;
	size_t n = 0;
	struct mount *holder = NULL;

	key_and_role(x, "ES256", "[\"*\"]", "", client_id);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k",
	                      "{\"rotation_period\":\"1h\",\"verification_ttl\":\"2h\"}", NULL, NULL),
	                 204);
	char *old = get_token(x, 200);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k/rotate", NULL, NULL, NULL), 204);
	published_keys(x, &ks, &n);
	assert_int_equal(n, 2);
	jwt_keyset_release(&ks);
	/* the background job: nothing due yet, then the rotation time comes */
	identity_of_core(x->f.core, &holder);
	assert_non_null(holder);
	identity_oidc_periodic(holder);
	published_keys(x, &ks, &n);
	assert_int_equal(n, 2);
	jwt_keyset_release(&ks);
	now_s += 3600;
	identity_oidc_periodic(holder);
	published_keys(x, &ks, &n);
	assert_int_equal(n, 3);
	jwt_keyset_release(&ks);
	/* the first key's verification ends 2h after its replacement, when
	 * the next rotation is due too: the two later keys and a new one */
	now_s += 3601;
	identity_oidc_periodic(holder);
	published_keys(x, &ks, &n);
	assert_int_equal(n, 3);
	json_t *claims = NULL;
	struct jwt_expect e = {
	    .now = now_s - 7201, .algs = (const char *const[]){"ES256", NULL}, .allow_unbound_aud = true};
	assert_int_equal(jwt_verify(old, strlen(old), &ks, &e, &claims, NULL), TROVE_ERR_NOT_FOUND);
	jwt_keyset_release(&ks);
	mount_release(holder);
	free(old);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/role/r", NULL, NULL, NULL), 204);
	assert_int_equal(send(x, "DELETE", "/v1/identity/oidc/key/k", NULL, NULL, NULL), 204);
}

static void *rotate_five(void *arg)
{
	for (int i = 0; i < 5; i++)
		if (send(arg, "POST", "/v1/identity/oidc/key/k/rotate", NULL, NULL, NULL) != 204)
			return arg;
	return NULL;
}

/* Rotations at once lose none of one another: every replaced public key
 * is still published. */
static void test_concurrent_rotations(void **state)
{
	struct fx *x = *state;
	pthread_t t[4];
	struct jwt_keyset ks;
	size_t n = 0;

	assert_int_equal(send(x, "POST", "/v1/identity/oidc/key/k", "{\"algorithm\":\"ES256\"}", NULL, NULL),
	                 204);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, rotate_five, x), 0);
	for (int i = 0; i < 4; i++) {
		void *failed = NULL;
		pthread_join(t[i], &failed);
		assert_null(failed);
	}
	published_keys(x, &ks, &n);
	assert_int_equal(n, 21);
	jwt_keyset_release(&ks);
}

/* {"active": ...} of introspecting tok with client_id (may be NULL). */
static bool active(struct fx *x, const char *tok, const char *client_id, const char *want_err)
{
	json_t *req = json_pack("{s:s}", "token", tok), *b = NULL;
	if (client_id)
		json_object_set_new(req, "client_id", json_string(client_id));
	char *text = json_dumps(req, 0);
	assert_int_equal(send(x, "POST", "/v1/identity/oidc/introspect", text, NULL, &b), 200);
	bool on = json_is_true(json_object_get(b, "active"));
	if (want_err)
		assert_non_null(strstr(json_string_value(json_object_get(b, "error")), want_err));
	free(text);
	json_decref(req);
	json_decref(b);
	return on;
}

static void test_introspect(void **state)
{
	struct fx *x = *state;
	char client_id[64], path[256];

	key_and_role(x, "RS256", "[\"*\"]", "", client_id);
	char *tok = get_token(x, 200);
	assert_true(active(x, tok, NULL, NULL));
	assert_true(active(x, tok, client_id, NULL));
	assert_false(active(x, tok, "another-client", NULL));
	assert_false(active(x, "not.a.token", NULL, NULL));
	/* the entity disabled, then enabled */
	snprintf(path, sizeof(path), "/v1/identity/entity/id/%s", x->entity_id);
	assert_in_range(send(x, "POST", path, "{\"disabled\":true}", NULL, NULL), 200, 204);
	assert_false(active(x, tok, NULL, "disabled"));
	assert_in_range(send(x, "POST", path, "{\"disabled\":false}", NULL, NULL), 200, 204);
	assert_true(active(x, tok, NULL, NULL));
	/* expired */
	now_s += 3601;
	assert_false(active(x, tok, NULL, NULL));
	now_s -= 3601;
	/* the entity gone */
	assert_int_equal(send(x, "DELETE", path, NULL, NULL, NULL), 204);
	assert_false(active(x, tok, NULL, "entity"));
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_config_and_discovery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_token_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_alias_claims, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_client_ids_and_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_templates_refused, setup, teardown),
	    cmocka_unit_test(test_template_reasons_bounded),
	    cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_introspect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_rotations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
