/* fuzz_audit_entry.c — libFuzzer target for the audit entry writer
 * (core/audit_entry.h).
 *
 * Input layout: the first byte holds option bits (below); the rest is JSON
 * text. When it parses, the value is the request data and the response
 * data (and, when of the right type, the token metadata, the headers and
 * the warnings); when it does not, the raw bytes become one string (made
 * with json_stringn_nocheck, so invalid UTF-8 and NULs reach the writer).
 * The raw bytes up to the first NUL are also the request path, display
 * name and error. Request and response entries are formatted with and
 * without log_raw and elide_list_responses, and each must be:
 *  - one line, ending in its only '\n', after the prefix;
 *  - valid JSON that jansson parses back (unless the input nests so deep
 *    that the entry around it passes jansson's parser limit), and exactly
 *    what jansson writes again for the tree it parsed.
 * Then every string leaf of a copy of the value is set to a canary, the
 * request's token, the token's accessor and response.auth's token and
 * accessor too, and with hashing on the canary must never appear in the
 * entries (skipped only when a key of the input holds the canary, since
 * keys are logged in clear). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "core/audit_entry.h"
#include "core/mount.h"
#include "core/request.h"
#include "core/token.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CANARY "CANARY-7f3a9b"
#define PARSE_MAX_DEPTH 2047 /* jansson's parser: containers around a scalar */
#define ENTRY_DEPTH 3        /* {"request":{"data": */

enum {
	OPT_HMAC_ACCESSOR = 1 << 0,
	OPT_LIST = 1 << 1,
	OPT_PREFIX = 1 << 2,
	OPT_BARE = 1 << 3,
	OPT_MOUNT = 1 << 4,
	OPT_TOKEN = 1 << 5,
	OPT_BATCH = 1 << 6,
	OPT_POLICY = 1 << 7,
};

static const unsigned char salt[32] = "fuzz-audit-salt-0123456789abcdef";

static size_t depth_of(const json_t *v)
{
	size_t d = 0, i;
	const char *k;
	json_t *c;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c)
		{
			size_t cd = depth_of(c);
			d = cd > d ? cd : d;
		}
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach((json_t *)v, i, c)
		{
			size_t cd = depth_of(c);
			d = cd > d ? cd : d;
		}
		return d + 1;
	}
	return 0;
}

/* Every string leaf of v set to the canary. False when a key holds it. */
static bool canarize(json_t *v)
{
	bool ok = true;
	size_t i;

	if (json_is_object(v)) {
		for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
			const char *k = json_object_iter_key(it);
			json_t *c = json_object_iter_value(it);

			if (memmem(k, json_object_iter_key_len(it), CANARY, sizeof(CANARY) - 1) != NULL)
				ok = false;
			if (json_is_string(c))
				json_object_iter_set_new(v, it, json_string(CANARY));
			else
				ok = canarize(c) && ok;
		}
	} else if (json_is_array(v)) {
		for (i = 0; i < json_array_size(v); i++) {
			json_t *c = json_array_get(v, i);

			if (json_is_string(c))
				json_array_set_new(v, i, json_string(CANARY));
			else
				ok = canarize(c) && ok;
		}
	}
	return ok;
}

static void check_line(const char *line, size_t len, const char *prefix, bool parse)
{
	size_t pl = strlen(prefix);
	json_error_t err;
	json_t *j;
	char *again;

	if (line == NULL)
		abort(); /* never for parsed input: out of memory only */
	if (len <= pl + 1 || strlen(line) != len || memcmp(line, prefix, pl) != 0 || line[len - 1] != '\n' ||
	    memchr(line, '\n', len - 1) != NULL)
		abort();
	for (size_t i = pl; i + 1 < len; i++)
		if ((unsigned char)line[i] < 0x20)
			abort();
	if (!parse)
		return;
	j = json_loadb(line + pl, len - pl - 1, JSON_ALLOW_NUL, &err);
	if (j == NULL || !json_is_object(j))
		abort();
	again = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (again == NULL || strlen(again) != len - pl - 1 || memcmp(again, line + pl, len - pl - 1) != 0)
		abort();
	free(again);
	json_decref(j);
}

struct setup {
	struct request req;
	struct response resp;
	struct token_entry *tok;
	struct mount mnt;
	struct strlist granting;
	struct audit_format f;
	struct audit_record r;
};

