/* sink.h — auto-auth's sinks: where each new token is written.
 *
 * A sink "file" writes to config path (required) with mode (default 0640;
 * octal as written in HCL, or its decimal value) and, when given, uid/gid,
 * atomically (sink_file_write). Before that, as in Vault Agent:
 *   wrap_ttl   the token is response-wrapped (sys/wrapping/wrap called with
 *              the token itself) and the sink gets the wrap info's JSON;
 *   dh_type    "curve25519" with dh_path (the peer's public key file): the
 *              sink gets an envelope {"curve25519_public_key", "nonce",
 *              "encrypted_payload"} (sink_dh_seal), with aad (or the
 *              value of the variable aad_env_var) as additional data and,
 *              with derive_key, the AES key derived by HKDF-SHA256.
 * Only the auto-auth thread uses a sink. */
#ifndef TROVE_AGENT_SINK_H
#define TROVE_AGENT_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent/agent_config.h"
#include "api/api.h"
#include "buf.h"

#define SINK_DH_KEY_LEN 32
#define SINK_DH_NONCE_LEN 12

struct sink;

/* Checks cfg (borrowed: must outlive the sink): its type, keys and
 * values, and that the DH settings go together. Returns 0 or
 * TROVE_ERR_INVALID with "file:line: auto_auth sink \"file\": ..." naming
 * the key in err. */
int sink_new(const struct agent_sink_config *cfg, struct sink **out, struct buf *err);
void sink_free(struct sink *s);
const char *sink_path(const struct sink *s);
bool sink_wraps(const struct sink *s);

/* Writes token (or, when the login itself was wrapped, the wrap info JSON)
 * to the sink, wrapping it first when the sink says so with a client made
 * from base (borrowed settings; the wrap TTL and token are set here).
 * Returns 0, or an error code with err saying why; the file is then left
 * as it was. */
int sink_write(struct sink *s, const struct api_config *base, const char *token, struct buf *err);

/* The JSON Vault writes for a wrapping answer's wrap_info (token,
 * accessor, ttl, creation_time, creation_path, wrapped_accessor, and a
 * newline), appended to out (a secret buffer). TROVE_ERR_INVALID when
 * wrap_info holds no token. */
int sink_wrap_info_json(const json_t *answer, struct buf *out);

/* --- sink_file.c -------------------------------------------------------- */

/* Writes data to path atomically: a temporary file beside it, created
 * with mode (and uid/gid when not -1) before any byte is written, fsync'd,
 * then renamed over path; the directory is fsync'd too. A reader sees the
 * old content or the new, never a partial file. Returns 0, or TROVE_ERR_IO
 * with err naming the step, path and errno; the temporary file is then
 * removed. */
int sink_file_write(const char *path, mode_t mode, uid_t uid, gid_t gid, const char *data, size_t len,
                    struct buf *err);

/* --- sink_dh.c ------------------------------------------------------------ */

/* A new curve25519 key pair. 0 or TROVE_ERR_INTERNAL. */
int sink_dh_keypair(unsigned char priv[SINK_DH_KEY_LEN], unsigned char pub[SINK_DH_KEY_LEN]);
/* The peer's public key from a file holding {"curve25519_public_key":
 * "<base64 of 32 bytes>"}. 0 or an error with err naming the file. */
int sink_dh_read_peer(const char *path, unsigned char pub[SINK_DH_KEY_LEN], struct buf *err);
/* Seals plaintext for the peer as Vault's helper/dhutil does: the X25519
 * shared secret of priv and peer is the AES-256-GCM key, or with derive
 * the HKDF-SHA256 of it with the two public keys, the smaller as salt and
 * the other as info; nonce (SINK_DH_NONCE_LEN bytes) and aad (may be NULL)
 * as given. Appends the envelope JSON (and a newline, as Vault writes it)
 * to out. 0 or TROVE_ERR_INTERNAL / TROVE_ERR_INVALID with err. */
int sink_dh_seal(const unsigned char priv[SINK_DH_KEY_LEN], const unsigned char peer[SINK_DH_KEY_LEN], bool derive,
                 const char *aad, const unsigned char nonce[SINK_DH_NONCE_LEN], const char *plaintext, size_t len,
                 struct buf *out, struct buf *err);

#endif
