/* op_dest_data.c — a destination Secret's data and object, built as Vault
 * Secrets Operator builds them, so that a team switching to Trove sees the
 * same keys, the same bytes and the same secretMAC (op_dest.h). Pure: no
 * I/O (tests/unit/test_op_dest.c). */
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "operator/op_dest.h"
#include "operator/op_sync.h"
#include "rx.h"
#include "secure.h"

#include "banned.h"

#define TEMPLATE_NAME_MAX 512

/* ---- Go's encoding/json -------------------------------------------- */

char *op_go_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	struct buf b;
	size_t i, n;

	if (text == NULL)
		return NULL;
	/* Go escapes <, > and & (inside strings: the only place JSON text
	 * can hold them) and U+2028, U+2029; jansson does not. */
	n = strlen(text);
	if (strpbrk(text, "<>&") == NULL && strstr(text, "\xe2\x80\xa8") == NULL &&
	    strstr(text, "\xe2\x80\xa9") == NULL)
		return text;
	buf_init_secret(&b, SIZE_MAX / 2);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '<' || c == '>' || c == '&')
			(void)buf_printf(&b, "\\u%04x", c);
		else if (c == 0xe2 && i + 2 < n && (unsigned char)text[i + 1] == 0x80 &&
		         ((unsigned char)text[i + 2] == 0xa8 || (unsigned char)text[i + 2] == 0xa9)) {
			(void)buf_printf(&b, "\\u202%c", (unsigned char)text[i + 2] == 0xa8 ? '8' : '9');
			i += 2;
		} else
			(void)buf_append_byte(&b, (char)c);
	}
	secure_free(text, n);
	return buf_take(&b);
}

/* The bytes VSO stores for a value: a string as it is, else its JSON. */
static json_t *value_bytes(const json_t *v)
{
	char *text;
	json_t *s;

	if (json_is_string(v))
		return json_stringn_nocheck(json_string_value(v), json_string_length(v));
	text = op_go_json(v);
	if (text == NULL)
		return NULL;
	s = json_stringn_nocheck(text, strlen(text));
	secure_free_str(text);
	return s;
}

/* ---- Transformation --------------------------------------------------- */

static int fail(char **err, const char *msg, const char *what)
{
	struct buf b;

	buf_init(&b, 8192);
	(void)buf_printf(&b, "%s%s", msg, what ? what : "");
	*err = buf_take(&b);
	return TROVE_ERR_INVALID;
}

static int compile_list(const json_t *list, const char *field, struct rx ***out, size_t *n, char **err)
{
	const json_t *v;
	size_t i;

	*n = 0;
	if (list == NULL)
		return 0;
	if (!json_is_array(list))
		return fail(err, field, ": want a list of regular expressions");
	*out = xcalloc(json_array_size(list) + 1, sizeof(struct rx *));
	json_array_foreach (list, i, v) {
		char why[128];
		struct buf b;

		if (!json_is_string(v))
			return fail(err, field, ": an entry is not a string");
		if (rx_compile(json_string_value(v), json_string_length(v), &(*out)[i], why, sizeof(why)) != 0) {
			buf_init(&b, 512);
			(void)buf_printf(&b, "%s[%zu]: error parsing regexp: %s", field, i, why);
			*err = buf_take(&b);
			return TROVE_ERR_INVALID;
		}
		(*n)++;
	}
	return 0;
}

