/* token_params.h — the token_* settings every auth method's role or user
 * carries, one implementation for all (Vault's tokenutil).
 *
 * Fields (all optional; Vault's names, types and defaults):
 *   token_ttl              duration  0 = the mount's default
 *   token_max_ttl          duration  0 = the mount's max
 *   token_explicit_max_ttl duration  0 = none; a hard cap even across renewals
 *   token_period           duration  0 = not periodic
 *   token_policies         strlist   (legacy alias: policies)
 *   token_bound_cidrs      strlist   CIDRs or addresses the token may be used from
 *   token_no_default_policy bool
 *   token_num_uses         int       0 = unlimited
 *   token_type             string    "default" (= the mount's tune, else
 *                                    default-service), "service", "batch",
 *                                    "default-service", "default-batch"
 * The legacy names Vault still accepts (policies, period, bound_cidrs,
 * ttl, max_ttl, num_uses) are read when their token_ form is absent.
 *
 * Engines splice TOKEN_PARAM_FIELDS into their route field tables:
 *
 *   static const struct field role_fields[] = {
 *       {.name = "bind_secret_id", .type = FIELD_BOOL, .def = "true", .description = "..."},
 *       TOKEN_PARAM_FIELDS,
 *       {0},
 *   };
 */
#ifndef TROVE_TOKEN_PARAMS_H
#define TROVE_TOKEN_PARAMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct request;
struct response;

struct token_params {
	int64_t ttl;
	int64_t max_ttl;
	int64_t explicit_max_ttl;
	int64_t period;
	struct strlist policies; /* sorted, unique */
	struct strlist bound_cidrs;
	bool no_default_policy;
	int64_t num_uses;
	char type[16]; /* one of the token_type values above */
};

/* The field table entries (FIELD_DURATION etc.) of every token_* field and
 * its legacy alias, for splicing into a route's fields. */
#define TOKEN_PARAM_FIELDS                                                                                   \
	{.name = "token_ttl", .type = FIELD_DURATION, .description = "default TTL of issued tokens"},        \
	    {.name = "token_max_ttl",                                                                        \
	     .type = FIELD_DURATION,                                                                         \
	     .description = "maximum TTL of issued tokens"},                                                 \
	    {.name = "token_explicit_max_ttl",                                                               \
	     .type = FIELD_DURATION,                                                                         \
	     .description = "hard cap on issued tokens' lifetime"},                                          \
	    {.name = "token_period",                                                                         \
	     .type = FIELD_DURATION,                                                                         \
	     .description = "period of issued periodic tokens"},                                             \
	    {.name = "token_policies", .type = FIELD_POLICIES, .description = "policies of issued tokens"},  \
	    {.name = "token_bound_cidrs",                                                                    \
	     .type = FIELD_STRLIST,                                                                          \
	     .description = "CIDRs issued tokens may be used from"},                                         \
	    {.name = "token_no_default_policy",                                                              \
	     .type = FIELD_BOOL,                                                                             \
	     .description = "leave out the default policy"},                                                 \
	    {.name = "token_num_uses",                                                                       \
	     .type = FIELD_INT,                                                                              \
	     .description = "uses of issued tokens (0 = unlimited)"},                                        \
	    {.name = "token_type",                                                                           \
	     .type = FIELD_STRING,                                                                           \
	     .description = "service, batch, default-service or default-batch"},                             \
	    {.name = "policies", .type = FIELD_POLICIES, .description = "legacy name of token_policies"},    \
	    {.name = "period", .type = FIELD_DURATION, .description = "legacy name of token_period"},        \
	    {.name = "bound_cidrs",                                                                          \
	     .type = FIELD_STRLIST,                                                                          \
	     .description = "legacy name of token_bound_cidrs"},                                             \
	    {.name = "ttl", .type = FIELD_DURATION, .description = "legacy name of token_ttl"},              \
	    {.name = "max_ttl", .type = FIELD_DURATION, .description = "legacy name of token_max_ttl"},      \
	{                                                                                                    \
		.name = "num_uses", .type = FIELD_INT, .description = "legacy name of token_num_uses"        \
	}

void token_params_init(struct token_params *p); /* zeros, type "default" */
void token_params_release(struct token_params *p);

/* Applies the fields present in req (after the router's coercion) onto p:
 * absent fields keep p's values, so the same call serves create and
 * update. Validates: durations >= 0, token_num_uses >= 0, token_type one
 * of the five, each CIDR parses (an address alone means /32 or /128),
 * token_max_ttl >= token_ttl when both are set, a batch type with a
 * period or num_uses is refused. On error returns TROVE_ERR_INVALID with a
 * message naming the field in resp. */
int token_params_parse(const struct request *req, struct response *resp, struct token_params *p);

/* Adds every token_* key to obj (read responses: durations as integer
 * seconds, lists as arrays, never null; plus the legacy names policies,
 * period, bound_cidrs, ttl, max_ttl, num_uses as Vault shows them). */
void token_params_to_json(const struct token_params *p, json_t *obj);

/* Storage form (a JSON object written by token_params_store). */
json_t *token_params_store(const struct token_params *p);
int token_params_load(const json_t *obj, struct token_params *p); /* TROVE_ERR_INTEGRITY if malformed */

#endif
