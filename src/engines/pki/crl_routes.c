/* crl_routes.c — reading CRLs (crl, crl/pem, cert/crl, crl/delta...,
 * issuer/:ref/crl[/delta][/der|/pem]; unauthenticated, as in Vault) and
 * rebuilding them on demand (crl/rotate, crl/rotate-delta). */
#include <stdlib.h>
#include <string.h>

#include "crl.h"
#include "revocation.h"

#include "err.h"

#include "banned.h"

enum crl_form { CRL_DER, CRL_PEM, CRL_JSON_CERTIFICATE, CRL_JSON_CRL };

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n >= t && strcmp(s + n - t, tail) == 0;
}

static int crl_read(struct request *req, struct response *resp)
{
	const char *rel = req->rel, *ref = request_param(req, "ref");
	bool delta = strstr(rel, "delta") != NULL;
	enum crl_form form;
	char id[PKI_ID_MAX];
	unsigned char *der = NULL;
	size_t len = 0;
	struct buf pem;
	int r;

	if (ends_with(rel, "/der"))
		form = CRL_DER;
	else if (ends_with(rel, "/pem"))
		form = CRL_PEM;
	else if (ref)
		form = CRL_JSON_CRL;
	else if (strncmp(rel, "cert/", 5) == 0)
		form = CRL_JSON_CERTIFICATE;
	else
		form = CRL_DER;
	buf_init(&pem, 4 << 20);
	if ((r = pki_issuer_resolve_reply(req->storage, ref ? ref : "default", id, resp)) != 0)
		goto out;
	r = pki_crl_load(req->storage, req->mount, id, delta, &der, &len);
	if (r == TROVE_ERR_NOT_FOUND) {
		/* No CRL (deltas disabled, an issuer that signs none): as Vault,
		 * an empty answer rather than an error — 204 for the raw forms,
		 * an empty PEM string in JSON — so clients and health checks
		 * read "none" without failing. */
		r = 0;
		if (form == CRL_JSON_CRL)
			response_set_data(resp, json_pack("{s:s}", "crl", ""));
		else if (form == CRL_JSON_CERTIFICATE)
			response_set_data(resp, json_pack("{s:s, s:i, s:s}", "certificate", "", "revocation_time", 0,
							  "revocation_time_rfc3339", ""));
		else
			resp->status = 204;
		goto out;
	}
	if (r != 0)
		goto out;
	if (form == CRL_DER) {
		resp->text = (char *)der;
		resp->text_len = len;
		resp->text_type = "application/pkix-crl";
		der = NULL;
		goto out;
	}
	if ((r = crl_der_to_pem(der, len, &pem)) != 0)
		goto out;
	if (form == CRL_PEM) {
		resp->text = xstrndup(pem.data, pem.len);
		resp->text_len = pem.len;
		resp->text_type = "application/pem-file";
	} else if (form == CRL_JSON_CRL) {
		response_set_data(resp, json_pack("{s:s#}", "crl", pem.data, pem.len));
	} else {
		response_set_data(resp, json_pack("{s:s#, s:i, s:s}", "certificate", pem.data, pem.len, "revocation_time", 0,
						  "revocation_time_rfc3339", ""));
	}
out:
	free(der);
	buf_release(&pem);
	return r;
}

static int crl_rotate(struct request *req, struct response *resp)
{
	bool delta = strcmp(req->rel, "crl/rotate-delta") == 0;
	struct pki_crl_config cfg;
	struct buf why;
	int r;

	buf_init(&why, 1024);
	if ((r = pki_crl_config_get(req->storage, &cfg)) != 0)
		goto out;
	if (delta && !cfg.enable_delta) {
		response_warning(resp, "requested rebuild of delta CRL when delta CRL is not enabled; this is a no-op");
	} else if ((r = pki_crl_rebuild(req->storage, req->mount, delta, &why)) != 0) {
		r = why.len ? response_error(resp, r, "%s", why.data) : r;
		goto out;
	}
	response_set_data(resp, json_pack("{s:b}", "success", 1));
out:
	buf_release(&why);
	return r;
}

#define CRL_READ(p, what) {.pattern = p, .ops = {[OP_READ] = crl_read}, .flags = ROUTE_UNAUTH, .synopsis = what}

const struct route pki_crl_routes[] = {
    CRL_READ("crl", "the default issuer's CRL, DER"),
    CRL_READ("crl/pem", "the default issuer's CRL, PEM"),
    CRL_READ("cert/crl", "the default issuer's CRL, PEM in JSON"),
    CRL_READ("crl/delta", "the default issuer's delta CRL, DER"),
    CRL_READ("crl/delta/pem", "the default issuer's delta CRL, PEM"),
    CRL_READ("cert/delta-crl", "the default issuer's delta CRL, PEM in JSON"),
    CRL_READ("issuer/:ref/crl", "an issuer's CRL, PEM in JSON"),
    CRL_READ("issuer/:ref/crl/der", "an issuer's CRL, DER"),
    CRL_READ("issuer/:ref/crl/pem", "an issuer's CRL, PEM"),
    CRL_READ("issuer/:ref/crl/delta", "an issuer's delta CRL, PEM in JSON"),
    CRL_READ("issuer/:ref/crl/delta/der", "an issuer's delta CRL, DER"),
    CRL_READ("issuer/:ref/crl/delta/pem", "an issuer's delta CRL, PEM"),
    {.pattern = "crl/rotate", .ops = {[OP_READ] = crl_rotate, [OP_UPDATE] = crl_rotate},
     .synopsis = "rebuild every issuer's CRL now"},
    {.pattern = "crl/rotate-delta", .ops = {[OP_READ] = crl_rotate, [OP_UPDATE] = crl_rotate},
     .synopsis = "rebuild every issuer's delta CRL now"},
    {0},
};
