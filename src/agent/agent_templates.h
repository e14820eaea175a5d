/* agent_templates.h — the template runner, one part of `trove agent`
 * (agent_parts.h): renders every template { } to its destination and the
 * env_template { } blocks for exec mode, keeps what they read fresh and
 * runs their commands after a change. One thread; see docs/agent.md,
 * "Templates", for what triggers a render. */
#ifndef TROVE_AGENT_TEMPLATES_H
#define TROVE_AGENT_TEMPLATES_H

#include <stdbool.h>

#include "agent/agent.h"
#include "buf.h"

/* The config has a template or an env_template. */
bool agent_templates_wanted(const struct agent_config *cfg);
/* Parses every template (an error names its block's `where`) and starts
 * the runner's thread in a->templates. 0 or an error in err. */
int agent_templates_start(struct agent *a, struct buf *err);
/* Joins the thread (after agent_request_stop) and frees; a->templates
 * NULL is fine. */
void agent_templates_stop(struct agent *a);

#endif
