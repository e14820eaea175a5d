/* mysql_parse.c — the MySQL plugins' DSN parser, statement splitter and
 * password scrubbing (mysql_parse.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "form.h"
#include "mysql_parse.h"
#include "secure.h"

#include "banned.h"

#define MYSQL_DEFAULT_PORT 3306

void mysql_dsn_free(struct mysql_dsn *d)
{
	if (d == NULL)
		return;
	free(d->user);
	secure_free_str(d->password);
	free(d->host);
	free(d->socket);
	free(d->dbname);
	memset(d, 0, sizeof(*d));
}

/* Percent-decodes s[0..n) into *out; what is the message of a bad escape. */
static int decode(const char *s, size_t n, bool plus_space, char **out, const char *what, const char **why)
{
	*out = form_decode(s, n, plus_space);
	if (*out == NULL) {
		*why = what;
		return TROVE_ERR_INVALID;
	}
	return 0;
}

static int parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return TROVE_ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return TROVE_ERR_INVALID;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return TROVE_ERR_INVALID;
	*port = (unsigned)v;
	return 0;
}

/* `host`, `host:port`, `[v6]` or `[v6]:port`. */
static int parse_host_port(const char *s, size_t n, struct mysql_dsn *d, const char **why)
{
	const char *host = s, *colon = NULL;
	size_t hlen = n;

	d->port = MYSQL_DEFAULT_PORT;
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (close == NULL) {
			*why = "connection_url: an IPv6 address in tcp(...) lacks its ']'";
			return TROVE_ERR_INVALID;
		}
		host = s + 1;
		hlen = (size_t)(close - host);
		if ((size_t)(close + 1 - s) < n) {
			if (close[1] != ':') {
				*why = "connection_url: text after ']' in tcp(...) is not a :port";
				return TROVE_ERR_INVALID;
			}
			colon = close + 1;
		}
	} else {
		for (size_t i = n; i > 0; i--)
			if (s[i - 1] == ':') {
				colon = s + i - 1;
				hlen = i - 1;
				break;
			}
	}
	if (colon != NULL && parse_port(colon + 1, n - (size_t)(colon + 1 - s), &d->port) != 0) {
		*why = "connection_url: the port in tcp(host:port) is not a number from 1 to 65535";
		return TROVE_ERR_INVALID;
	}
	if (hlen == 0) {
		*why = "connection_url: tcp(...) names no host";
		return TROVE_ERR_INVALID;
	}
	for (size_t i = 0; i < hlen; i++)
		if (!isalnum((unsigned char)host[i]) && strchr(".-_:%", host[i]) == NULL) {
			*why = "connection_url: the host in tcp(...) holds a character a host name cannot";
			return TROVE_ERR_INVALID;
		}
	d->host = strndup(host, hlen);
	return d->host ? 0 : TROVE_ERR_NOMEM;
}

/* The part between '@' and '/': empty, `tcp`, `tcp(addr)`, `unix(path)`. */
static int parse_address(const char *s, size_t n, struct mysql_dsn *d, const char **why)
{
	const char *open = memchr(s, '(', n);
	size_t netlen = open ? (size_t)(open - s) : n;
	bool unix_net = netlen == 4 && memcmp(s, "unix", 4) == 0;

	if (n == 0) {
		d->port = MYSQL_DEFAULT_PORT;
		d->host = strdup("127.0.0.1");
		return d->host ? 0 : TROVE_ERR_NOMEM;
	}
	if (!unix_net && !(netlen == 3 && memcmp(s, "tcp", 3) == 0) &&
	    !(netlen == 4 && memcmp(s, "tcp4", 4) == 0) && !(netlen == 4 && memcmp(s, "tcp6", 4) == 0)) {
		*why = "connection_url: the network after '@' must be tcp(host:port) or unix(/path)";
		return TROVE_ERR_INVALID;
	}
	if (open == NULL) {
		if (unix_net) {
			*why = "connection_url: unix(...) needs the socket's path";
			return TROVE_ERR_INVALID;
		}
		d->port = MYSQL_DEFAULT_PORT;
		d->host = strdup("127.0.0.1");
		return d->host ? 0 : TROVE_ERR_NOMEM;
	}
	if (s[n - 1] != ')') {
		*why = "connection_url: the address after the network lacks its closing ')'";
		return TROVE_ERR_INVALID;
	}
	s = open + 1;
	n = n - netlen - 2;
	if (!unix_net)
		return parse_host_port(s, n, d, why);
	if (n == 0 || s[0] != '/') {
		*why = "connection_url: unix(...) needs an absolute socket path";
		return TROVE_ERR_INVALID;
	}
	return decode(s, n, false, &d->socket, "connection_url: bad percent escape in the socket path", why);
}

