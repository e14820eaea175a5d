/* Request forwarding's pure parts and the cluster identity: the
 * forwarded-client header, which headers never cross a hop, the cluster
 * certificate's storage form, and the pinned mutual TLS between two
 * nodes (an in-memory handshake). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/background.h"
#include "core/mount.h"
#include "core/scheduler.h"
#include "core_fixture.h"
#include "err.h"
#include "server/cluster_id.h"
#include "server/forward.h"
#include "server/forward_client.h"
#include "storage/storage.h"

static void t_client_header_round_trip(void **state)
{
	(void)state;
	char v[FORWARD_CLIENT_MAX], addr[64];
	int port = -1;
	size_t n = forward_client_format("10.1.2.3", 8200, v, sizeof(v));
	assert_int_equal(n, strlen("10.1.2.3:8200"));
	assert_string_equal(v, "10.1.2.3:8200");
	assert_int_equal(forward_client_parse(v, n, addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "10.1.2.3");
	assert_int_equal(port, 8200);

	n = forward_client_format("::1", 0, v, sizeof(v));
	assert_string_equal(v, "[::1]:0");
	assert_int_equal(forward_client_parse(v, n, addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 0);
	/* the canonical form comes out whatever the spelling */
	assert_int_equal(forward_client_parse("[0:0::0:1]:65535", 16, addr, sizeof(addr), &port), 0);
	assert_string_equal(addr, "::1");
	assert_int_equal(port, 65535);

	/* nothing to format */
	assert_int_equal(forward_client_format("", 1, v, sizeof(v)), 0);
	assert_int_equal(forward_client_format("host.example", 1, v, sizeof(v)), 0);
	assert_int_equal(forward_client_format("10.0.0.1", 70000, v, sizeof(v)), 0);
	assert_int_equal(forward_client_format("10.0.0.1", 1, v, 5), 0);
}

static void t_client_header_refuses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "",
	    "10.0.0.1",
	    "10.0.0.1:",
	    ":80",
	    "10.0.0.1:65536",
	    "10.0.0.1:-1",
	    "10.0.0.1:+80",
	    "10.0.0.1:8a",
	    " 10.0.0.1:80",
	    "10.0.0.1 :80",
	    "host:80",
	    "::1:80",
	    "[::1:80",
	    "[10.0.0.1]:80",
	    "[]:80",
	    "10.0.0.1:80, 10.0.0.2:80",
	    "10.0.0.1:000080",
	    "[::1]:80\r\nX: y",
	    "999.0.0.1:80",
	    "[::1]]:80",
	    "[aaaa:bbbb:cccc:dddd:eeee:ffff:0000:1111:2222:3333:4444:5555:6666]:80",
	};
	char addr[64];
	int port = 7;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (forward_client_parse(bad[i], strlen(bad[i]), addr, sizeof(addr), &port) !=
		    TROVE_ERR_INVALID)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(port, 7);
	/* the length counts, not a NUL */
	assert_int_equal(forward_client_parse("10.0.0.1:80\0"
	                                      "1",
	                                      13, addr, sizeof(addr), &port),
	                 TROVE_ERR_INVALID);
	assert_int_equal(forward_client_parse("10.0.0.1:801", 11, addr, sizeof(addr), &port), 0);
	assert_int_equal(port, 80);
}

static void t_hop_headers(void **state)
{
	(void)state;
	static const char *const hop[] = {"host",
	                                  "content-length",
	                                  "Transfer-Encoding",
	                                  "connection",
	                                  "keep-alive",
	                                  "te",
	                                  "trailer",
	                                  "upgrade",
	                                  "expect",
	                                  "proxy-connection",
	                                  "X-Trove-Forwarded-For"};
	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		assert_true(forward_hop_header(hop[i], strlen(hop[i])));
	static const char *const pass[] = {"x-vault-token",
	                                   "x-vault-index",
	                                   "x-vault-wrap-ttl",
	                                   "content-type",
	                                   "authorization",
	                                   "x-vault-namespace",
	                                   "t",
	                                   "tee",
	                                   "hostname"};
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		assert_false(forward_hop_header(pass[i], strlen(pass[i])));
	assert_false(forward_hop_header("content-length", 7)); /* "content" */
}

