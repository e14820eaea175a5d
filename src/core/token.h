/* token.h — the token store.
 *
 * Tokens are bearer secrets: the store keeps only a salted hash of each
 * (HMAC-SHA256 under a per-installation salt kept in the barrier), so a copy
 * of storage yields no usable token. A token entry records what the token
 * may do (policies) and where it came from (path, display name).
 *
 * Service token ids are "hvs." + 24 base62 characters (~143 bits). The
 * store is opened on unseal (token_store_open) and closed on seal. */
#ifndef TROVE_TOKEN_H
#define TROVE_TOKEN_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "storage/storage.h"

#define TOKEN_ID_MAX 128
#define TOKEN_SALT_PATH "sys/token/salt"
#define TOKEN_ID_PREFIX "sys/token/id/"
#define TOKEN_ACCESSOR_PREFIX "sys/token/accessor/"

struct token_store;

struct token_entry {
	char accessor[25];
	struct strlist policies; /* sorted */
	char *path;              /* creation path, e.g. "auth/token/root" */
	char *display_name;
	int64_t creation_time;   /* unix seconds */
	int64_t ttl;             /* seconds; 0 = never expires */
};

struct token_store *token_store_new(void);
void token_store_free(struct token_store *ts);

/* Loads (or, first time, creates) the salt from `logical` (borrowed; the
 * barrier view). Call after unseal. */
int token_store_open(struct token_store *ts, struct storage *logical);
/* Forgets the salt and the storage handle. Call on seal. */
void token_store_close(struct token_store *ts);

/* Creates a root token (policy "root", no expiry). id: the caller's chosen
 * id (dev mode) or NULL for a random one. *out_id is heap memory the
 * caller wipes and frees (secure_free_str). */
int token_create_root(struct token_store *ts, const char *id, char **out_id);

/* Looks a token up. TROVE_ERR_PERMISSION for an unknown, malformed or
 * expired token (callers answer 403 without saying which). *out is owned by
 * the caller (token_entry_free). */
int token_lookup(struct token_store *ts, const char *id, struct token_entry **out);
void token_entry_free(struct token_entry *e);
bool token_has_policy(const struct token_entry *e, const char *policy);

#endif
