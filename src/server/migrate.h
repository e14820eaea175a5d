/* migrate.h — `trove operator migrate`: copies every key of one storage
 * into another, raw (ciphertext as it is stored: nothing is unsealed), in
 * key order, as Vault's `operator migrate`. Lives in the server layer
 * because it opens storage, which the client layer cannot. */
#ifndef TROVE_MIGRATE_H
#define TROVE_MIGRATE_H

/* argv[0] is "migrate". Flags: -config=FILE (required), -start=KEY (skip
 * keys that sort before KEY), -reset (clear the migration lock of the
 * source, then exit). Progress and errors go to stderr. Returns 0 on
 * success, 1 on bad usage or config, 2 on a failure once started. */
int server_operator_migrate(int argc, char **argv);

#endif
