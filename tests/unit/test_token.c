/* Unit tests for the token store (core/token.c) against inmem storage
 * behind a real barrier, and for the auth/token engine's handlers
 * (engines/token.c) driven in process against an unsealed core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/device.h"
#include "core/barrier.h"
#include "core/batch_keys.h"
#include "core/core.h"
#include "core/router.h"
#include "core/lease_key.h"
#include "core/token.h"
#include "engines/engines.h"
#include "clock.h"
#include "err.h"
#include "secure.h"
#include "storage/storage.h"

/* --- store fixture --------------------------------------------------------- */

struct fx {
	struct storage *phys;
	struct barrier *barrier;
	struct storage *logical; /* borrowed from the barrier */
	struct token_store *ts;
	int64_t now;
	struct clock clock; /* reads now */
	int revoked; /* revoke callback count */
	char last_revoked[TOKEN_LOCATOR_MAX + 1];
};

static int64_t test_clock(void *arg)
{
	return ((struct fx *)arg)->now;
}

static void on_revoke(void *arg, const struct token_entry *e)
{
	struct fx *f = arg;
	f->revoked++;
	snprintf(f->last_revoked, sizeof(f->last_revoked), "%s", e->id_hash);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	unsigned char key[BARRIER_KEY_LEN] = {1, 2, 3};
	f->phys = storage_inmem_new();
	f->barrier = barrier_new(f->phys);
	if (barrier_initialize(f->barrier, key) != 0 || barrier_unseal(f->barrier, key) != 0)
		return -1;
	f->logical = barrier_storage(f->barrier);
	f->ts = token_store_new();
	f->now = 1700000000;
	f->clock = (struct clock){test_clock, f};
	token_store_set_clock(f->ts, &f->clock);
	if (token_store_open(f->ts, f->logical) != 0)
		return -1;
	if (token_store_on_revoke(f->ts, on_revoke, f) != 0 ||
	    token_store_on_revoke(f->ts, on_revoke, f) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	token_store_free(f->ts);
	barrier_free(f->barrier);
	storage_free(f->phys);
	free(f);
	return 0;
}

/* Creates a service token with the given parent entry (NULL: orphan). */
static char *mk(struct fx *f, const struct token_entry *parent, const char *policy, int64_t ttl, int64_t uses,
                struct token_entry **out)
{
	struct token_entry *e = token_entry_new();
	char *id = NULL;
	strlist_push(&e->policies, policy);
	token_entry_set(&e->path, "auth/token/create");
	token_entry_set(&e->display_name, "token");
	e->ttl = ttl;
	e->num_uses = uses;
	if (parent)
		memcpy(e->parent_hash, parent->id_hash, sizeof(e->parent_hash));
	assert_int_equal(token_create(f->ts, e, NULL, &id), 0);
	assert_non_null(id);
	if (out)
		*out = e;
	else
		token_entry_free(e);
	return id;
}

static bool valid(struct fx *f, const char *id)
{
	struct token_entry *e = NULL;
	int r = token_lookup_ex(f->ts, id, NULL, TOKEN_LOOKUP_NO_USE, &e);
	token_entry_free(e);
	return r == 0;
}

/* Every key under prefix (recursively) of the logical storage. */
static void walk(struct storage *s, const char *prefix, struct strlist *out)
{
	struct strlist kids;
	strlist_init(&kids);
	assert_int_equal(storage_list(s, prefix, &kids), 0);
	for (size_t i = 0; i < kids.len; i++) {
		size_t cap = strlen(prefix) + strlen(kids.items[i]) + 1;
		char *full = malloc(cap);
		snprintf(full, cap, "%s%s", prefix, kids.items[i]);
		size_t n = strlen(full);
		if (full[n - 1] == '/')
			walk(s, full, out);
		else
			strlist_push(out, full);
		free(full);
	}
	strlist_release(&kids);
}

static size_t count_under(struct fx *f, const char *prefix)
{
	struct strlist all;
	strlist_init(&all);
	walk(f->logical, prefix, &all);
	size_t n = all.len;
	strlist_release(&all);
	return n;
}

static void test_create_lookup(void **state)
{
	struct fx *f = *state;
	struct token_entry *e = NULL, *got = NULL;
	char *id = mk(f, NULL, "dev", 3600, 0, &e);

	assert_int_equal(strncmp(id, "hvs.", 4), 0);
	assert_int_equal(strlen(id), 4 + TOKEN_SEQ_HEX + 24);
	assert_int_equal(strlen(e->accessor), TOKEN_ACCESSOR_LEN);
	/* The locator is "<the token's sequence>.<64 hex>". */
	assert_int_equal(strlen(e->id_hash), TOKEN_LOCATOR_MAX);
	assert_memory_equal(e->id_hash, id + 4, TOKEN_SEQ_HEX);
	assert_int_equal(e->id_hash[TOKEN_SEQ_HEX], '.');
	assert_int_equal(token_lookup(f->ts, id, &got), 0);
	assert_true(token_has_policy(got, "dev"));
	assert_string_equal(got->id_hash, e->id_hash);
	assert_string_equal(got->accessor, e->accessor);
	assert_int_equal(got->ttl, 3600);
	assert_int_equal(got->expire_time, f->now + 3600);
	assert_true(got->orphan);
	assert_true(got->renewable);
	assert_int_equal(got->type, TOKEN_TYPE_SERVICE);
	token_entry_free(got);

	/* Wrong, empty, NULL and over-long ids. */
	char bad[300];
	memset(bad, 'a', sizeof(bad) - 1);
	bad[sizeof(bad) - 1] = '\0';
	assert_int_equal(token_lookup(f->ts, "hvs.nope", &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup(f->ts, "", &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup(f->ts, NULL, &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup(f->ts, bad, &got), TROVE_ERR_PERMISSION);
	assert_null(got);

	/* Locators grow with each create, so a burst appends to the index. */
	struct token_entry *e2 = NULL;
	char *id2 = mk(f, NULL, "dev", 3600, 0, &e2);
	assert_true(strcmp(e2->id_hash, e->id_hash) > 0);
	assert_true(strcmp(e2->accessor, e->accessor) > 0);
	/* Another token's sequence on this token's random part, or this one's
	 * random part with its sequence altered, finds nothing. */
	char forged[64];
	snprintf(forged, sizeof(forged), "hvs.%.*s%s", TOKEN_SEQ_HEX, id2 + 4, id + 4 + TOKEN_SEQ_HEX);
	assert_int_equal(token_lookup(f->ts, forged, &got), TROVE_ERR_PERMISSION);
	snprintf(forged, sizeof(forged), "%s", id);
	forged[4 + TOKEN_SEQ_HEX - 1] = forged[4 + TOKEN_SEQ_HEX - 1] == '0' ? '1' : '0';
	assert_int_equal(token_lookup(f->ts, forged, &got), TROVE_ERR_PERMISSION);
	assert_null(got);
	token_entry_free(e2);
	secure_free_str(id2);

	/* A custom id shaped like a generated one is found by its own locator. */
	struct token_entry *look = token_entry_new();
	char *lid = NULL;
	strlist_push(&look->policies, "x");
	assert_int_equal(token_create(f->ts, look, "hvs.00000000000000ffcustom", &lid), 0);
	assert_int_equal(token_lookup(f->ts, lid, &got), 0);
	assert_string_equal(got->id_hash, look->id_hash);
	assert_int_equal(strncmp(got->id_hash, "00000000000000ff.", TOKEN_SEQ_HEX + 1), 0);
	token_entry_free(got);
	got = NULL;
	token_entry_free(look);
	secure_free_str(lid);

	/* Custom ids: duplicates refused. */
	struct token_entry *c = token_entry_new();
	char *cid = NULL;
	strlist_push(&c->policies, "x");
	assert_int_equal(token_create(f->ts, c, "my-custom-token", &cid), 0);
	assert_string_equal(cid, "my-custom-token");
	secure_free_str(cid);
	assert_int_equal(token_create(f->ts, c, "my-custom-token", &cid), TROVE_ERR_CONFLICT);
	assert_int_equal(token_create(f->ts, c, "has space", &cid), TROVE_ERR_INVALID);
	token_entry_free(c);

	/* Sealed: the store answers SEALED, not PERMISSION. */
	token_store_close(f->ts);
	assert_int_equal(token_lookup(f->ts, id, &got), TROVE_ERR_SEALED);
	assert_int_equal(token_store_open(f->ts, f->logical), 0);
	assert_true(valid(f, id)); /* same salt after reopening */

	token_entry_free(e);
	secure_free_str(id);
}

static void test_hash_only_storage(void **state)
{
	struct fx *f = *state;
	struct token_entry *e = NULL;
	char *root = NULL;
	assert_int_equal(token_create_root(f->ts, "the-root-token-id", &root), 0);
	char *id = mk(f, NULL, "dev", 60, 0, &e);
	char *id2 = mk(f, e, "dev", 60, 0, NULL);

	const char *ids[] = {root, id, id2};
	struct strlist all;
	strlist_init(&all);
	walk(f->logical, "", &all);
	assert_true(all.len >= 6);
	for (size_t i = 0; i < all.len; i++) {
		unsigned char *v = NULL;
		size_t n = 0;
		if (strcmp(all.items[i], BARRIER_KEYRING_PATH) == 0)
			continue; /* under the root key, not the keyring */
		assert_int_equal(storage_get(f->logical, all.items[i], &v, &n), 0);
		for (size_t k = 0; k < 3; k++) {
			/* neither the whole id nor its random body */
			assert_null(strstr(all.items[i], ids[k]));
			assert_null(strstr(all.items[i], ids[k] + 4));
			assert_null(memmem(v, n, ids[k], strlen(ids[k])));
			assert_null(memmem(v, n, ids[k] + 4, strlen(ids[k] + 4)));
		}
		free(v);
	}
	strlist_release(&all);
	/* Physical storage holds ciphertext only. */
	strlist_init(&all);
	walk(f->phys, "", &all);
	for (size_t i = 0; i < all.len; i++) {
		unsigned char *v = NULL;
		size_t n = 0;
		assert_int_equal(storage_get(f->phys, all.items[i], &v, &n), 0);
		assert_null(memmem(v, n, "policies", 8));
		free(v);
	}
	strlist_release(&all);
	secure_free_str(root);
	secure_free_str(id);
	secure_free_str(id2);
	token_entry_free(e);
}

static void test_expiry(void **state)
{
	struct fx *f = *state;
	struct token_entry *p = NULL;
	char *id = mk(f, NULL, "dev", 10, 0, &p);
	char *child = mk(f, p, "dev", 3600, 0, NULL);
	assert_true(valid(f, id));
	f->now += 9;
	assert_true(valid(f, id));
	assert_true(valid(f, child));
	f->now += 1;
	/* Expired without any sweep; the child goes with its parent. */
	assert_false(valid(f, id));
	assert_false(valid(f, child));
	struct token_entry *e = NULL;
	assert_int_equal(token_lookup_accessor(f->ts, p->accessor, &e), TROVE_ERR_NOT_FOUND);
	/* A child cannot be created under an expired parent. */
	struct token_entry *c = token_entry_new();
	char *cid = NULL;
	memcpy(c->parent_hash, p->id_hash, sizeof(c->parent_hash));
	assert_int_equal(token_create(f->ts, c, NULL, &cid), TROVE_ERR_PERMISSION);
	token_entry_free(c);

	/* Tidy removes both, and their index entries. */
	struct token_tidy_stats st;
	f->revoked = 0;
	assert_int_equal(token_tidy(f->ts, &st), 0);
	assert_int_equal(st.revoked, 2);
	assert_int_equal(f->revoked, 2);
	assert_int_equal(count_under(f, TOKEN_ID_PREFIX), 0);
	assert_int_equal(count_under(f, TOKEN_ACCESSOR_PREFIX), 0);
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 0);
	secure_free_str(id);
	secure_free_str(child);
	token_entry_free(p);
}

static void test_renew(void **state)
{
	struct fx *f = *state;
	struct token_entry *e = NULL, *after = NULL;
	bool capped = false;
	char *id = mk(f, NULL, "dev", 100, 0, &e);
	f->now += 50;
	assert_int_equal(token_renew(f->ts, e->id_hash, 200, 3600, 1000, &after, &capped), 0);
	assert_int_equal(after->expire_time, f->now + 200);
	assert_int_equal(after->last_renewal_time, f->now);
	assert_false(capped);
	token_entry_free(after);
	/* Capped by the max TTL counted from creation. */
	assert_int_equal(token_renew(f->ts, e->id_hash, 5000, 3600, 1000, &after, &capped), 0);
	assert_true(capped);
	assert_int_equal(after->expire_time, e->creation_time + 1000);
	token_entry_free(after);
	/* Past the max: no renewal possible. */
	f->now = e->creation_time + 1000;
	assert_int_equal(token_renew(f->ts, e->id_hash, 10, 3600, 1000, &after, &capped),
	                 TROVE_ERR_PERMISSION);

	/* Periodic: back to the period every time, no max but explicit. */
	struct token_entry *p = token_entry_new();
	char *pid = NULL;
	strlist_push(&p->policies, "dev");
	p->ttl = 60;
	p->period = 60;
	p->explicit_max_ttl = 150;
	assert_int_equal(token_create(f->ts, p, NULL, &pid), 0);
	f->now += 50;
	assert_int_equal(token_renew(f->ts, p->id_hash, 9999, 3600, 10, &after, &capped), 0);
	assert_int_equal(after->expire_time, f->now + 60);
	token_entry_free(after);
	f->now += 50;
	assert_int_equal(token_renew(f->ts, p->id_hash, 0, 3600, 10, &after, &capped), 0);
	assert_int_equal(after->expire_time, p->creation_time + 150);
	assert_true(capped);
	token_entry_free(after);

	/* Not renewable. */
	struct token_entry *n = token_entry_new();
	char *nid = NULL;
	n->ttl = 60;
	n->renewable = false;
	assert_int_equal(token_create(f->ts, n, NULL, &nid), 0);
	assert_int_equal(token_renew(f->ts, n->id_hash, 10, 3600, 0, NULL, NULL), TROVE_ERR_INVALID);

	secure_free_str(id);
	secure_free_str(pid);
	secure_free_str(nid);
	token_entry_free(e);
	token_entry_free(p);
	token_entry_free(n);
}

static void test_num_uses(void **state)
{
	struct fx *f = *state;
	struct token_entry *e = NULL;
	char *id = mk(f, NULL, "dev", 3600, 3, NULL);

	/* Inspecting does not consume. */
	assert_true(valid(f, id));
	assert_true(valid(f, id));
	assert_int_equal(token_lookup(f->ts, id, &e), 0);
	assert_int_equal(e->num_uses, 2);
	assert_false(e->last_use);
	token_finish_request(f->ts, e);
	token_entry_free(e);
	assert_int_equal(token_lookup(f->ts, id, &e), 0);
	assert_int_equal(e->num_uses, 1);
	assert_false(e->last_use);
	token_finish_request(f->ts, e);
	token_entry_free(e);

	/* The last use succeeds... */
	struct token_entry *last = NULL;
	assert_int_equal(token_lookup(f->ts, id, &last), 0);
	assert_true(last->last_use);
	assert_int_equal(last->num_uses, 0);
	/* ...and at once nobody else can use it, before the finish. */
	assert_int_equal(token_lookup(f->ts, id, &e), TROVE_ERR_PERMISSION);
	assert_false(valid(f, id));
	f->revoked = 0;
	token_finish_request(f->ts, last);
	assert_int_equal(f->revoked, 1);
	assert_string_equal(f->last_revoked, last->id_hash);
	token_entry_free(last);
	assert_int_equal(token_lookup(f->ts, id, &e), TROVE_ERR_PERMISSION);
	assert_int_equal(count_under(f, TOKEN_ID_PREFIX), 0);
	assert_int_equal(count_under(f, TOKEN_ACCESSOR_PREFIX), 0);
	token_finish_request(f->ts, NULL);
	secure_free_str(id);
}

static void test_cascade_revoke(void **state)
{
	struct fx *f = *state;
	struct token_entry *a = NULL, *b = NULL, *c = NULL, *d = NULL, *x = NULL;
	char *ia = mk(f, NULL, "p", 3600, 0, &a);
	char *ib = mk(f, a, "p", 3600, 0, &b);
	char *ic = mk(f, b, "p", 3600, 0, &c);
	char *id = mk(f, a, "p", 3600, 0, &d);
	char *ix = mk(f, NULL, "p", 3600, 0, &x); /* unrelated */
	assert_false(b->orphan);
	assert_string_equal(b->parent_hash, a->id_hash);
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 3);

	f->revoked = 0;
	assert_int_equal(token_revoke(f->ts, a->id_hash, false), 0);
	assert_int_equal(f->revoked, 4);
	assert_false(valid(f, ia));
	assert_false(valid(f, ib));
	assert_false(valid(f, ic));
	assert_false(valid(f, id));
	assert_true(valid(f, ix));
	assert_int_equal(count_under(f, TOKEN_ID_PREFIX), 1);
	assert_int_equal(count_under(f, TOKEN_ACCESSOR_PREFIX), 1);
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 0);
	/* Idempotent. */
	assert_int_equal(token_revoke(f->ts, a->id_hash, false), 0);
	assert_int_equal(token_revoke(f->ts, "not-a-hash", false), TROVE_ERR_INVALID);

	/* A deep chain is revoked iteratively. */
	struct token_entry *top = NULL, *cur = NULL;
	char *itop = mk(f, NULL, "p", 3600, 0, &top);
	cur = top;
	char *ids[300];
	struct token_entry *chain[300];
	for (int i = 0; i < 300; i++) {
		ids[i] = mk(f, cur, "p", 3600, 0, &chain[i]);
		cur = chain[i];
	}
	f->revoked = 0;
	assert_int_equal(token_revoke(f->ts, top->id_hash, false), 0);
	assert_int_equal(f->revoked, 301);
	for (int i = 0; i < 300; i++) {
		assert_false(valid(f, ids[i]));
		secure_free_str(ids[i]);
		token_entry_free(chain[i]);
	}
	secure_free_str(itop);
	token_entry_free(top);

	secure_free_str(ia);
	secure_free_str(ib);
	secure_free_str(ic);
	secure_free_str(id);
	secure_free_str(ix);
	token_entry_free(a);
	token_entry_free(b);
	token_entry_free(c);
	token_entry_free(d);
	token_entry_free(x);
}

static void test_revoke_many(void **state)
{
	struct fx *f = *state;
	enum { N = 200 };
	struct token_entry *roots[N], *kids[N], *keep = NULL;
	char *rid[N], *kid[N];
	const char *hashes[N + 12];
	size_t n = 0;
	for (int i = 0; i < N; i++) {
		rid[i] = mk(f, NULL, "p", 3600, 0, &roots[i]);
		kid[i] = mk(f, roots[i], "p", 3600, 0, &kids[i]);
		hashes[n++] = roots[i]->id_hash;
	}
	char *ikeep = mk(f, NULL, "p", 3600, 0, &keep);
	/* Listed twice: children also named as roots, a root named again. */
	for (int i = 0; i < 10; i++)
		hashes[n++] = kids[i * 7]->id_hash;
	hashes[n++] = roots[3]->id_hash;
	assert_int_equal(count_under(f, LEASE_ID_PREFIX), 2 * N + 1);

	const char *bad[2] = {roots[0]->id_hash, "not-a-hash"};
	assert_int_equal(token_revoke_many(f->ts, bad, 2), TROVE_ERR_INVALID);
	assert_true(valid(f, rid[0])); /* nothing revoked */

	f->revoked = 0;
	assert_int_equal(token_revoke_many(f->ts, hashes, n), 0);
	assert_int_equal(f->revoked, 2 * N); /* each token once */
	for (int i = 0; i < N; i++) {
		assert_false(valid(f, rid[i]));
		assert_false(valid(f, kid[i]));
		secure_free_str(rid[i]);
		secure_free_str(kid[i]);
		token_entry_free(roots[i]);
		token_entry_free(kids[i]);
	}
	assert_true(valid(f, ikeep));
	/* The tokens, their index entries and their leases are all gone. */
	assert_int_equal(count_under(f, TOKEN_ID_PREFIX), 1);
	assert_int_equal(count_under(f, TOKEN_ACCESSOR_PREFIX), 1);
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 0);
	assert_int_equal(count_under(f, LEASE_ID_PREFIX), 1);
	assert_int_equal(count_under(f, LEASE_WHEN_PREFIX), 1);
	secure_free_str(ikeep);
	token_entry_free(keep);
}