int op_transform_parse(const json_t *dest, struct op_transform *out, char **err)
{
	/* VSO's function set: Go's builtins and its sprig functions */
	static const struct tmpl_parse_opts sprig = { .dialect = TMPL_SPRIG };
	const json_t *t = dest ? json_object_get(dest, "transformation") : NULL;
	const json_t *tmpls, *v, *refs;
	const char *key;
	size_t n;
	int r;

	memset(out, 0, sizeof(*out));
	if (t == NULL || json_is_null(t))
		return 0;
	if (!json_is_object(t))
		return fail(err, "spec.destination.transformation: want an object", NULL);
	refs = json_object_get(t, "transformationRefs");
	if (json_is_array(refs) && json_array_size(refs) > 0)
		return fail(err, "spec.destination.transformation.transformationRefs: SecretTransformation "
		                 "resources are not supported by Trove; use templates",
		            NULL);
	out->exclude_raw = json_is_true(json_object_get(t, "excludeRaw"));
	if ((r = compile_list(json_object_get(t, "includes"), "spec.destination.transformation.includes",
	                      &out->includes, &out->nincludes, err)) != 0 ||
	    (r = compile_list(json_object_get(t, "excludes"), "spec.destination.transformation.excludes",
	                      &out->excludes, &out->nexcludes, err)) != 0)
		return r;
	tmpls = json_object_get(t, "templates");
	if (tmpls == NULL)
		return 0;
	if (!json_is_object(tmpls))
		return fail(err, "spec.destination.transformation.templates: want an object", NULL);
	n = json_object_size(tmpls);
	out->keys = xcalloc(n + 1, sizeof(char *));
	out->tmpls = xcalloc(n + 1, sizeof(struct tmpl *));
	json_object_foreach ((json_t *)tmpls, key, v) {
		const char *text = json_string_value(json_object_get(v, "text"));
		const char *name = json_string_value(json_object_get(v, "name"));
		char *why = NULL;

		if (text == NULL)
			return fail(err, "spec.destination.transformation.templates: text is required for ", key);
		if (strcmp(key, OP_RAW_KEY) == 0)
			return fail(err, "spec.destination.transformation.templates: the key _raw is reserved", NULL);
		if (tmpl_parse_opts(name && *name ? name : key, text, strlen(text), &sprig, &out->tmpls[out->ntemplates],
		                    &why) != 0) {
			r = fail(err, "spec.destination.transformation.templates: ", why);
			free(why);
			return r;
		}
		out->keys[out->ntemplates++] = xstrdup(key);
	}
	return 0;
}

void op_transform_release(struct op_transform *t)
{
	size_t i;

	for (i = 0; i < t->ntemplates; i++) {
		free(t->keys[i]);
		tmpl_free(t->tmpls[i]);
	}
	free(t->keys);
	free(t->tmpls);
	for (i = 0; i < t->nincludes; i++)
		rx_free(t->includes[i]);
	for (i = 0; i < t->nexcludes; i++)
		rx_free(t->excludes[i]);
	free(t->includes);
	free(t->excludes);
	memset(t, 0, sizeof(*t));
}

