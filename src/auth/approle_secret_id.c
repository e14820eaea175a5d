/* approle_secret_id.c — the secret-id endpoints of auth/approle:
 * generate (role/<r>/secret-id), register a custom one
 * (role/<r>/custom-secret-id), list accessors, look up and destroy by
 * secret ID or by accessor, and tidy/secret-id.
 *
 * The secret ID itself appears only in the generate/custom response (and
 * the caller's requests); storage keeps its HMAC (approle_secret.c).
 * Every handler checks that what it touches belongs to the role in the
 * path: an accessor of another role is "not found" (CVE-2023-24999). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approle.h"

#include "core/mount.h"
#include "core/router.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define TIDY_STARTED                                                                                         \
	"Tidy operation successfully started. Any information from the operation will be printed to "        \
	"OpenBao's "                                                                                         \
	"server logs."

/* Loads the route's role and the mount's salt. missing_status: the error
 * for a role that does not exist (Vault answers 404 on some paths, 400
 * on others). */
static int prelude(struct request *req, struct response *resp, struct approle_role *role,
                   unsigned char salt[APPROLE_SALT_LEN], int missing_status)
{
	char name[APPROLE_NAME_MAX + 1];
	int r;
	if ((r = approle_role_name(req, resp, name)) != 0)
		return r;
	r = approle_role_load(req->storage, name, role);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, missing_status, "role \"%s\" does not exist", name);
	if (r != 0)
		return r;
	return approle_salt(req, salt);
}

static char *list_text(const struct strlist *l)
{
	json_t *a = strlist_json(l);
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return s ? s : xstrdup("[]");
}

/* The CIDR field `name` of req into out: valid blocks, inside the role's
 * list `outer` when it has one. */
static int cidr_field(struct request *req, struct response *resp, const char *name,
                      const struct strlist *outer, struct strlist *out)
{
	const char *bad = NULL;
	approle_field_list(req, name, out);
	if (!approle_cidrs_valid(out, &bad))
		return response_error(resp, TROVE_ERR_INVALID,
		                      "failed to validate CIDR blocks: invalid %s \"%s\"", name, bad);
	if (!approle_cidr_subset(out, outer)) {
		char *o = list_text(outer), *i = list_text(out);
		int r = response_error(
		    resp, TROVE_ERR_INVALID,
		    "failed to verify subset relationship between CIDR blocks on the role %s and "
		    "CIDR blocks on the secret ID %s",
		    o, i);
		free(o);
		free(i);
		return r;
	}
	return 0;
}

/* generate (custom == NULL) and custom-secret-id. */
static int issue(struct request *req, struct response *resp, const char *custom)
{
	unsigned char salt[APPROLE_SALT_LEN];
	char uuid[APPROLE_UUID_LEN + 1] = {0};
	struct approle_role role;
	struct approle_secret e;
	const char *why = NULL;
	int r;

	approle_role_init(&role);
	approle_secret_init(&e);
	if ((r = prelude(req, resp, &role, salt, TROVE_ERR_NOT_FOUND)) != 0)
		goto out;
	if (!role.bind_secret_id) {
		r = response_error(resp, TROVE_ERR_INVALID, "bind_secret_id is not set on the role");
		goto out;
	}
	if ((r = cidr_field(req, resp, "cidr_list", &role.secret_id_bound_cidrs, &e.cidr_list)) != 0 ||
	    (r = cidr_field(req, resp, "token_bound_cidrs", &role.tp.bound_cidrs, &e.token_bound_cidrs)) != 0)
		goto out;

	e.num_uses = role.secret_id_num_uses;
	if (field_present(req, "num_uses")) {
		e.num_uses = field_int(req, "num_uses");
		if (e.num_uses < 0) {
			r = response_error(resp, TROVE_ERR_INVALID, "num_uses cannot be negative");
			goto out;
		}
		if (role.secret_id_num_uses > 0 &&
		    (e.num_uses == 0 || e.num_uses > role.secret_id_num_uses)) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "num_uses cannot be higher than the role's secret_id_num_uses");
			goto out;
		}
	}
	e.ttl = role.secret_id_ttl;
	if (field_present(req, "ttl")) {
		e.ttl = field_int(req, "ttl");
		if (role.secret_id_ttl > 0 && (e.ttl == 0 || e.ttl > role.secret_id_ttl)) {
			r = response_error(resp, TROVE_ERR_INVALID,
			                   "ttl cannot be longer than the role's secret_id_ttl");
			goto out;
		}
	}
	/* Vault: a secret ID never outlives the mount's max TTL. */
	int64_t max = req->mount && req->core ? mount_max_ttl(req->core, req->mount) : 0;
	if (max > 0 && e.ttl > max)
		e.ttl = max;

	json_t *md = NULL;
	if (approle_metadata_parse(json_object_get(req->data, "metadata"), &md, &why) != 0) {
		r = response_error(resp, TROVE_ERR_INVALID, "failed to parse metadata: %s", why);
		goto out;
	}
	json_decref(e.metadata);
	e.metadata = md;

	const char *secret = custom;
	if (!secret) {
		if ((r = rand_uuid(uuid)) != 0)
			goto out;
		secret = uuid;
	}
	r = approle_secret_register(req->storage, approle_scope(req), salt, role.dir, secret, &e);
	if (r == TROVE_ERR_CONFLICT) {
		r = response_error(resp, TROVE_ERR_INVALID, "SecretID is already registered");
		goto out;
	}
	if (r != 0)
		goto out;
	response_set_data(resp, json_pack("{s:s, s:s, s:I, s:I}", "secret_id", secret, "secret_id_accessor",
	                                  e.accessor, "secret_id_ttl", (json_int_t)e.ttl,
	                                  "secret_id_num_uses", (json_int_t)e.num_uses));