static void test_revoke_orphan(void **state)
{
	struct fx *f = *state;
	struct token_entry *a = NULL, *b = NULL, *c = NULL, *got = NULL;
	char *ia = mk(f, NULL, "p", 3600, 0, &a);
	char *ib = mk(f, a, "p", 3600, 0, &b);
	char *ic = mk(f, b, "p", 3600, 0, &c);

	f->revoked = 0;
	assert_int_equal(token_revoke(f->ts, a->id_hash, true), 0);
	assert_int_equal(f->revoked, 1);
	assert_false(valid(f, ia));
	assert_int_equal(token_lookup(f->ts, ib, &got), 0);
	assert_true(got->orphan);
	assert_string_equal(got->parent_hash, "");
	token_entry_free(got);
	assert_int_equal(token_lookup(f->ts, ic, &got), 0);
	assert_false(got->orphan);
	assert_string_equal(got->parent_hash, b->id_hash);
	token_entry_free(got);
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 1);

	/* The orphaned subtree still cascades below its new root. */
	assert_int_equal(token_revoke(f->ts, b->id_hash, false), 0);
	assert_false(valid(f, ib));
	assert_false(valid(f, ic));
	assert_int_equal(count_under(f, TOKEN_PARENT_PREFIX), 0);

	secure_free_str(ia);
	secure_free_str(ib);
	secure_free_str(ic);
	token_entry_free(a);
	token_entry_free(b);
	token_entry_free(c);
}

