/* err.h — the one error enum of Trove.
 *
 * Every fallible function returns int: 0 (TROVE_OK) on success or a negative
 * enum trove_err value. The edges (HTTP responses, CLI main) map a code to an
 * HTTP status and a default message through err_http_status()/err_message();
 * core code never prints. */
#ifndef TROVE_ERR_H
#define TROVE_ERR_H

enum trove_err {
	TROVE_OK = 0,
	TROVE_ERR_INVALID = -1,        /* 400: bad input from the caller */
	TROVE_ERR_PERMISSION = -2,     /* 403: permission denied */
	TROVE_ERR_NOT_FOUND = -3,      /* 404: no such path / entry */
	TROVE_ERR_UNSUPPORTED_OP = -4, /* 405: path exists, operation does not */
	TROVE_ERR_CONFLICT = -5,       /* 409 */
	TROVE_ERR_TOO_LARGE = -6,      /* 413: body or buffer over its cap */
	TROVE_ERR_MEDIA_TYPE = -7,     /* 415 */
	TROVE_ERR_RATE_LIMIT = -8,     /* 429 */
	TROVE_ERR_INTERNAL = -9,       /* 500: an invariant of ours failed */
	TROVE_ERR_NOMEM = -10,         /* 500 */
	TROVE_ERR_IO = -11,            /* 500: storage or file I/O failed */
	TROVE_ERR_INTEGRITY = -12,     /* 500: ciphertext failed authentication */
	TROVE_ERR_UPSTREAM = -13,      /* 502 */
	TROVE_ERR_SEALED = -14,        /* 503: Trove is sealed */
	TROVE_ERR_UNAVAILABLE = -15,   /* 503: not initialised / shutting down */
	TROVE_ERR_UNINITIALIZED = -16, /* 400 on most paths: not initialised */
	TROVE_ERR_TIMEOUT = -17,       /* 504 */
	TROVE_ERR_HEADERS_TOO_LARGE = -18, /* 431 */
	TROVE_ERR_WOULD_BLOCK = -19,   /* internal, never answered: a request
	                                * served on an event loop needs a durable
	                                * write and runs again on the worker pool */
	TROVE_ERR_PRECONDITION = -20,  /* 412: X-Vault-Index not reached in time */
	TROVE_ERR__COUNT = 21
};

/* HTTP status for a code; 500 for anything unknown. */
int err_http_status(int err);

/* Static default message for a code (never NULL), e.g. "permission denied". */
const char *err_message(int err);

/* Short symbolic name for logs, e.g. "ERR_INTEGRITY". */
const char *err_name(int err);

#endif
