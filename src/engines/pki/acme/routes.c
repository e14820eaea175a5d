/* routes.c — the ACME endpoints (RFC 8555) under each of Vault's four
 * directories: acme/, roles/:role/acme/, issuer/:issuer_ref/acme/ and
 * issuer/:issuer_ref/roles/:role/acme/. They need no token (ACME
 * authenticates each request by its JWS) and read the raw body: a JWS is
 * parsed by acme/jws.c, never by the router. */
#include "acme.h"

#include "banned.h"

#define ACME_POST(prefix, tail, fn, what)                                                                    \
	{.pattern = prefix "acme/" tail, .ops = {[OP_UPDATE] = fn}, .flags = ROUTE_UNAUTH | ROUTE_RAW_BODY,  \
	 .synopsis = what}

#define ACME_DIRECTORY(prefix)                                                                               \
	{.pattern = prefix "acme/directory", .ops = {[OP_READ] = acme_h_directory}, .flags = ROUTE_UNAUTH,   \
	 .synopsis = "the ACME directory"},                                                                  \
	{.pattern = prefix "acme/new-nonce",                                                                 \
	 .ops = {[OP_READ] = acme_h_nonce, [OP_HEAD] = acme_h_nonce},                                        \
	 .flags = ROUTE_UNAUTH,                                                                              \
	 .synopsis = "a fresh ACME nonce"},                                                                  \
	ACME_POST(prefix, "new-account", acme_h_new_account, "a new ACME account"),                          \
	ACME_POST(prefix, "account/:kid", acme_h_account, "an ACME account"),                                \
	ACME_POST(prefix, "key-change", acme_h_key_change, "an ACME account key rollover"),                  \
	ACME_POST(prefix, "new-order", acme_h_new_order, "a new ACME order"),                                \
	ACME_POST(prefix, "account/:kid/orders", acme_h_orders, "the account's ACME orders"),                \
	ACME_POST(prefix, "order/:order_id", acme_h_order, "an ACME order"),                                 \
	ACME_POST(prefix, "order/:order_id/finalize", acme_h_finalize, "finalize an ACME order"),            \
	ACME_POST(prefix, "order/:order_id/cert", acme_h_cert, "an ACME order's certificate chain"),         \
	ACME_POST(prefix, "authorization/:authz_id", acme_h_authz, "an ACME authorization"),                 \
	ACME_POST(prefix, "challenge/:authz_id/:challenge_type", acme_h_challenge, "an ACME challenge"),     \
	ACME_POST(prefix, "revoke-cert", acme_h_revoke, "revoke a certificate ACME issued")

const struct route pki_acme_routes[] = {
    ACME_DIRECTORY(""),
    ACME_DIRECTORY("roles/:role/"),
    ACME_DIRECTORY("issuer/:issuer_ref/"),
    ACME_DIRECTORY("issuer/:issuer_ref/roles/:role/"),
    {0},
};
