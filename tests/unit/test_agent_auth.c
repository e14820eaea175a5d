/* test_agent_auth.c — the agent's auto-auth below its thread: the backoff
 * and the renewal schedule, each method's config checks and their
 * messages, the login requests built from credentials files, the sinks'
 * config checks, the atomic file write with its mode, and the curve25519
 * envelope against a vector computed independently with Python's
 * cryptography package (X25519, HKDF-SHA256, AES-GCM). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/auth_method.h"
#include "agent/auto_auth.h"
#include "agent/sink.h"
#include "encoding.h"
#include "api/transport.h"
#include "err.h"

/* --- fixtures -------------------------------------------------------------- */

static char tmpdir[] = "/tmp/test_agent_auth.XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static char *tmp_path(const char *name)
{
	static char p[4][256];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", tmpdir, name);
	return p[i];
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_all(const char *path)
{
	static char text[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* A method block "type" at agent.hcl:3 whose config keys sit on lines 4, 5, ... */
struct method_fixture {
	struct agent_method_config cfg;
	struct agent_kv kv[8];
};

static void method_init(struct method_fixture *f, const char *type, const char *const *kv)
{
	memset(f, 0, sizeof(*f));
	f->cfg.type = (char *)type;
	f->cfg.where = (char *)"agent.hcl:3";
	for (size_t i = 0; kv && kv[2 * i]; i++) {
		f->kv[i].key = (char *)kv[2 * i];
		f->kv[i].value = (char *)kv[2 * i + 1];
		f->kv[i].line = 4 + (int)i;
		f->cfg.config.len++;
	}
	f->cfg.config.items = f->kv;
}

/* auth_method_new's error for the block, or NULL when it was accepted. */
static char *method_error(const char *type, const char *const *kv)
{
	static char msg[1024];
	struct method_fixture f;
	struct auth_method *m = NULL;
	struct buf err;
	int r;

	method_init(&f, type, kv);
	buf_init(&err, 4096);
	r = auth_method_new(&f.cfg, &m, &err);
	snprintf(msg, sizeof(msg), "%s", err.data);
	buf_release(&err);
	auth_method_free(m);
	if (r == 0)
		return NULL;
	assert_int_equal(r, TROVE_ERR_INVALID);
	return msg;
}

/* --- the schedule ------------------------------------------------------------ */

static void test_backoff_bounds_and_jitter(void **state)
{
	struct auto_auth_backoff b;

	(void)state;
	auto_auth_backoff_init(&b, 1000, 8000);
	assert_int_equal(auto_auth_backoff_next(&b), 1000);
	for (int round = 0; round < 200; round++) {
		long prev = b.cur_ms, w;
		long doubled = 2 * prev > 8000 ? 8000 : 2 * prev;

		w = auto_auth_backoff_next(&b);
		assert_int_equal(w, prev);
		/* the next wait: doubled and capped, less 0-25 % */
		assert_true(b.cur_ms <= doubled);
		assert_true(b.cur_ms >= doubled - doubled / 4);
		assert_true(b.cur_ms >= 1000 && b.cur_ms <= 8000);
	}
	/* at the cap the waits stay within [6000, 8000] and vary */
	long lo = 8000, hi = 0;
	for (int i = 0; i < 200; i++) {
		long w = auto_auth_backoff_next(&b);
		lo = w < lo ? w : lo;
		hi = w > hi ? w : hi;
	}
	assert_true(lo >= 6000 && hi <= 8000 && lo < hi);
	auto_auth_backoff_reset(&b);
	assert_int_equal(auto_auth_backoff_next(&b), 1000);
	/* Vault's defaults */
	auto_auth_backoff_init(&b, 0, 0);
	assert_int_equal(b.min_ms, 1000);
	assert_int_equal(b.max_ms, 300000);
}

static void test_renewal_schedule(void **state)
{
	struct auto_auth_renewal p;

	(void)state;
	/* TTL 4 s, no jitter: grace 400 ms; renew after 2/3 of 4 s plus a third of the grace */
	auto_auth_renewal_init(&p, 4000, 0);
	assert_int_equal(p.grace_ms, 400);
	assert_int_equal(auto_auth_renewal_next(&p, 4000, 0), 2666 + 133);
	/* a renewal capped by the max TTL (1.4 s left): a new login instead */
	assert_int_equal(auto_auth_renewal_next(&p, 1400, 0), -1);
	/* the jitter keeps the grace within 10-20 % of the lease */
	for (uint64_t rnd = 0; rnd < 1000; rnd += 37) {
		auto_auth_renewal_init(&p, 60000, rnd * 7919);
		assert_true(p.grace_ms >= 6000 && p.grace_ms < 12000);
		int64_t s = auto_auth_renewal_next(&p, 60000, rnd);
		assert_true(s >= 40000 + 2000 && s < 40000 + 4000);
	}
	/* a longer TTL than before draws the grace again from it */
	auto_auth_renewal_init(&p, 1000, 0);
	assert_int_equal(auto_auth_renewal_next(&p, 100000, 0), 66666 + 3333);
	assert_int_equal(p.grace_ms, 10000);
	/* no TTL left: a new login */
	auto_auth_renewal_init(&p, 10000, 0);
	assert_int_equal(auto_auth_renewal_next(&p, 0, 0), -1);
}

/* --- methods ------------------------------------------------------------------ */

static void test_method_config_checks(void **state)
{
	(void)state;
	const char *const ok_approle[] = {"role_id_file_path", "/r", "secret_id_file_path", "/s", NULL};
	assert_null(method_error("approle", ok_approle));

	const char *const no_role_id[] = {"secret_id_file_path", "/s", NULL};
	assert_string_equal(method_error("approle", no_role_id),
	                    "agent.hcl:3: auto_auth method \"approle\": key \"role_id_file_path\": missing (it is required)");

	const char *const unknown[] = {"role_id_file_path", "/r", "role_id", "x", NULL};
	assert_string_equal(method_error("approle", unknown),
	                    "agent.hcl:5: auto_auth method \"approle\": key \"role_id\": unknown key for this method");

	const char *const bad_bool[] = {"role_id_file_path", "/r", "remove_secret_id_file_after_reading", "maybe", NULL};
	assert_string_equal(method_error("approle", bad_bool),
	                    "agent.hcl:5: auto_auth method \"approle\": key \"remove_secret_id_file_after_reading\": "
	                    "\"maybe\" is not a boolean");

	const char *const empty_wrap[] = {"role_id_file_path", "/r", "secret_id_response_wrapping_path", "", NULL};
	assert_non_null(strstr(method_error("approle", empty_wrap), "key \"secret_id_response_wrapping_path\": is empty"));

	assert_string_equal(method_error("kubernetes", NULL),
	                    "agent.hcl:3: auto_auth method \"kubernetes\": key \"role\": missing (it is required)");
	const char *const k8s[] = {"role", "web", "token_path", "/t", NULL};
	assert_null(method_error("kubernetes", k8s));

	const char *const jwt_no_path[] = {"role", "web", NULL};
	assert_non_null(strstr(method_error("jwt", jwt_no_path), "key \"path\": missing"));
	const char *const jwt_period[] = {"role", "web", "path", "/j", "jwt_read_period", "soon", NULL};
	assert_non_null(strstr(method_error("jwt", jwt_period), "agent.hcl:6: auto_auth method \"jwt\": key "
	                                                        "\"jwt_read_period\": \"soon\" is not a duration"));

	const char *const ec2[] = {"type", "ec2", "role", "r", NULL};
	assert_string_equal(method_error("aws", ec2), "agent.hcl:4: auto_auth method \"aws\": key \"type\": \"ec2\" is not "
	                                              "supported by Trove's agent; use \"iam\"");
	const char *const half_keys[] = {"type", "iam", "role", "r", "access_key", "AKID", NULL};
	assert_non_null(strstr(method_error("aws", half_keys), "key \"secret_key\": access_key and secret_key go together"));
	const char *const iam[] = {"type", "iam", "role", "r", "region", "eu-west-1", "header_value", "v", NULL};
	assert_null(method_error("aws", iam));

	const char *const half_cert[] = {"client_cert", "/c.pem", NULL};
	assert_non_null(strstr(method_error("cert", half_cert), "key \"client_key\": client_cert and client_key go together"));
	assert_null(method_error("cert", NULL));

	assert_string_equal(method_error("token_file", NULL),
	                    "agent.hcl:3: auto_auth method \"token_file\": key \"token_file_path\": missing (it is required)");

	assert_non_null(strstr(method_error("ldap", NULL), "agent.hcl:3: auto_auth method \"ldap\": unknown method type"));
}

static void test_approle_login_reads_and_removes_the_secret_id(void **state)
{
	(void)state;
	char *role = tmp_path("role_id"), *secret = tmp_path("secret_id");
	const char *const kv[] = {"role_id_file_path", role, "secret_id_file_path", secret, NULL};
	struct method_fixture f;
	struct auth_method *m = NULL;
	struct auth_login l;
	struct buf err;

	write_file(role, "  role-123\n");
	write_file(secret, "secret-456\n");
	method_init(&f, "approle", kv);
	f.cfg.mount_path = (char *)"auth/ar/";
	buf_init(&err, 4096);
	assert_int_equal(auth_method_new(&f.cfg, &m, &err), 0);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), 0);
	assert_string_equal(l.path, "auth/ar/login");
	assert_string_equal(json_string_value(json_object_get(l.body, "role_id")), "role-123");
	assert_string_equal(json_string_value(json_object_get(l.body, "secret_id")), "secret-456");
	auth_login_release(&l);
	/* removed after reading (Vault's default), and remembered */
	assert_int_equal(access(secret, F_OK), -1);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), 0);
	assert_string_equal(json_string_value(json_object_get(l.body, "secret_id")), "secret-456");
	auth_login_release(&l);
	auth_method_free(m);

	/* without a cached value a missing role ID file is an error naming it */
	const char *const none[] = {"role_id_file_path", tmp_path("absent"), NULL};
	method_init(&f, "approle", none);
	assert_int_equal(auth_method_new(&f.cfg, &m, &err), 0);
	buf_reset(&err);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), TROVE_ERR_NOT_FOUND);
	assert_non_null(strstr(err.data, "no role ID known"));
	assert_non_null(strstr(err.data, "absent is missing"));
	auth_method_free(m);
	buf_release(&err);
}