/* Whether one of re[n] matches key: 1, 0, or -1 when *budget ran out. */
static int matches(struct rx *const *re, size_t n, const char *key, uint64_t *budget)
{
	for (size_t i = 0; i < n; i++) {
		int r = rx_find(re[i], key, strlen(key), 0, NULL, 0, budget);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Whether a value of the secret is kept (excludes first, then includes):
 * 1, 0, or -1 when matching did too much work. */
static int kept(const struct op_transform *t, const char *key, uint64_t *budget)
{
	int r;
	if (t->nexcludes && (r = matches(t->excludes, t->nexcludes, key, budget)) != 0)
		return r < 0 ? r : 0;
	if (t->nincludes && (r = matches(t->includes, t->nincludes, key, budget)) != 1)
		return r;
	return 1;
}

/* {"k":"v"} of obj's string map at path, or null (as VSO passes nil). */
static json_t *string_map(const json_t *obj, const char *path)
{
	const json_t *m = op_json_at(obj, path);

	return json_is_object(m) ? json_deep_copy(m) : json_null();
}

static int render(const struct op_transform *t, const json_t *secrets, const json_t *metadata, const json_t *obj,
                  json_t *data, char **err)
{
	struct tmpl_funcs funcs = {0};
	struct tmpl_render_opts o = {0};
	json_t *input = json_object();
	size_t i;
	int r = 0;

	json_object_set_new(input, "Secrets", secrets ? json_deep_copy(secrets) : json_object());
	json_object_set_new(input, "Metadata", metadata ? json_deep_copy(metadata) : json_object());
	json_object_set_new(input, "Annotations", string_map(obj, "metadata.annotations"));
	json_object_set_new(input, "Labels", string_map(obj, "metadata.labels"));
	o.data = input;
	for (i = 0; i < t->ntemplates && r == 0; i++) {
		struct buf out;
		char *why = NULL;

		buf_init_secret(&out, TMPL_OUT_MAX);
		r = tmpl_render_opts(t->tmpls[i], &funcs, &o, &out, &why);
		if (r == 0)
			json_object_set_new(data, t->keys[i], json_stringn_nocheck(out.data, out.len));
		else {
			(void)fail(err, "rendering a template failed: ", why);
			free(why);
		}
		buf_release_secret(&out);
	}
	api_json_free_secret(input);
	return r;
}

int op_dest_data(const json_t *secrets, const json_t *raw, const json_t *metadata, const json_t *obj,
                 const struct op_transform *t, json_t **out, char **err)
{
	static const struct op_transform none;
	uint64_t budget = TMPL_WORK_MAX; /* the keys' matching: as much as one template may do */
	json_t *data = json_object();
	const char *key;
	json_t *v;
	int r;

	*out = NULL;
	if (t == NULL)
		t = &none;
	if (!t->exclude_raw) {
		if (json_object_get(secrets, OP_RAW_KEY))
			return api_json_free_secret(data), fail(err, "the key _raw is not permitted in secret data", NULL);
		json_object_set_new(data, OP_RAW_KEY, value_bytes(raw ? raw : json_null()));
	}
	if (t->ntemplates && (r = render(t, secrets, metadata, obj, data, err)) != 0) {
		api_json_free_secret(data);
		return r;
	}
	json_object_foreach ((json_t *)secrets, key, v) {
		json_t *b;

		int keep = kept(t, key, &budget);
		if (keep < 0) {
			api_json_free_secret(data);
			return fail(err, "spec.destination.transformation: includes and excludes do too much work "
			                 "matching the secret's keys",
			            NULL);
		}
		if (!keep || json_object_get(data, key))
			continue;
		if ((b = value_bytes(v)) == NULL) {
			api_json_free_secret(data);
			return fail(err, "a value could not be encoded", NULL);
		}
		json_object_set_new(data, key, b);
	}
	*out = data;
	return 0;
}

/* ---- The MAC ----------------------------------------------------------- */

/* {key: base64 of the bytes}: a Secret's data field, and what VSO MACs. */
static json_t *encode_values(const json_t *data)
{
	json_t *m = json_object();
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)data, key, v) {
		size_t n = json_string_length(v);
		char *b64 = xmalloc(base64_encoded_size(n));

		base64_encode((const unsigned char *)json_string_value(v), n, b64);
		json_object_set_new(m, key, json_string_nocheck(b64));
		secure_free_str(b64);
	}
	return m;
}

char *op_dest_canonical(const json_t *data)
{
	json_t *m = encode_values(data);
	char *text;

	text = op_go_json(m);
	api_json_free_secret(m);
	return text;
}

int op_dest_mac(const unsigned char *key, size_t key_len, const json_t *data, char *out)
{
	unsigned char mac[HMAC_SHA256_LEN];
	char *text = op_dest_canonical(data);
	int r;

	if (text == NULL)
		return TROVE_ERR_NOMEM;
	r = hmac_sha256(key, key_len, text, strlen(text), mac);
	secure_free_str(text);
	if (r == 0)
		base64_encode(mac, sizeof(mac), out);
	return r;
}