static void t_identity_stored_form(void **state)
{
	(void)state;
	struct cluster_id *a = NULL, *b = NULL, *again = NULL;
	struct buf va, vb;
	buf_init_secret(&va, 1 << 16);
	buf_init_secret(&vb, 1 << 16);
	assert_int_equal(cluster_id_make(&a, &va), 0);
	assert_int_equal(cluster_id_make(&b, &vb), 0);
	assert_int_equal(EVP_PKEY_get_bits(a->key), 256);
	assert_true(cluster_id_matches(a, a->cert));
	assert_false(cluster_id_matches(a, b->cert));
	assert_false(cluster_id_matches(a, NULL));
	assert_int_equal(cluster_id_parse((unsigned char *)va.data, va.len, &again), 0);
	assert_true(cluster_id_matches(again, a->cert));
	assert_memory_equal(again->der, a->der, a->der_len);
	cluster_id_put(again);
	again = NULL;

	/* a certificate with another node's key, garbage, missing fields */
	json_t *da = json_loadb(va.data, va.len, 0, NULL), *db = json_loadb(vb.data, vb.len, 0, NULL);
	json_object_set(da, "key", json_object_get(db, "key"));
	char *mixed = json_dumps(da, JSON_COMPACT);
	assert_int_equal(cluster_id_parse((unsigned char *)mixed, strlen(mixed), &again), TROVE_ERR_INVALID);
	free(mixed);
	assert_int_equal(cluster_id_parse((const unsigned char *)"{}", 2, &again), TROVE_ERR_INVALID);
	assert_int_equal(cluster_id_parse((const unsigned char *)"not json", 8, &again), TROVE_ERR_INVALID);
	assert_int_equal(cluster_id_parse((const unsigned char *)"{\"cert\":1,\"key\":2}", 18, &again),
	                 TROVE_ERR_INVALID);
	assert_null(again);
	json_decref(da);
	json_decref(db);
	cluster_id_put(a);
	cluster_id_put(b);
	buf_release(&va);
	buf_release(&vb);
}

