/* config_urls.c — config/urls (the AIA, CRL distribution point and OCSP
 * URLs put in issued certificates, optionally templated from
 * config/cluster, which acme/config.c serves), and pki_issuer_urls, which
 * the signing code asks for the URLs of one issuer. */
#include <string.h>

#include "revocation.h"

#include "engines/kv_util.h"
#include "err.h"
#include "strlist_json.h"

#include "banned.h"

static const char *const url_fields[] = {"issuing_certificates", "crl_distribution_points", "ocsp_servers"};

void pki_urls_init(struct pki_urls *u)
{
	strlist_init(&u->issuing_certificates);
	strlist_init(&u->crl_distribution_points);
	strlist_init(&u->ocsp_servers);
}

void pki_urls_release(struct pki_urls *u)
{
	strlist_release(&u->issuing_certificates);
	strlist_release(&u->crl_distribution_points);
	strlist_release(&u->ocsp_servers);
}

/* A stored document ({} when never written). */
static int doc_get(struct storage *s, const char *key, json_t **out)
{
	int r = kv_get_json(s, key, out);
	if (r == TROVE_ERR_NOT_FOUND) {
		*out = json_object();
		return 0;
	}
	if (r == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return TROVE_ERR_INTEGRITY;
	}
	return r;
}

/* Replaces each "{{name}}" of url by its value; TROVE_ERR_INVALID when a
 * value needed is empty or the template names something else. */
static int expand(const char *url, const char *const names[], const char *const values[], size_t n, struct buf *out,
		  struct buf *why)
{
	for (const char *p = url; *p;) {
		const char *open = strstr(p, "{{");
		if (!open) {
			buf_append_str(out, p);
			break;
		}
		buf_append(out, p, (size_t)(open - p));
		const char *close = strstr(open, "}}");
		size_t i = 0;
		for (; close && i < n; i++)
			if (strlen(names[i]) == (size_t)(close - open - 2) && memcmp(open + 2, names[i], strlen(names[i])) == 0)
				break;
		if (!close || i == n) {
			buf_printf(why, "unknown template in URL %s (known: {{issuer_id}}, {{cluster_path}}, "
					"{{cluster_aia_path}})", url);
			return TROVE_ERR_INVALID;
		}
		if (!values[i] || !values[i][0]) {
			buf_printf(why, "URL %s uses {{%s}}, which config/cluster does not set", url, names[i]);
			return TROVE_ERR_INVALID;
		}
		buf_append_str(out, values[i]);
		p = close + 2;
	}
	return 0;
}

int pki_issuer_urls(struct storage *s, const json_t *issuer, struct pki_urls *out, struct buf *why)
{
	json_t *cfg = NULL, *cluster = NULL;
	struct strlist *lists[] = {&out->issuing_certificates, &out->crl_distribution_points, &out->ocsp_servers};
	int r;

	bool own = false;
	for (size_t f = 0; f < 3; f++)
		own = own || json_array_size(json_object_get(issuer, url_fields[f])) > 0;
	const json_t *src = issuer;
	if (!own) {
		if ((r = doc_get(s, PKI_URLS_CONFIG, &cfg)) != 0)
			goto out;
		src = cfg;
	}
	bool templating = json_is_true(json_object_get(src, own ? "enable_aia_url_templating" : "enable_templating"));
	if (templating && (r = doc_get(s, PKI_CLUSTER_CONFIG, &cluster)) != 0)
		goto out;
	const char *names[] = {"issuer_id", "cluster_path", "cluster_aia_path"};
	const char *values[] = {json_string_value(json_object_get(issuer, "id")),
				json_string_value(json_object_get(cluster, "path")),
				json_string_value(json_object_get(cluster, "aia_path"))};
	r = 0;
	for (size_t f = 0; r == 0 && f < 3; f++) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(src, url_fields[f]), i, v) {
			struct buf u;
			buf_init(&u, 8192);
			if (!templating)
				buf_append_str(&u, json_string_value(v) ?: "");
			else
				r = expand(json_string_value(v) ?: "", names, values, 3, &u, why);
			if (r == 0 && u.len)
				strlist_push_owned(lists[f], buf_take(&u));
			buf_release(&u);
			if (r != 0)
				break;
		}
	}
out:
	json_decref(cluster);
	json_decref(cfg);
	return r;
}

/* Checks the URLs of a field: each fits an extension value, and holds a
 * template only when templating is on. */
static int urls_check(const struct strlist *l, const char *field, bool templating, struct response *resp)
{
	for (size_t i = 0; i < l->len; i++) {
		bool template = strstr(l->items[i], "{{") != NULL;
		if (!x509_value_safe(l->items[i]) || (!template && !strstr(l->items[i], "://")))
			return response_error(resp, TROVE_ERR_INVALID, "%s: not a URL: %s", field, l->items[i]);
		if (!templating && template)
			return response_error(resp, TROVE_ERR_INVALID,
					      "%s: %s is a template but enable_templating is false", field, l->items[i]);
	}
	return 0;
}

static int urls_read(struct request *req, struct response *resp)
{
	json_t *doc = NULL;
	int r = doc_get(req->storage, PKI_URLS_CONFIG, &doc);
	if (r != 0)
		return r;
	for (size_t f = 0; f < 3; f++)
		if (!json_is_array(json_object_get(doc, url_fields[f])))
			json_object_set_new(doc, url_fields[f], json_array());
	if (!json_is_boolean(json_object_get(doc, "enable_templating")))
		json_object_set_new(doc, "enable_templating", json_false());
	response_set_data(resp, doc);
	return 0;
}

static int urls_write(struct request *req, struct response *resp)
{
	json_t *doc = NULL;
	struct strlist lists[3];
	int r;

	for (size_t f = 0; f < 3; f++)
		strlist_init(&lists[f]);
	if ((r = doc_get(req->storage, PKI_URLS_CONFIG, &doc)) != 0)
		goto out;
	if (field_present(req, "enable_templating"))
		json_object_set_new(doc, "enable_templating", json_boolean(field_bool(req, "enable_templating")));
	bool templating = json_is_true(json_object_get(doc, "enable_templating"));
	for (size_t f = 0; f < 3; f++) {
		if (field_present(req, url_fields[f]))
			pki_req_list(req, url_fields[f], &lists[f]);
		else
			strlist_push_json(&lists[f], json_object_get(doc, url_fields[f]));
		if ((r = urls_check(&lists[f], url_fields[f], templating, resp)) != 0)
			goto out;
		json_object_set_new(doc, url_fields[f], strlist_json(&lists[f]));
	}
	if ((r = kv_put_json(req->storage, PKI_URLS_CONFIG, doc)) == 0)
		r = urls_read(req, resp);
out:
	for (size_t f = 0; f < 3; f++)
		strlist_release(&lists[f]);
	json_decref(doc);
	return r;
}

static const struct field urls_fields[] = {
    {.name = "issuing_certificates", .type = FIELD_STRLIST, .description = "AIA CA issuers URLs"},
    {.name = "crl_distribution_points", .type = FIELD_STRLIST, .description = "CRL distribution point URLs"},
    {.name = "ocsp_servers", .type = FIELD_STRLIST, .description = "AIA OCSP URLs"},
    {.name = "enable_templating", .type = FIELD_BOOL,
     .description = "fill {{issuer_id}}, {{cluster_path}}, {{cluster_aia_path}}"},
    {0},
};

const struct route pki_config_url_routes[] = {
    {.pattern = "config/urls", .ops = {[OP_READ] = urls_read, [OP_UPDATE] = urls_write}, .fields = urls_fields,
     .synopsis = "URLs put in issued certificates"},
    {0},
};
