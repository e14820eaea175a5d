/* audit_entry.c — one audit entry as Vault's JSON line, secrets masked.
 *
 * A streaming writer. The entry is written straight into the line it
 * returns (prefix, compact JSON, '\n'): the fixed members in the order of
 * audit_entry.h, and the caller's json_t values (request and response data,
 * response auth, headers, token metadata, warnings) walked in place, each
 * leaf hashed or copied as it is met, through lib/jsonw. No intermediate
 * jansson tree is built and jansson's dumper is not used; the text is byte
 * for byte what json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) would write
 * for the same tree (test_audit_entry re-dumps parsed entries to check it):
 *  - strings and object keys: '"' and '\\' escaped, \b \f \n \r \t, other
 *    bytes below 0x20 as \u00XX (uppercase hex, as jansson writes them), an
 *    embedded NUL (json_string_length, json_object_iter_key_len) as \u0000;
 *    valid UTF-8 passes through as it is (U+2028 and U+2029 too, as with
 *    jansson without JSON_ENSURE_ASCII); a byte that does not start a valid
 *    UTF-8 sequence (overlong forms, surrogates and code points above
 *    U+10FFFF are invalid) becomes U+FFFD. Strings from C structs (path,
 *    display_name, mount path, a client token logged raw...) and from json_t
 *    values are treated alike: jansson's checks make the latter valid unless
 *    made with a *_nocheck call (jansson's dumper refused such a string and
 *    failed the whole entry; it is now repaired like any other, so two keys
 *    that differ only in invalid bytes may come out equal);
 *  - integers: decimal;
 *  - reals written in clear (log_raw, skipped keys, metadata...): jansson's
 *    own text, "%.17g" with ".0" appended when it has neither '.' nor 'e' and
 *    the exponent's '+' and leading zeros dropped: 0.1 -> 0.10000000000000001,
 *    1.0 -> 1.0, 1e100 -> 1e100, 1.5e-7 -> 1.4999999999999999e-7. Seventeen
 *    significant digits always read back as the very same double, so the
 *    text is valid JSON that round-trips exactly, and it is what the
 *    jansson-based writer this replaced produced (elided counts are
 *    integers). The shortest text below is only what reals are hashed as;
 *  - true, false, null.
 *
 * Hashing: HMAC-SHA256 through one lib/hmac context per entry, keyed at
 * its first hash (a log_raw entry, or one with nothing secret in it,
 * never keys it): a leaf then costs two SHA-256 state copies and two
 * compressions, with no allocation, and its MAC is hex-encoded straight
 * into the line (hmac.h says how, and why not EVP_MAC). The keyed state
 * is wiped when the entry ends, and the MAC after each leaf;
 * test_audit_entry checks the result against OpenSSL's one-shot HMAC()
 * for salts shorter than, as long as and longer than a block. The
 * request's client token and the token's accessor appear twice in an
 * entry (auth and request): each is hashed once and its quoted hash
 * copied. Across the entries of one batch (the
 * broker formats a batch's entries for one device together), a memo keeps
 * the quoted hash of each value of up to AUDIT_MEMO_TEXT_MAX bytes it has
 * hashed, in a fixed table indexed by FNV-1a of the value and checked by
 * comparing the value itself: a hot secret read by a batch of requests,
 * or a token making many of them, is hashed once per batch. The memo
 * holds copies of those values (secrets) only for the batch: the broker
 * wipes them when it moves to the next device and when the batch ends.
 *
 * Leaves hashed as text (audit_entry.h):
 *  - strings: their bytes (json_string_length, so an embedded NUL counts);
 *  - integers: decimal ("%" JSON_INTEGER_FORMAT): 1 -> "1", -7 -> "-7";
 *  - reals: the shortest "%.<p>g" (p = 1..17) that strtod reads back as the
 *    very same double, then jansson's own rule of appending ".0" when that
 *    text has neither '.' nor an exponent. So 2.5 -> "2.5", 0.1 -> "0.1"
 *    (not jansson's default 17-digit "0.10000000000000001"), 1.0 -> "1.0",
 *    1e100 -> "1e+100", -0.0 -> "-0.0". Deterministic for a given double,
 *    and the text an operator would type into sys/audit-hash. The process
 *    runs in the "C" locale (Trove never calls setlocale), so '.' is the
 *    decimal point;
 *  - true/false: "true"/"false"; null stays null.
 *
 * Decisions where the header is silent:
 *  - elide_list_responses replaces response.data.keys (when an array) and
 *    response.data.key_info (when an object) with their counts, written in
 *    clear: a count is not data the client sent or received, hashing it
 *    would hide nothing (a small number is trivially brute-forced) and only
 *    make the elided log less useful. Eliding happens on the top level of
 *    the logged data (resp->bare for a bare response) and also with
 *    log_raw; the original keys are never masked only to be thrown away;
 *  - response.auth: client_token and accessor are hashed only when they
 *    are non-empty strings ("" hides nothing); any other member is written
 *    in clear. A response.auth that is not an object (never, by contract)
 *    gets every leaf masked rather than risking a leak;
 *  - request.data / response.data that is not an object (a bare array or
 *    string) is masked leaf by leaf; the skip lists apply to objects only;
 *  - invalid UTF-8 is replaced, not refused (above): a request to /v1/%FF
 *    must still be audited, and Go's encoder does the same for Vault;
 *  - auth.token_issue_time and auth.token_type: token_issue_time is omitted
 *    when creation_time is 0 (unknown); token_type is always present;
 *  - a value nested more than 2048 levels deep (more than jansson's parser
 *    accepts, so only a value built in code, or a cycle, can be) fails the
 *    entry rather than overflowing the worker's stack;
 *  - a failure of any step (out of memory, OpenSSL error) fails the whole
 *    entry (NULL): an entry is never written with a value left in clear
 *    because its hash could not be computed.
 *
 * Memory. The caller's values are only read: never modified, never
 * referenced (refcounts untouched). The line is appended to the caller's
 * struct buf (audit_format_entry_append: the broker puts all the entries of
 * a batch for one device in one buffer) or to a fresh one
 * (audit_format_entry), which starts at 4 KiB (one allocation for a typical
 * entry), grows as lib/buf grows it and is handed to the caller as it is;
 * no per-leaf allocation (numbers are formatted on the stack). Callers
 * pass a secret-mode buffer (buf_init_secret), as log_raw text holds
 * secrets: growing then copies into a new block and wipes the old one.
 * With log_raw a failed entry is wiped before it is cut off or freed.
 * audit_mask_leaves, whose result the caller may edit, still builds a
 * tree, deep-copying its skipped values; it shares the leaf texts and the
 * hashing with the writer. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "audit_entry.h"

#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "jsonw.h"
#include "timefmt.h"
#include "mount.h"
#include "request.h"
#include "router.h"
#include "secure.h"
#include "token.h"

#include "banned.h"

#define PREFIX_LEN (sizeof(AUDIT_HASH_PREFIX) - 1)
#define SHA256_LEN 32
#define HASH_LEN (PREFIX_LEN + 2 * SHA256_LEN)
#define NUM_MAX JSONW_NUM_MAX /* the text of a number, on the stack */
#define MAX_DEPTH 2048    /* nesting inside one logged value */
#define LINE_CAP (SIZE_MAX / 4)

