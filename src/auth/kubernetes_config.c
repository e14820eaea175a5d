/* kubernetes_config.c — auth/kubernetes/config: where the API server is,
 * which CA signs its certificate, and what Trove shows it to be allowed
 * to review tokens.
 *
 * A write replaces the whole config, as Vault's does (an absent field
 * takes its default). kubernetes_host must be an https:// URL; the CA is
 * parsed at write, so a bad PEM is a 400 then and not a failure at the
 * first login. The reviewer JWT is stored and never returned: a read says
 * only token_reviewer_jwt_set. pem_keys, the keys that sign the
 * cluster's service-account JWTs, are parsed at write too (each a PEM
 * public key or a certificate; one that is not refuses the whole write)
 * and stored as given; login then checks each JWT's signature with them
 * before the TokenReview (kubernetes_login.c).
 *
 * When Trove runs in a pod and the config names no reviewer JWT or CA,
 * the pod's own token and CA (K8S_LOCAL_DIR) stand in, read again at each
 * use because the kubelet rotates them; disable_local_ca_jwt turns that
 * off. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "approle.h"
#include "kubernetes.h"
#include "strlist_json.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

#define LOCAL_FILE_MAX (64 << 10)

void k8s_config_release(struct k8s_config *c)
{
	free(c->host);
	free(c->ca_cert);
	secure_free_str(c->reviewer_jwt);
	free(c->issuer);
	strlist_release(&c->pem_keys);
	memset(c, 0, sizeof(*c));
}

char *k8s_dup_nonempty(const json_t *v)
{
	const char *s = json_string_value(v);
	return s && s[0] ? xstrdup(s) : NULL;
}

int k8s_config_load(struct storage *s, struct k8s_config *out)
{
	json_t *j = NULL;
	memset(out, 0, sizeof(*out));
	strlist_init(&out->pem_keys);
	int r = approle_get_json(s, K8S_CONFIG_KEY, &j);
	if (r != 0)
		return r;
	out->host = k8s_dup_nonempty(json_object_get(j, "kubernetes_host"));
	out->ca_cert = k8s_dup_nonempty(json_object_get(j, "kubernetes_ca_cert"));
	out->reviewer_jwt = k8s_dup_nonempty(json_object_get(j, "token_reviewer_jwt"));
	out->issuer = k8s_dup_nonempty(json_object_get(j, "issuer"));
	out->disable_iss_validation = json_is_true(json_object_get(j, "disable_iss_validation"));
	out->disable_local_ca_jwt = json_is_true(json_object_get(j, "disable_local_ca_jwt"));
	const json_t *pk = json_object_get(j, "pem_keys"); /* absent in configs written before */
	bool pk_ok = !pk || strlist_push_json(&out->pem_keys, pk);
	json_decref(j);
	if (!out->host || !pk_ok) {
		k8s_config_release(out);
		return TROVE_ERR_INTEGRITY;
	}
	return 0;
}

/* --- the pod's own credentials ----------------------------------------------- */

/* The file dir/name as a string, or NULL when it cannot be read, is empty
 * or is larger than LOCAL_FILE_MAX. Trailing blanks dropped (a token file
 * may end in a newline). */
static char *read_local(const char *dir, const char *name)
{
	char path[512];
	struct buf b;
	char chunk[4096];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	buf_init_secret(&b, sizeof(chunk));
	bool ok = true;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (b.len + n > LOCAL_FILE_MAX || buf_append(&b, chunk, n) != 0) {
			ok = false;
			break;
		}
	}
	ok = ok && !ferror(f);
	fclose(f);
	secure_wipe(chunk, sizeof(chunk));
	while (ok && b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (!ok || b.len == 0) {
		buf_release_secret(&b);
		return NULL;
	}
	return buf_take(&b);
}