static void test_accessor(void **state)
{
	struct fx *f = *state;
	struct token_entry *e = NULL, *got = NULL;
	char *id = mk(f, NULL, "dev", 3600, 0, &e);

	/* An accessor is never a token. */
	assert_int_equal(token_lookup(f->ts, e->accessor, &got), TROVE_ERR_PERMISSION);
	assert_null(got);
	/* It finds the token's entry... */
	assert_int_equal(token_lookup_accessor(f->ts, e->accessor, &got), 0);
	assert_string_equal(got->id_hash, e->id_hash);
	token_entry_free(got);
	/* ...and a token is not an accessor. */
	assert_int_equal(token_lookup_accessor(f->ts, id, &got), TROVE_ERR_NOT_FOUND);
	assert_int_equal(token_lookup_accessor(f->ts, "", &got), TROVE_ERR_NOT_FOUND);

	struct strlist acc;
	strlist_init(&acc);
	assert_int_equal(token_list_accessors(f->ts, &acc), 0);
	assert_int_equal(acc.len, 1);
	assert_string_equal(acc.items[0], e->accessor);
	strlist_release(&acc);

	assert_int_equal(token_revoke(f->ts, e->id_hash, false), 0);
	assert_int_equal(token_lookup_accessor(f->ts, e->accessor, &got), TROVE_ERR_NOT_FOUND);
	secure_free_str(id);
	token_entry_free(e);
}

