/* pki.c — the PKI secrets engine (mount type "pki"): an internal CA with
 * Vault's multi-issuer API. Each file of src/engines/pki/ owns a route
 * table; this one lists them. What is stored where: pki.h; docs/pki.md. */
#include <stdlib.h>

#include "pki.h"
#include "revocation.h"
#include "role.h"

#include "acme/acme.h"
#include "core/mount.h"

#include "engines/engines.h"
#include "err.h"

#include "banned.h"

static const struct route *const pki_tables[] = {
	pki_ca_routes,
	pki_ca_sign_routes,
	pki_import_routes,
	pki_issuer_routes,
	pki_key_routes,
	pki_crl_routes,
	pki_cert_routes,
	pki_issue_routes,
	pki_role_routes,
	pki_sign_verbatim_routes,
	pki_revoke_routes,
	pki_crl_config_routes,
	pki_ocsp_routes,
	pki_config_url_routes,
	pki_tidy_routes,
	pki_acme_config_routes,
	pki_acme_routes,
	NULL,
};

/* The engine's per-mount state: one part per concern, each made and freed
 * by the code that owns it (pki.h). */
static int pki_mount_init(struct mount *m, struct buf *err)
{
	struct pki_mount_state *st = xcalloc(1, sizeof(*st));
	st->rev = pki_rev_state_new();
	st->acme = acme_state_new();
	st->issuers = pki_state_new();
	if (!st->rev || !st->acme || !st->issuers) {
		pki_rev_state_free(st->rev);
		acme_state_free(st->acme);
		pki_state_free(st->issuers);
		free(st);
		return TROVE_ERR_NOMEM;
	}
	m->engine_state = st;
	return 0;
}

static void pki_mount_cleanup(struct mount *m)
{
	struct pki_mount_state *st = m->engine_state;
	if (!st)
		return;
	pki_rev_state_free(st->rev);
	acme_state_free(st->acme);
	pki_state_free(st->issuers);
	free(st);
	m->engine_state = NULL;
}

const struct engine pki_engine = {
	.type = "pki",
	.tables = pki_tables,
	.mount_init = pki_mount_init,
	.mount_cleanup = pki_mount_cleanup,
	.periodic = pki_rev_periodic,
	.periodic_interval_s = 2,
	.lease_revoke = pki_lease_revoke,
};
