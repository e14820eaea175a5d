/* auth.h — the auth methods (mounted under auth/): their engines. */
#ifndef TROVE_AUTH_H
#define TROVE_AUTH_H

#include "core/router.h"

/* auth/userpass: users with argon2id password hashes, lockout. */
extern const struct engine userpass_engine;
/* auth/approle: roles, role IDs and secret IDs for machines. */
extern const struct engine approle_engine;
/* auth/jwt and auth/oidc: JWTs and OIDC logins verified against a
 * provider's keys. */
extern const struct engine jwt_engine;
/* auth/kubernetes: service accounts log in with their JWT (TokenReview). */
extern const struct engine kubernetes_engine;
/* auth/aws: AWS IAM principals by a signed sts:GetCallerIdentity. */
extern const struct engine aws_engine;
/* auth/cert: TLS client certificates verified against trusted CAs. */
extern const struct engine cert_engine;

#endif