static void setup_init(struct setup *s, unsigned opts, const char *text)
{
	memset(s, 0, sizeof(*s));
	request_init(&s->req);
	response_init(&s->resp);
	snprintf(s->req.id, sizeof(s->req.id), "%s", "5e0a4a3c-1b2d-4e5f-8a9b-0c1d2e3f4a5b");
	s->req.op = (opts & OPT_LIST) ? OP_LIST : OP_UPDATE;
	s->req.path = xstrdup(text);
	s->req.client_token = xstrdup("hvs." CANARY);
	snprintf(s->req.remote_addr, sizeof(s->req.remote_addr), "%s", "10.0.0.7");
	s->req.remote_port = 51234;

	s->mnt.path = xstrdup("secret/");
	s->mnt.type = xstrdup("kv");
	snprintf(s->mnt.accessor, sizeof(s->mnt.accessor), "%s", "kv_1a2b3c4d");
	strlist_init(&s->mnt.config.audit_non_hmac_request_keys);
	strlist_init(&s->mnt.config.audit_non_hmac_response_keys);
	strlist_push(&s->mnt.config.audit_non_hmac_request_keys, "a");
	strlist_push(&s->mnt.config.audit_non_hmac_response_keys, "b");

	strlist_init(&s->granting);
	strlist_push(&s->granting, text);
	if (opts & OPT_TOKEN) {
		s->tok = token_entry_new();
		snprintf(s->tok->accessor, sizeof(s->tok->accessor), "%s", CANARY);
		strlist_push(&s->tok->policies, "default");
		token_entry_set(&s->tok->display_name, text);
		s->tok->creation_time = 1796040000;
		s->tok->type = (opts & OPT_BATCH) ? TOKEN_TYPE_BATCH : TOKEN_TYPE_SERVICE;
	}
	s->f = (struct audit_format){.salt = salt,
	                             .salt_len = sizeof(salt),
	                             .hmac_accessor = (opts & OPT_HMAC_ACCESSOR) != 0,
	                             .prefix = (opts & OPT_PREFIX) ? "@cee: " : ""};
	s->r = (struct audit_record){.req = &s->req,
	                             .token = s->tok,
	                             .policy_checked = (opts & OPT_POLICY) != 0,
	                             .allowed = true,
	                             .granting = &s->granting,
	                             .error = text,
	                             .time = "2026-11-30T12:00:00.123456789Z"};
}

static void setup_release(struct setup *s)
{
	request_release(&s->req); /* mount: not refcounted here, never set */
	response_release(&s->resp);
	token_entry_free(s->tok);
	free(s->mnt.path);
	free(s->mnt.type);
	strlist_release(&s->mnt.config.audit_non_hmac_request_keys);
	strlist_release(&s->mnt.config.audit_non_hmac_response_keys);
	strlist_release(&s->granting);
}

/* Request and response entries, with and without log_raw and elide (raw
 * only when allow_raw), each checked; with canary, also checked for it. */
static void format_all(struct setup *s, bool allow_raw, bool parse, bool canary)
{
	for (int raw = 0; raw < (allow_raw ? 2 : 1); raw++)
		for (int elide = 0; elide < 2; elide++)
			for (int resp = 0; resp < 2; resp++) {
				size_t len = 0;
				char *line;

				s->f.log_raw = raw;
				s->f.elide_list_responses = elide;
				s->r.resp = resp ? &s->resp : NULL;
				line = audit_format_entry(&s->f, &s->r, &len);
				check_line(line, len, s->f.prefix, parse);
				if (canary && memmem(line, len, CANARY, sizeof(CANARY) - 1) != NULL)
					abort();
				free(line);
			}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct setup s;
	json_error_t err;
	json_t *v;
	unsigned opts;
	char *text;
	bool parse;

	if (size < 1 || size > 1 << 16)
		return 0;
	opts = data[0];
	data++;
	size--;
	text = xstrndup((const char *)data, size); /* up to the first NUL */

	v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (v == NULL) {
		v = json_object();
		json_object_set_new(v, "s", json_stringn_nocheck((const char *)data, size));
	}
	parse = depth_of(v) + ENTRY_DEPTH <= PARSE_MAX_DEPTH;

	/* The value as it is, everywhere it may go. */
	setup_init(&s, opts, text);
	s.req.mount = (opts & OPT_MOUNT) ? &s.mnt : NULL;
	s.req.data = json_incref(v);
	if (opts & OPT_BARE)
		s.resp.bare = json_incref(v);
	else
		s.resp.data = json_incref(v);
	s.resp.auth = json_is_object(v) ? json_incref(v) : NULL;
	s.resp.warnings = json_is_array(v) ? json_incref(v) : NULL;
	s.r.headers = json_is_object(v) ? v : NULL;
	if (s.tok != NULL)
		s.tok->meta = json_is_object(v) ? json_incref(v) : NULL;
	format_all(&s, true, parse, false);
	s.req.mount = NULL;
	setup_release(&s);

	/* Every string a canary: hashed everywhere it is secret. */
	json_t *c = json_deep_copy(v);
	if (c != NULL && json_is_string(c)) {
		json_decref(c);
		c = json_string(CANARY);
	}
	if (c != NULL && canarize(c)) {
		setup_init(&s, opts | OPT_HMAC_ACCESSOR, "path");
		s.r.error = "error";
		if (s.tok != NULL)
			token_entry_set(&s.tok->display_name, "name");
		strlist_release(&s.granting);
		strlist_init(&s.granting);
		s.req.data = json_incref(c);
		if (opts & OPT_BARE)
			s.resp.bare = json_incref(c);
		else
			s.resp.data = json_incref(c);
		s.resp.auth = json_pack("{s:s,s:s,s:i}", "client_token", "hvs." CANARY, "accessor", CANARY,
		                        "lease_duration", 3600);
		format_all(&s, false, parse, true);
		setup_release(&s);
	}
	json_decref(c);
	json_decref(v);
	free(text);
	return 0;
}