/* A handshake between a client and a server SSL over a BIO pair. */
static bool handshake(SSL_CTX *server, SSL_CTX *client)
{
	SSL *s = SSL_new(server), *c = SSL_new(client);
	BIO *bs = NULL, *bc = NULL;
	BIO_new_bio_pair(&bs, 0, &bc, 0);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	SSL_set_verify(c, SSL_VERIFY_PEER, NULL); /* as the native transport does */
	int rs = 0, rc = 0;
	for (int i = 0; i < 50 && (rs != 1 || rc != 1); i++) {
		if (rc != 1 && (rc = SSL_do_handshake(c)) <= 0 && SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
			break;
		if (rs != 1 && (rs = SSL_do_handshake(s)) <= 0 && SSL_get_error(s, rs) != SSL_ERROR_WANT_READ)
			break;
	}
	/* TLS 1.3: the server judges the client's certificate after the
	 * client's side is done; one exchange of application data tells */
	bool ok = rs == 1 && rc == 1;
	if (ok) {
		char b[4];
		size_t n = 0;
		ok = SSL_write_ex(c, "ping", 4, &n) == 1 && SSL_read_ex(s, b, sizeof(b), &n) == 1 && n == 4;
	}
	SSL_free(s);
	SSL_free(c);
	ERR_clear_error();
	return ok;
}

static void t_identity_in_storage_and_pinned_tls(void **state)
{
	(void)state;
	struct core_fixture fx;
	struct buf err, vr;
	struct cluster_id *rogue = NULL;
	core_fixture_start(&fx, NULL, 3600, 86400);
	buf_init(&err, 1024);
	buf_init_secret(&vr, 1 << 16);

	assert_null(cluster_id_get(fx.core));
	assert_int_equal(cluster_id_load(fx.core), TROVE_ERR_NOT_FOUND);
	SSL_CTX *server = cluster_tls_server_ctx(fx.core, &err);
	assert_non_null(server);
	assert_int_equal(cluster_id_make(&rogue, &vr), 0);
	SSL_CTX *rogue_client = cluster_tls_client_ctx(rogue);
	/* no identity yet: no handshake at all */
	assert_false(handshake(server, rogue_client));

	assert_int_equal(cluster_id_ensure(fx.core), 0);
	struct cluster_id *id = cluster_id_get(fx.core);
	assert_non_null(id);
	/* kept: a second call (a later active) reads the same one */
	assert_int_equal(cluster_id_ensure(fx.core), 0);
	struct cluster_id *id2 = cluster_id_get(fx.core);
	assert_memory_equal(id2->der, id->der, id->der_len);
	cluster_id_put(id2);
	/* behind the barrier: the physical storage holds no PEM */
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	assert_int_equal(storage_get(core_storage(fx.core), CLUSTER_ID_PATH, &raw, &raw_len), 0);
	assert_non_null(memmem(raw, raw_len, "PRIVATE KEY", 11));
	free(raw);
	raw = NULL;
	assert_int_equal(storage_get(fx.phys, CLUSTER_ID_PATH, &raw, &raw_len), 0);
	assert_null(memmem(raw, raw_len, "PRIVATE KEY", 11));
	free(raw);

	SSL_CTX *client = cluster_tls_client_ctx(id);
	assert_true(handshake(server, client));
	/* another self-signed certificate, whatever its name: refused both ways */
	assert_false(handshake(server, rogue_client));
	SSL_CTX *rogue_server = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(rogue_server, rogue->cert);
	SSL_CTX_use_PrivateKey(rogue_server, rogue->key);
	assert_false(handshake(rogue_server, client));
	/* a client without any certificate */
	SSL_CTX *bare = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(bare, SSL_VERIFY_NONE, NULL);
	assert_false(handshake(server, bare));

	/* sealed: the node drops the key and serves no handshake */
	assert_int_equal(core_seal(fx.core), 0);
	assert_null(cluster_id_get(fx.core));
	assert_false(handshake(server, client));
	assert_int_equal(cluster_id_load(fx.core), TROVE_ERR_SEALED);

	SSL_CTX_free(bare);
	SSL_CTX_free(rogue_server);
	SSL_CTX_free(client);
	SSL_CTX_free(rogue_client);
	SSL_CTX_free(server);
	cluster_id_put(id);
	cluster_id_put(rogue);
	buf_release(&vr);
	buf_release(&err);
	core_fixture_stop(&fx);
}

/* A physical storage that answers 503 while `down`, as a database
 * briefly out of reach. */
static const struct storage_ops *real_ops;
static atomic_bool down;

static int flaky_get(struct storage *s, const char *key, unsigned char **out, size_t *out_len)
{
	return atomic_load(&down) ? TROVE_ERR_UNAVAILABLE : real_ops->get(s, key, out, out_len);
}

static int flaky_put(struct storage *s, const char *key, const void *value, size_t len)
{
	return atomic_load(&down) ? TROVE_ERR_UNAVAILABLE : real_ops->put(s, key, value, len);
}

static int run_now(void *ctx, sched_fn fn, void *arg)
{
	(void)ctx;
	fn(arg);
	return 0;
}

/* Waits (at most 10 s) until the scheduler knows n jobs: a run being
 * replaced by the next one counts twice for a moment. */
static unsigned jobs_settled(struct scheduler *sched, unsigned n)
{
	struct timespec nap = {0, 10 * 1000000L};
	for (int i = 0; i < 1000 && scheduler_jobs(sched) != n; i++)
		nanosleep(&nap, NULL);
	return scheduler_jobs(sched);
}

/* The active node could not read or make the identity (storage out of
 * reach): it tries again, backing off, and has it once storage answers,
 * without another takeover. */
static void t_identity_retried_while_active(void **state)
{
	(void)state;
	struct core_fixture fx;
	core_fixture_start(&fx, NULL, 3600, 86400);
	struct scheduler *sched = background_scheduler(mount_table_background(core_mounts(fx.core)));
	scheduler_set_submit(sched, run_now, NULL);
	real_ops = fx.phys->ops;
	struct storage_ops flaky = *real_ops;
	flaky.get = flaky_get;
	flaky.put = flaky_put;
	fx.phys->ops = &flaky;

	unsigned base = scheduler_jobs(sched); /* the mounts' own */
	atomic_store(&down, true);
	cluster_id_became_active(NULL, fx.core);
	assert_null(cluster_id_get(fx.core));
	assert_int_equal(scheduler_jobs(sched), base + 1); /* the retry */
	struct timespec nap = {0, 400 * 1000000L};
	nanosleep(&nap, NULL); /* a retry fails meanwhile: another one waits */
	assert_null(cluster_id_get(fx.core));
	assert_int_equal(jobs_settled(sched, base + 1), base + 1);
	/* a second failed takeover schedules no second chain */
	cluster_id_became_active(NULL, fx.core);
	assert_int_equal(jobs_settled(sched, base + 1), base + 1);

	atomic_store(&down, false);
	struct cluster_id *id = NULL;
	for (int i = 0; i < 100 && !(id = cluster_id_get(fx.core)); i++)
		nanosleep(&nap, NULL);
	assert_non_null(id);
	assert_int_equal(jobs_settled(sched, base), base); /* done: no more tries */
	unsigned char *raw = NULL;
	size_t raw_len = 0;
	assert_int_equal(storage_get(core_storage(fx.core), CLUSTER_ID_PATH, &raw, &raw_len), 0);
	struct cluster_id *stored = NULL;
	assert_int_equal(cluster_id_parse(raw, raw_len, &stored), 0);
	assert_true(cluster_id_matches(stored, id->cert));
	free(raw);
	cluster_id_put(stored);
	cluster_id_put(id);
	fx.phys->ops = real_ops;
	core_fixture_stop(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(t_client_header_round_trip),
	    cmocka_unit_test(t_client_header_refuses),
	    cmocka_unit_test(t_hop_headers),
	    cmocka_unit_test(t_identity_stored_form),
	    cmocka_unit_test(t_identity_in_storage_and_pinned_tls),
	    cmocka_unit_test(t_identity_retried_while_active),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
