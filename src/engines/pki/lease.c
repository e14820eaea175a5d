/* lease.c — certificates issued with generate_lease: revoking the lease
 * revokes the certificate (engine.lease_revoke, through revoke.c's
 * pki_revoke_cert). */
#include <stdlib.h>
#include <string.h>

#include "pki.h"

#include "clock.h"
#include "core/expiration.h"
#include "core/mount.h"
#include "engines/kv_util.h"
#include "err.h"
#include "timefmt.h"

#include "banned.h"

int pki_lease_revoke(struct mount *m, const struct lease *l, struct buf *err)
{
	const char *serial = json_string_value(json_object_get(l->internal, "serial_number"));
	if (!serial) {
		buf_printf(err, "lease holds no certificate serial");
		return TROVE_ERR_INTEGRITY;
	}
	struct pki_revocation out;
	/* from_lease: a certificate tidied away or never kept has nothing
	 * left to revoke */
	return pki_revoke_cert(m->view, m, serial, true, &out, err);
}
