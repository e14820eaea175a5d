/* audit_entry.h — one audit entry as Vault's JSON line, secrets masked.
 *
 * The audit broker (audit.h) calls audit_format_entry once per device for
 * the request entry (before the handler runs) and once for the response
 * entry (after it), with that device's salt and options. The shape is
 * Vault's (one JSON object; every field omitted when empty):
 *
 *   {"time":"2026-11-30T12:00:00.123456789Z","type":"request"|"response",
 *    "auth":{"client_token","accessor","display_name","policies",
 *            "token_policies","identity_policies","metadata","entity_id",
 *            "token_type","token_ttl","token_issue_time","remaining_uses",
 *            "policy_results":{"allowed":bool,
 *                "granting_policies":[{"name","namespace_id":"root","type":"acl"}]}},
 *    "request":{"id","operation","mount_point","mount_type","mount_accessor",
 *            "client_token","client_token_accessor","namespace":{"id":"root"},
 *            "path","data","remote_address","remote_port","headers"},
 *    "response":{"mount_point","mount_type","mount_accessor","auth":{...},
 *            "data","warnings"},
 *    "error":"permission denied"}
 *
 * Masking ("hmac-sha256:" + lowercase hex of HMAC-SHA256(salt, text)):
 *  - always (unless log_raw): auth.client_token, request.client_token,
 *    response.auth.client_token;
 *  - when hmac_accessor (default true): auth.accessor,
 *    request.client_token_accessor, response.auth.accessor;
 *  - every LEAF of request.data and response.data, recursively through
 *    objects and arrays, except the values of top-level keys named in the
 *    mount's audit_non_hmac_request_keys / audit_non_hmac_response_keys.
 *    Unlike Vault, which leaves numbers and booleans in clear, Trove
 *    hashes them too, as the text of their JSON form: 1 -> HMAC("1"),
 *    true -> HMAC("true"), 2.5 -> HMAC("2.5"); null stays null. So a
 *    secret that happens to be a number or a PIN never appears in clear,
 *    and sys/audit-hash of "1" finds the number 1 in the log.
 *  - response.auth other than the token and accessor (policies, metadata,
 *    lease_duration...) is kept in clear, as Vault does;
 *  - configured request headers are hashed when their hmac flag is set
 *    (the broker passes them already masked or not).
 * Never hashed: request.path, operation, id, remote_address, mount_*,
 * policies, auth.metadata, display_name, error, warnings.
 * elide_list_responses: for a LIST, response.data.keys becomes the number
 * of keys and response.data.key_info the number of its entries.
 *
 * With log_raw nothing is hashed (an operator's explicit choice). */
#ifndef TROVE_AUDIT_ENTRY_H
#define TROVE_AUDIT_ENTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "audit_hash.h"
#include "buf.h"

struct request;
struct response;
struct token_entry;

/* A device's formatting options and salt. */
struct audit_format {
	const unsigned char *salt; /* HMAC key */
	size_t salt_len;
	bool hmac_accessor;        /* default true */
	bool log_raw;              /* default false */
	bool elide_list_responses; /* default false */
	const char *prefix;        /* written before the JSON; "" for none */
};

/* What the broker knows about one request when it writes an entry. All
 * pointers are borrowed. */
struct audit_record {
	const struct request *req;       /* id, op, path, data, client_token,
	                                  * remote_addr/port, mount (may be NULL) */
	const struct token_entry *token; /* the resolved token, or NULL */
	bool policy_checked;             /* an ACL decision was made */
	bool allowed;                    /* ... and it allowed the request */
	const struct strlist *granting;  /* the policies that allowed it */
	const json_t *headers;           /* configured request headers, {name: value}
	                                  * (value already masked if configured so), or NULL */
	const struct response *resp;     /* NULL: a request entry */
	const char *error;               /* the error the client got, or NULL */
	const char *time;                /* RFC 3339 UTC with nanoseconds; the
	                                  * broker takes one per entry */
	/* The auth and request parts of a request's two entries are the same
	 * (for one device): the request entry keeps the text it formatted for
	 * them in *keep (when keep is non-NULL), and the response entry passes
	 * that text back in reuse/reuse_len to write it as it is. The text
	 * starts with the ',' that follows "type". */
	const char *reuse;
	size_t reuse_len;
	struct buf *keep;
};

/* Formats one entry as a complete line: prefix, JSON, '\n'. Returns a
 * malloc'd string (its length in *len), or NULL when out of memory. The
 * request's data is not modified. */
char *audit_format_entry(const struct audit_format *f, const struct audit_record *r, size_t *len);
/* The hashes one device's entries of one batch have computed: the same
 * value met again in a later entry of the batch (a hot secret read by many
 * requests, a token making many of them) is copied instead of hashed
 * again. Values of up to AUDIT_MEMO_TEXT_MAX bytes are remembered, a copy
 * of each in a fixed table (a value may take an older one's slot); reset
 * wipes the copies and forgets them. A memo belongs to one salt: reset it
 * before formatting for another device. */
#define AUDIT_MEMO_TEXT_MAX 64
struct audit_hash_memo;
struct audit_hash_memo *audit_hash_memo_new(void);
void audit_hash_memo_reset(struct audit_hash_memo *m);
void audit_hash_memo_free(struct audit_hash_memo *m); /* NULL is fine */

/* The same line appended to `line` (a buffer that may already hold
 * earlier entries: the broker formats all of a batch's entries for one
 * device into one buffer), with the batch's memo (may be NULL; never used
 * with log_raw, which hashes nothing). 0, or TROVE_ERR_NOMEM with line as
 * it was (a partial entry is cut off again, and wiped first with log_raw).
 * With log_raw the text holds secrets: growing the buffer copies it into a
 * new block and wipes the old one, and the caller wipes it when done. */
int audit_format_entry_append(const struct audit_format *f, const struct audit_record *r,
                              struct audit_hash_memo *memo, struct buf *line);

/* "hmac-sha256:<hex>" of n bytes of text under salt, into out. */
void audit_hash_text(const unsigned char *salt, size_t salt_len, const char *text, size_t n,
                     char out[AUDIT_HASH_MAX]);

/* A copy of `v` with every leaf masked as above (keys in `skip`, at the
 * top level only, kept as they are; skip may be NULL). For tests and for
 * the broker's header masking. Returns a new reference. */
json_t *audit_mask_leaves(const unsigned char *salt, size_t salt_len, const json_t *v, const struct strlist *skip);

#endif
