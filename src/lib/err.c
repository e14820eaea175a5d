/* err.c — the one table from error code to HTTP status, message and name.
 * Indexed by -code; anything outside the table is treated as internal. */
#include <stddef.h>

#include "err.h"
#include "banned.h"

struct err_entry {
	int status;
	const char *message;
	const char *name;
};

static const struct err_entry err_table[TROVE_ERR__COUNT] = {
    [0] = {200, "", "OK"},
    [-TROVE_ERR_INVALID] = {400, "invalid request", "ERR_INVALID"},
    [-TROVE_ERR_PERMISSION] = {403, "permission denied", "ERR_PERMISSION"},
    [-TROVE_ERR_NOT_FOUND] = {404, "", "ERR_NOT_FOUND"},
    [-TROVE_ERR_UNSUPPORTED_OP] = {405, "unsupported operation", "ERR_UNSUPPORTED_OP"},
    [-TROVE_ERR_CONFLICT] = {409, "conflict", "ERR_CONFLICT"},
    [-TROVE_ERR_TOO_LARGE] = {413, "request body too large", "ERR_TOO_LARGE"},
    [-TROVE_ERR_MEDIA_TYPE] = {415, "unsupported media type", "ERR_MEDIA_TYPE"},
    [-TROVE_ERR_RATE_LIMIT] = {429, "rate limit exceeded", "ERR_RATE_LIMIT"},
    [-TROVE_ERR_INTERNAL] = {500, "internal error", "ERR_INTERNAL"},
    [-TROVE_ERR_NOMEM] = {500, "internal error", "ERR_NOMEM"},
    [-TROVE_ERR_IO] = {500, "internal error", "ERR_IO"},
    [-TROVE_ERR_INTEGRITY] = {500, "internal error", "ERR_INTEGRITY"},
    [-TROVE_ERR_UPSTREAM] = {502, "upstream error", "ERR_UPSTREAM"},
    /* Clients match this exact text. */
    [-TROVE_ERR_SEALED] = {503, "Vault is sealed", "ERR_SEALED"},
    [-TROVE_ERR_UNAVAILABLE] = {503, "service unavailable", "ERR_UNAVAILABLE"},
    [-TROVE_ERR_UNINITIALIZED] = {400, "Trove is not initialized", "ERR_UNINITIALIZED"},
    [-TROVE_ERR_TIMEOUT] = {504, "request timed out", "ERR_TIMEOUT"},
    [-TROVE_ERR_HEADERS_TOO_LARGE] = {431, "request headers too large", "ERR_HEADERS_TOO_LARGE"},
    [-TROVE_ERR_WOULD_BLOCK] = {500, "internal error", "ERR_WOULD_BLOCK"},
    [-TROVE_ERR_PRECONDITION] = {412, "required index state not present", "ERR_PRECONDITION"},
};

static const struct err_entry *err_lookup(int err)
{
	if (err > 0 || err <= -TROVE_ERR__COUNT || err_table[-err].name == NULL)
		return &err_table[-TROVE_ERR_INTERNAL];
	return &err_table[-err];
}

int err_http_status(int err)
{
	return err_lookup(err)->status;
}

const char *err_message(int err)
{
	return err_lookup(err)->message;
}

const char *err_name(int err)
{
	if (err > 0 || err <= -TROVE_ERR__COUNT)
		return "ERR_UNKNOWN";
	return err_lookup(err)->name;
}