void k8s_creds_resolve(const struct k8s_config *c, const char *dir, struct k8s_creds *out)
{
	memset(out, 0, sizeof(*out));
	if (c->reviewer_jwt)
		out->reviewer_jwt = xstrdup(c->reviewer_jwt);
	else if (!c->disable_local_ca_jwt)
		out->reviewer_jwt = read_local(dir, "token");
	if (c->ca_cert)
		out->ca_pem = xstrdup(c->ca_cert);
	else if (!c->disable_local_ca_jwt)
		out->ca_pem = read_local(dir, "ca.crt");
}

void k8s_creds_release(struct k8s_creds *cr)
{
	secure_free_str(cr->reviewer_jwt);
	free(cr->ca_pem);
	memset(cr, 0, sizeof(*cr));
}

/* --- validation ------------------------------------------------------------- */

bool k8s_host_valid(const char *host, const char **why)
{
	static const char scheme[] = "https://";
	if (strncmp(host, scheme, sizeof(scheme) - 1) != 0) {
		*why = "must be an https:// URL";
		return false;
	}
	const char *h = host + sizeof(scheme) - 1;
	size_t hl = strcspn(h, "/");
	if (hl == 0) {
		*why = "has no host";
		return false;
	}
	for (const char *p = host; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '\\') {
			*why = "may not hold blanks, control bytes, a query or a fragment";
			return false;
		}
	}
	if (memchr(h, '@', hl)) {
		*why = "may not hold user information";
		return false;
	}
	/* host, [v6], and an optional :port of digits */
	const char *end = h + hl, *port = NULL;
	if (h[0] == '[') {
		const char *rb = memchr(h, ']', hl);
		if (!rb || rb == h + 1 || (rb + 1 < end && rb[1] != ':')) {
			*why = "has a malformed IPv6 address";
			return false;
		}
		port = rb + 1 < end ? rb + 1 : NULL;
	} else {
		port = memchr(h, ':', hl);
		if (port == h) {
			*why = "has no host";
			return false;
		}
	}
	if (port) {
		size_t pl = (size_t)(end - port - 1);
		long v = 0;
		if (pl == 0 || pl > 5)
			goto bad_port;
		for (const char *p = port + 1; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				goto bad_port;
			v = v * 10 + (*p - '0');
		}
		if (v < 1 || v > 65535)
			goto bad_port;
	}
	return true;
bad_port:
	*why = "has a port that is not a number from 1 to 65535";
	return false;
}

/* Whether pem holds at least one certificate, and nothing that fails to
 * parse as one. */
static bool ca_valid(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));
	int n = 0;
	X509 *x;
	if (!b)
		return false;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	BIO_free(b);
	return n > 0;
}

int k8s_pem_keyset(const struct strlist *pems, struct jwt_keyset *ks, struct buf *err)
{
	struct buf why;
	int r = 0;

	buf_init(&why, BUF_CAP_DEFAULT);
	for (size_t i = 0; i < pems->len && r == 0; i++) {
		buf_reset(&why);
		r = jwt_keyset_add_pem(ks, pems->items[i], &why);
		if (r == 0) {
			int id = EVP_PKEY_get_base_id(ks->keys[ks->len - 1].key);
			if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS || id == EVP_PKEY_EC)
				continue;
			r = TROVE_ERR_INVALID;
			buf_printf(&why, "not an RSA or EC key (Kubernetes signs with RS, PS or ES algorithms)");
		}
		const char *w = why.data ? why.data : "";
		if (strncmp(w, "jwt: ", 5) == 0)
			w += 5;
		if (err)
			buf_printf(err, "key %zu: %s", i + 1, w);
	}
	buf_release(&why);
	return r;
}

/* --- handlers ------------------------------------------------------------------- */