static void test_batch(void **state)
{
	struct fx *f = *state;
	struct token_entry *parent = NULL, *got = NULL;
	char *pid = mk(f, NULL, "p", 3600, 0, &parent);
	size_t before = count_under(f, "sys/token/");

	struct token_entry *b = token_entry_new();
	char *bid = NULL;
	b->type = TOKEN_TYPE_BATCH;
	strlist_push(&b->policies, "web");
	strlist_push(&b->policies, "default");
	token_entry_set(&b->display_name, "token-batch");
	b->ttl = 120;
	memcpy(b->parent_hash, parent->id_hash, sizeof(b->parent_hash));
	assert_int_equal(token_create(f->ts, b, "custom", &bid), TROVE_ERR_INVALID);
	assert_int_equal(token_create(f->ts, b, NULL, &bid), 0);
	assert_int_equal(strncmp(bid, "hvb.", 4), 0);
	assert_true(strlen(bid) < 1024);
	/* Not persisted, no accessor. */
	assert_int_equal(count_under(f, "sys/token/"), before);
	assert_string_equal(b->accessor, "");

	assert_int_equal(token_lookup(f->ts, bid, &got), 0);
	assert_int_equal(got->type, TOKEN_TYPE_BATCH);
	assert_true(token_has_policy(got, "web"));
	assert_true(token_has_policy(got, "default"));
	assert_string_equal(got->display_name, "token-batch");
	assert_string_equal(got->parent_hash, parent->id_hash);
	assert_int_equal(got->expire_time, f->now + 120);
	assert_false(got->renewable);
	assert_string_equal(got->id_hash, b->id_hash);
	token_entry_free(got);

	/* Tampering anywhere is refused. */
	size_t n = strlen(bid);
	for (size_t i = 4; i < n; i += 7) {
		char *t = strdup(bid);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(token_lookup(f->ts, t, &got), TROVE_ERR_PERMISSION);
		free(t);
	}
	char *trunc = strndup(bid, n - 3);
	assert_int_equal(token_lookup(f->ts, trunc, &got), TROVE_ERR_PERMISSION);
	free(trunc);
	assert_int_equal(token_lookup(f->ts, "hvb.", &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup(f->ts, "hvb.!!!!", &got), TROVE_ERR_PERMISSION);

	/* Batch tokens expire... */
	f->now += 121;
	assert_false(valid(f, bid));
	f->now -= 121;
	assert_true(valid(f, bid));
	/* ...and stop working with their parent. */
	assert_int_equal(token_revoke(f->ts, parent->id_hash, false), 0);
	assert_false(valid(f, bid));

	/* A batch token under another store's key is refused. */
	secure_free_str(bid);
	token_entry_free(b);
	secure_free_str(pid);
	token_entry_free(parent);
}

static char *mk_batch(struct fx *f, int64_t ttl)
{
	struct token_entry *b = token_entry_new();
	char *bid = NULL;
	b->type = TOKEN_TYPE_BATCH;
	strlist_push(&b->policies, "web");
	b->ttl = ttl;
	assert_int_equal(token_create(f->ts, b, NULL, &bid), 0);
	token_entry_free(b);
	return bid;
}

/* The batch key counts its seals and rotates at the threshold; tokens
 * sealed under older terms keep working until their own expiry, across a
 * restart too, and counting resumes no lower than it was. */
static void test_batch_key_rotation(void **state)
{
	struct fx *f = *state;
	struct batch_keys *bk = token_store_batch_keys(f->ts);
	char *ids[8];
	uint32_t term, term2;
	uint64_t count, count2;

	batch_keys_status(bk, &term, &count);
	assert_int_equal(term, 1);
	assert_int_equal(count, 0);
	batch_keys_set_rotation_threshold(bk, 3);
	for (int i = 0; i < 8; i++) {
		ids[i] = mk_batch(f, 3600 + i);
		batch_keys_status(bk, &term, &count);
		assert_int_equal(term, 1 + (uint32_t)i / 3); /* a new term every 3 seals */
		assert_int_equal(count, (uint64_t)i % 3 + 1);
	}
	for (int i = 0; i < 8; i++)
		assert_true(valid(f, ids[i]));

	/* A restart: every term is still there; the count resumes from the
	 * reservation, never below the true count. */
	token_store_close(f->ts);
	assert_false(valid(f, ids[0]));
	assert_int_equal(token_store_open(f->ts, f->logical), 0);
	batch_keys_set_rotation_threshold(bk, 3);
	batch_keys_status(bk, &term2, &count2);
	assert_int_equal(term2, term);
	assert_true(count2 >= count);
	for (int i = 0; i < 8; i++)
		assert_true(valid(f, ids[i]));
	char *after = mk_batch(f, 60);
	batch_keys_status(bk, &term2, &count2);
	assert_int_equal(term2, term + 1); /* the reservation was full: rotated */
	assert_true(valid(f, after));

	/* Each token still expires on its own. */
	f->now += 3601;
	assert_false(valid(f, ids[0]));
	assert_true(valid(f, ids[7]));
	assert_false(valid(f, after));
	for (int i = 0; i < 8; i++)
		secure_free_str(ids[i]);
	secure_free_str(after);
}

/* The key written before counting existed (32 raw bytes) keeps opening
 * its tokens as term 1, and seals no more. */
static void test_batch_key_legacy(void **state)
{
	struct fx *f = *state;
	struct batch_keys *bk = token_store_batch_keys(f->ts);
	unsigned char legacy[BARRIER_KEY_LEN] = {9, 8, 7};
	unsigned char *rec = NULL, *plain = NULL;
	size_t rec_len = 0, plain_len = 0;
	uint32_t term;
	uint64_t count;

	token_store_close(f->ts);
	assert_int_equal(storage_put(f->logical, TOKEN_BATCH_KEY_PATH, legacy, sizeof(legacy)), 0);
	assert_int_equal(token_store_open(f->ts, f->logical), 0);
	batch_keys_status(bk, &term, &count);
	assert_int_equal(term, 2);
	assert_int_equal(barrier_record_encrypt(legacy, 1, "aad", "old", 3, &rec, &rec_len), 0);
	assert_int_equal(batch_keys_open_record(bk, "aad", rec, rec_len, &plain, &plain_len), 0);
	assert_memory_equal(plain, "old", 3);
	free(plain);
	free(rec);
	char *id = mk_batch(f, 60);
	assert_true(valid(f, id));
	secure_free_str(id);
}

static void test_cidr(void **state)
{
	struct fx *f = *state;
	struct strlist c;
	strlist_init(&c);
	assert_true(token_cidr_allows(&c, "1.2.3.4"));
	strlist_push(&c, "10.0.0.0/8");
	strlist_push(&c, "2001:db8::/32");
	strlist_push(&c, "192.168.1.7");
	assert_true(token_cidr_allows(&c, "10.200.3.4"));
	assert_false(token_cidr_allows(&c, "11.0.0.1"));
	assert_true(token_cidr_allows(&c, "192.168.1.7"));
	assert_false(token_cidr_allows(&c, "192.168.1.8"));
	assert_true(token_cidr_allows(&c, "2001:db8:1::5"));
	assert_true(token_cidr_allows(&c, "[2001:db8::1]"));
	assert_false(token_cidr_allows(&c, "2001:db9::1"));
	assert_true(token_cidr_allows(&c, "::ffff:10.1.1.1"));
	assert_false(token_cidr_allows(&c, "garbage"));
	assert_false(token_cidr_allows(&c, NULL));
	assert_true(token_cidr_valid("10.0.0.0/8"));
	assert_true(token_cidr_valid("::1"));
	assert_false(token_cidr_valid("10.0.0.0/33"));
	assert_false(token_cidr_valid("10.0.0.0/+8"));
	assert_false(token_cidr_valid("nope/8"));

	/* A bound token works only from its blocks; inspection skips it. */
	struct token_entry *e = token_entry_new(), *got = NULL;
	char *id = NULL;
	strlist_push(&e->policies, "dev");
	e->ttl = 60;
	strlist_push(&e->bound_cidrs, "127.0.0.0/8");
	assert_int_equal(token_create(f->ts, e, NULL, &id), 0);
	assert_int_equal(token_lookup_ex(f->ts, id, "127.0.0.1", 0, &got), 0);
	token_entry_free(got);
	assert_int_equal(token_lookup_ex(f->ts, id, "10.0.0.1", 0, &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup_ex(f->ts, id, "", 0, &got), TROVE_ERR_PERMISSION);
	assert_int_equal(token_lookup_ex(f->ts, id, NULL, TOKEN_LOOKUP_NO_USE, &got), 0);
	token_entry_free(got);
	secure_free_str(id);
	token_entry_free(e);
	strlist_release(&c);
}

/* --- engine tests (handlers in process) ------------------------------------------- */

struct efx {
	struct storage *phys;
	struct core *core;
	struct storage *view; /* the token mount's role storage */
	char *root;
};

static int esetup(void **state)
{
	struct efx *f = calloc(1, sizeof(*f));
	struct core_config cc = {.storage_type = "inmem", .default_lease_ttl = 2764800, .max_lease_ttl = 2764800, .expiration_manual = true,
				   .engines = &builtin_engines, .audit_devices = &audit_device_types};
	struct core_init_result res;
	struct seal_status st;
	struct buf err;
	buf_init(&err, 1024);
	f->phys = storage_inmem_new();
	f->core = core_new(f->phys, &cc);
	if (core_initialize(f->core, 1, 1, "root-id", &res, &err) != 0)
		return -1;
	if (core_unseal(f->core, res.keys[0], res.key_len, &st, &err) != 0 || st.sealed)
		return -1;
	f->root = strdup(res.root_token);
	core_init_result_release(&res);
	buf_release(&err);
	f->view = storage_view_new(core_storage(f->core), "auth/test-token-view/");
	*state = f;
	return 0;
}

static int eteardown(void **state)
{
	struct efx *f = *state;
	storage_free(f->view);
	core_free(f->core);
	storage_free(f->phys);
	free(f->root);
	free(f);
	return 0;
}

static const struct route *find_route(const struct route *table, const char *pattern)
{
	for (const struct route *r = table; r->pattern; r++)
		if (strcmp(r->pattern, pattern) == 0)
			return r;
	fail_msg("no route %s", pattern);
	return NULL;
}

/* Runs one handler of the token engine as the router would after the
 * ACL: the caller's token resolved (consuming a use), sudo from `sudo`.
 * data is consumed. Returns the handler's code; resp must be released. */
static int run(struct efx *f, const char *pattern, enum op op, const char *token, bool sudo,
               const char *param, json_t *data, struct response *resp)
{
	struct request req;
	const struct route *rt = find_route(token_engine.tables[0], pattern);
	int r;
	char path[256];
	const char *colon = strchr(pattern, ':');
	if (colon)
		snprintf(path, sizeof(path), "auth/token/%.*s%s", (int)(colon - pattern), pattern, param);
	else
		snprintf(path, sizeof(path), "auth/token/%s", pattern);
	request_init(&req);
	response_init(resp);
	req.core = f->core;
	req.op = op;
	req.path = strdup(path);
	req.rel = req.path + strlen("auth/token/");
	req.data = data ? data : json_object();
	/* the router's field coercion */
	for (const struct field *fd = rt->fields; fd && fd->name; fd++) {
		json_t *v = json_object_get(req.data, fd->name);
		const char *why = NULL;
		if (!v || json_is_null(v))
			continue;
		json_t *c = field_coerce(fd->type, v, &why);
		assert_non_null(c);
		json_object_set_new(req.data, fd->name, c);
	}
	req.route = rt;
	req.storage = f->view;
	req.sudo = sudo;
	if (param) {
		req.param_names[0] = strdup(strchr(pattern, ':') + 1);
		req.params[0] = strdup(param);
		req.nparams = 1;
	}
	if (token) {
		req.client_token = strdup(token);
		r = token_lookup(core_tokens(f->core), token, &req.token);
		if (r != 0) {
			request_release(&req);
			return r;
		}
	}
	assert_non_null(rt->ops[op]);
	r = rt->ops[op](&req, resp);
	token_finish_request(core_tokens(f->core), req.token);
	request_release(&req);
	return r;
}

static char *created_token(struct response *resp)
{
	assert_non_null(resp->auth);
	return strdup(json_string_value(json_object_get(resp->auth, "client_token")));
}

static bool has(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

static void test_engine_create_rules(void **state)
{
	struct efx *f = *state;
	struct response resp;

	/* Root creates a child: default added, TTL from the system, warning
	 * for an unknown policy, every auth key present. */
	assert_int_equal(run(f, "create", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:[s], s:{s:s}, s:s}", "policies", "web", "meta", "user", "ann",
	                               "display_name", "My App!"),
	                     &resp),
	                 0);
	json_t *a = resp.auth;
	const char *keys[] = {"client_token", "accessor",       "policies",        "token_policies",
	                      "metadata",     "lease_duration", "renewable",       "entity_id",
	                      "token_type",   "orphan",         "mfa_requirement", "num_uses"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		assert_non_null(json_object_get(a, keys[i]));
	assert_true(has(json_object_get(a, "policies"), "web"));
	assert_true(has(json_object_get(a, "policies"), "default"));
	assert_int_equal(json_integer_value(json_object_get(a, "lease_duration")), 2764800);
	assert_true(json_is_true(json_object_get(a, "renewable")));
	assert_true(json_is_false(json_object_get(a, "orphan")));
	assert_string_equal(json_string_value(json_object_get(a, "token_type")), "service");
	assert_non_null(resp.warnings);
	assert_string_equal(json_string_value(json_array_get(resp.warnings, 0)),
	                    "Policy \"web\" does not exist");
	char *child = created_token(&resp);
	response_release(&resp);

	struct token_entry *ce = NULL;
	assert_int_equal(token_lookup(core_tokens(f->core), child, &ce), 0);
	assert_string_equal(ce->display_name, "token-My-App");
	assert_string_equal(ce->path, "auth/token/create");
	token_entry_free(ce);

	/* The child (not root, no sudo) cannot widen its policies, set an
	 * id, a period, or no_parent. */
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, false, NULL, json_pack("{s:[s]}", "policies", "admin"), &resp),
	    TROVE_ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_array_get(resp.errors, 0)), "subset"));
	response_release(&resp);
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, false, NULL, json_pack("{s:s}", "id", "mine"), &resp),
	    TROVE_ERR_INVALID);
	response_release(&resp);
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, false, NULL, json_pack("{s:i}", "period", 60), &resp),
	    TROVE_ERR_INVALID);
	response_release(&resp);
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, false, NULL, json_pack("{s:b}", "no_parent", 1), &resp),
	    TROVE_ERR_INVALID);
	response_release(&resp);
	/* With sudo on the path, it may. */
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, true, NULL, json_pack("{s:[s]}", "policies", "admin"), &resp),
	    0);
	response_release(&resp);
	/* A subset is fine; no_default_policy drops default. */
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, false, NULL,
	        json_pack("{s:[s], s:b, s:i}", "policies", "web", "no_default_policy", 1, "ttl", 60), &resp),
	    0);
	assert_false(has(json_object_get(resp.auth, "policies"), "default"));
	assert_int_equal(json_integer_value(json_object_get(resp.auth, "lease_duration")), 60);
	response_release(&resp);
	/* The child may not mint root. */
	assert_int_equal(
	    run(f, "create", OP_UPDATE, child, true, NULL, json_pack("{s:[s]}", "policies", "root"), &resp),
	    TROVE_ERR_INVALID);
	response_release(&resp);

	/* Root child of root without a TTL never expires. */
	assert_int_equal(run(f, "create", OP_UPDATE, f->root, false, NULL, NULL, &resp), 0);
	assert_int_equal(json_integer_value(json_object_get(resp.auth, "lease_duration")), 0);
	assert_true(has(json_object_get(resp.auth, "policies"), "root"));
	response_release(&resp);

	/* create-orphan needs no sudo. */
	assert_int_equal(run(f, "create-orphan", OP_UPDATE, child, false, NULL, NULL, &resp), 0);
	assert_true(json_is_true(json_object_get(resp.auth, "orphan")));
	response_release(&resp);

	/* Batch tokens: made, looked up, cannot create or be revoked. */
	assert_int_equal(run(f, "create", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s, s:[s], s:s}", "type", "batch", "policies", "web", "ttl", "1h"),
	                     &resp),
	                 0);
	char *batch = created_token(&resp);
	assert_int_equal(strncmp(batch, "hvb.", 4), 0);
	assert_string_equal(json_string_value(json_object_get(resp.auth, "accessor")), "");
	response_release(&resp);
	assert_int_equal(run(f, "create", OP_UPDATE, batch, false, NULL, NULL, &resp), TROVE_ERR_INVALID);
	assert_string_equal(json_string_value(json_array_get(resp.errors, 0)),
	                    "batch tokens cannot create more tokens");
	response_release(&resp);
	assert_int_equal(run(f, "revoke-self", OP_UPDATE, batch, false, NULL, NULL, &resp),
	                 TROVE_ERR_INVALID);
	assert_string_equal(json_string_value(json_array_get(resp.errors, 0)),
	                    "batch tokens cannot be revoked");
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, batch, false, NULL, NULL, &resp), 0);
	assert_string_equal(json_string_value(json_object_get(resp.data, "type")), "batch");
	response_release(&resp);

	/* lookup-self shape. */
	assert_int_equal(run(f, "lookup-self", OP_READ, child, false, NULL, NULL, &resp), 0);
	const char *lk[] = {"accessor",   "creation_time", "creation_ttl",     "display_name",
	                    "entity_id",  "expire_time",   "explicit_max_ttl", "id",
	                    "issue_time", "meta",          "num_uses",         "orphan",
	                    "path",       "policies",      "renewable",        "ttl",
	                    "type"};
	for (size_t i = 0; i < sizeof(lk) / sizeof(lk[0]); i++)
		assert_non_null(json_object_get(resp.data, lk[i]));
	assert_string_equal(json_string_value(json_object_get(resp.data, "id")), child);
	assert_string_equal(json_string_value(json_object_get(json_object_get(resp.data, "meta"), "user")),
	                    "ann");
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, f->root, false, NULL, NULL, &resp), 0);
	assert_true(json_is_null(json_object_get(resp.data, "expire_time")));
	response_release(&resp);

	/* lookup of an unknown token: 403 bad token. */
	assert_int_equal(
	    run(f, "lookup", OP_UPDATE, f->root, false, NULL, json_pack("{s:s}", "token", "hvs.nope"), &resp),
	    TROVE_ERR_PERMISSION);
	response_release(&resp);

	free(batch);
	free(child);
}

