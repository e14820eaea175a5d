/* sys_ha.c — sys/leader, sys/ha-status and sys/step-down: the node's HA
 * role as Vault reports it (core/ha.h; docs/ha.md). sys/health, which
 * also answers by role, is in sys.c. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engines.h"
#include "core/ha.h"
#include "core/core.h"
#include "err.h"
#include "log.h"
#include "timefmt.h"
#include "trove_version.h"

#include "banned.h"

/* Go's zero time, which Vault reports when nothing is active. */
#define ZERO_TIME "0001-01-01T00:00:00Z"

static int leader_read(struct request *req, struct response *resp)
{
	struct ha *h = core_ha(req->core);
	struct ha_leader ld = {0};
	char when[TIME_TEXT_MAX];

	if (!ha_enabled(h)) {
		resp->bare = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:i, s:i, s:i}", "ha_enabled", 0, "is_self", 0,
		                       "active_time", ZERO_TIME, "leader_address", "", "leader_cluster_address", "",
		                       "performance_standby", 0, "performance_standby_last_remote_wal", 0,
		                       "raft_committed_index", 0, "raft_applied_index", 0);
		return 0;
	}
	ha_leader(h, &ld);
	if (ld.known && ld.active_since_ms > 0)
		time_rfc3339_ns(ld.active_since_ms * 1000000, when);
	bool perf = ha_role(h) == HA_ROLE_STANDBY && ha_standby_reads(h);
	resp->bare = json_pack("{s:b, s:b, s:s, s:s, s:s, s:b, s:i, s:i, s:i}", "ha_enabled", 1, "is_self",
	                       ld.known && ld.is_self, "active_time",
	                       ld.known && ld.active_since_ms > 0 ? when : ZERO_TIME, "leader_address",
	                       ld.known ? ld.api_addr : "", "leader_cluster_address", ld.known ? ld.cluster_addr : "",
	                       "performance_standby", perf, "performance_standby_last_remote_wal", 0,
	                       "raft_committed_index", 0, "raft_applied_index", 0);
	return 0;
}

static int ha_status_read(struct request *req, struct response *resp)
{
	struct ha *h = core_ha(req->core);
	struct ha_leader ld;
	struct ha_node *nodes = NULL;
	size_t n = 0;
	int r;

	if (!ha_enabled(h))
		return response_error(resp, TROVE_ERR_INVALID, "this node does not have HA enabled");
	if ((r = ha_nodes(h, &nodes, &n)) != 0)
		return response_error(resp, r, "the HA nodes could not be read: %s", err_message(r));
	ha_leader(h, &ld);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		char when[TIME_TEXT_MAX];
		bool active = ld.known && strcmp(nodes[i].node.node_id, ld.node_id) == 0;
		time_rfc3339_ns(nodes[i].last_echo_ms * 1000000, when);
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:b, s:o, s:s}", "hostname", nodes[i].node.hostname,
		                                      "api_address", nodes[i].node.api_addr, "cluster_address",
		                                      nodes[i].node.cluster_addr, "active_node", active, "last_echo",
		                                      active ? json_null() : json_string(when), "version",
		                                      TROVE_VERSION));
	}
	free(nodes);
	response_set_data(resp, json_pack("{s:o}", "nodes", list));
	resp->inject_data = true;
	return 0;
}

static int step_down_write(struct request *req, struct response *resp)
{
	(void)resp;
	struct ha *h = core_ha(req->core);
	/* not HA, or not active (a standby redirects this to the active):
	 * nothing to give up, as Vault */
	if (!ha_enabled(h))
		return 0;
	log_info("sys/step-down: giving up active status");
	return ha_step_down(h);
}

const struct route sys_ha_routes[] = {
    {.pattern = "leader",
     .ops = {[OP_READ] = leader_read},
     .flags = ROUTE_UNAUTH | ROUTE_SEALED_OK | ROUTE_NO_AUDIT | ROUTE_LOOP_READS,
     .synopsis = "high-availability leader"},
    {.pattern = "ha-status",
     .ops = {[OP_READ] = ha_status_read},
     .synopsis = "the nodes of this HA cluster"},
    {.pattern = "step-down",
     .ops = {[OP_UPDATE] = step_down_write},
     .flags = ROUTE_SUDO,
     .synopsis = "give up active status"},
    {0},
};
