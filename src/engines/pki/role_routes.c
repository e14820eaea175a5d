/* role_routes.c — the roles API of the PKI engine: roles/:name (read,
 * write, patch, delete) and roles (list), as Vault serves them.
 *
 * A write (POST/PUT) replaces the role: fields not sent take their
 * defaults, as Vault's pathRoleCreate does; a PATCH merges the fields
 * sent into the stored role (404 when there is none). Both answer the
 * role as a read does. The field table is made from PKI_ROLE_FIELDS, so
 * the OpenAPI document, ?help=1 and the router's typing see every field
 * the role has. */
#include <stdlib.h>
#include <string.h>

#include "role.h"

#include "core/router.h"
#include "err.h"
#include "storage/storage.h"
#include "strlist_json.h"

#include "banned.h"

static int bad_name(struct response *resp)
{
	return response_error(resp, TROVE_ERR_INVALID,
	                      "name: a role name is letters, digits and '_', with '-' or '.' inside");
}

static int role_read(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct pki_role r;
	int rc;

	if (!pki_role_name_ok(name))
		return TROVE_ERR_NOT_FOUND;
	if ((rc = pki_role_load(req->storage, name, &r)) == 0)
		response_set_data(resp, pki_role_to_json(&r));
	pki_role_release(&r);
	return rc;
}

/* Validates r, stores it under name and answers it. */
static int role_store(struct request *req, struct response *resp, const char *name, struct pki_role *r)
{
	struct buf why, key;
	char *text = NULL;
	json_t *o = NULL;
	int rc;

	buf_init(&why, 1024);
	buf_init(&key, 512);
	if ((rc = pki_role_validate(r, &why)) != 0) {
		response_error(resp, rc, "%s", why.data ? why.data : "invalid role");
		goto out;
	}
	o = pki_role_to_json(r);
	text = json_dumps(o, JSON_COMPACT);
	if (!text) {
		rc = TROVE_ERR_NOMEM;
		goto out;
	}
	buf_printf(&key, PKI_ROLE_PREFIX "%s", name);
	if ((rc = storage_put(req->storage, key.data, text, strlen(text))) != 0)
		goto out;
	response_set_data(resp, o);
	o = NULL;
out:
	free(text);
	json_decref(o);
	buf_release(&why);
	buf_release(&key);
	return rc;
}

static int role_apply_and_store(struct request *req, struct response *resp, const char *name,
                                struct pki_role *r)
{
	struct buf why;
	int rc;

	buf_init(&why, 1024);
	if (req->data && (rc = pki_role_apply_json(r, req->data, &why)) != 0)
		response_error(resp, rc, "%s", why.data ? why.data : "invalid role");
	else
		rc = role_store(req, resp, name, r);
	buf_release(&why);
	return rc;
}

static int role_write(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct pki_role r;
	int rc;

	if (!pki_role_name_ok(name))
		return bad_name(resp);
	pki_role_init(&r);
	rc = role_apply_and_store(req, resp, name, &r);
	pki_role_release(&r);
	return rc;
}

static int role_patch(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct pki_role r;
	int rc;

	if (!pki_role_name_ok(name))
		return bad_name(resp);
	if ((rc = pki_role_load(req->storage, name, &r)) == 0)
		rc = role_apply_and_store(req, resp, name, &r);
	pki_role_release(&r);
	return rc;
}

static int role_delete(struct request *req, struct response *resp)
{
	const char *name = request_param(req, "name");
	struct buf key;
	int rc;

	(void)resp;
	if (!pki_role_name_ok(name))
		return 0; /* nothing can be stored under it */
	buf_init(&key, 512);
	buf_printf(&key, PKI_ROLE_PREFIX "%s", name);
	rc = storage_delete(req->storage, key.data);
	if (rc == TROVE_ERR_NOT_FOUND)
		rc = 0; /* Vault: deleting a missing role is not an error */
	buf_release(&key);
	return rc;
}

static int role_list(struct request *req, struct response *resp)
{
	struct strlist keys;
	int rc;

	strlist_init(&keys);
	if ((rc = storage_list(req->storage, PKI_ROLE_PREFIX, &keys)) == 0) {
		if (keys.len == 0)
			rc = TROVE_ERR_NOT_FOUND;
		else
			response_set_data(resp, json_pack("{s:o}", "keys", strlist_json(&keys)));
	}
	strlist_release(&keys);
	return rc;
}

#define PKI_ROLE_FT_BOOL FIELD_BOOL
#define PKI_ROLE_FT_INT FIELD_INT
#define PKI_ROLE_FT_DUR FIELD_DURATION
#define PKI_ROLE_FT_STR FIELD_STRING
#define PKI_ROLE_FT_LIST FIELD_STRLIST
#define PKI_ROLE_FIELD(n, k, d, lo, hi, desc)                                                                \
	{.name = #n, .type = PKI_ROLE_FT_##k, .def = (d), .min = (lo), .max = (hi), .description = (desc)},

static const struct field role_fields[] = {
    PKI_ROLE_FIELDS(PKI_ROLE_FIELD){0},
};

const struct route pki_role_routes[] = {
    {.pattern = "roles",
     .ops = {[OP_LIST] = role_list},
     .flags = ROUTE_LOOP_READS,
     .synopsis = "list the roles"},
    {.pattern = "roles/:name",
     .ops = {[OP_READ] = role_read,
             [OP_CREATE] = role_write,
             [OP_UPDATE] = role_write,
             [OP_PATCH] = role_patch,
             [OP_DELETE] = role_delete},
     .fields = role_fields,
     .flags = ROUTE_LOOP_READS,
     .synopsis = "create, read, update, patch and delete a role"},
    {0},
};
