/* cert_login.c — auth/<cert>/login: the client certificate chain the TLS
 * listener received (req->peer_chain) against the trusted certificates.
 *
 * Each certs/:name entry is tried in name order (only the one named by
 * "name" when given), as Vault does, and the first that accepts the
 * chain wins:
 *   - a CA entry: the chain must verify (X509_verify_cert) with the
 *     entry's certificates as the only trust anchors (any of them, a root
 *     or an intermediate), for TLS client use (X509_PURPOSE_SSL_CLIENT),
 *     at the current time;
 *   - a non-CA entry: the leaf must be that very certificate (byte for
 *     byte) and within its validity period;
 * then no certificate of the verified chain may be listed by a stored
 * CRL, and the leaf must meet the entry's name and extension constraints
 * (cert_match.c), and, for an ocsp_enabled entry, the leaf's OCSP
 * responders must not refuse it (cert_ocsp.c). Refusals are Vault's 400s (403 from outside the entry's
 * token_bound_cidrs) and issue no token. */
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/cert_auth.h"
#include "auth/jwt_auth.h"

#include "core/login.h"
#include "core/mount.h"
#include "core/token.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

#define MAX_CHAIN 16

struct candidate {
	const char *name;
	json_t *doc;              /* the certs/:name entry */
	STACK_OF(X509) * trusted; /* its certificates */
};

/* The presented chain, leaf first; NULL when there is none or a
 * certificate does not parse. */
static STACK_OF(X509) * presented_chain(const struct request *req)
{
	const unsigned char *p = req->peer_chain.der, *end = p + req->peer_chain.len;
	STACK_OF(X509) * chain;

	if (!p || req->peer_chain.len == 0 || !(chain = sk_X509_new_null()))
		return NULL;
	while (p < end && sk_X509_num(chain) < MAX_CHAIN) {
		X509 *c = d2i_X509(NULL, &p, end - p);
		if (!c || !sk_X509_push(chain, c)) {
			X509_free(c);
			sk_X509_pop_free(chain, X509_free);
			return NULL;
		}
	}
	return chain;
}

/* Verifies chain (leaf first) with trusted as the only anchors; on
 * success *verified is the chain built (new stack, leaf first). */
static bool verify_with(STACK_OF(X509) * trusted, STACK_OF(X509) * chain, STACK_OF(X509) * *verified)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool ok = false;

	*verified = NULL;
	if (!store || !ctx || !untrusted)
		goto out;
	for (int i = 0; i < sk_X509_num(trusted); i++)
		if (X509_STORE_add_cert(store, sk_X509_value(trusted, i)) != 1)
			goto out;
	for (int i = 1; i < sk_X509_num(chain); i++)
		if (!sk_X509_push(untrusted, sk_X509_value(chain, i)))
			goto out;
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, sk_X509_value(chain, 0), untrusted) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1)
		goto out;
	ok = X509_verify_cert(ctx) == 1;
	if (ok)
		*verified = X509_STORE_CTX_get1_chain(ctx);
	ok = ok && *verified;
out:
	ERR_clear_error();
	sk_X509_free(untrusted);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

/* Whether candidate c accepts the chain. *trusted_path: the chain
 * reached one of its anchors (before the CRLs and constraints). */
static int try_candidate(struct request *req, const struct candidate *c, STACK_OF(X509) * chain,
                         bool *trusted_path, bool *match)
{
	X509 *leaf = sk_X509_value(chain, 0), *anchor = sk_X509_value(c->trusted, 0);
	STACK_OF(X509) *verified = NULL;
	bool revoked = false;
	int r = 0;

	*match = false;
	if (X509_check_ca(anchor) == 0) {
		if (X509_cmp(leaf, anchor) != 0 || X509_cmp_current_time(X509_get0_notBefore(leaf)) >= 0 ||
		    X509_cmp_current_time(X509_get0_notAfter(leaf)) <= 0)
			return 0;
		if (!(verified = sk_X509_new_null()) || !sk_X509_push(verified, X509_dup(leaf))) {
			r = TROVE_ERR_NOMEM;
			goto out;
		}
	} else if (!verify_with(c->trusted, chain, &verified)) {
		return 0;
	}
	*trusted_path = true;
	if ((r = cert_chain_revoked(req, verified, &revoked)) != 0)
		goto out;
	*match = !revoked && cert_match_role(leaf, c->doc);
	if (*match && json_is_true(json_object_get(c->doc, "ocsp_enabled")) && sk_X509_num(verified) > 1)
		r = cert_ocsp_allows(c->doc, leaf, sk_X509_value(verified, 1), match);
out:
	sk_X509_pop_free(verified, X509_free);
	return r;
}

