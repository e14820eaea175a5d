/* seal_pkcs11.c — the "pkcs11" auto-unseal seal (see seal_pkcs11.h).
 *
 * One mutex serialises every use of the session: the seal is used at
 * start, at init and during a migration, never on a hot path. */
#include <dlfcn.h>
#include <errno.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "seal_pkcs11.h"

#include "encoding.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

#define KEY_ID_MAX 64
#define AES_KEY_LEN 32
#define RSA_KEY_BITS 2048 /* a key pair made by generate_key */
#define RSA_MAX_BYTES 1024 /* the largest modulus wrapped for (8192 bits) */

struct p11 {
	pthread_mutex_t lock;
	char *lib, *token_label, *pin, *key_label;
	bool have_slot;
	CK_SLOT_ID slot;
	unsigned char key_id[KEY_ID_MAX];
	size_t key_id_len;
	bool generate_key;
	CK_MECHANISM_TYPE mech; /* CKM_AES_GCM or CKM_RSA_PKCS_OAEP */
	CK_MECHANISM_TYPE oaep_hash;
	CK_RSA_PKCS_MGF_TYPE oaep_mgf;

	void *dl;
	CK_FUNCTION_LIST_PTR f;
	bool initialized;
	bool have_session;
	CK_SESSION_HANDLE session;
	struct seal_wrap w;
};