static void test_engine_num_uses_and_revoke(void **state)
{
	struct efx *f = *state;
	struct response resp;

	assert_int_equal(
	    run(f, "create", OP_UPDATE, f->root, false, NULL, json_pack("{s:i}", "num_uses", 2), &resp), 0);
	assert_int_equal(json_integer_value(json_object_get(resp.auth, "num_uses")), 2);
	char *t = created_token(&resp);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t, false, NULL, NULL, &resp), 0);
	assert_int_equal(json_integer_value(json_object_get(resp.data, "num_uses")), 1);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t, false, NULL, NULL, &resp), 0); /* the last use */
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t, false, NULL, NULL, &resp), TROVE_ERR_PERMISSION);
	response_release(&resp);
	free(t);

	/* revoke-accessor and renew-accessor. */
	assert_int_equal(
	    run(f, "create", OP_UPDATE, f->root, false, NULL, json_pack("{s:s}", "ttl", "10m"), &resp), 0);
	t = created_token(&resp);
	char *acc = strdup(json_string_value(json_object_get(resp.auth, "accessor")));
	response_release(&resp);
	assert_int_equal(run(f, "renew-accessor", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s, s:i}", "accessor", acc, "increment", 3600), &resp),
	                 0);
	assert_string_equal(json_string_value(json_object_get(resp.auth, "client_token")), "");
	assert_int_equal(json_integer_value(json_object_get(resp.auth, "lease_duration")), 3600);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-accessor", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s}", "accessor", acc), &resp),
	                 0);
	assert_string_equal(json_string_value(json_object_get(resp.data, "id")), "");
	response_release(&resp);
	/* The accessor does not authenticate. */
	assert_int_equal(run(f, "lookup-self", OP_READ, acc, false, NULL, NULL, &resp), TROVE_ERR_PERMISSION);
	response_release(&resp);
	assert_int_equal(run(f, "revoke-accessor", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s}", "accessor", acc), &resp),
	                 0);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t, false, NULL, NULL, &resp), TROVE_ERR_PERMISSION);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-accessor", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s}", "accessor", acc), &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);
	free(t);
	free(acc);
}

