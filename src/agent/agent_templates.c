/* agent_templates.c — the template runner as a part of the agent
 * (agent_templates.h): its thread, and how it reaches the server (the
 * agent's API client) and exec mode (agent_exec_set_env). */
#include <pthread.h>
#include <stdlib.h>

#include "agent/agent_parts.h"
#include "agent/agent_templates.h"
#include "agent/agent_templates_run.h"
#include "err.h"

#include "banned.h"

struct agent_templates {
	struct trunner *runner;
	pthread_t thread;
	bool started;
};

bool agent_templates_wanted(const struct agent_config *cfg)
{
	return cfg->ntemplates > 0;
}

static void *run(void *arg)
{
	trunner_run(arg);
	return NULL;
}

int agent_templates_start(struct agent *a, struct buf *err)
{
	static const struct trunner_ops ops = { agent_api_client, agent_exec_set_env };
	struct agent_templates *t = xcalloc(1, sizeof(*t));
	int r;

	a->templates = t;
	if ((r = trunner_new(a, &ops, &t->runner, err)) != 0)
		return r;
	if (pthread_create(&t->thread, NULL, run, t->runner) != 0) {
		buf_printf(err, "templates: cannot start a thread");
		return TROVE_ERR_INTERNAL;
	}
	t->started = true;
	return 0;
}

void agent_templates_stop(struct agent *a)
{
	struct agent_templates *t = a->templates;

	if (t == NULL)
		return;
	if (t->started)
		pthread_join(t->thread, NULL);
	trunner_free(t->runner);
	free(t);
	a->templates = NULL;
}