out:
	secure_wipe(uuid, sizeof(uuid));
	secure_wipe(salt, sizeof(salt));
	approle_secret_release(&e);
	approle_role_release(&role);
	return r;
}

int approle_secret_id_generate(struct request *req, struct response *resp)
{
	return issue(req, resp, NULL);
}

int approle_secret_id_custom(struct request *req, struct response *resp)
{
	const char *s = field_string(req, "secret_id");
	size_t n = strlen(s);
	if (n == 0)
		return response_error(resp, TROVE_ERR_INVALID, "missing secret_id");
	if (n > APPROLE_INPUT_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "secret_id is longer than maximum of %d bytes",
		                      APPROLE_INPUT_MAX);
	/* login trims blanks, so such a secret ID could never log in */
	if (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return response_error(resp, TROVE_ERR_INVALID, "secret_id must not begin or end with blanks");
	return issue(req, resp, s);
}

int approle_secret_id_list(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_role role;
	struct strlist acc, page;
	const char *after = field_string(req, "after");
	int64_t limit = field_int(req, "limit");
	int r;

	approle_role_init(&role);
	strlist_init(&acc);
	strlist_init(&page);
	if ((r = prelude(req, resp, &role, salt, TROVE_ERR_INVALID)) != 0 ||
	    (r = approle_secret_accessors(req->storage, role.dir, &acc)) != 0)
		goto out;
	strlist_sort(&acc);
	for (size_t i = 0; i < acc.len && (limit <= 0 || (int64_t)page.len < limit); i++)
		if (!after[0] || strcmp(acc.items[i], after) > 0)
			strlist_push(&page, acc.items[i]);
	if (page.len == 0) {
		r = TROVE_ERR_NOT_FOUND;
		goto out;
	}
	response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&page)));
out:
	secure_wipe(salt, sizeof(salt));
	strlist_release(&acc);
	strlist_release(&page);
	approle_role_release(&role);
	return r;
}

