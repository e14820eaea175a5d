/* engines.h — the built-in engines' path tables. */
#ifndef TROVE_ENGINES_H
#define TROVE_ENGINES_H

#include "core/router.h"

/* sys/: init, seal, health, keyring. */
extern const struct engine sys_engine;

#endif
