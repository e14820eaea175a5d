/* fuzz_policy.c — libFuzzer target: arbitrary bytes through policy_parse
 * (HCL, and JSON when the input starts with '{'); a policy that parses is
 * compiled into an ACL and checked against paths taken from the input
 * itself, so the matcher meets the same strange bytes as the parser. The
 * input is also parsed as JSON explicitly, wrapped in a path map, so both
 * front ends see every input. Policies with "{{" are also compiled with
 * template data cut from the input (acl_new_templated). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "core/acl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise_acl(struct acl *a, const char *text, size_t size);

/* The template data for acl_new_templated: the input's first line (any
 * bytes) is the entity's metadata "app", an alias's name and a group's
 * name, so templated paths are expanded with hostile values too. */
static json_t *fuzz_ident(const char *text, size_t size)
{
	size_t n = 0;
	while (n < size && n < 128 && text[n] != '\n')
		n++;
	json_t *meta = json_object(), *alias = json_object(), *group = json_object(), *ent = json_object();
	json_object_set_new(meta, "app", json_stringn_nocheck(text, n));
	json_object_set_new(alias, "id", json_string("al-1"));
	json_object_set_new(alias, "name", json_stringn_nocheck(text, n));
	json_object_set_new(alias, "mount_accessor", json_string("auth_userpass_1"));
	json_object_set_new(alias, "metadata", json_incref(meta));
	json_object_set_new(group, "id", json_string("g-1"));
	json_object_set_new(group, "name", json_stringn_nocheck(text, n));
	json_object_set_new(ent, "id", json_string("e-1"));
	json_object_set_new(ent, "name", json_string("fuzz"));
	json_object_set_new(ent, "metadata", meta);
	json_object_set_new(ent, "aliases", json_pack("[o]", alias));
	return json_pack("{s:o, s:[o]}", "entity", ent, "groups", group);
}

static void exercise(const struct policy *p, const char *text, size_t size)
{
	const struct policy *set[2] = { p, p };
	exercise_acl(acl_new(set, 2), text, size);
	if (policy_has_templates(p)) {
		json_t *ident = fuzz_ident(text, size);
		exercise_acl(acl_new_templated(set, 2, ident), text, size);
		json_decref(ident);
	}
}

static void exercise_acl(struct acl *a, const char *text, size_t size)
{
	static const char *const fixed[] = { "", "/", "secret/foo", "secret/foo/", "a/b/c", "+", "*",
					     "sys/policy/x" };
	struct acl_result res;
	json_t *body = json_pack("{s:s, s:[s, i], s:b}", "name", "x", "list", "a", 1, "flag", 1);
	char path[256];

	acl_result_init(&res);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		for (int op = 0; op < OP__COUNT; op++)
			acl_check(a, fixed[i], (enum op)op, body, &res);
		(void)acl_capabilities(a, fixed[i]);
		(void)acl_any_under(a, fixed[i]);
	}
	/* paths cut from the input: each line, and each quoted string */
	for (size_t i = 0, start = 0; i <= size; i++) {
		if (i == size || text[i] == '\n' || text[i] == '"') {
			size_t n = i - start;
			if (n >= sizeof(path))
				n = sizeof(path) - 1;
			memcpy(path, text + start, n);
			path[n] = '\0';
			if (strlen(path) == n) {
				acl_check(a, path, OP_UPDATE, body, &res);
				acl_check(a, path, OP_LIST, NULL, &res);
				unsigned caps = acl_capabilities(a, path);
				json_decref(acl_caps_json(a, caps));
				(void)acl_any_under(a, path);
			}
			start = i + 1;
		}
	}
	json_decref(acl_resultant_json(a));
	acl_result_release(&res);
	json_decref(body);
	acl_release(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct buf err;
	/* A heap copy of exactly size bytes lets ASan catch any over-read. */
	char *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	if (size)
		memcpy(copy, data, size);
	buf_init(&err, 4096);
	if (policy_parse("fuzz", copy, size, &p, &err) == 0) {
		exercise(p, copy, size);
		policy_free(p);
		p = NULL;
	}
	/* JSON explicitly: the input as the rule map of one pattern */
	if (size > 0 && size < 4096) {
		struct buf j;
		buf_init(&j, 16384);
		buf_append_str(&j, "{\"path\": {\"fuzz/*\": ");
		buf_append(&j, copy, size);
		buf_append_str(&j, "}}");
		if (policy_parse("fuzz", j.data, j.len, &p, &err) == 0) {
			exercise(p, copy, size);
			policy_free(p);
		}
		buf_release(&j);
	}
	buf_release(&err);
	free(copy);
	return 0;
}