int k8s_config_read(struct request *req, struct response *resp)
{
	json_t *j = NULL;
	int r = approle_get_json(req->storage, K8S_CONFIG_KEY, &j);
	if (r == TROVE_ERR_NOT_FOUND)
		return 0; /* Vault: no config reads as nothing (204) */
	if (r != 0)
		return r;
	json_t *d = json_object();
	static const char *const shown[] = {"kubernetes_host", "kubernetes_ca_cert", "issuer", NULL};
	for (size_t i = 0; shown[i]; i++) {
		const char *v = json_string_value(json_object_get(j, shown[i]));
		json_object_set_new(d, shown[i], json_string(v ? v : ""));
	}
	const json_t *pk = json_object_get(j, "pem_keys");
	json_object_set_new(d, "pem_keys", json_is_array(pk) ? json_deep_copy(pk) : json_array());
	json_object_set_new(d, "disable_iss_validation",
	                    json_boolean(json_is_true(json_object_get(j, "disable_iss_validation"))));
	json_object_set_new(d, "disable_local_ca_jwt",
	                    json_boolean(json_is_true(json_object_get(j, "disable_local_ca_jwt"))));
	const char *rj = json_string_value(json_object_get(j, "token_reviewer_jwt"));
	json_object_set_new(d, "token_reviewer_jwt_set", json_boolean(rj && rj[0]));
	json_object_set_new(d, "use_annotations_as_alias_metadata", json_false());
	json_decref(j);
	response_set_data(resp, d);
	return 0;
}

/* 0 when every PEM of the (coerced) list pem_keys gives a key, else the
 * 400 naming the first that does not. */
static int pem_keys_valid(struct response *resp, const json_t *pem_keys)
{
	struct strlist pems;
	struct jwt_keyset ks;
	struct buf err;
	int r;

	strlist_init(&pems);
	jwt_keyset_init(&ks);
	buf_init(&err, BUF_CAP_DEFAULT);
	if (!strlist_push_json(&pems, pem_keys))
		r = response_error(resp, TROVE_ERR_INVALID, "pem_keys: expected a list of PEM strings");
	else if (k8s_pem_keyset(&pems, &ks, &err) != 0)
		r = response_error(resp, TROVE_ERR_INVALID, "pem_keys: %s", err.data);
	else
		r = 0;
	buf_release(&err);
	jwt_keyset_release(&ks);
	strlist_release(&pems);
	return r;
}

int k8s_config_write(struct request *req, struct response *resp)
{
	const char *host = field_string(req, "kubernetes_host");
	const char *ca = field_string(req, "kubernetes_ca_cert");
	const char *why = NULL;
	json_t *pem_keys = json_object_get(req->data, "pem_keys");
	int r;

	if (!host[0])
		return response_error(resp, TROVE_ERR_INVALID, "no host provided");
	size_t hl = strlen(host);
	if (!k8s_host_valid(host, &why))
		return response_error(resp, TROVE_ERR_INVALID, "kubernetes_host: %s", why);
	if (ca[0] && !ca_valid(ca))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "kubernetes_ca_cert: the provided CA PEM data contains no valid "
		                      "certificates");
	if (pem_keys && (r = pem_keys_valid(resp, pem_keys)) != 0)
		return r;
	if (field_bool(req, "use_annotations_as_alias_metadata"))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "use_annotations_as_alias_metadata: not supported");
	while (hl > 0 && host[hl - 1] == '/')
		hl--; /* the API paths are appended to it */
	json_t *j = json_object();
	json_object_set_new(j, "kubernetes_host", json_stringn(host, hl));
	json_object_set_new(j, "kubernetes_ca_cert", json_string(ca));
	json_object_set_new(j, "token_reviewer_jwt", json_string(field_string(req, "token_reviewer_jwt")));
	json_object_set_new(j, "issuer", json_string(field_string(req, "issuer")));
	json_object_set_new(j, "disable_iss_validation",
	                    json_boolean(field_bool(req, "disable_iss_validation")));
	json_object_set_new(j, "disable_local_ca_jwt", json_boolean(field_bool(req, "disable_local_ca_jwt")));
	json_object_set_new(j, "pem_keys", json_is_array(pem_keys) ? json_deep_copy(pem_keys) : json_array());
	r = approle_put_json(req->storage, K8S_CONFIG_KEY, j);
	json_decref(j);
	return r;
}
