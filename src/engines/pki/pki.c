/* pki.c — the PKI secrets engine (mount type "pki"): an internal CA with
 * Vault's multi-issuer API. Each file of src/engines/pki/ owns a route
 * table; this one lists them. What is stored where: pki.h; docs/pki.md. */
#include "pki.h"
#include "role.h"

#include "engines/engines.h"

#include "banned.h"

static const struct route *const pki_tables[] = {
	pki_ca_routes, pki_ca_sign_routes, pki_import_routes, pki_issuer_routes, pki_key_routes, pki_cert_routes,
	pki_issue_routes,
	pki_role_routes,
	pki_sign_verbatim_routes,
	NULL,
};

const struct engine pki_engine = {
	.type = "pki",
	.tables = pki_tables,
	.mount_init = pki_mount_init,
	.mount_cleanup = pki_mount_cleanup,
	.lease_revoke = pki_lease_revoke,
};