static const struct {
	CK_RV rv;
	const char *name;
} rv_names[] = {
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT: the PIN is wrong" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE: the PIN has the wrong length" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID: no such slot" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT: the key is not an AES key" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED: the key may not encrypt/decrypt" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID: the token does not offer the mechanism" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
	{ CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
};

static void buf_truncate_to(struct buf *b, size_t len)
{
	if (b->len > len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

static void rv_append(struct buf *err, CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv) {
			buf_append_str(err, rv_names[i].name);
			return;
		}
	buf_printf(err, "CK_RV 0x%lx", (unsigned long)rv);
}

static int fail_rv(struct buf *err, const char *what, CK_RV rv)
{
	buf_printf(err, "pkcs11: %s failed: ", what);
	rv_append(err, rv);
	return TROVE_ERR_UNAVAILABLE;
}

/* Closes the session and finalises the library; the next use starts over.
 * Caller holds the lock. */
static void disconnect(struct p11 *p)
{
	if (p->have_session)
		p->f->C_CloseSession(p->session);
	p->have_session = false;
	if (p->initialized)
		p->f->C_Finalize(NULL);
	p->initialized = false;
}

/* Caller holds the lock. */
static int load_library(struct p11 *p, struct buf *err)
{
	CK_C_GetFunctionList get = NULL;
	if (p->f)
		return 0;
	if (!p->dl && !(p->dl = dlopen(p->lib, RTLD_NOW | RTLD_LOCAL))) {
		const char *why = dlerror();
		buf_printf(err, "pkcs11: cannot load the library \"%s\": %s", p->lib, why ? why : "unknown error");
		return TROVE_ERR_UNAVAILABLE;
	}
	void *sym = dlsym(p->dl, "C_GetFunctionList");
	if (!sym) {
		buf_printf(err, "pkcs11: \"%s\" is not a PKCS#11 library (no C_GetFunctionList)", p->lib);
		return TROVE_ERR_UNAVAILABLE;
	}
	memcpy(&get, &sym, sizeof(get));
	CK_RV rv = get(&p->f);
	if (rv != CKR_OK || !p->f) {
		p->f = NULL;
		return fail_rv(err, "C_GetFunctionList", rv);
	}
	return 0;
}

/* Blank-padded token label comparison. */
static bool label_is(const unsigned char label[32], const char *want)
{
	size_t n = strlen(want);
	if (n > 32)
		return false;
	if (memcmp(label, want, n) != 0)
		return false;
	for (size_t i = n; i < 32; i++)
		if (label[i] != ' ' && label[i] != '\0')
			return false;
	return true;
}

/* Caller holds the lock. */
static int find_slot(struct p11 *p, CK_SLOT_ID *out, struct buf *err)
{
	CK_ULONG n = 0;
	CK_SLOT_ID *slots = NULL;
	CK_RV rv;
	int r = TROVE_ERR_UNAVAILABLE;

	if (p->have_slot) {
		*out = p->slot;
		return 0;
	}
	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return fail_rv(err, "C_GetSlotList", rv);
	slots = xcalloc(n ? n : 1, sizeof(*slots));
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		r = fail_rv(err, "C_GetSlotList", rv);
		goto out;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		if (p->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK && label_is(ti.label, p->token_label)) {
			*out = slots[i];
			r = 0;
			goto out;
		}
	}
	buf_printf(err, "pkcs11: no token labelled \"%s\" (%lu token(s) present)", p->token_label,
	           (unsigned long)n);
out:
	free(slots);
	return r;
}

/* Opens a logged-in session when there is none. Caller holds the lock. */
static int connect(struct p11 *p, struct buf *err)
{
	CK_SLOT_ID slot = 0;
	CK_RV rv;
	int r;

	if (p->have_session)
		return 0;
	if ((r = load_library(p, err)) != 0)
		return r;
	if (!p->initialized) {
		CK_C_INITIALIZE_ARGS args;
		memset(&args, 0, sizeof(args));
		args.flags = CKF_OS_LOCKING_OK;
		rv = p->f->C_Initialize(&args);
		if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
			return fail_rv(err, "C_Initialize", rv);
		p->initialized = true;
	}
	if ((r = find_slot(p, &slot, err)) != 0)
		goto fail;
	rv = p->f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &p->session);
	if (rv != CKR_OK) {
		r = fail_rv(err, "C_OpenSession", rv);
		goto fail;
	}
	p->have_session = true;
	rv = p->f->C_Login(p->session, CKU_USER, (unsigned char *)p->pin, strlen(p->pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		r = fail_rv(err, "C_Login", rv);
		goto fail;
	}
	return 0;
fail:
	disconnect(p);
	return r;
}

/* Looks for one object of class cls with the key's label (and id).
 * Caller holds the lock with a session open. 1 found, 0 none, <0 error. */
static int find_object(struct p11 *p, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *out, struct buf *err)
{
	CK_ATTRIBUTE tmpl[3] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, p->key_label, strlen(p->key_label) },
		{ CKA_ID, p->key_id, p->key_id_len },
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = p->f->C_FindObjectsInit(p->session, tmpl, p->key_id_len ? 3 : 2)) != CKR_OK)
		return fail_rv(err, "C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(p->session, found, 2, &n);
	p->f->C_FindObjectsFinal(p->session);
	if (rv != CKR_OK)
		return fail_rv(err, "C_FindObjects", rv);
	if (n > 1) {
		buf_printf(err, "pkcs11: more than one %s key is labelled \"%s\"; give key_id to choose one",
		           cls == CKO_SECRET_KEY ? "secret" : cls == CKO_PUBLIC_KEY ? "public" : "private",
		           p->key_label);
		return TROVE_ERR_UNAVAILABLE;
	}
	if (n == 1)
		*out = found[0];
	return (int)n;
}

/* Makes the key (AES) or key pair (RSA) on the token; *key is the one
 * that wraps. Caller holds the lock with a session open. */