json_t *op_secret_data(const json_t *secret)
{
	const json_t *d = json_object_get(secret, "data");
	json_t *out = json_object();
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)d, key, v) {
		const char *s = json_string_value(v);
		size_t n = s ? strlen(s) : 0, len = 0;
		unsigned char *bytes;

		if (s == NULL) {
			api_json_free_secret(out);
			return NULL;
		}
		bytes = xmalloc(n + 1);
		if (base64_decode(s, n, bytes, n + 1, &len) != 0) {
			secure_free(bytes, n + 1);
			api_json_free_secret(out);
			return NULL;
		}
		json_object_set_new(out, key, json_stringn_nocheck((const char *)bytes, len));
		secure_free(bytes, n + 1);
	}
	return out;
}

/* ---- The Secret object ----------------------------------------------- */

static const char *const owner_labels[][2] = {
	{"app.kubernetes.io/managed-by", "hashicorp-vso"},
	{"app.kubernetes.io/name", "vault-secrets-operator"},
	{"app.kubernetes.io/component", "secret-sync"},
};

bool op_dest_has_owner_labels(const json_t *secret)
{
	const json_t *labels = op_json_at(secret, "metadata.labels");
	size_t i;

	for (i = 0; i < sizeof(owner_labels) / sizeof(owner_labels[0]); i++) {
		const char *v = json_string_value(json_object_get(labels, owner_labels[i][0]));

		if (v == NULL || strcmp(v, owner_labels[i][1]) != 0)
			return false;
	}
	return true;
}

bool op_dest_owned_by(const json_t *secret, const json_t *obj)
{
	const json_t *refs = op_json_at(secret, "metadata.ownerReferences");
	const char *uid = op_json_str(obj, "metadata.uid");
	const json_t *r;
	size_t i;

	if (uid == NULL || !op_dest_has_owner_labels(secret))
		return false;
	json_array_foreach (refs, i, r)
		if (json_is_string(json_object_get(r, "uid")) && strcmp(json_string_value(json_object_get(r, "uid")), uid) == 0)
			return true;
	return false;
}

json_t *op_dest_secret(const json_t *obj, enum op_kind kind, const json_t *dest, const json_t *data,
                       const json_t *existing)
{
	json_t *s = json_object(), *meta = json_object(), *labels = json_object();
	const json_t *dl = json_object_get(dest, "labels"), *da = json_object_get(dest, "annotations");
	const char *type = json_string_value(json_object_get(dest, "type"));
	const char *rv = op_json_str(existing, "metadata.resourceVersion");
	const char *key;
	json_t *v;
	size_t i;

	json_object_set_new(s, "apiVersion", json_string("v1"));
	json_object_set_new(s, "kind", json_string("Secret"));
	json_object_set_new(meta, "name", json_string(op_json_str0(dest, "name")));
	json_object_set_new(meta, "namespace", json_string(op_json_str0(obj, "metadata.namespace")));
	if (rv)
		json_object_set_new(meta, "resourceVersion", json_string(rv));
	json_object_foreach ((json_t *)dl, key, v)
		if (json_is_string(v))
			json_object_set(labels, key, v);
	for (i = 0; i < sizeof(owner_labels) / sizeof(owner_labels[0]); i++)
		json_object_set_new(labels, owner_labels[i][0], json_string(owner_labels[i][1]));
	json_object_set_new(labels, OP_OWNER_UID_LABEL, json_string(op_json_str0(obj, "metadata.uid")));
	json_object_set_new(meta, "labels", labels);
	if (json_is_object(da) && json_object_size(da) > 0)
		json_object_set_new(meta, "annotations", json_deep_copy(da));
	json_object_set_new(meta, "ownerReferences",
	                    json_pack("[{s:s, s:s, s:s, s:s, s:b}]", "apiVersion", OP_API_VERSION, "kind",
	                              OP_KIND_NAMES[kind], "name", op_json_str0(obj, "metadata.name"), "uid",
	                              op_json_str0(obj, "metadata.uid"), "controller", 1));
	json_object_set_new(s, "metadata", meta);
	json_object_set_new(s, "type", json_string(type && *type ? type : "Opaque"));
	json_object_set_new(s, "data", encode_values(data));
	return s;
}