/* --- HMAC ----------------------------------------------------------------- */

static void hex_pairs(const unsigned char *in, size_t n, char *out)
{
	static const char pairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	                            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
	                            "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
	                            "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
	                            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
	                            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
	                            "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
	                            "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, pairs + 2 * in[i], 2);
}


/* out gets "hmac-sha256:<64 hex>" (HASH_LEN chars + NUL). */
static bool hasher_hash(struct hmac_sha256_ctx *h, const void *text, size_t n, char out[AUDIT_HASH_MAX])
{
	unsigned char mac[SHA256_LEN];
	bool ok = hmac_sha256_ctx_mac(h, text, n, mac);

	if (ok) {
		memcpy(out, AUDIT_HASH_PREFIX, PREFIX_LEN);
		hex_pairs(mac, SHA256_LEN, out + PREFIX_LEN);
		out[HASH_LEN] = '\0';
	}
	secure_wipe(mac, sizeof(mac));
	return ok;
}

void audit_hash_text(const unsigned char *salt, size_t salt_len, const char *text, size_t n,
                     char out[AUDIT_HASH_MAX])
{
	struct hmac_sha256_ctx h;

	hmac_sha256_ctx_init(&h, salt, salt_len);
	if (!hasher_hash(&h, text, n, out))
		out[0] = '\0'; /* reveals nothing; only on OpenSSL/alloc failure */
	hmac_sha256_ctx_release(&h);
}

/* --- leaf texts ----------------------------------------------------------- */

/* The shortest round-tripping text of a real, as hashed (see the file
 * comment); 0 on failure. */
