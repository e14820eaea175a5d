/* wrapping.h — Vault's response wrapping.
 *
 * A wrapped response is kept in the cubbyhole of a fresh wrapping token
 * (service, orphan, one use, policy "response-wrapping" only, TTL = the
 * wrap TTL, creation path = the request path), and the client gets only
 * wrap_info: {token, accessor, ttl, creation_time, creation_path,
 * wrapped_accessor?}. The cubbyhole holds, as Vault does:
 *   response  {"response": "<the JSON envelope, as text>"}
 *   wrapinfo  {"creation_path", "creation_ttl", "wrapped_accessor"}
 * Unwrapping spends the token's only use; its revocation deletes the
 * cubbyhole. The core does not reach the cubbyhole itself: the cubbyhole
 * engine registers a struct wrap_store with the core (core_set_wrap_store)
 * and wrapping goes through it. */
#ifndef TROVE_WRAPPING_H
#define TROVE_WRAPPING_H

#include <jansson.h>
#include <stdint.h>

#include "request.h"

struct core;
struct token_entry;

#define WRAPPING_POLICY "response-wrapping"
#define WRAPPING_DEFAULT_TTL 300 /* sys/wrapping/wrap without a wrap TTL */
#define WRAPPING_INVALID "wrapping token is not valid or does not exist"

/* Where wrapped responses are kept, by the hash of the wrapping token:
 * put stores the JSON value at key (no '/' needed), get reads it (*out is
 * the caller's). Both return 0 or an error code, TROVE_ERR_NOT_FOUND when
 * absent or when there is nowhere to keep it. Thread-safe. */
struct wrap_store {
	int (*put)(struct core *c, const char *id_hash, const char *key, const json_t *v);
	int (*get)(struct core *c, const char *id_hash, const char *key, json_t **out);
};

/* The envelope Vault stores for a response: request_id, lease_id,
 * renewable, lease_duration, data, wrap_info (null), warnings, auth. */
json_t *wrapping_envelope(const struct request *req, const struct response *resp);

/* Creates a wrapping token holding envelope (borrowed). wrapped_accessor
 * may be NULL or "". On success *wrap_info is the client's wrap_info. */
int wrapping_create(struct core *c, const char *creation_path, int64_t ttl, const json_t *envelope,
                    const char *wrapped_accessor, json_t **wrap_info);

/* After a successful handler: when req asked for wrapping (req->wrap_ttl)
 * and resp has data or auth, replaces resp by its wrap_info. Requests
 * under sys/wrapping/ are left alone except sys/wrapping/wrap. On failure
 * resp holds only the error. */
int wrapping_wrap(struct request *req, struct response *resp);

/* Whether token names a live wrapping token (no use consumed). With out,
 * *out gets the entry (caller frees). */
int wrapping_validate(struct core *c, const char *token, struct token_entry **out);

/* The token a sys/wrapping/{unwrap,rewrap,lookup} request is about: the
 * body's "token", else the client token. NULL when neither is set. */
const char *wrapping_request_token(const struct request *req);

/* Before authorization, for sys/wrapping/{unwrap,rewrap,lookup}: refuses
 * (400 WRAPPING_INVALID) when the token concerned is not a live wrapping
 * token, as Vault's HTTP layer does. Other paths: 0. */
int wrapping_precheck(struct request *req, struct response *resp);

/* Reads what the wrapping token e holds: the envelope (parsed) and the
 * wrapinfo object. Either out may be NULL. */
int wrapping_read(struct core *c, const struct token_entry *e, json_t **envelope, json_t **info);

/* Fills resp from a stored envelope (data, auth, warnings, lease). */
void wrapping_restore(struct response *resp, const json_t *envelope);

#endif