static void test_jwt_kubernetes_and_token_file_logins(void **state)
{
	(void)state;
	char *jwt = tmp_path("jwt"), *sa = tmp_path("sa_token"), *tok = tmp_path("token");
	struct method_fixture f;
	struct auth_method *m = NULL;
	struct auth_login l;
	struct buf err;

	buf_init(&err, 4096);
	write_file(jwt, "eyJ.a.b\n");
	const char *const jkv[] = {"role", "dev", "path", jwt, NULL};
	method_init(&f, "jwt", jkv);
	assert_int_equal(auth_method_new(&f.cfg, &m, &err), 0);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), 0);
	assert_string_equal(l.path, "auth/jwt/login");
	assert_string_equal(json_string_value(json_object_get(l.body, "jwt")), "eyJ.a.b");
	assert_string_equal(json_string_value(json_object_get(l.body, "role")), "dev");
	auth_login_release(&l);
	assert_int_equal(access(jwt, F_OK), -1); /* removed after reading */
	auth_method_free(m);

	write_file(sa, "k8s.jwt.value");
	const char *const kkv[] = {"role", "web", "token_path", sa, NULL};
	method_init(&f, "kubernetes", kkv);
	assert_int_equal(auth_method_new(&f.cfg, &m, &err), 0);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), 0);
	assert_string_equal(json_string_value(json_object_get(l.body, "jwt")), "k8s.jwt.value");
	auth_login_release(&l);
	assert_int_equal(access(sa, F_OK), 0); /* the service account token stays */
	unlink(sa);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), TROVE_ERR_NOT_FOUND);
	assert_non_null(strstr(err.data, "does not exist"));
	auth_method_free(m);

	write_file(tok, "s.file-token\n");
	const char *const tkv[] = {"token_file_path", tok, NULL};
	method_init(&f, "token_file", tkv);
	assert_int_equal(auth_method_new(&f.cfg, &m, &err), 0);
	assert_int_equal(auth_method_login(m, NULL, &l, &err), 0);
	assert_true(l.lookup_self);
	assert_string_equal(l.token, "s.file-token");
	auth_login_release(&l);
	auth_method_free(m);
	buf_release(&err);
}