static size_t real_text(double d, char *out, size_t cap)
{
	int n = 0;

	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(out, cap, "%.*g", prec, d);
		if (n <= 0 || (size_t)n >= cap)
			return 0;
		if (strtod(out, NULL) == d)
			break;
	}
	if (!strpbrk(out, ".eE") && !strpbrk(out, "ni") && (size_t)n + 2 < cap) {
		out[n++] = '.';
		out[n++] = '0';
		out[n] = '\0';
	}
	return (size_t)n;
}

/* The text a scalar leaf is hashed as: *text (num is scratch for numbers)
 * and its length in *n. False for null (never hashed), containers and a
 * number that cannot be formatted. */
static bool leaf_text(const json_t *v, char num[NUM_MAX], const char **text, size_t *n)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		*text = json_string_value(v);
		*n = json_string_length(v);
		return true;
	case JSON_INTEGER:
		*text = num;
		*n = jsonw_int_text(json_integer_value(v), num);
		return true;
	case JSON_REAL:
		*text = num;
		*n = real_text(json_real_value(v), num, NUM_MAX);
		return *n != 0;
	case JSON_TRUE:
		*text = "true";
		*n = 4;
		return true;
	case JSON_FALSE:
		*text = "false";
		*n = 5;
		return true;
	default:
		return false;
	}
}

static bool key_is(const char *k, size_t klen, const char *name)
{
	return klen == strlen(name) && memcmp(k, name, klen) == 0;
}

static bool key_in(const struct strlist *l, const char *k, size_t klen)
{
	return l != NULL && l->len != 0 && strlen(k) == klen && strlist_contains(l, k);
}

/* --- audit_mask_leaves: a masked tree ------------------------------------- */

/* A JSON string holding the hash of scalar v (null stays null), or NULL.
 * Kept out of line so the recursive mask_value frame stays small (worker
 * threads have 1 MiB stacks and parsed input may nest 2048 deep). */
static __attribute__((noinline)) json_t *hash_scalar(struct hmac_sha256_ctx *h, const json_t *v)
{
	char num[NUM_MAX], out[AUDIT_HASH_MAX];
	const char *text;
	size_t n;

	if (json_is_null(v))
		return json_null();
	if (!leaf_text(v, num, &text, &n) || !hasher_hash(h, text, n, out))
		return NULL;
	return json_stringn_nocheck(out, HASH_LEN);
}

