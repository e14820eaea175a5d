/* standby.c — a standby's decision on requests that need the active
 * node (standby.h). */
#include <stdlib.h>
#include <string.h>

#include "server/standby.h"

#include "core/core.h"
#include "core/ha.h"

#include "banned.h"

bool standby_answers_itself(const char *path)
{
	static const char *const own[] = {"sys/health", "sys/leader", "sys/seal-status",
	                                  "sys/init",   "sys/unseal", "sys/seal"};
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		if (strcmp(path, own[i]) == 0)
			return true;
	return false;
}

int standby_decision(struct core *core, const char *path, const char *raw, size_t raw_len, struct buf *location)
{
	struct ha *h = core_ha(core);
	struct ha_leader ld;
	enum ha_serve s = ha_may_serve(h);

	/* a sealed node says so (503 sealed), as Vault's do, rather than
	 * sending clients on */
	if (s == HA_SERVE_HERE || standby_answers_itself(path) || core_sealed(core))
		return 0;
	if (s == HA_SERVE_UNAVAILABLE)
		return 503;
	ha_leader(h, &ld);
	/* the target as sent, its query included, on the active's address */
	char *target = xstrndup(raw, raw_len);
	int r = ld.known && !ld.is_self ? ha_redirect_url(ld.api_addr, target, location) : -1;
	free(target);
	return r == 0 ? 307 : 503;
}