static int generate(struct p11 *p, CK_OBJECT_HANDLE *key, struct buf *err)
{
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES;
	CK_ULONG vlen = AES_KEY_LEN, bits = RSA_KEY_BITS;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_BYTE exponent[] = { 1, 0, 1 };
	CK_ULONG nid = p->key_id_len ? 1 : 0;
	CK_RV rv;

	if (p->mech == CKM_AES_GCM) {
		CK_ATTRIBUTE gen[] = {
			{ CKA_CLASS, &secret, sizeof(secret) }, { CKA_KEY_TYPE, &aes, sizeof(aes) },
			{ CKA_VALUE_LEN, &vlen, sizeof(vlen) }, { CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },     { CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },   { CKA_ENCRYPT, &yes, sizeof(yes) },
			{ CKA_DECRYPT, &yes, sizeof(yes) },     { CKA_LABEL, p->key_label, strlen(p->key_label) },
			{ CKA_ID, p->key_id, p->key_id_len },
		};
		CK_MECHANISM m = { CKM_AES_KEY_GEN, NULL, 0 };
		if ((rv = p->f->C_GenerateKey(p->session, &m, gen, sizeof(gen) / sizeof(gen[0]) - 1 + nid, key)) != CKR_OK)
			return fail_rv(err, "C_GenerateKey", rv);
		return 0;
	}
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) },
		{ CKA_LABEL, p->key_label, strlen(p->key_label) },
		{ CKA_ID, p->key_id, p->key_id_len },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },       { CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },   { CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },     { CKA_LABEL, p->key_label, strlen(p->key_label) },
		{ CKA_ID, p->key_id, p->key_id_len },
	};
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE priv_key = 0;
	rv = p->f->C_GenerateKeyPair(p->session, &m, pub, sizeof(pub) / sizeof(pub[0]) - 1 + nid, priv,
	                             sizeof(priv) / sizeof(priv[0]) - 1 + nid, key, &priv_key);
	if (rv != CKR_OK)
		return fail_rv(err, "C_GenerateKeyPair", rv);
	return 0;
}

/* The key that wraps (AES key, RSA public key) or unwraps (AES key, RSA
 * private key); generated when missing and `may_generate` (wrapping only).
 * Caller holds the lock with a session open. */
static int find_key(struct p11 *p, bool wrapping, bool may_generate, CK_OBJECT_HANDLE *key, struct buf *err)
{
	CK_OBJECT_CLASS cls = p->mech == CKM_AES_GCM ? CKO_SECRET_KEY : wrapping ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY;
	int n = find_object(p, cls, key, err);
	if (n != 0)
		return n < 0 ? n : 0;
	if (may_generate)
		return generate(p, key, err);
	buf_printf(err, "pkcs11: no %s key labelled \"%s\"%s on the token",
	           cls == CKO_SECRET_KEY ? "secret" : cls == CKO_PUBLIC_KEY ? "public" : "private", p->key_label,
	           p->key_id_len ? " with the configured key_id" : "");
	return TROVE_ERR_UNAVAILABLE;
}

/* The mechanism and its parameters (which point into gcm/oaep). */
static CK_MECHANISM mechanism(const struct p11 *p, const unsigned char *iv, const char *aad, CK_GCM_PARAMS *gcm,
                              CK_RSA_PKCS_OAEP_PARAMS *oaep)
{
	if (p->mech == CKM_AES_GCM) {
		*gcm = (CK_GCM_PARAMS){ (unsigned char *)iv, SEAL_PKCS11_IV_LEN, SEAL_PKCS11_IV_LEN * 8,
			                (unsigned char *)aad, aad ? strlen(aad) : 0, SEAL_PKCS11_TAG_LEN * 8 };
		return (CK_MECHANISM){ CKM_AES_GCM, gcm, sizeof(*gcm) };
	}
	*oaep = (CK_RSA_PKCS_OAEP_PARAMS){ p->oaep_hash, p->oaep_mgf, CKZ_DATA_SPECIFIED, NULL, 0 };
	return (CK_MECHANISM){ CKM_RSA_PKCS_OAEP, oaep, sizeof(*oaep) };
}

