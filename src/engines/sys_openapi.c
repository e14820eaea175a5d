/* sys_openapi.c — sys/internal/specs/openapi: the OpenAPI 3 document of
 * the mounted engines, one path item per route of each visible mount
 * (core/openapi.h), generated from the route and field declarations, so
 * what it describes is what the router enforces.
 *
 * Which mounts: like sys/internal/ui/mounts, the request needs no token;
 * a valid one widens the document to the mounts it can reach something
 * in. Otherwise only routes that need no token are described, of the
 * built-in mounts and of mounts tuned listing_visibility=unauth (health,
 * seal status; a listed auth mount's login). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines.h"

#include "core/acl.h"
#include "core/core.h"
#include "core/mount.h"
#include "core/openapi.h"
#include "core/policy_store.h"
#include "core/token.h"
#include "buf.h"
#include "err.h"

#include "banned.h"

struct doc_state {
	json_t *paths;
	const struct acl *acl; /* NULL: no valid token, public routes only */
	bool generic;          /* generic_mount_paths */
};

static void add_mount(struct mount *m, void *arg)
{
	struct doc_state *st = arg;
	bool builtin = m->engine && (m->engine->flags & ENGINE_BUILTIN);
	const char *tag = m->auth ? "auth" : strcmp(m->type, "system") == 0 ? "system" : "secrets";
	bool reachable = st->acl && acl_any_under(st->acl, m->path);
	/* A mount the token reaches nothing in is described only as far as
	 * sys/internal/ui/mounts would list it: its routes that need no token,
	 * and only when it is built in or tuned listing_visibility=unauth (so
	 * the document does not reveal where auth methods are mounted). */
	bool listed = builtin || (m->config.listing_visibility && strcmp(m->config.listing_visibility, "unauth") == 0);
	struct buf path;

	if (!m->engine || (!reachable && !listed))
		return;
	buf_init(&path, 256);
	for (const struct route *const *t = m->engine->tables; *t; t++) {
		for (const struct route *r = *t; r->pattern; r++) {
			if (!reachable && !(r->flags & ROUTE_UNAUTH))
				continue;
			buf_reset(&path);
			openapi_path(&path, st->generic && !builtin ? NULL : m->path, r->pattern);
			if (json_object_get(st->paths, path.data))
				continue; /* the first route matching a path serves it */
			json_t *item = openapi_path_item(r, path.data, tag);
			if (item)
				json_object_set_new(st->paths, path.data, item);
		}
	}
	buf_release(&path);
}

static int openapi_read(struct request *req, struct response *resp)
{
	struct token_entry *tok = NULL;
	struct acl *acl = NULL;
	struct doc_state st = {.paths = json_object(), .generic = field_bool(req, "generic_mount_paths")};

	/* Unauthenticated, but a valid token widens the document to what it
	 * can reach; an invalid one is treated as none. */
	if (req->client_token &&
	    token_lookup_ex(core_tokens(req->core), req->client_token, req->remote_addr, TOKEN_LOOKUP_NO_USE,
	                    &tok) == 0 &&
	    policy_store_acl(core_policies(req->core), &tok->policies, &acl) == 0)
		st.acl = acl;
	mount_table_foreach(core_mounts(req->core), false, add_mount, &st);
	mount_table_foreach(core_mounts(req->core), true, add_mount, &st);
	acl_release(acl);
	token_entry_free(tok);
	json_t *doc = openapi_document(st.paths);
	/* The document is the whole body, as Vault answers it. */
	resp->bare = doc;
	return 0;
}

static const struct field openapi_fields[] = {
    {.name = "generic_mount_paths",
     .type = FIELD_BOOL,
     .def = "false",
     .description = "write each mount's path as the parameter {mount_path}"},
    {0},
};

const struct route sys_openapi_routes[] = {
    {.pattern = "internal/specs/openapi",
     .ops = {[OP_READ] = openapi_read},
     .fields = openapi_fields,
     .flags = ROUTE_UNAUTH,
     .synopsis = "the OpenAPI document of the mounted engines"},
    {0},
};
