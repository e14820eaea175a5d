/* token_helper.h — the token helper's file, as Vault's default helper
 * keeps it: the token alone in $HOME/.vault-token (TROVE_TOKEN_PATH or
 * VAULT_TOKEN_PATH, when set, name another file). Nothing here prints. */
#ifndef TROVE_API_TOKEN_HELPER_H
#define TROVE_API_TOKEN_HELPER_H

#include "buf.h"

/* The file's path into out (reset first). Returns 0, or TROVE_ERR_NOT_FOUND
 * when no location is known (no HOME and no *_TOKEN_PATH). */
int api_token_helper_path(struct buf *out);

/* The stored token, surrounding whitespace trimmed: returns a heap string
 * (free with secure_free_str), or NULL when there is no file, it cannot be
 * read, it is empty or over 8 KiB. A missing file is not an error. */
char *api_token_helper_get(void);

/* Stores token: a temporary file (0600, created exclusively) beside the
 * target, written, synced and renamed over it. Returns 0, or
 * TROVE_ERR_NOT_FOUND (no location) or TROVE_ERR_IO with *detail (heap,
 * caller frees; may be NULL) as "<path>: <reason>". */
int api_token_helper_store(const char *token, char **detail);

#endif