static int wrap_once(void *ctx, const unsigned char *pt, size_t len, const char *aad, unsigned char **blob,
                     size_t *blob_len, struct buf *err)
{
	struct p11 *p = ctx;
	unsigned char iv[SEAL_PKCS11_IV_LEN];
	unsigned char *out = NULL;
	CK_OBJECT_HANDLE key = 0;
	CK_GCM_PARAMS gcm;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	bool aes = p->mech == CKM_AES_GCM;
	size_t head = aes ? SEAL_PKCS11_BLOB_HEADER : 2;
	CK_ULONG ct_len = 0;
	CK_RV rv;
	int r;

	*blob = NULL;
	if ((r = rand_bytes(iv, sizeof(iv))) != 0)
		return r;
	pthread_mutex_lock(&p->lock);
	if ((r = connect(p, err)) != 0 || (r = find_key(p, true, p->generate_key, &key, err)) != 0)
		goto out;
	CK_MECHANISM m = mechanism(p, iv, aad, &gcm, &oaep);
	if ((rv = p->f->C_EncryptInit(p->session, &m, key)) != CKR_OK) {
		r = fail_rv(err, aes ? "C_EncryptInit (CKM_AES_GCM)" : "C_EncryptInit (CKM_RSA_PKCS_OAEP)", rv);
		goto out;
	}
	/* GCM: the plaintext and a tag; OAEP: one modulus. */
	ct_len = aes ? len + SEAL_PKCS11_TAG_LEN : RSA_MAX_BYTES;
	out = xmalloc(head + ct_len);
	rv = p->f->C_Encrypt(p->session, (unsigned char *)pt, len, out + head, &ct_len);
	if (rv != CKR_OK || (aes && ct_len != len + SEAL_PKCS11_TAG_LEN)) {
		r = fail_rv(err, "C_Encrypt", rv);
		goto out;
	}
	out[0] = SEAL_PKCS11_BLOB_VERSION;
	out[1] = aes ? SEAL_PKCS11_MECH_AES_GCM : SEAL_PKCS11_MECH_RSA_OAEP;
	if (aes)
		memcpy(out + 2, iv, sizeof(iv));
	*blob = out;
	*blob_len = head + ct_len;
	out = NULL;
	r = 0;
out:
	if (r != 0)
		disconnect(p);
	pthread_mutex_unlock(&p->lock);
	free(out);
	return r;
}

static int unwrap_once(void *ctx, const unsigned char *blob, size_t blob_len, const char *aad, unsigned char **pt,
                       size_t *pt_len, struct buf *err)
{
	struct p11 *p = ctx;
	struct seal_pkcs11_blob b;
	unsigned char *out = NULL;
	CK_OBJECT_HANDLE key = 0;
	CK_GCM_PARAMS gcm;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_ULONG n;
	CK_RV rv;
	int r;

	*pt = NULL;
	if (seal_pkcs11_blob_parse(blob, blob_len, &b) != 0) {
		buf_append_str(err, "pkcs11: the stored wrapped key is damaged or of an unknown format");
		return TROVE_ERR_INTEGRITY;
	}
	if (b.mech != p->mech) {
		buf_printf(err, "pkcs11: the stored key was wrapped with %s but the seal is configured for %s",
		           b.mech == CKM_AES_GCM ? "CKM_AES_GCM" : "CKM_RSA_PKCS_OAEP",
		           p->mech == CKM_AES_GCM ? "CKM_AES_GCM" : "CKM_RSA_PKCS_OAEP");
		return TROVE_ERR_INTEGRITY;
	}
	n = b.ct_len;
	pthread_mutex_lock(&p->lock);
	if ((r = connect(p, err)) != 0 || (r = find_key(p, false, false, &key, err)) != 0)
		goto out;
	CK_MECHANISM m = mechanism(p, b.iv, aad, &gcm, &oaep);
	if ((rv = p->f->C_DecryptInit(p->session, &m, key)) != CKR_OK) {
		r = fail_rv(err, p->mech == CKM_AES_GCM ? "C_DecryptInit (CKM_AES_GCM)" : "C_DecryptInit (CKM_RSA_PKCS_OAEP)",
		            rv);
		goto out;
	}
	out = xmalloc(b.ct_len);
	rv = p->f->C_Decrypt(p->session, (unsigned char *)b.ct, b.ct_len, out, &n);
	if (rv != CKR_OK) {
		buf_printf(err, "pkcs11: the key labelled \"%s\" does not open the stored wrapped key (", p->key_label);
		rv_append(err, rv);
		buf_append_str(err, "): another key, or damaged storage");
		r = TROVE_ERR_INTEGRITY;
		goto out;
	}
	*pt = out;
	*pt_len = n;
	out = NULL;
	r = 0;
out:
	if (r != 0 && r != TROVE_ERR_INTEGRITY)
		disconnect(p);
	pthread_mutex_unlock(&p->lock);
	secure_free(out, b.ct_len);
	return r;
}