/* `k=v&k=v`: only `tls` is read. */
static int parse_params(const char *s, size_t n, struct mysql_dsn *d, const char **why)
{
	while (n > 0) {
		const char *amp = memchr(s, '&', n);
		size_t len = amp ? (size_t)(amp - s) : n;
		const char *eq = memchr(s, '=', len);
		char *v = NULL;
		int r;

		if (eq == NULL) {
			*why = "connection_url: a parameter after '?' is not key=value";
			return TROVE_ERR_INVALID;
		}
		if ((size_t)(eq - s) == 3 && memcmp(s, "tls", 3) == 0) {
			r = decode(eq + 1, len - 4, true, &v,
			           "connection_url: bad percent escape in tls=", why);
			if (r != 0)
				return r;
			if (strcmp(v, "true") == 0)
				d->tls = MYSQL_DSN_TLS_VERIFY;
			else if (strcmp(v, "skip-verify") == 0 || strcmp(v, "preferred") == 0)
				d->tls = MYSQL_DSN_TLS_SKIP_VERIFY;
			else if (strcmp(v, "false") == 0)
				d->tls = MYSQL_DSN_TLS_DEFAULT;
			else {
				free(v);
				*why = "connection_url: tls= must be true, false, skip-verify or preferred "
				       "(give a CA with tls_ca)";
				return TROVE_ERR_INVALID;
			}
			free(v);
		}
		s += len;
		n -= len;
		if (n > 0) {
			s++;
			n--;
		}
	}
	return 0;
}

int mysql_dsn_parse(const char *dsn, struct mysql_dsn *out, const char **why)
{
	struct mysql_dsn d = {0};
	const char *slash, *at = NULL, *q, *end;
	size_t i, n;
	int r = TROVE_ERR_INVALID;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	if (dsn == NULL || dsn[0] == '\0') {
		*why = "connection_url is empty";
		return TROVE_ERR_INVALID;
	}
	if (strstr(dsn, "://") != NULL) {
		*why = "connection_url must be a DSN user:password@tcp(host:port)/dbname, not a URL";
		return TROVE_ERR_INVALID;
	}
	n = strlen(dsn);
	/* The '/' before the database name is the last one (the Go driver's
	 * rule), never one inside the address: a unix(/path) holds some. */
	slash = strrchr(dsn, '/');
	if (slash != NULL && strchr(slash, ')') != NULL)
		slash = NULL;
	if (slash == NULL) {
		*why =
		    "connection_url: no '/' before the database name (user:password@tcp(host:port)/dbname)";
		return TROVE_ERR_INVALID;
	}
	for (i = (size_t)(slash - dsn); i > 0; i--)
		if (dsn[i - 1] == '@') {
			at = dsn + i - 1;
			break;
		}
	if (at != NULL) {
		const char *colon = memchr(dsn, ':', (size_t)(at - dsn));
		size_t ulen = colon ? (size_t)(colon - dsn) : (size_t)(at - dsn);

		if (ulen > 0 && (r = decode(dsn, ulen, false, &d.user,
		                            "connection_url: bad percent escape in the user name", why)) != 0)
			goto out;
		if (colon != NULL &&
		    (r = decode(colon + 1, (size_t)(at - colon - 1), false, &d.password,
		                "connection_url: bad percent escape in the password", why)) != 0)
			goto out;
		r = parse_address(at + 1, (size_t)(slash - at - 1), &d, why);
	} else
		r = parse_address(dsn, (size_t)(slash - dsn), &d, why);
	if (r != 0)
		goto out;
	end = dsn + n;
	q = strchr(slash, '?');
	r = decode(slash + 1, (size_t)((q ? q : end) - slash - 1), false, &d.dbname,
	           "connection_url: bad percent escape in the database name", why);
	if (r != 0)
		goto out;
	if (q != NULL && (r = parse_params(q + 1, (size_t)(end - q - 1), &d, why)) != 0)
		goto out;
	*out = d;
	return 0;
out:
	if (r == TROVE_ERR_NOMEM)
		*why = "out of memory";
	mysql_dsn_free(&d);
	return r;
}

