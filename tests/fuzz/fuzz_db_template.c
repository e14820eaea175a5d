/* libFuzzer target: the database engine's templating
 * (engines/database/statements.c). The input is a template, a NUL, a
 * user name, a NUL and a password. Rendering never crashes; a value that
 * is not db_value_safe is refused; when rendered, the statement is the
 * template with each placeholder replaced once (its length adds up), and
 * a password put in a URI form comes out percent-encoded (only
 * unreserved characters and '%' escapes where it went). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engines/database/database.h"
#include "err.h"
#include "secure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const char *s, const char *k)
{
	size_t n = 0;
	for (const char *p = strstr(s, k); p; p = strstr(p + strlen(k), k))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 3);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = in[size + 1] = in[size + 2] = '\0';
	/* three NULs at the end: each part ends inside the buffer */
	const char *tmpl = in;
	const char *user = tmpl + strlen(tmpl) + 1;
	const char *pass = user + strlen(user) + 1;

	struct db_stmt_vars v = {.name = user, .password = pass, .expiration = "2030-01-01 00:00:00+0000"};
	char **out = NULL;
	char *why = NULL;
	int r = db_render_stmts(&tmpl, 1, &v, &out, &why);
	bool safe = db_value_safe(user) && db_value_safe(pass);
	if ((r == 0) != safe)
		abort();
	if (r == 0) {
		/* placeholders are matched left to right and never rescanned, so
		 * count them the same way in the template alone when the values
		 * hold no braces */
		if (!strchr(user, '{') && !strchr(user, '}') && !strchr(pass, '{') && !strchr(pass, '}') &&
		    !strstr(tmpl, "{{{")) {
			size_t nn = count(tmpl, "{{name}}"), nu = count(tmpl, "{{username}}"),
			       np = count(tmpl, "{{password}}"), ne = count(tmpl, "{{expiration}}");
			size_t want = strlen(tmpl) - nn * 8 - nu * 12 - np * 12 - ne * 14 +
			              (nn + nu) * strlen(user) + np * strlen(pass) + ne * 24;
			if (strlen(out[0]) != want)
				abort();
		}
		db_stmts_free(out, 1);
	} else if (!why) {
		abort();
	}
	free(why);

	char *url = NULL;
	if (db_render_url("postgres://u:{{password}}@h/d", user, pass, &url) != 0)
		abort();
	const char *p = url + strlen("postgres://u:");
	size_t end = strlen(url) - strlen("@h/d");
	for (size_t i = (size_t)(p - url); i < end; i++) {
		char c = url[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		          c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
		if (!ok)
			abort();
	}
	secure_free_str(url);
	free(in);
	return 0;
}