/* A device error closes the session; one more try on a fresh one rides
 * out a session the device dropped (restarted, reloaded its objects). */
static int p11_wrap(void *ctx, const unsigned char *pt, size_t len, const char *aad, unsigned char **blob,
                    size_t *blob_len, struct buf *err)
{
	size_t mark = err->len;
	int r = wrap_once(ctx, pt, len, aad, blob, blob_len, err);
	if (r == TROVE_ERR_UNAVAILABLE) {
		buf_truncate_to(err, mark);
		r = wrap_once(ctx, pt, len, aad, blob, blob_len, err);
	}
	return r;
}

static int p11_unwrap(void *ctx, const unsigned char *blob, size_t blob_len, const char *aad, unsigned char **pt,
                      size_t *pt_len, struct buf *err)
{
	size_t mark = err->len;
	int r = unwrap_once(ctx, blob, blob_len, aad, pt, pt_len, err);
	if (r == TROVE_ERR_UNAVAILABLE) {
		buf_truncate_to(err, mark);
		r = unwrap_once(ctx, blob, blob_len, aad, pt, pt_len, err);
	}
	return r;
}

/* A number in decimal or 0x-hex; false when it is neither. */
static bool mech_number(const char *s, unsigned long *out)
{
	int64_t v = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		unsigned long x = 0;
		const char *q = s + 2;
		if (!*q)
			return false;
		for (; *q; q++) {
			int d = strconv_hex_digit(*q);
			if (d < 0 || x > 0xffffffffUL)
				return false;
			x = x * 16 + (unsigned long)d;
		}
		*out = x;
		return true;
	}
	if (!strconv_int64(s, &v) || v < 0)
		return false;
	*out = (unsigned long)v;
	return true;
}

/* AES_GCM (CKM_AES_GCM, 0x1087) or RSA_PKCS_OAEP (CKM_RSA_PKCS_OAEP, 0x9),
 * OpenBao's spellings; false for anything else. */
static bool mechanism_parse(const char *s, CK_MECHANISM_TYPE *out)
{
	unsigned long v = 0;
	if (strcmp(s, "AES_GCM") == 0 || strcmp(s, "CKM_AES_GCM") == 0)
		v = CKM_AES_GCM;
	else if (strcmp(s, "RSA_PKCS_OAEP") == 0 || strcmp(s, "CKM_RSA_PKCS_OAEP") == 0)
		v = CKM_RSA_PKCS_OAEP;
	else if (!mech_number(s, &v))
		return false;
	if (v != CKM_AES_GCM && v != CKM_RSA_PKCS_OAEP)
		return false;
	*out = v;
	return true;
}

/* rsa_oaep_hash: the digest and its MGF1. */
static bool oaep_hash_parse(const char *s, CK_MECHANISM_TYPE *hash, CK_RSA_PKCS_MGF_TYPE *mgf)
{
	static const struct {
		const char *name;
		CK_MECHANISM_TYPE hash;
		CK_RSA_PKCS_MGF_TYPE mgf;
	} hashes[] = {
		{ "sha1", CKM_SHA_1, CKG_MGF1_SHA1 },       { "sha224", CKM_SHA224, CKG_MGF1_SHA224 },
		{ "sha256", CKM_SHA256, CKG_MGF1_SHA256 }, { "sha384", CKM_SHA384, CKG_MGF1_SHA384 },
		{ "sha512", CKM_SHA512, CKG_MGF1_SHA512 },
	};
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strcmp(s, hashes[i].name) == 0) {
			*hash = hashes[i].hash;
			*mgf = hashes[i].mgf;
			return true;
		}
	return false;
}