/* "aa:bb:..." of an octet string (Vault's GetHexFormatted), or "". */
static json_t *hex_colons(const ASN1_OCTET_STRING *s)
{
	const unsigned char *p = s ? ASN1_STRING_get0_data(s) : NULL;
	int n = s ? ASN1_STRING_length(s) : 0;
	char *out = calloc(1, (size_t)n * 3 + 1);
	json_t *j;

	if (!out)
		return NULL;
	for (int i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, i + 1 < n ? "%02x:" : "%02x", p[i]);
	j = json_string(out);
	free(out);
	return j;
}

/* Vault's login metadata for the leaf. */
static json_t *login_metadata(X509 *leaf, const struct candidate *c, const char *cn)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	char *serial = bn ? BN_bn2dec(bn) : NULL;
	json_t *meta =
	    json_pack("{s:s, s:s, s:s?, s:o?, s:o?}", "cert_name", c->name, "common_name", cn,
	              "serial_number", serial, "subject_key_id", hex_colons(X509_get0_subject_key_id(leaf)),
	              "authority_key_id", hex_colons(X509_get0_authority_key_id(leaf)));
	OPENSSL_free(serial);
	BN_free(bn);
	if (meta)
		cert_extension_metadata(leaf, json_object_get(c->doc, "allowed_metadata_extensions"), meta);
	return meta;
}

static int issue(struct request *req, struct response *resp, const struct candidate *c, X509 *leaf)
{
	struct token_params tp;
	json_t *cfg = NULL, *meta = NULL;
	char cn[1024], *dn = NULL;
	int r;

	token_params_init(&tp);
	if ((r = token_params_load(json_object_get(c->doc, "token_params"), &tp)) != 0 ||
	    (r = cert_config_load(req, &cfg)) != 0)
		goto out;
	if (tp.bound_cidrs.len > 0 && !token_cidr_allows(&tp.bound_cidrs, req->remote_addr)) {
		r = response_error(resp, TROVE_ERR_PERMISSION, "permission denied");
		goto out;
	}
	cert_subject_cn(leaf, cn, sizeof(cn));
	if (!(meta = login_metadata(leaf, c, cn))) {
		r = TROVE_ERR_NOMEM;
		goto out;
	}
	dn = login_display_name(req->mount->path, json_string_value(json_object_get(c->doc, "display_name")));
	struct login_grant g = {
	    .params = &tp,
	    .display_name = dn,
	    .metadata = meta,
	    .alias_name = cn,
	    .alias_metadata =
	        json_is_true(json_object_get(cfg, "enable_identity_alias_metadata")) ? meta : NULL,
	};
	r = login_issue(req, resp, &g);
out:
	free(dn);
	json_decref(meta);
	json_decref(cfg);
	token_params_release(&tp);
	return r;
}

static void candidate_release(struct candidate *c)
{
	json_decref(c->doc);
	sk_X509_pop_free(c->trusted, X509_free);
	memset(c, 0, sizeof(*c));
}

/* Loads entry name; TROVE_ERR_NOT_FOUND when it is gone or its
 * certificate no longer parses. */
static int candidate_load(struct request *req, const char *name, struct candidate *c)
{
	char key[CERT_NAME_MAX + 16];
	int r;

	memset(c, 0, sizeof(*c));
	if (!*name || strlen(name) > CERT_NAME_MAX || strchr(name, '/'))
		return TROVE_ERR_NOT_FOUND;
	snprintf(key, sizeof(key), CERT_ROLE_PREFIX "%s", name);
	if ((r = jwt_get_json(req, key, &c->doc)) != 0)
		return r;
	const char *pem = json_string_value(json_object_get(c->doc, "certificate"));
	c->name = name;
	c->trusted = pem ? cert_parse_pem(pem, strlen(pem)) : NULL;
	if (!c->trusted) {
		candidate_release(c);
		return TROVE_ERR_NOT_FOUND;
	}
	return 0;
}

int cert_login(struct request *req, struct response *resp)
{
	const char *only = field_string(req, "name");
	STACK_OF(X509) *chain = presented_chain(req);
	struct strlist names;
	struct candidate c = {0};
	bool trusted_path = false, match = false;
	int r = 0;

	strlist_init(&names);
	if (!chain) {
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "client certificate must be supplied: log in over a TLS listener, presenting one");
		goto out;
	}
	if (*only)
		strlist_push(&names, only);
	else if ((r = storage_list(req->storage, CERT_ROLE_PREFIX, &names)) != 0)
		goto out;
	for (size_t i = 0; !match && i < names.len; i++) {
		candidate_release(&c);
		if ((r = candidate_load(req, names.items[i], &c)) == TROVE_ERR_NOT_FOUND) {
			r = 0;
			continue;
		}
		if (r != 0 || (r = try_candidate(req, &c, chain, &trusted_path, &match)) != 0)
			goto out;
	}
	if (!trusted_path)
		r = response_error(resp, TROVE_ERR_INVALID,
		                   "invalid certificate or no client certificate supplied");
	else if (!match)
		r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "no chain matching all constraints could be found for this login certificate");
	else
		r = issue(req, resp, &c, sk_X509_value(chain, 0));
out:
	candidate_release(&c);
	strlist_release(&names);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
