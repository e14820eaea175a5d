/* openapi.c — see openapi.h. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openapi.h"

#include "mount.h"
#include "router.h"
#include "trove_version.h"

#include "banned.h"

void openapi_path(struct buf *b, const char *mount, const char *pattern)
{
	buf_append_str(b, "/");
	if (mount) {
		size_t n = strlen(mount);
		buf_append(b, mount, n && mount[n - 1] == '/' ? n - 1 : n);
	} else {
		buf_append_str(b, "{mount_path}");
	}
	if (pattern[0])
		buf_append_str(b, "/");
	for (const char *p = pattern; *p;) {
		if (*p == ':' || *p == '#') {
			const char *e = p + 1 + strcspn(p + 1, "/");
			buf_append_str(b, "{");
			buf_append(b, p + 1, (size_t)(e - p - 1));
			buf_append_str(b, "}");
			p = e;
		} else if (*p == '*' && p[1] == '\0') {
			buf_append_str(b, "{path}");
			p++;
		} else {
			buf_append(b, p, 1);
			p++;
		}
	}
}

/* The path parameters a route binds, in order. */
static json_t *path_parameters(const char *pattern)
{
	json_t *out = json_array();
	for (const char *p = pattern; *p; p++) {
		const char *name = NULL;
		size_t n = 0;
		if ((*p == ':' || *p == '#') && (p == pattern || p[-1] == '/')) {
			name = p + 1;
			n = strcspn(name, "/");
		} else if (*p == '*' && p[1] == '\0') {
			name = "path";
			n = 4;
		}
		if (!name)
			continue;
		json_t *param = json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name", name, n, "in", "path",
		                          "required", 1, "schema", "type", "string");
		if (*p == '#')
			json_object_set_new(param, "x-vault-displayAttrs",
			                    json_pack("{s:b}", "sensitive", 1));
		json_array_append_new(out, param);
	}
	return out;
}

/* A declared default in the field's JSON type, or NULL. */
static json_t *field_default(const struct field *f)
{
	if (!f->def)
		return NULL;
	json_t *s = json_string(f->def);
	const char *why;
	json_t *v = field_coerce(f->type, s, &why);
	json_decref(s);
	return v;
}

static json_t *field_schema(const struct field *f)
{
	json_t *s = json_object();
	switch (f->type) {
	case FIELD_STRING:
		json_object_set_new(s, "type", json_string("string"));
		if (f->sensitive)
			json_object_set_new(s, "format", json_string("password"));
		break;
	case FIELD_INT:
		json_object_set_new(s, "type", json_string("integer"));
		break;
	case FIELD_BOOL:
		json_object_set_new(s, "type", json_string("boolean"));
		break;
	case FIELD_DURATION:
		/* seconds, or a Go duration string */
		json_object_set_new(s, "type", json_string("string"));
		json_object_set_new(s, "format", json_string("duration"));
		break;
	case FIELD_STRLIST:
	case FIELD_POLICIES:
		json_object_set_new(s, "type", json_string("array"));
		json_object_set_new(s, "items", json_pack("{s:s}", "type", "string"));
		break;
	case FIELD_MAP:
	case FIELD_STRMAP:
		json_object_set_new(s, "type", json_string("object"));
		break;
	case FIELD_ANY:
		break;
	}
	if (f->description)
		json_object_set_new(s, "description", json_string(f->description));
	json_t *def = field_default(f);
	if (def)
		json_object_set_new(s, "default", def);
	if (f->max > f->min && (f->type == FIELD_INT || f->type == FIELD_DURATION)) {
		json_object_set_new(s, "minimum", json_integer((json_int_t)f->min));
		json_object_set_new(s, "maximum", json_integer((json_int_t)f->max));
	}
	if (f->sensitive)
		json_object_set_new(s, "x-vault-displayAttrs", json_pack("{s:b}", "sensitive", 1));
	return s;
}

/* The request body schema of a write: the declared fields. */
static json_t *request_body(const struct route *r)
{
	json_t *props = json_object(), *required = json_array();
	for (const struct field *f = r->fields; f && f->name; f++) {
		json_object_set_new(props, f->name, field_schema(f));
		if (f->required)
			json_array_append_new(required, json_string(f->name));
	}
	json_t *schema = json_pack("{s:s, s:o}", "type", "object", "properties", props);
	if (json_array_size(required))
		json_object_set_new(schema, "required", required);
	else
		json_decref(required);
	return json_pack("{s:{s:{s:o}}}", "content", "application/json", "schema", schema);
}

/* The query parameters of a read or list: the declared fields. */
static json_t *query_parameters(const struct route *r, bool list)
{
	json_t *out = json_array();
	if (list)
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:[s]}}", "name", "list",
		                                     "in", "query", "description", "must be true", "required",
		                                     1, "schema", "type", "string", "enum", "true"));
	for (const struct field *f = r->fields; f && f->name; f++) {
		if (f->sensitive)
			continue; /* never asked for in a URL */
		json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "name", f->name, "in", "query",
		                                     "schema", field_schema(f)));
	}
	return out;
}

