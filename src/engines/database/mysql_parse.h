/* mysql_parse.h — the text the MySQL plugins read before talking to a
 * server: the connection DSN, role statements split one by one, and the
 * scrubbing of passwords out of the server's error messages. No I/O; the
 * plugin (mysql.c) uses these, and they are tested and fuzzed alone. */
#ifndef TROVE_DB_MYSQL_PARSE_H
#define TROVE_DB_MYSQL_PARSE_H

#include <stdbool.h>
#include <stddef.h>

/* TLS asked for by the DSN's `tls` parameter (Go MySQL driver's values). */
enum mysql_dsn_tls {
	MYSQL_DSN_TLS_DEFAULT,     /* absent or `false`: TLS only when the config gives a CA or a key */
	MYSQL_DSN_TLS_VERIFY,      /* `true`: TLS, server verified (system CAs unless tls_ca) */
	MYSQL_DSN_TLS_SKIP_VERIFY, /* `skip-verify` or `preferred`: TLS, not verified */
};

/* A parsed `user:password@tcp(host:port)/dbname?param=value` (or
 * `unix(/path)`). Every string is heap, NUL-terminated and
 * percent-decoded; absent parts are NULL (dbname may be ""). */
struct mysql_dsn {
	char *user;
	char *password; /* wiped by mysql_dsn_free */
	char *host;     /* tcp: host name or address (brackets of IPv6 removed) */
	unsigned port;  /* tcp: 3306 when not given */
	char *socket;   /* unix: the socket path; host is then NULL */
	char *dbname;
	enum mysql_dsn_tls tls;
};

/* Parses dsn into *out. Returns 0; TROVE_ERR_INVALID with *why (static
 * text naming the problem) when dsn is not a DSN of that form (a URL such
 * as mysql://..., a bad address, a bad percent escape, a bad parameter
 * value); TROVE_ERR_NOMEM. Parameters other than `tls` are accepted and
 * ignored (the Go driver's `charset`, `parseTime`...). On
 * failure *out holds nothing to free. */
int mysql_dsn_parse(const char *dsn, struct mysql_dsn *out, const char **why);
/* Frees what *d holds (the password wiped) and zeroes it. */
void mysql_dsn_free(struct mysql_dsn *d);

/* Finds the next statement of s at or after *pos: statements end at a ';'
 * outside quotes ('...', "...", `...`; a backslash escapes the next
 * character inside '...' and "...") and outside comments (`-- ` and `#`
 * to the end of the line, C-style comments). Sets *start and *len to the
 * statement without its ';' and surrounding blanks, moves *pos past it,
 * and returns true; statements holding only blanks and comments are
 * skipped. Returns false at the end of s. An unterminated quote or comment
 * runs to the end of s (the server then reports the error). */
bool mysql_split_next(const char *s, size_t *pos, size_t *start, size_t *len);

/* Collects the password literals of statement s: the quoted string after
 * the word BY or PASSWORD (and after `PASSWORD(` or `= `), as `IDENTIFIED
 * BY '...'` and `SET PASSWORD ... = PASSWORD('...')` carry them. Calls
 * add(arg, p, n) with each literal's text between its quotes. */
void mysql_password_literals(const char *s, size_t n, void (*add)(void *arg, const char *p, size_t len),
                             void *arg);

/* A copy of msg with every occurrence of each non-empty secret replaced by
 * "*****" (the caller frees it), or NULL when out of memory. */
char *mysql_scrub(const char *msg, const char *const *secrets, const size_t *lens, size_t n);

#endif