static void test_engine_roles(void **state)
{
	struct efx *f = *state;
	struct response resp;

	assert_int_equal(run(f, "roles", OP_LIST, f->root, false, NULL, NULL, &resp), TROVE_ERR_NOT_FOUND);
	response_release(&resp);
	assert_int_equal(
	    run(f, "roles/:role_name", OP_UPDATE, f->root, false, "Web-Role",
	        json_pack("{s:[s,s], s:[s], s:[s], s:b, s:s, s:i, s:[s], s:i}", "allowed_policies", "web",
	                  "db", "allowed_policies_glob", "app-*", "disallowed_policies_glob", "app-secret*",
	                  "orphan", 1, "path_suffix", "v1", "token_period", 3600, "token_bound_cidrs",
	                  "127.0.0.0/8", "token_num_uses", 5),
	        &resp),
	    0);
	response_release(&resp);
	assert_int_equal(run(f, "roles/:role_name", OP_READ, f->root, false, "web-role", NULL, &resp), 0);
	const char *rk[] = {"allowed_policies",
	                    "disallowed_policies",
	                    "allowed_policies_glob",
	                    "disallowed_policies_glob",
	                    "orphan",
	                    "renewable",
	                    "path_suffix",
	                    "token_type",
	                    "token_period",
	                    "token_explicit_max_ttl",
	                    "token_bound_cidrs",
	                    "token_no_default_policy",
	                    "token_num_uses",
	                    "token_ttl",
	                    "token_max_ttl",
	                    "name",
	                    "period",
	                    "explicit_max_ttl",
	                    "allowed_entity_aliases"};
	for (size_t i = 0; i < sizeof(rk) / sizeof(rk[0]); i++)
		assert_non_null(json_object_get(resp.data, rk[i]));
	assert_string_equal(json_string_value(json_object_get(resp.data, "name")), "web-role");
	assert_string_equal(json_string_value(json_object_get(resp.data, "token_type")), "default-service");
	assert_int_equal(json_integer_value(json_object_get(resp.data, "token_period")), 3600);
	assert_true(json_is_true(json_object_get(resp.data, "renewable")));
	response_release(&resp);
	assert_int_equal(run(f, "roles", OP_LIST, f->root, false, NULL, NULL, &resp), 0);
	assert_true(has(json_object_get(resp.data, "keys"), "web-role"));
	response_release(&resp);

	/* A non-root parent with only "default" may mint allowed policies
	 * through the role, including glob matches... */
	assert_int_equal(run(f, "create", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:[s]}", "policies", "default"), &resp),
	                 0);
	char *user = created_token(&resp);
	response_release(&resp);
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, user, false, "web-role",
	                     json_pack("{s:[s,s]}", "policies", "web", "app-frontend"), &resp),
	                 0);
	json_t *a = resp.auth;
	assert_true(has(json_object_get(a, "policies"), "app-frontend"));
	assert_true(has(json_object_get(a, "policies"), "default"));
	assert_true(json_is_true(json_object_get(a, "orphan")));
	assert_int_equal(json_integer_value(json_object_get(a, "lease_duration")), 3600);
	assert_int_equal(json_integer_value(json_object_get(a, "num_uses")), 5);
	char *rt = created_token(&resp);
	response_release(&resp);
	struct token_entry *e = NULL;
	assert_int_equal(token_lookup_ex(core_tokens(f->core), rt, NULL, TOKEN_LOOKUP_NO_USE, &e), 0);
	assert_string_equal(e->path, "auth/token/create/web-role/v1");
	assert_string_equal(e->role, "web-role");
	assert_int_equal(e->period, 3600);
	assert_int_equal(e->bound_cidrs.len, 1);
	token_entry_free(e);
	assert_int_equal(token_lookup_ex(core_tokens(f->core), rt, "10.1.1.1", 0, &e), TROVE_ERR_PERMISSION);
	free(rt);

	/* ...no policies given: the role's allowed list. */
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, user, false, "web-role", NULL, &resp), 0);
	assert_true(has(json_object_get(resp.auth, "policies"), "web"));
	assert_true(has(json_object_get(resp.auth, "policies"), "db"));
	response_release(&resp);
	/* ...but not what the role does not allow, or disallows by glob. */
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, user, false, "web-role",
	                     json_pack("{s:[s]}", "policies", "admin"), &resp),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_array_get(resp.errors, 0)), "admin"));
	response_release(&resp);
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, user, false, "web-role",
	                     json_pack("{s:[s]}", "policies", "app-secrets"), &resp),
	                 TROVE_ERR_INVALID);
	assert_non_null(strstr(json_string_value(json_array_get(resp.errors, 0)), "disallowed"));
	response_release(&resp);
	/* Unknown role. */
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, user, false, "nope", NULL, &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);

	/* Bad role input. */
	assert_int_equal(run(f, "roles/:role_name", OP_UPDATE, f->root, false, "bad",
	                     json_pack("{s:[s]}", "token_bound_cidrs", "300.0.0.0/8"), &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);
	assert_int_equal(run(f, "roles/:role_name", OP_UPDATE, f->root, false, "bad",
	                     json_pack("{s:s}", "token_type", "weird"), &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);

	/* A batch-only role. */
	assert_int_equal(run(f, "roles/:role_name", OP_UPDATE, f->root, false, "b",
	                     json_pack("{s:s}", "token_type", "batch"), &resp),
	                 0);
	response_release(&resp);
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, f->root, false, "b", NULL, &resp),
	                 TROVE_ERR_INVALID);
	assert_string_equal(json_string_value(json_array_get(resp.errors, 0)),
	                    "batch tokens cannot be root tokens");
	response_release(&resp);
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, f->root, false, "b",
	                     json_pack("{s:[s]}", "policies", "web"), &resp),
	                 0);
	assert_string_equal(json_string_value(json_object_get(resp.auth, "token_type")), "batch");
	response_release(&resp);
	assert_int_equal(run(f, "create/:role_name", OP_UPDATE, f->root, false, "b",
	                     json_pack("{s:s}", "type", "service"), &resp),
	                 TROVE_ERR_INVALID);
	response_release(&resp);

	assert_int_equal(run(f, "roles/:role_name", OP_DELETE, f->root, false, "web-role", NULL, &resp), 0);
	response_release(&resp);
	assert_int_equal(run(f, "roles/:role_name", OP_READ, f->root, false, "web-role", NULL, &resp),
	                 TROVE_ERR_NOT_FOUND);
	response_release(&resp);
	free(user);
}