/* An operationId unique within the document: the method and the path. */
static json_t *operation_id(const char *method, const char *path)
{
	struct buf b;
	buf_init(&b, 128);
	buf_append_str(&b, method);
	for (const char *p = path; *p; p++) {
		char c = isalnum((unsigned char)*p) ? (char)tolower((unsigned char)*p) : '-';
		if (c == '-' && b.len && b.data[b.len - 1] == '-')
			continue;
		buf_append(&b, &c, 1);
	}
	while (b.len && b.data[b.len - 1] == '-')
		b.len--;
	json_t *out = json_stringn(b.data, b.len);
	buf_release(&b);
	return out;
}

static json_t *operation(const struct route *r, const char *method, const char *path, const char *tag)
{
	json_t *op = json_pack("{s:s, s:o, s:[s], s:{s:{s:s}}}", "summary", r->synopsis ? r->synopsis : "",
	                       "operationId", operation_id(method, path), "tags", tag, "responses", "200",
	                       "description", "OK");
	return op;
}

json_t *openapi_path_item(const struct route *r, const char *path, const char *tag)
{
	json_t *item = json_object();
	bool any = false;

	if (r->synopsis)
		json_object_set_new(item, "description", json_string(r->synopsis));
	json_t *params = path_parameters(r->pattern);
	if (json_array_size(params))
		json_object_set_new(item, "parameters", params);
	else
		json_decref(params);
	if (r->flags & ROUTE_SUDO)
		json_object_set_new(item, "x-vault-sudo", json_true());
	if (r->flags & ROUTE_UNAUTH)
		json_object_set_new(item, "x-vault-unauthenticated", json_true());
	if (r->exists)
		json_object_set_new(item, "x-vault-createSupported", json_true());
	if (r->ops[OP_READ] || r->ops[OP_LIST]) {
		json_t *get = operation(r, r->ops[OP_READ] ? "read" : "list", path, tag);
		json_t *q = query_parameters(r, !r->ops[OP_READ]);
		if (json_array_size(q))
			json_object_set_new(get, "parameters", q);
		else
			json_decref(q);
		json_object_set_new(item, "get", get);
		any = true;
	}
	if (r->ops[OP_UPDATE] || r->ops[OP_CREATE]) {
		json_t *post = operation(r, "write", path, tag);
		json_object_set_new(post, "requestBody", request_body(r));
		json_object_set_new(item, "post", post);
		any = true;
	}
	if (r->ops[OP_DELETE]) {
		json_object_set_new(item, "delete", operation(r, "delete", path, tag));
		any = true;
	}
	if (!any) {
		json_decref(item);
		return NULL;
	}
	return item;
}

static const char *type_name(enum field_type t)
{
	switch (t) {
	case FIELD_STRING:
		return "string";
	case FIELD_INT:
		return "int";
	case FIELD_BOOL:
		return "bool";
	case FIELD_DURATION:
		return "duration (sec)";
	case FIELD_STRLIST:
	case FIELD_POLICIES:
		return "comma-separated strings";
	case FIELD_MAP:
		return "map";
	case FIELD_STRMAP:
		return "keypair array";
	case FIELD_ANY:
		break;
	}
	return "any";
}

json_t *openapi_document(json_t *paths)
{
	return json_pack(
	    "{s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:o, s:{s:{}}}", "openapi", "3.0.2", "info", "title",
	    "Trove API", "description",
	    "HTTP API that gives you full access to Trove. All API routes are prefixed with `/v1/`.",
	    "version", TROVE_VERSION, "license", "name", "Mozilla Public License 2.0", "url",
	    "https://www.mozilla.org/en-US/MPL/2.0", "paths", paths, "components", "schemas");
}

void openapi_help(const struct request *req, const struct route *route, struct response *resp)
{
	const struct mount *m = req->mount;
	const char *tag = m && m->auth ? "auth" : m && strcmp(m->type, "system") == 0 ? "system" : "secrets";
	struct buf text, path;

	buf_init(&text, 1024);
	buf_init(&path, 256);
	buf_printf(&text, "Request:        %s\nMatching Route: %s%s\n\n%s\n", req->path, m ? m->path : "",
	           route->pattern, route->synopsis ? route->synopsis : "");
	if (route->fields && route->fields->name)
		buf_append_str(&text, "\n## PARAMETERS\n");
	for (const struct field *f = route->fields; f && f->name; f++) {
		buf_printf(&text, "\n    %s (%s%s%s)\n", f->name, type_name(f->type),
		           f->required ? ", required" : "", f->sensitive ? ", sensitive" : "");
		if (f->def)
			buf_printf(&text, "        default: %s\n", f->def);
		if (f->max > f->min && (f->type == FIELD_INT || f->type == FIELD_DURATION))
			buf_printf(&text, "        from %" PRId64 " to %" PRId64 "\n", f->min, f->max);
		if (f->description)
			buf_printf(&text, "        %s\n", f->description);
	}
	openapi_path(&path, m ? m->path : "", route->pattern);
	json_t *paths = json_object();
	json_t *item = openapi_path_item(route, path.data, tag);
	if (item)
		json_object_set_new(paths, path.data, item);
	resp->bare = json_pack("{s:s%, s:o, s:n}", "help", text.data, text.len, "openapi",
	                       openapi_document(paths), "see_also");
	buf_release(&path);
	buf_release(&text);
}
