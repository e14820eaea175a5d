/* audit_hash.h — the form of a value hashed for the audit log, shared by
 * the audit entry writer (core/audit_entry.h) and the CLI that reads the
 * log back (`trove audit query`): "hmac-sha256:" and 64 lower-case hex
 * digits. */
#ifndef TROVE_AUDIT_HASH_H
#define TROVE_AUDIT_HASH_H

#define AUDIT_HASH_PREFIX "hmac-sha256:"
/* "hmac-sha256:" + 64 hex digits + NUL */
#define AUDIT_HASH_MAX (sizeof(AUDIT_HASH_PREFIX) - 1 + 64 + 1)

#endif