static void test_secret_file_limits(void **state)
{
	(void)state;
	char *big = tmp_path("big"), *link = tmp_path("link");
	struct buf v, err;
	FILE *f = fopen(big, "w");

	assert_non_null(f);
	for (int i = 0; i < 70 * 1024; i++)
		fputc('a', f);
	fclose(f);
	buf_init_secret(&v, 1 << 20);
	buf_init(&err, 4096);
	assert_int_equal(auth_read_secret_file(big, false, &v, &err), TROVE_ERR_TOO_LARGE);
	assert_int_equal(v.len, 0);
	write_file(big, "small");
	assert_int_equal(symlink(big, link), 0);
	assert_int_equal(auth_read_secret_file(link, false, &v, &err), 0);
	assert_string_equal(v.data, "small");
	assert_int_not_equal(auth_read_secret_file(link, true, &v, &err), 0);
	assert_int_equal(auth_read_secret_file(tmpdir, false, &v, &err), TROVE_ERR_IO);
	assert_non_null(strstr(err.data, "not a regular file"));
	buf_release_secret(&v);
	buf_release(&err);
}

/* --- sinks ---------------------------------------------------------------------- */

static char *sink_error(struct agent_sink_config *cfg)
{
	static char msg[1024];
	struct sink *s = NULL;
	struct buf err;
	int r;

	buf_init(&err, 4096);
	r = sink_new(cfg, &s, &err);
	snprintf(msg, sizeof(msg), "%s", err.data);
	buf_release(&err);
	sink_free(s);
	return r == 0 ? NULL : msg;
}

