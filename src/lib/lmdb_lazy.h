/* lmdb_lazy.h — liblmdb is loaded on first use, not at start-up.
 *
 * Only `trove server` keeps its data in LMDB, yet every trove process
 * (the agent, each CLI command) would map liblmdb and have the dynamic
 * loader relocate it if the binary linked it. So the binary does not:
 * lmdb_lazy.c defines the LMDB functions Trove calls and loads
 * liblmdb.so.0 the first time one of them runs, as curl_lazy.c does for
 * libcurl. Code includes <lmdb.h> and calls LMDB as usual; an LMDB
 * function not yet defined in lmdb_lazy.c fails the link, and is added
 * there. */
#ifndef TROVE_LMDB_LAZY_H
#define TROVE_LMDB_LAZY_H

#include <stdbool.h>

/* Loads liblmdb once (thread-safe). Returns whether it is loaded. When
 * not, the LMDB functions returning int return ELIBACC, the void ones do
 * nothing (no environment can exist), and mdb_strerror says that liblmdb
 * could not be loaded. */
bool lmdb_lazy_load(void);

#endif