static void test_engine_cascade_and_orphan(void **state)
{
	struct efx *f = *state;
	struct response resp;
	char *t[3];
	const char *parent = f->root;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(run(f, "create", OP_UPDATE, parent, false, NULL,
		                     i == 0 ? json_pack("{s:[s]}", "policies", "dev") : NULL, &resp),
		                 0);
		t[i] = created_token(&resp);
		response_release(&resp);
		parent = t[i];
	}
	/* revoke-orphan is root-protected. */
	assert_int_equal(
	    run(f, "revoke-orphan", OP_UPDATE, t[1], false, NULL, json_pack("{s:s}", "token", t[0]), &resp),
	    TROVE_ERR_PERMISSION);
	response_release(&resp);
	assert_int_equal(run(f, "revoke-orphan", OP_UPDATE, f->root, false, NULL,
	                     json_pack("{s:s}", "token", t[0]), &resp),
	                 0);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t[0], false, NULL, NULL, &resp),
	                 TROVE_ERR_PERMISSION);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t[1], false, NULL, NULL, &resp), 0);
	assert_true(json_is_true(json_object_get(resp.data, "orphan")));
	response_release(&resp);
	/* revoke-self on the new root of the tree takes its child along. */
	assert_int_equal(run(f, "revoke-self", OP_UPDATE, t[1], false, NULL, NULL, &resp), 0);
	response_release(&resp);
	assert_int_equal(run(f, "lookup-self", OP_READ, t[2], false, NULL, NULL, &resp),
	                 TROVE_ERR_PERMISSION);
	response_release(&resp);
	/* Revoking an unknown token is not an error. */
	assert_int_equal(
	    run(f, "revoke", OP_UPDATE, f->root, false, NULL, json_pack("{s:s}", "token", t[2]), &resp), 0);
	response_release(&resp);
	for (int i = 0; i < 3; i++)
		free(t[i]);

	/* accessors: a list; tidy runs. */
	assert_int_equal(run(f, "accessors", OP_LIST, f->root, true, NULL, NULL, &resp), 0);
	assert_true(json_array_size(json_object_get(resp.data, "keys")) >= 1);
	response_release(&resp);
	assert_int_equal(run(f, "tidy", OP_UPDATE, f->root, false, NULL, NULL, &resp), 0);
	assert_non_null(resp.warnings);
	response_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hash_only_storage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_renew, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_num_uses, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cascade_revoke, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoke_orphan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_accessor, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_key_rotation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_key_legacy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cidr, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_engine_create_rules, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_num_uses_and_revoke, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_roles, esetup, eteardown),
	    cmocka_unit_test_setup_teardown(test_engine_cascade_and_orphan, esetup, eteardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