static void test_sink_config_checks(void **state)
{
	(void)state;
	struct agent_kv kv[3] = {{(char *)"path", (char *)"/tmp/x", 8}, {(char *)"mode", (char *)"0640", 9}};
	struct agent_sink_config c;

	memset(&c, 0, sizeof(c));
	c.type = (char *)"file";
	c.where = (char *)"agent.hcl:7";
	c.config.items = kv;
	c.config.len = 2;
	assert_null(sink_error(&c));
	kv[1].value = (char *)"0999";
	assert_string_equal(sink_error(&c), "agent.hcl:9: auto_auth sink \"file\": key \"mode\": \"0999\" is not a file mode");
	kv[1].value = (char *)"416";
	assert_null(sink_error(&c));
	kv[1].key = (char *)"owner";
	assert_string_equal(sink_error(&c), "agent.hcl:9: auto_auth sink \"file\": key \"owner\": unknown key for this sink");
	kv[1].key = (char *)"mode";
	c.config.len = 0;
	assert_string_equal(sink_error(&c), "agent.hcl:7: auto_auth sink \"file\": key \"path\": missing (it is required)");
	c.config.len = 2;
	c.aad = (char *)"x";
	assert_string_equal(sink_error(&c), "agent.hcl:7: auto_auth sink \"file\": key \"aad\": needs dh_type");
	c.aad = NULL;
	c.derive_key = true;
	assert_string_equal(sink_error(&c), "agent.hcl:7: auto_auth sink \"file\": key \"derive_key\": needs dh_type");
	c.dh_type = (char *)"curve25519";
	assert_string_equal(sink_error(&c),
	                    "agent.hcl:7: auto_auth sink \"file\": key \"dh_path\": dh_type and dh_path go together");
	c.dh_path = (char *)"/k.json";
	assert_null(sink_error(&c));
	c.dh_type = (char *)"p256";
	assert_non_null(strstr(sink_error(&c), "\"p256\" is not a DH type"));
	c.dh_type = (char *)"curve25519";
	c.type = (char *)"inmem";
	assert_string_equal(sink_error(&c), "agent.hcl:7: auto_auth sink \"inmem\": unknown sink type (want file)");
}

