/* statements.c — templating of statements and connection URLs: the values
 * Trove puts into SQL and DSNs, and the checks and escapes that keep them
 * from changing what the text means. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "database.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

bool db_value_safe(const char *v)
{
	for (const unsigned char *p = (const unsigned char *)v; *p; p++)
		if (*p < 0x20 || *p == 0x7f || *p == '\'' || *p == '"' || *p == '\\' || *p == '`' ||
		    *p == ';')
			return false;
	return true;
}

void db_format_expiration(int64_t unix_s, char out[32])
{
	time_t t = (time_t)unix_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	if (strftime(out, 32, "%Y-%m-%d %H:%M:%S+0000", &tm) == 0)
		out[0] = '\0';
}

struct var {
	const char *key; /* "{{name}}" */
	const char *value;
};

/* Appends tmpl to b with every placeholder of vars replaced, in one pass. */
static int render_one(struct buf *b, const char *tmpl, const struct var *vars, size_t nv)
{
	const char *p = tmpl;
	while (*p) {
		const char *open = strstr(p, "{{");
		if (!open)
			return buf_append_str(b, p);
		if (buf_append(b, p, (size_t)(open - p)) != 0)
			return TROVE_ERR_NOMEM;
		size_t i;
		for (i = 0; i < nv; i++) {
			size_t kl = strlen(vars[i].key);
			if (vars[i].value && strncmp(open, vars[i].key, kl) == 0) {
				if (buf_append_str(b, vars[i].value) != 0)
					return TROVE_ERR_NOMEM;
				p = open + kl;
				break;
			}
		}
		if (i == nv) { /* not ours: kept as written */
			if (buf_append(b, "{{", 2) != 0)
				return TROVE_ERR_NOMEM;
			p = open + 2;
		}
	}
	return 0;
}

void db_stmts_free(char **s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		secure_free_str(s[i]);
	free(s);
}

int db_render_stmts(const char *const *tmpl, size_t n, const struct db_stmt_vars *v, char ***out, char **why)
{
	int r = TROVE_ERR_INVALID;
	char **res = NULL;
	struct buf b;
	const struct var vars[] = {
	    {"{{name}}", v->name},
	    {"{{username}}", v->name},
	    {"{{password}}", v->password},
	    {"{{expiration}}", v->expiration},
	};
	const char *names[] = {"username", "username", "password", "expiration"};

	*out = NULL;
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (vars[i].value && !db_value_safe(vars[i].value)) {
			if (why) {
				struct buf m;
				buf_init(&m, BUF_CAP_DEFAULT);
				buf_printf(&m,
				           "the %s holds a character not allowed in a statement (a quote, "
				           "backslash, "
				           "backtick, semicolon or control byte)",
				           names[i]);
				*why = buf_take(&m);
			}
			return TROVE_ERR_INVALID;
		}
	}
	buf_init_secret(&b, BUF_CAP_DEFAULT);
	res = xcalloc(n ? n : 1, sizeof(*res));
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		if ((r = render_one(&b, tmpl[i], vars, sizeof(vars) / sizeof(vars[0]))) != 0)
			goto out;
		res[i] = xstrndup(b.data ? b.data : "", b.len);
	}
	*out = res;
	res = NULL;
	r = 0;
out:
	buf_release_secret(&b);
	db_stmts_free(res, n);
	return r;
}

/* Percent-encodes s (all but RFC 3986 unreserved characters). */
static int append_pct(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int c = *p;
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		             c == '-' || c == '.' || c == '_' || c == '~';
		if (plain) {
			if (buf_append_byte(b, (char)c) != 0)
				return TROVE_ERR_NOMEM;
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			if (buf_append(b, e, 3) != 0)
				return TROVE_ERR_NOMEM;
		}
	}
	return 0;
}

/* libpq's key=value quoting: '...' with \\ and \'. */
static int append_quoted(struct buf *b, const char *s)
{
	if (buf_append_byte(b, '\'') != 0)
		return TROVE_ERR_NOMEM;
	for (const char *p = s; *p; p++) {
		if ((*p == '\\' || *p == '\'') && buf_append_byte(b, '\\') != 0)
			return TROVE_ERR_NOMEM;
		if (buf_append_byte(b, *p) != 0)
			return TROVE_ERR_NOMEM;
	}
	return buf_append_byte(b, '\'') == 0 ? 0 : TROVE_ERR_NOMEM;
}

/* A URI ("scheme://") or a MySQL DSN ("user:pass@tcp(...)") takes
 * percent-encoding; anything else with '=' is a libpq key=value string. */
static bool url_is_keyvalue(const char *url)
{
	if (strstr(url, "://") || strstr(url, "@tcp(") || strstr(url, "@unix(") || strstr(url, "}}@"))
		return false;
	return strchr(url, '=') != NULL;
}

int db_render_url(const char *url, const char *username, const char *password, char **out)
{
	struct buf b;
	bool kv = url_is_keyvalue(url);
	const char *p = url;
	int r = 0;

	*out = NULL;
	buf_init_secret(&b, BUF_CAP_DEFAULT);
	while (*p && r == 0) {
		const char *val = NULL;
		size_t kl = 0;
		if (strncmp(p, "{{username}}", 12) == 0 && username) {
			val = username;
			kl = 12;
		} else if (strncmp(p, "{{password}}", 12) == 0 && password) {
			val = password;
			kl = 12;
		}
		if (val) {
			r = kv ? append_quoted(&b, val) : append_pct(&b, val);
			p += kl;
		} else {
			r = buf_append_byte(&b, *p++) == 0 ? 0 : TROVE_ERR_NOMEM;
		}
	}
	if (r == 0)
		*out = xstrndup(b.data ? b.data : "", b.len);
	buf_release_secret(&b);
	return r;
}

/* Where the password of a key=value string starts and ends, if any. */
static bool kv_password_span(const char *url, size_t *b, size_t *e)
{
	for (const char *p = strstr(url, "password"); p; p = strstr(p + 1, "password")) {
		if (p != url && p[-1] != ' ' && p[-1] != '\t')
			continue;
		const char *q = p + 8;
		while (*q == ' ')
			q++;
		if (*q != '=')
			continue;
		q++;
		while (*q == ' ')
			q++;
		const char *v = q;
		if (*q == '\'') {
			for (q++; *q && *q != '\''; q++)
				if (*q == '\\' && q[1])
					q++;
			if (*q)
				q++;
		} else {
			while (*q && *q != ' ' && *q != '\t')
				q++;
		}
		*b = (size_t)(v - url);
		*e = (size_t)(q - url);
		return true;
	}
	return false;
}

char *db_url_redact(const char *url)
{
	size_t b = 0, e = 0;
	bool found;

	if (url_is_keyvalue(url)) {
		found = kv_password_span(url, &b, &e);
	} else {
		const char *start = strstr(url, "://");
		start = start ? start + 3 : url;
		const char *at = strrchr(start, '@');
		const char *colon = at ? memchr(start, ':', (size_t)(at - start)) : NULL;
		found = colon != NULL;
		if (found) {
			b = (size_t)(colon + 1 - url);
			e = (size_t)(at - url);
		}
	}
	if (!found || e == b || (e - b == 12 && strncmp(url + b, "{{password}}", 12) == 0))
		return xstrdup(url);
	struct buf out;
	buf_init(&out, BUF_CAP_DEFAULT);
	buf_append(&out, url, b);
	buf_append_str(&out, "*****");
	buf_append_str(&out, url + e);
	return buf_take(&out);
}