static int opts_check(const struct seal_pkcs11_opts *o, struct p11 *p, struct buf *err)
{
	const char *why = NULL;
	if (!o->lib || !o->lib[0])
		why = "lib: required (the path of the PKCS#11 library)";
	else if ((!o->slot || !o->slot[0]) && (!o->token_label || !o->token_label[0]))
		why = "slot or token_label: one is required";
	else if (!o->pin || !o->pin[0])
		why = "pin: required";
	else if (!o->key_label || !o->key_label[0])
		why = "key_label: required";
	else if (strlen(o->key_label) > 128)
		why = "key_label: at most 128 characters";
	else if (o->token_label && strlen(o->token_label) > 32)
		why = "token_label: at most 32 characters";
	if (!why && o->slot && o->slot[0]) {
		int64_t v = 0;
		if (!strconv_int64(o->slot, &v) || v < 0)
			why = "slot: must be a decimal slot number";
		p->have_slot = true;
		p->slot = (CK_SLOT_ID)v;
	}
	if (!why && o->key_id && o->key_id[0]) {
		const char *h = o->key_id;
		if (h[0] == '0' && (h[1] == 'x' || h[1] == 'X'))
			h += 2;
		if (hex_decode(h, strlen(h), p->key_id, sizeof(p->key_id), &p->key_id_len) != 0 || p->key_id_len == 0)
			why = "key_id: must be a hexadecimal string of at most 64 bytes";
	}
	p->mech = CKM_AES_GCM;
	if (!why && o->mechanism && o->mechanism[0] && !mechanism_parse(o->mechanism, &p->mech)) {
		buf_printf(err, "seal \"pkcs11\": mechanism: \"%s\" is not supported; Trove wraps with AES_GCM "
		                "(CKM_AES_GCM, 0x1087) or RSA_PKCS_OAEP (CKM_RSA_PKCS_OAEP, 0x0009)", o->mechanism);
		return TROVE_ERR_INVALID;
	}
	p->oaep_hash = CKM_SHA256;
	p->oaep_mgf = CKG_MGF1_SHA256;
	if (!why && o->rsa_oaep_hash && o->rsa_oaep_hash[0] && !oaep_hash_parse(o->rsa_oaep_hash, &p->oaep_hash, &p->oaep_mgf))
		why = "rsa_oaep_hash: must be sha1, sha224, sha256, sha384 or sha512";
	if (!why)
		return 0;
	buf_printf(err, "seal \"pkcs11\": %s", why);
	return TROVE_ERR_INVALID;
}

int seal_pkcs11_new(const struct seal_pkcs11_opts *o, struct seal_wrap **out, struct buf *err)
{
	struct p11 *p = xcalloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if ((r = opts_check(o, p, err)) != 0) {
		free(p);
		return r;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->lib = xstrdup(o->lib);
	p->token_label = xstrdup(o->token_label ? o->token_label : "");
	p->pin = xstrdup(o->pin);
	p->key_label = xstrdup(o->key_label);
	p->generate_key = o->generate_key;
	p->w.type = "pkcs11";
	p->w.ctx = p;
	p->w.wrap = p11_wrap;
	p->w.unwrap = p11_unwrap;
	*out = &p->w;
	return 0;
}

void seal_pkcs11_free(struct seal_wrap *w)
{
	if (!w)
		return;
	struct p11 *p = w->ctx;
	pthread_mutex_lock(&p->lock);
	if (p->f)
		disconnect(p);
	pthread_mutex_unlock(&p->lock);
	/* The library stays loaded: some PKCS#11 modules leave threads or
	 * atexit handlers behind that dlclose would pull out from under. */
	pthread_mutex_destroy(&p->lock);
	free(p->lib);
	free(p->token_label);
	secure_free_str(p->pin);
	free(p->key_label);
	secure_wipe(p->key_id, sizeof(p->key_id));
	free(p);
}
