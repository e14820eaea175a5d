/* revocation_state.c — the PKI engine's per-mount state (the CRL build
 * lock, the tidy run) and its periodic job: CRL rebuilds under
 * auto_rebuild and auto-tidy. */
#include <stdlib.h>

#include "revocation.h"

#include "clock.h"
#include "core/mount.h"

#include "banned.h"

struct pki_rev_state *pki_rev_state(struct mount *m)
{
	struct pki_mount_state *st = m ? m->engine_state : NULL;
	return st ? st->rev : NULL;
}

struct pki_rev_state *pki_rev_state_new(void)
{
	struct pki_rev_state *st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->crl_lock, NULL);
	pthread_mutex_init(&st->tidy_lock, NULL);
	pthread_mutex_init(&st->revoke_lock, NULL);
	st->last_auto_tidy = clock_realtime_s();
	return st;
}

void pki_rev_state_free(struct pki_rev_state *st)
{
	if (!st)
		return;
	pki_tidy_status_free(st->tidy);
	pthread_mutex_destroy(&st->crl_lock);
	pthread_mutex_destroy(&st->tidy_lock);
	pthread_mutex_destroy(&st->revoke_lock);
	free(st);
}

void pki_rev_periodic(struct mount *m)
{
	int64_t now = clock_realtime_s();
	pki_crl_periodic(m, now);
	pki_tidy_periodic(m, now);
}
