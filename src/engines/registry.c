/* registry.c — which engine serves which mount type: the registry the
 * server gives the core (core_config.engines). One line per engine; kv
 * picks its version from the mount's options. */
#include <string.h>

#include "engines.h"

#include "auth/auth.h"
#include "database/database.h"

#include "banned.h"

static const struct engine *lookup(const char *type, const json_t *options, bool auth)
{
	if (!type)
		return NULL;
	if (auth) {
		if (strcmp(type, "token") == 0)
			return &token_engine;
		if (strcmp(type, "userpass") == 0)
			return &userpass_engine;
		if (strcmp(type, "approle") == 0)
			return &approle_engine;
		if (strcmp(type, "jwt") == 0 || strcmp(type, "oidc") == 0)
			return &jwt_engine;
		if (strcmp(type, "kubernetes") == 0)
			return &kubernetes_engine;
		if (strcmp(type, "aws") == 0)
			return &aws_engine;
		if (strcmp(type, "cert") == 0)
			return &cert_engine;
		return NULL;
	}
	if (strcmp(type, "system") == 0)
		return &sys_engine;
	if (strcmp(type, "cubbyhole") == 0)
		return &cubbyhole_engine;
	if (strcmp(type, "identity") == 0)
		return &identity_engine;
	if (strcmp(type, "pki") == 0)
		return &pki_engine;
	if (strcmp(type, "database") == 0)
		return &database_engine;
	if (strcmp(type, "kv") == 0) {
		const char *v = json_string_value(json_object_get(options, "version"));
		if (!v || strcmp(v, "1") == 0)
			return &kv_v1_engine;
		return strcmp(v, "2") == 0 ? &kv_v2_engine : NULL;
	}
	return NULL;
}

const struct engine_registry builtin_engines = {.lookup = lookup};