/* The HMAC of the request's secret_id under the role, or a 400. */
static int request_secret_hmac(struct request *req, struct response *resp, const unsigned char *salt,
                               const struct approle_role *role, char out[APPROLE_HASH_HEX + 1])
{
	const char *s = field_string(req, "secret_id");
	if (!s[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing secret_id");
	if (strlen(s) > APPROLE_INPUT_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "secret_id is longer than maximum of %d bytes",
		                      APPROLE_INPUT_MAX);
	approle_hash(salt, role->dir, s, out);
	return 0;
}

int approle_secret_id_lookup(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	char hmac[APPROLE_HASH_HEX + 1];
	struct approle_role role;
	struct approle_secret e;
	int r;

	approle_role_init(&role);
	approle_secret_init(&e);
	if ((r = prelude(req, resp, &role, salt, TROVE_ERR_INVALID)) != 0 ||
	    (r = request_secret_hmac(req, resp, salt, &role, hmac)) != 0)
		goto out;
	r = approle_secret_load(req->storage, role.dir, hmac, &e);
	if (r == TROVE_ERR_NOT_FOUND) /* Vault: no such secret ID is an empty 204 */
		r = 0;
	else if (r == 0)
		response_set_data(resp, approle_secret_to_api(&e));
out:
	secure_wipe(salt, sizeof(salt));
	approle_secret_release(&e);
	approle_role_release(&role);
	return r;
}

int approle_secret_id_destroy(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	char hmac[APPROLE_HASH_HEX + 1];
	struct approle_role role;
	int r;

	approle_role_init(&role);
	if ((r = prelude(req, resp, &role, salt, TROVE_ERR_INVALID)) == 0 &&
	    (r = request_secret_hmac(req, resp, salt, &role, hmac)) == 0)
		r = approle_secret_destroy(req->storage, approle_scope(req), salt, role.dir, hmac);
	secure_wipe(salt, sizeof(salt));
	approle_role_release(&role);
	return r;
}

/* The secret ID of the request's accessor, which must be the role's. */
static int by_accessor(struct request *req, struct response *resp, struct approle_role *role,
                       unsigned char salt[APPROLE_SALT_LEN], struct approle_secret *e)
{
	int r = prelude(req, resp, role, salt, TROVE_ERR_INVALID);
	if (r != 0)
		return r;
	const char *acc = field_string(req, "secret_id_accessor");
	if (!acc[0])
		return response_error(resp, TROVE_ERR_INVALID, "missing secret_id_accessor");
	if (strlen(acc) > APPROLE_INPUT_MAX)
		return response_error(resp, TROVE_ERR_INVALID, "secret_id_accessor is too long");
	r = approle_secret_by_accessor(req->storage, salt, role->dir, acc, e);
	if (r == TROVE_ERR_NOT_FOUND)
		return response_error(resp, TROVE_ERR_NOT_FOUND,
		                      "failed to find accessor entry for secret_id_accessor: \"%s\"", acc);
	return r;
}

int approle_accessor_lookup(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_role role;
	struct approle_secret e;
	approle_role_init(&role);
	approle_secret_init(&e);
	int r = by_accessor(req, resp, &role, salt, &e);
	if (r == 0)
		response_set_data(resp, approle_secret_to_api(&e));
	secure_wipe(salt, sizeof(salt));
	approle_secret_release(&e);
	approle_role_release(&role);
	return r;
}

int approle_accessor_destroy(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_role role;
	struct approle_secret e;
	approle_role_init(&role);
	approle_secret_init(&e);
	int r = by_accessor(req, resp, &role, salt, &e);
	if (r == 0)
		r = approle_secret_destroy(req->storage, approle_scope(req), salt, role.dir, e.hmac);
	secure_wipe(salt, sizeof(salt));
	approle_secret_release(&e);
	approle_role_release(&role);
	return r;
}

/* --- tidy/secret-id -------------------------------------------------------------- */

int approle_tidy_secret_id(struct request *req, struct response *resp)
{
	unsigned char salt[APPROLE_SALT_LEN];
	struct approle_tidy_stats st;
	char a[32], b[32], c[32];
	int r;

	if (!approle_tidy_claim(req)) {
		response_warning(resp, "Tidy operation already in progress.");
		return 0;
	}
	if ((r = approle_salt(req, salt)) == 0)
		r = approle_tidy(req->storage, approle_scope(req), salt, approle_now_ns(), &st);
	approle_tidy_release(req);
	secure_wipe(salt, sizeof(salt));
	if (r != 0) {
		log_error("approle tidy failed", "mount", req->mount ? req->mount->path : "", "error",
		          err_name(r));
		return r;
	}
	snprintf(a, sizeof(a), "%zu", st.expired);
	snprintf(b, sizeof(b), "%zu", st.orphaned);
	snprintf(c, sizeof(c), "%zu", st.accessors);
	log_info("approle tidy done", "mount", req->mount ? req->mount->path : "", "expired_secret_ids", a,
	         "orphaned_secret_ids", b, "dangling_accessors", c);
	/* Vault answers 202 with this warning; here the work is already done
	 * when it is sent. */
	resp->status = 202;
	response_warning(resp, TIDY_STARTED);
	return 0;
}