/* A new value with every leaf of v hashed, or NULL. */
static json_t *mask_value(struct hmac_sha256_ctx *h, const json_t *v)
{
	const char *k;
	size_t klen, i;
	json_t *out, *c;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		out = json_object();
		if (out == NULL)
			return NULL;
		json_object_keylen_foreach((json_t *)v, k, klen, c)
		{
			if (json_object_setn_new_nocheck(out, k, klen, mask_value(h, c)) != 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	case JSON_ARRAY:
		out = json_array();
		if (out == NULL)
			return NULL;
		json_array_foreach((json_t *)v, i, c)
		{
			if (json_array_append_new(out, mask_value(h, c)) != 0) {
				json_decref(out);
				return NULL;
			}
		}
		return out;
	default:
		return hash_scalar(h, v);
	}
}

json_t *audit_mask_leaves(const unsigned char *salt, size_t salt_len, const json_t *v,
                          const struct strlist *skip)
{
	const char *k;
	size_t klen;
	struct hmac_sha256_ctx h;
	json_t *out, *c, *m;

	if (v == NULL)
		return NULL;
	hmac_sha256_ctx_init(&h, salt, salt_len);
	if (!json_is_object(v)) {
		out = mask_value(&h, v);
		goto done;
	}
	out = json_object();
	if (out == NULL)
		goto done;
	json_object_keylen_foreach((json_t *)v, k, klen, c)
	{
		m = key_in(skip, k, klen) ? json_deep_copy(c) : mask_value(&h, c);
		if (json_object_setn_new_nocheck(out, k, klen, m) != 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
done:
	hmac_sha256_ctx_release(&h);
	return out;
}

/* --- the writer ------------------------------------------------------------ */

/* --- the entry ------------------------------------------------------------ */

/* The quoted hash of a text that occurs twice in an entry. */
struct memo {
	bool done;
	char text[HASH_LEN + 2];
};

struct entry {
	const struct audit_format *f;
	const struct audit_record *r;
	struct hmac_sha256_ctx h;
	struct jsonw o;
	struct memo token;             /* of r->req->client_token */
	struct memo accessor;          /* of r->token->accessor */
	struct audit_hash_memo *batch; /* hashes of the batch so far, or NULL */
};

/* --- the batch's hashes ---------------------------------------------------- */

#define MEMO_SLOTS 128 /* a power of two */

struct memo_slot {
	uint32_t len; /* of text; MEMO_EMPTY: unused */
	char text[AUDIT_MEMO_TEXT_MAX];
	char hash[HASH_LEN + 2]; /* quoted */
};

#define MEMO_EMPTY UINT32_MAX

struct audit_hash_memo {
	struct memo_slot slot[MEMO_SLOTS];
};

struct audit_hash_memo *audit_hash_memo_new(void)
{
	struct audit_hash_memo *m = xmalloc(sizeof(*m));
	for (size_t i = 0; i < MEMO_SLOTS; i++)
		m->slot[i].len = MEMO_EMPTY;
	return m;
}

void audit_hash_memo_reset(struct audit_hash_memo *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < MEMO_SLOTS; i++) {
		struct memo_slot *sl = &m->slot[i];
		if (sl->len == MEMO_EMPTY)
			continue;
		secure_wipe(sl->text, sl->len);
		sl->len = MEMO_EMPTY;
	}
}

void audit_hash_memo_free(struct audit_hash_memo *m)
{
	audit_hash_memo_reset(m);
	free(m);
}

/* The slot for n bytes of text (FNV-1a; a table index, not a MAC). */
static struct memo_slot *memo_slot(struct audit_hash_memo *m, const void *text, size_t n)
{
	const unsigned char *p = text;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return &m->slot[(h ^ (h >> 16)) & (MEMO_SLOTS - 1)];
}

/* The quoted "hmac-sha256:<hex>" of n bytes of text: from the batch's
 * memo when this value was hashed for an earlier entry of the batch. */
static void out_hash(struct entry *e, const void *text, size_t n)
{
	struct jsonw *o = &e->o;
	unsigned char mac[SHA256_LEN];
	struct memo_slot *sl = NULL;
	char *d;

	if (!jsonw_room(o, HASH_LEN + 2))
		return;
	d = o->b.data + o->b.len;
	if (e->batch != NULL && n <= AUDIT_MEMO_TEXT_MAX) {
		sl = memo_slot(e->batch, text, n);
		if (sl->len == n && memcmp(sl->text, text, n) == 0) {
			memcpy(d, sl->hash, HASH_LEN + 2);
			o->b.len += HASH_LEN + 2;
			o->b.data[o->b.len] = '\0';
			return;
		}
	}
	if (!hmac_sha256_ctx_mac(&e->h, text, n, mac)) {
		o->ok = false;
	} else {
		d[0] = '"';
		memcpy(d + 1, AUDIT_HASH_PREFIX, PREFIX_LEN);
		hex_pairs(mac, SHA256_LEN, d + 1 + PREFIX_LEN);
		d[1 + HASH_LEN] = '"';
		o->b.len += HASH_LEN + 2;
		o->b.data[o->b.len] = '\0';
		if (sl != NULL) {
			if (sl->len != MEMO_EMPTY)
				secure_wipe(sl->text, sl->len);
			memcpy(sl->text, text, n);
			memcpy(sl->hash, d, HASH_LEN + 2);
			sl->len = (uint32_t)n;
		}
	}
	secure_wipe(mac, sizeof(mac));
}

/* A scalar leaf, masked. Out of line: keeps the recursive frames small. */
static __attribute__((noinline)) void out_masked_leaf(struct entry *e, const json_t *v)
{
	char num[NUM_MAX];
	const char *text;
	size_t n;

	if (json_is_null(v))
		jsonw_lit(&e->o, "null");
	else if (leaf_text(v, num, &text, &n))
		out_hash(e, text, n);
	else
		e->o.ok = false;
}

/* v, every leaf hashed (mask) or in clear. depth: containers around v. */
static void out_value(struct entry *e, const json_t *v, bool mask, unsigned depth)
{
	struct jsonw *o = &e->o;
	void *it;
	size_t i, n;

	if (!o->ok)
		return;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (depth >= MAX_DEPTH) {
			o->ok = false;
			return;
		}
		jsonw_byte(o, '{');
		for (it = json_object_iter((json_t *)v), i = 0; it != NULL && o->ok;
		     it = json_object_iter_next((json_t *)v, it), i++) {
			if (i != 0)
				jsonw_byte(o, ',');
			jsonw_str(o, json_object_iter_key(it), json_object_iter_key_len(it));
			jsonw_byte(o, ':');
			out_value(e, json_object_iter_value(it), mask, depth + 1);
		}
		jsonw_byte(o, '}');
		return;
	case JSON_ARRAY:
		if (depth >= MAX_DEPTH) {
			o->ok = false;
			return;
		}
		jsonw_byte(o, '[');
		n = json_array_size(v);
		for (i = 0; i < n && o->ok; i++) {
			if (i != 0)
				jsonw_byte(o, ',');
			out_value(e, json_array_get(v, i), mask, depth + 1);
		}
		jsonw_byte(o, ']');
		return;
	default:
		if (mask)
			out_masked_leaf(e, v);
		else
			jsonw_scalar(o, v);
	}
}

/* A member name with its colon, preceded by a comma unless it is the
 * object's first member. */
static void out_key(struct jsonw *o, bool *first, const char *lit, size_t n)
{
	jsonw_raw(o, lit + (*first ? 1 : 0), n - (*first ? 1 : 0));
	*first = false;
}

#define KEY(o, first, name) out_key((o), (first), ",\"" name "\":", sizeof(",\"" name "\":") - 1)

static bool nonempty(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* A token: hashed unless log_raw. m, if any, remembers the hash. */
static void out_secret(struct entry *e, const char *s, size_t n, struct memo *m)
{
	size_t at = e->o.b.len;

	if (e->f->log_raw) {
		jsonw_str(&e->o, s, n);
	} else if (m != NULL && m->done) {
		jsonw_raw(&e->o, m->text, sizeof(m->text));
	} else {
		out_hash(e, s, n);
		if (m != NULL && e->o.ok) {
			memcpy(m->text, e->o.b.data + at, sizeof(m->text));
			m->done = true;
		}
	}
}

/* An accessor: hashed when hmac_accessor, unless log_raw. */
static void out_accessor(struct entry *e, const char *s, size_t n, struct memo *m)
{
	if (e->f->hmac_accessor)
		out_secret(e, s, n, m);
	else
		jsonw_str(&e->o, s, n);
}

static void out_strlist(struct jsonw *o, const struct strlist *l)
{
	jsonw_byte(o, '[');
	for (size_t i = 0; i < l->len; i++) {
		if (i != 0)
			jsonw_byte(o, ',');
		jsonw_cstr(o, l->items[i]);
	}
	jsonw_byte(o, ']');
}

/* "2026-11-30T12:00:00Z" (seconds, UTC): lib/timefmt's text, quoted. */
static void out_rfc3339(struct jsonw *o, int64_t t)
{
	char s[TIME_TEXT_MAX];

	time_rfc3339(t, s);
	if (s[0] == '\0')
		o->ok = false; /* gmtime cannot represent t */
	else
		jsonw_cstr(o, s);
}

static void out_policy_results(struct entry *e)
{
	const struct strlist *g = e->r->granting;
	struct jsonw *o = &e->o;

	if (e->r->allowed)
		jsonw_lit(o, "{\"allowed\":true");
	else
		jsonw_lit(o, "{\"allowed\":false");
	if (g != NULL && g->len != 0) {
		jsonw_lit(o, ",\"granting_policies\":[");
		for (size_t i = 0; i < g->len; i++) {
			if (i != 0)
				jsonw_byte(o, ',');
			jsonw_lit(o, "{\"name\":");
			jsonw_cstr(o, g->items[i]);
			jsonw_lit(o, ",\"namespace_id\":\"root\",\"type\":\"acl\"}");
		}
		jsonw_byte(o, ']');
	}
	jsonw_byte(o, '}');
}

static void out_auth(struct entry *e)
{
	const struct token_entry *t = e->r->token;
	const struct request *req = e->r->req;
	struct jsonw *o = &e->o;
	bool first = true;

	jsonw_byte(o, '{');
	if (req != NULL && nonempty(req->client_token)) {
		KEY(o, &first, "client_token");
		out_secret(e, req->client_token, strlen(req->client_token), &e->token);
	}
	if (t->accessor[0] != '\0') {
		KEY(o, &first, "accessor");
		out_accessor(e, t->accessor, strlen(t->accessor), &e->accessor);
	}
	if (nonempty(t->display_name)) {
		KEY(o, &first, "display_name");
		jsonw_cstr(o, t->display_name);
	}
	if (t->policies.len != 0 || t->identity_policies.len != 0) {
		/* policies = token_policies + identity_policies */
		struct strlist all;
		strlist_init(&all);
		for (size_t i = 0; i < t->policies.len; i++)
			strlist_push(&all, t->policies.items[i]);
		for (size_t i = 0; i < t->identity_policies.len; i++)
			strlist_push(&all, t->identity_policies.items[i]);
		strlist_sort_unique(&all);
		KEY(o, &first, "policies");
		out_strlist(o, &all);
		strlist_release(&all);
		if (t->policies.len != 0) {
			KEY(o, &first, "token_policies");
			out_strlist(o, &t->policies);
		}
		if (t->identity_policies.len != 0) {
			KEY(o, &first, "identity_policies");
			out_strlist(o, &t->identity_policies);
		}
	}
	if (json_is_object(t->meta) && json_object_size(t->meta) != 0) {
		KEY(o, &first, "metadata");
		out_value(e, t->meta, false, 0);
	}
	if (nonempty(t->entity_id)) {
		KEY(o, &first, "entity_id");
		jsonw_cstr(o, t->entity_id);
	}
	KEY(o, &first, "token_type");
	if (t->type == TOKEN_TYPE_BATCH)
		jsonw_lit(o, "\"batch\"");
	else
		jsonw_lit(o, "\"service\"");
	if (t->ttl != 0) {
		KEY(o, &first, "token_ttl");
		jsonw_int(o, t->ttl);
	}
	if (t->creation_time != 0) {
		KEY(o, &first, "token_issue_time");
		out_rfc3339(o, t->creation_time);
	}
	if (t->num_uses > 0) {
		KEY(o, &first, "remaining_uses");
		jsonw_int(o, t->num_uses);
	}
	if (e->r->policy_checked) {
		KEY(o, &first, "policy_results");
		out_policy_results(e);
	}
	jsonw_byte(o, '}');
}

static void out_mount(struct jsonw *o, bool *first, const struct mount *m)
{
	if (m == NULL)
		return;
	if (nonempty(m->path)) {
		KEY(o, first, "mount_point");
		jsonw_cstr(o, m->path);
	}
	if (nonempty(m->type)) {
		KEY(o, first, "mount_type");
		jsonw_cstr(o, m->type);
	}
	if (m->accessor[0] != '\0') {
		KEY(o, first, "mount_accessor");
		jsonw_cstr(o, m->accessor);
	}
}

struct data_opts {
	const struct strlist *skip; /* top-level keys kept in clear, or NULL */
	const struct route *route;  /* its sensitive fields are hashed whatever skip says */
	bool raw;                   /* log_raw: nothing hashed */
	bool elide;                 /* list response: keys/key_info -> counts */
};

/* Request or response data as logged, under "data" unless it is NULL or an
 * empty object. */
static void out_data(struct entry *e, bool *first, const json_t *v, const struct data_opts *d)
{
	struct jsonw *o = &e->o;
	const char *k;
	size_t klen;
	void *it;
	json_t *c;
	bool any = false;

	if (v == NULL || (json_is_object(v) && json_object_size(v) == 0))
		return;
	KEY(o, first, "data");
	if (!json_is_object(v)) {
		out_value(e, v, !d->raw, 0);
		return;
	}
	jsonw_byte(o, '{');
	for (it = json_object_iter((json_t *)v); it != NULL && o->ok;
	     it = json_object_iter_next((json_t *)v, it)) {
		k = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		c = json_object_iter_value(it);
		if (any)
			jsonw_byte(o, ',');
		any = true;
		jsonw_str(o, k, klen);
		jsonw_byte(o, ':');
		if (d->elide && key_is(k, klen, "keys") && json_is_array(c))
			jsonw_int(o, (json_int_t)json_array_size(c));
		else if (d->elide && key_is(k, klen, "key_info") && json_is_object(c))
			jsonw_int(o, (json_int_t)json_object_size(c));
		else
			out_value(e, c, !(d->raw || (key_in(d->skip, k, klen) && !field_is_sensitive(d->route, k, klen))),
				  1);
	}
	jsonw_byte(o, '}');
}

struct path_out {
	struct entry *e;
	struct buf b;
	bool ok;
};

static void path_piece(void *ctx, const char *s, size_t n, bool secret)
{
	struct path_out *p = ctx;
	char h[AUDIT_HASH_MAX];

	if (!secret || p->e->f->log_raw) {
		p->ok = p->ok && buf_append(&p->b, s, n) == 0;
		return;
	}
	p->ok = p->ok && hasher_hash(&p->e->h, s, n, h) && buf_append(&p->b, h, HASH_LEN) == 0;
}

/* request.path with each secret route parameter (router.h's "#name")
 * HMAC'd in place, as sys/audit-hash gives it; in clear under log_raw. */
static void out_path(struct entry *e, const struct request *req)
{
	struct path_out p = {.e = e, .ok = true};

	if (req->nsecret == 0) {
		jsonw_cstr(&e->o, req->path);
		return;
	}
	buf_init_secret(&p.b, BUF_CAP_DEFAULT);
	request_path_pieces(req, path_piece, &p);
	if (p.ok)
		jsonw_str(&e->o, p.b.data, p.b.len);
	else
		e->o.ok = false; /* never the path in clear */
	buf_release_secret(&p.b);
}

static void out_request(struct entry *e)
{
	const struct request *req = e->r->req;
	const struct token_entry *t = e->r->token;
	struct jsonw *o = &e->o;
	const char *op;
	bool first = true;

	if (req == NULL) {
		jsonw_lit(o, "{}");
		return;
	}
	jsonw_byte(o, '{');
	if (req->id[0] != '\0') {
		KEY(o, &first, "id");
		jsonw_cstr(o, req->id);
	}
	KEY(o, &first, "operation");
	op = op_name(req->op);
	if (op == NULL)
		o->ok = false;
	else
		jsonw_cstr(o, op);
	out_mount(o, &first, req->mount);
	if (nonempty(req->client_token)) {
		KEY(o, &first, "client_token");
		out_secret(e, req->client_token, strlen(req->client_token), &e->token);
	}
	if (t != NULL && t->accessor[0] != '\0') {
		KEY(o, &first, "client_token_accessor");
		out_accessor(e, t->accessor, strlen(t->accessor), &e->accessor);
	}
	KEY(o, &first, "namespace");
	jsonw_lit(o, "{\"id\":\"root\"}");
	if (nonempty(req->path)) {
		KEY(o, &first, "path");
		out_path(e, req);
	}
	struct data_opts opts = {
	    .skip = req->mount ? &req->mount->config.audit_non_hmac_request_keys : NULL,
	    .route = req->route,
	    .raw = e->f->log_raw,
	};
	out_data(e, &first, req->data, &opts);
	if (req->remote_addr[0] != '\0') {
		KEY(o, &first, "remote_address");
		jsonw_cstr(o, req->remote_addr);
	}
	if (req->remote_port != 0) {
		KEY(o, &first, "remote_port");
		jsonw_int(o, req->remote_port);
	}
	if (req->wrap_ttl > 0) {
		KEY(o, &first, "wrap_ttl");
		jsonw_int(o, (json_int_t)req->wrap_ttl);
	}
	if (json_is_object(e->r->headers) && json_object_size(e->r->headers) != 0) {
		KEY(o, &first, "headers");
		out_value(e, e->r->headers, false, 0);
	}
	jsonw_byte(o, '}');
}

/* resp->auth with client_token and accessor masked, the rest in clear. */
static void out_response_auth(struct entry *e, const json_t *auth)
{
	struct jsonw *o = &e->o;
	const char *k;
	size_t klen;
	void *it;
	json_t *c;
	bool any = false;

	if (!json_is_object(auth)) {
		out_value(e, auth, !e->f->log_raw, 0);
		return;
	}
	jsonw_byte(o, '{');
	for (it = json_object_iter((json_t *)auth); it != NULL && o->ok;
	     it = json_object_iter_next((json_t *)auth, it), any = true) {
		k = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		c = json_object_iter_value(it);
		bool is_token = key_is(k, klen, "client_token");
		bool is_acc = key_is(k, klen, "accessor");

		if (any)
			jsonw_byte(o, ',');
		jsonw_str(o, k, klen);
		jsonw_byte(o, ':');
		if ((is_token || is_acc) && json_is_string(c) && json_string_length(c) != 0) {
			if (is_token)
				out_secret(e, json_string_value(c), json_string_length(c), NULL);
			else
				out_accessor(e, json_string_value(c), json_string_length(c), NULL);
		} else {
			out_value(e, c, false, 1);
		}
	}
	jsonw_byte(o, '}');
}

/* wrap_info: the token always masked (unless log_raw), the accessors as
 * hmac_accessor says, the rest in clear. */
static void out_wrap_info(struct entry *e, const json_t *w)
{
	struct jsonw *o = &e->o;
	const char *k;
	size_t klen;
	void *it;
	json_t *c;
	bool any = false;

	jsonw_byte(o, '{');
	for (it = json_object_iter((json_t *)w); it != NULL && o->ok;
	     it = json_object_iter_next((json_t *)w, it), any = true) {
		k = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		c = json_object_iter_value(it);
		if (any)
			jsonw_byte(o, ',');
		jsonw_str(o, k, klen);
		jsonw_byte(o, ':');
		if (json_is_string(c) && json_string_length(c) != 0 && key_is(k, klen, "token"))
			out_secret(e, json_string_value(c), json_string_length(c), NULL);
		else if (json_is_string(c) && json_string_length(c) != 0 &&
		         (key_is(k, klen, "accessor") || key_is(k, klen, "wrapped_accessor")))
			out_accessor(e, json_string_value(c), json_string_length(c), NULL);
		else
			out_value(e, c, false, 1);
	}
	jsonw_byte(o, '}');
}

static void out_response(struct entry *e)
{
	const struct request *req = e->r->req;
	const struct response *resp = e->r->resp;
	const struct mount *m = req ? req->mount : NULL;
	struct jsonw *o = &e->o;
	bool first = true;

	jsonw_byte(o, '{');
	out_mount(o, &first, m);
	if (resp->auth != NULL && !(json_is_object(resp->auth) && json_object_size(resp->auth) == 0)) {
		KEY(o, &first, "auth");
		out_response_auth(e, resp->auth);
	}
	if (nonempty(resp->lease_id)) {
		/* Lease ids are references, not secrets: kept in clear, as
		 * Vault, so that an audit query can follow a lease. */
		KEY(o, &first, "secret");
		jsonw_lit(o, "{\"lease_id\":");
		jsonw_cstr(o, resp->lease_id);
		jsonw_byte(o, '}');
	}
	struct data_opts opts = {
	    .skip = m ? &m->config.audit_non_hmac_response_keys : NULL,
	    .raw = e->f->log_raw,
	    .elide = e->f->elide_list_responses && req != NULL && req->op == OP_LIST,
	};
	out_data(e, &first, resp->bare ? resp->bare : resp->data, &opts);
	if (json_is_array(resp->warnings) && json_array_size(resp->warnings) != 0) {
		KEY(o, &first, "warnings");
		out_value(e, resp->warnings, false, 0);
	}
	if (json_is_object(resp->wrap_info)) {
		KEY(o, &first, "wrap_info");
		out_wrap_info(e, resp->wrap_info);
	}
	jsonw_byte(o, '}');
}

int audit_format_entry_append(const struct audit_format *f, const struct audit_record *r,
                              struct audit_hash_memo *memo, struct buf *line)
{
	struct entry e = {.f = f, .r = r, .batch = f->log_raw ? NULL : memo};
	struct jsonw *o = &e.o;
	size_t start = line->len;
	bool first = true;

	hmac_sha256_ctx_init(&e.h, f->salt, f->salt_len);
	o->b = *line; /* taken over until the entry is done */
	o->ok = true;
	if (f->prefix != NULL)
		jsonw_raw(o, f->prefix, strlen(f->prefix));
	jsonw_byte(o, '{');
	if (nonempty(r->time)) {
		KEY(o, &first, "time");
		jsonw_cstr(o, r->time);
	}
	KEY(o, &first, "type");
	if (r->resp != NULL)
		jsonw_lit(o, "\"response\"");
	else
		jsonw_lit(o, "\"request\"");
	if (r->reuse != NULL) {
		jsonw_raw(o, r->reuse, r->reuse_len);
	} else {
		size_t from = o->b.len;
		if (r->token != NULL) {
			KEY(o, &first, "auth");
			out_auth(&e);
		}
		KEY(o, &first, "request");
		out_request(&e);
		if (r->keep != NULL && o->ok)
			buf_append(r->keep, o->b.data + from, o->b.len - from);
	}
	if (r->resp != NULL) {
		KEY(o, &first, "response");
		out_response(&e);
	}
	if (nonempty(r->error)) {
		KEY(o, &first, "error");
		jsonw_cstr(o, r->error);
	}
	jsonw_lit(o, "}\n");
	hmac_sha256_ctx_release(&e.h);

	if (!o->ok && o->b.size > 0) {
		/* drop the partial entry; with log_raw it may hold secrets */
		if (f->log_raw)
			secure_wipe(o->b.data + start, o->b.len - start);
		o->b.len = start;
		o->b.data[start] = '\0';
	}
	*line = o->b;
	return o->ok ? 0 : TROVE_ERR_NOMEM;
}

char *audit_format_entry(const struct audit_format *f, const struct audit_record *r, size_t *len)
{
	struct buf line;
	buf_init_secret(&line, LINE_CAP); /* log_raw lines hold secrets */
	if (audit_format_entry_append(f, r, NULL, &line) != 0) {
		buf_release(&line);
		return NULL;
	}
	if (len != NULL)
		*len = line.len;
	return line.data; /* allocated: the entry is never empty */
}