static void test_sink_file_is_atomic_with_its_mode(void **state)
{
	(void)state;
	char *path = tmp_path("sink"), *nodir = tmp_path("nodir/sink");
	struct buf err;
	struct stat st;
	mode_t old = umask(0077);

	buf_init(&err, 4096);
	/* the mode is the sink's whatever the umask */
	assert_int_equal(sink_file_write(path, 0644, (uid_t)-1, (gid_t)-1, "tok-1", 5, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_string_equal(read_all(path), "tok-1");
	assert_int_equal(sink_file_write(path, 0600, (uid_t)-1, (gid_t)-1, "tok-2", 5, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_string_equal(read_all(path), "tok-2");
	umask(old);
	/* a failure names the path and leaves the old file alone */
	assert_int_equal(sink_file_write(nodir, 0600, (uid_t)-1, (gid_t)-1, "x", 1, &err), TROVE_ERR_IO);
	assert_non_null(strstr(err.data, "cannot create"));
	assert_string_equal(read_all(path), "tok-2");
	/* no temporary file is left behind */
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -q '\\.tmp\\.'", tmpdir);
	assert_int_not_equal(system(cmd), 0);
	buf_release(&err);
}

/* The vector: agent private key bytes 1..32, peer private key 101..132,
 * nonce 200..211, plaintext "s.agenttoken", aad "the-aad"; envelopes as
 * Python's cryptography package computes them. */
static const char peer_pub_b64[] = "VxR2nRFr92Q2rnS8eT0sMK0ZA8WaxSc4BcfiaYtBDDY=";
static const char want_raw[] = "{\"curve25519_public_key\":\"B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=\","
                               "\"nonce\":\"yMnKy8zNzs/Q0dLT\",\"encrypted_payload\":"
                               "\"yREX3PpAtrrY4AqkmfBtxXmrori7yX4h7mcenQ==\"}\n";
static const char want_derived[] = "{\"curve25519_public_key\":\"B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=\","
                                   "\"nonce\":\"yMnKy8zNzs/Q0dLT\",\"encrypted_payload\":"
                                   "\"lpVD3TRF9cjw49GMgzOH/XyY4IegezNVMD/X1A==\"}\n";

static void test_dh_envelope_matches_the_vector(void **state)
{
	(void)state;
	unsigned char priv[32], peer[32], nonce[12];
	size_t n;
	struct buf out, err;
	char *key = tmp_path("peer.json");

	for (int i = 0; i < 32; i++)
		priv[i] = (unsigned char)(1 + i);
	for (int i = 0; i < 12; i++)
		nonce[i] = (unsigned char)(200 + i);
	write_file(key, "{\"curve25519_public_key\": \"VxR2nRFr92Q2rnS8eT0sMK0ZA8WaxSc4BcfiaYtBDDY=\"}");
	buf_init(&err, 4096);
	assert_int_equal(sink_dh_read_peer(key, peer, &err), 0);
	unsigned char direct[32];
	assert_int_equal(base64_decode(peer_pub_b64, strlen(peer_pub_b64), direct, sizeof(direct), &n), 0);
	assert_memory_equal(peer, direct, 32);

	buf_init_secret(&out, 1 << 16);
	assert_int_equal(sink_dh_seal(priv, peer, false, "the-aad", nonce, "s.agenttoken", 12, &out, &err), 0);
	assert_string_equal(out.data, want_raw);
	buf_reset(&out);
	assert_int_equal(sink_dh_seal(priv, peer, true, "the-aad", nonce, "s.agenttoken", 12, &out, &err), 0);
	assert_string_equal(out.data, want_derived);
	/* another aad gives another tag */
	buf_reset(&out);
	assert_int_equal(sink_dh_seal(priv, peer, true, "other", nonce, "s.agenttoken", 12, &out, &err), 0);
	assert_string_not_equal(out.data, want_derived);
	buf_release_secret(&out);

	/* a key file without the member, or with a short key, is refused naming the file */
	write_file(key, "{\"curve25519public_key\": \"VxR2nRFr92Q2rnS8eT0sMK0ZA8WaxSc4BcfiaYtBDDY=\"}");
	assert_int_equal(sink_dh_read_peer(key, peer, &err), TROVE_ERR_INVALID);
	assert_non_null(strstr(err.data, "peer.json holds no \"curve25519_public_key\""));
	write_file(key, "{\"curve25519_public_key\": \"AAAA\"}");
	assert_int_equal(sink_dh_read_peer(key, peer, &err), TROVE_ERR_INVALID);
	buf_release(&err);

	/* a fresh key pair has a public key that matches its private key */
	unsigned char p2[32], pub2[32];
	assert_int_equal(sink_dh_keypair(p2, pub2), 0);
	assert_memory_not_equal(p2, pub2, 32);
}

static void test_wrap_info_json_as_vault_writes_it(void **state)
{
	(void)state;
	json_t *answer = json_pack("{s:{s:s, s:s, s:i, s:s, s:s}}", "wrap_info", "token", "hvs.wrap", "accessor", "acc",
	                           "ttl", 300, "creation_time", "2026-12-06T16:00:00.123Z", "creation_path",
	                           "auth/approle/login");
	struct buf out;

	buf_init_secret(&out, 1 << 16);
	assert_int_equal(sink_wrap_info_json(answer, &out), 0);
	assert_string_equal(out.data, "{\"token\":\"hvs.wrap\",\"accessor\":\"acc\",\"ttl\":300,\"creation_time\":"
	                              "\"2026-12-06T16:00:00.123Z\",\"creation_path\":\"auth/approle/login\","
	                              "\"wrapped_accessor\":\"\"}\n");
	json_decref(answer);
	answer = json_pack("{s:{}}", "auth");
	assert_int_equal(sink_wrap_info_json(answer, &out), TROVE_ERR_INVALID);
	json_decref(answer);
	buf_release_secret(&out);
}

/* --- the thread, against a scripted server ------------------------------------ */

/* Answers logins with tok-1, tok-2, ... (or 400 when refuse_login), and
 * renew-self with the same token; records the namespace header seen. */
struct fake_server {
	pthread_mutex_t mu;
	int logins, renewals;
	bool refuse_login;
	bool saw_namespace;
};

static int fake_send(void *ctx, const struct api_wire *w, struct api_response *resp)
{
	struct fake_server *f = ctx;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < w->headers->len; i++)
		if (strcmp(w->headers->items[i], "X-Vault-Namespace: team-a") == 0)
			f->saw_namespace = true;
	if (strstr(w->url, "/v1/auth/approle/login")) {
		if (f->refuse_login) {
			resp->status = 400;
			buf_append_str(&resp->body, "{\"errors\":[\"invalid role or secret ID\"]}");
		} else {
			resp->status = 200;
			buf_printf(&resp->body, "{\"auth\":{\"client_token\":\"tok-%d\",\"lease_duration\":3600,"
			                        "\"renewable\":true}}", ++f->logins);
		}
	} else {
		resp->status = 404;
		buf_append_str(&resp->body, "{\"errors\":[]}");
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}

struct thread_fixture {
	struct agent_config cfg;
	struct agent a;
	struct fake_server fake;
	struct api_transport transport;
	char sink[256];
};

/* Loads an approle agent.hcl with one sink (and extra top-level and
 * method text) and starts auto-auth against the fake server. */
static void thread_start(struct thread_fixture *t, const char *top, const char *method_extra, bool refuse_login)
{
	char text[2048];
	struct buf err;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->fake.mu, NULL);
	t->fake.refuse_login = refuse_login;
	write_file(tmp_path("t_role"), "r1");
	write_file(tmp_path("t_secret"), "s1");
	snprintf(t->sink, sizeof(t->sink), "%s", tmp_path("t_sink"));
	unlink(t->sink);
	snprintf(text, sizeof(text),
	         "%s\nvault {\n address = \"http://127.0.0.1:9\"\n}\n"
	         "auto_auth {\n method \"approle\" {\n  namespace = \"team-a\"\n  min_backoff = \"1s\"\n  %s\n"
	         "  config = {\n   role_id_file_path = \"%s\"\n   secret_id_file_path = \"%s\"\n"
	         "   remove_secret_id_file_after_reading = false\n  }\n }\n"
	         " sink \"file\" {\n  config = { path = \"%s\" }\n }\n}\n",
	         top, method_extra, tmp_path("t_role"), tmp_path("t_secret"), t->sink);
	buf_init(&err, 4096);
	agent_config_init(&t->cfg);
	assert_int_equal(agent_config_load_text(&t->cfg, "agent.hcl", text, strlen(text), false, &err), 0);
	assert_int_equal(agent_init(&t->a, &t->cfg, &err), 0);
	t->transport.send = fake_send;
	t->transport.ctx = &t->fake;
	t->a.api.transport = &t->transport;
	assert_int_equal(auto_auth_start(&t->a, &err), 0);
	buf_release(&err);
}

static void thread_stop(struct thread_fixture *t)
{
	agent_request_stop(&t->a, 0);
	auto_auth_stop(&t->a);
	assert_null(t->a.auth);
	agent_release(&t->a);
	agent_config_release(&t->cfg);
	pthread_mutex_destroy(&t->fake.mu);
}

static void test_thread_relogs_in_when_a_part_reports_the_token_invalid(void **state)
{
	(void)state;
	struct thread_fixture t;
	uint64_t gen = 0, gen2 = 0;
	char *tok;

	thread_start(&t, "", "", false);
	tok = agent_token_wait(&t.a, 0, 5000, &gen);
	assert_non_null(tok);
	assert_string_equal(tok, "tok-1");
	free(tok);
	for (int i = 0; i < 100 && !(read_all(t.sink) && strcmp(read_all(t.sink), "tok-1") == 0); i++)
		usleep(20000);
	assert_string_equal(read_all(t.sink), "tok-1");
	/* a part saw a 403 with it: a new login, a new token published and written */
	agent_token_report_invalid(&t.a, gen);
	tok = agent_token_wait(&t.a, gen, 5000, &gen2);
	assert_non_null(tok);
	assert_string_equal(tok, "tok-2");
	assert_true(gen2 > gen);
	free(tok);
	for (int i = 0; i < 100 && strcmp(read_all(t.sink), "tok-2") != 0; i++)
		usleep(20000);
	assert_string_equal(read_all(t.sink), "tok-2");
	/* a report about an older token changes nothing */
	agent_token_report_invalid(&t.a, gen);
	assert_true(agent_sleep(&t.a, 300));
	pthread_mutex_lock(&t.fake.mu);
	assert_int_equal(t.fake.logins, 2);
	assert_true(t.fake.saw_namespace);
	pthread_mutex_unlock(&t.fake.mu);
	thread_stop(&t);
	assert_int_equal(t.a.exit_code, 0);
}

static void test_thread_exit_after_auth_and_exit_on_err(void **state)
{
	(void)state;
	struct thread_fixture t;

	/* exit_after_auth without templates: stops with 0 once the sink is written */
	thread_start(&t, "exit_after_auth = true", "", false);
	for (int i = 0; i < 250 && agent_sleep(&t.a, 20); i++)
		;
	assert_true(agent_stopping(&t.a));
	assert_int_equal(t.a.exit_code, 0);
	assert_string_equal(read_all(t.sink), "tok-1");
	thread_stop(&t);

	/* exit_on_err: a refused login ends the agent with 1, nothing written */
	thread_start(&t, "", "exit_on_err = true", true);
	for (int i = 0; i < 250 && agent_sleep(&t.a, 20); i++)
		;
	assert_true(agent_stopping(&t.a));
	assert_int_equal(t.a.exit_code, 1);
	assert_null(read_all(t.sink));
	assert_null(agent_token_wait(&t.a, 0, 0, NULL));
	thread_stop(&t);
	assert_int_equal(t.a.exit_code, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backoff_bounds_and_jitter),
	    cmocka_unit_test(test_renewal_schedule),
	    cmocka_unit_test(test_method_config_checks),
	    cmocka_unit_test(test_approle_login_reads_and_removes_the_secret_id),
	    cmocka_unit_test(test_jwt_kubernetes_and_token_file_logins),
	    cmocka_unit_test(test_secret_file_limits),
	    cmocka_unit_test(test_sink_config_checks),
	    cmocka_unit_test(test_sink_file_is_atomic_with_its_mode),
	    cmocka_unit_test(test_dh_envelope_matches_the_vector),
	    cmocka_unit_test(test_wrap_info_json_as_vault_writes_it),
	    cmocka_unit_test(test_thread_relogs_in_when_a_part_reports_the_token_invalid),
	    cmocka_unit_test(test_thread_exit_after_auth_and_exit_on_err),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
