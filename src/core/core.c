/* core.c — the core aggregate: builds the parts behind the seal (barrier,
 * token and policy stores, mount table, audit broker, expiration manager,
 * rekey and root generation), frees them, and hands them out. The seal
 * state machine that opens and closes them is seal.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core.h"
#include "core_impl.h"

#include "audit.h"
#include "barrier.h"
#include "engine.h"
#include "expiration.h"
#include "generate_root.h"
#include "ha.h"
#include "mount.h"
#include "policy_store.h"
#include "rekey.h"
#include "rollback_guard.h"
#include "scheduler.h"
#include "background.h"
#include "token.h"

#include "banned.h"

static bool background_gate(void *ctx)
{
	return ha_may_run_background(ctx);
}

struct ha *core_ha(struct core *c)
{
	return c->ha;
}

struct core *core_new(struct storage *physical, const struct core_config *cfg)
{
	struct core *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->physical = physical;
	c->barrier = barrier_new(physical);
	c->tokens = token_store_new();
	c->policies = policy_store_new();
	c->mounts = mount_table_new(c);
	c->audit = audit_broker_new(cfg->audit_devices);
	c->expiration = expiration_new(c);
	c->cfg = *cfg;
	c->storage_type = xstrdup(cfg->storage_type ? cfg->storage_type : "inmem");
	c->cfg.storage_type = c->storage_type;
	c->cluster_name = cfg->cluster_name ? xstrdup(cfg->cluster_name) : NULL;
	c->cfg.cluster_name = c->cluster_name;
	if (cfg->rollback_guard_file) {
		c->guard = rollback_guard_new(cfg->rollback_guard_file);
		barrier_set_epoch_hook(c->barrier, rollback_guard_epoch, c->guard);
	}
	c->cfg.rollback_guard_file = NULL; /* borrowed from the caller: not kept */
	const struct engine *sys = engine_lookup(c, "system", NULL, false);
	if (sys)
		c->sys_mount = (struct mount){
			.path = (char *)"sys/", .type = (char *)"system", .engine = sys, .refs = 1 << 30};
	c->rekey = rekey_new(c);
	c->genroot = generate_root_new(c);
	c->ha = ha_new(c);
	/* Under HA, mounts' background work runs on the active node only. */
	scheduler_set_gate(background_scheduler(mount_table_background(c->mounts)), background_gate, c->ha);
	return c;
}

void core_free(struct core *c)
{
	if (!c)
		return;
	ha_stop(c->ha); /* steps down first: the lock thread uses the core */
	core_seal(c);
	rekey_free(c->rekey);
	generate_root_free(c->genroot);
	expiration_free(c->expiration);
	audit_broker_free(c->audit);
	mount_table_free(c->mounts);
	policy_store_free(c->policies);
	token_store_free(c->tokens);
	barrier_free(c->barrier);
	rollback_guard_free(c->guard);
	ha_free(c->ha);
	free(c->storage_type);
	free(c->cluster_name);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct storage *core_storage(struct core *c)
{
	return barrier_storage(c->barrier);
}

struct barrier *core_barrier(struct core *c)
{
	return c->barrier;
}

struct rekey *core_rekey(struct core *c)
{
	return c->rekey;
}

struct generate_root *core_generate_root(struct core *c)
{
	return c->genroot;
}

struct token_store *core_tokens(struct core *c)
{
	return c->tokens;
}

struct mount_table *core_mounts(struct core *c)
{
	return c->mounts;
}

struct policy_store *core_policies(struct core *c)
{
	return c->policies;
}

struct audit_broker *core_audit(struct core *c)
{
	return c->audit;
}

struct expiration *core_expiration(struct core *c)
{
	return c->expiration;
}

const struct core_config *core_config(struct core *c)
{
	return &c->cfg;
}

const struct engine *engine_lookup(struct core *c, const char *type, const json_t *options, bool auth)
{
	const struct engine_registry *reg = c ? c->cfg.engines : NULL;
	return reg && reg->lookup ? reg->lookup(type, options, auth) : NULL;
}

struct mount *core_sys_mount(struct core *c)
{
	return c->sys_mount.engine ? &c->sys_mount : NULL;
}

void core_set_wrap_store(struct core *c, const struct wrap_store *s)
{
	atomic_store(&c->wrap_store, s);
}

const struct wrap_store *core_wrap_store(struct core *c)
{
	return atomic_load(&c->wrap_store);
}