/* Where the comment starting at s[i] ends (index after it), or i when
 * no comment starts there. */
static size_t comment_end(const char *s, size_t i)
{
	if (s[i] == '#' ||
	    (s[i] == '-' && s[i + 1] == '-' && (s[i + 2] == '\0' || isspace((unsigned char)s[i + 2])))) {
		while (s[i] != '\0' && s[i] != '\n')
			i++;
		return i;
	}
	if (s[i] == '/' && s[i + 1] == '*') {
		/* MySQL's executable comments (slash-star-bang) hold
		 * statement text: treat them as text, not as a comment. */
		if (s[i + 2] == '!')
			return i;
		for (i += 2; s[i] != '\0'; i++)
			if (s[i] == '*' && s[i + 1] == '/')
				return i + 2;
		return i;
	}
	return i;
}

bool mysql_split_next(const char *s, size_t *pos, size_t *start, size_t *len)
{
	size_t i = *pos;

	while (s[i] != '\0') {
		size_t first = (size_t)-1, last = 0;

		while (s[i] != '\0' && s[i] != ';') {
			size_t e = comment_end(s, i);
			if (e != i) {
				i = e;
				continue;
			}
			if (s[i] == '\'' || s[i] == '"' || s[i] == '`') {
				char qc = s[i];
				if (first == (size_t)-1)
					first = i;
				for (i++; s[i] != '\0' && s[i] != qc; i++)
					if (s[i] == '\\' && qc != '`' && s[i + 1] != '\0')
						i++;
				if (s[i] != '\0')
					i++;
				last = i;
				continue;
			}
			if (!isspace((unsigned char)s[i])) {
				if (first == (size_t)-1)
					first = i;
				last = i + 1;
			}
			i++;
		}
		if (s[i] == ';')
			i++;
		if (first != (size_t)-1) {
			*pos = i;
			*start = first;
			*len = last - first;
			return true;
		}
	}
	*pos = i;
	return false;
}

static bool word_at(const char *s, size_t n, size_t i, const char *w)
{
	size_t wl = strlen(w);

	if (i + wl > n || strncasecmp(s + i, w, wl) != 0)
		return false;
	if (i > 0 && (isalnum((unsigned char)s[i - 1]) || s[i - 1] == '_'))
		return false;
	return i + wl == n || !(isalnum((unsigned char)s[i + wl]) || s[i + wl] == '_');
}

void mysql_password_literals(const char *s, size_t n, void (*add)(void *arg, const char *p, size_t len),
                             void *arg)
{
	for (size_t i = 0; i < n; i++) {
		size_t j;
		char qc;

		if (s[i] == '\'' || s[i] == '"') {
			/* Skip a literal not introduced by BY or PASSWORD. */
			qc = s[i];
			for (i++; i < n && s[i] != qc; i++)
				if (s[i] == '\\')
					i++;
			continue;
		}
		if (word_at(s, n, i, "by"))
			j = i + 2;
		else if (word_at(s, n, i, "password"))
			j = i + 8;
		else
			continue;
		while (j < n && (isspace((unsigned char)s[j]) || s[j] == '(' || s[j] == '='))
			j++;
		if (j < n && (s[j] == '\'' || s[j] == '"')) {
			size_t b = j + 1;
			qc = s[j];
			for (j = b; j < n && s[j] != qc; j++)
				if (s[j] == '\\')
					j++;
			if (j > n)
				j = n;
			add(arg, s + b, j - b);
			i = j;
		}
	}
}

char *mysql_scrub(const char *msg, const char *const *secrets, const size_t *lens, size_t n)
{
	size_t len = strlen(msg), o = 0;
	char *out = malloc(len * 5 + 1); /* a one-byte secret becomes five */

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t k;
		for (k = 0; k < n; k++)
			if (lens[k] > 0 && lens[k] <= len - i && memcmp(msg + i, secrets[k], lens[k]) == 0)
				break;
		if (k < n) {
			memcpy(out + o, "*****", 5);
			o += 5;
			i += lens[k];
		} else
			out[o++] = msg[i++];
	}
	out[o] = '\0';
	return out;
}
