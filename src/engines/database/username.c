/* username.c — the user name and password of a new database user.
 *
 * Until username templates and password policies are in, names have
 * Vault's default shape, v-<display name>-<role>-<20 random>-<unix time>,
 * and passwords the default spec of password_gen.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "clock.h"
#include "err.h"
#include "password_gen.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

#define DB_NAME_PART_MAX 8
#define DB_NAME_RANDOM 20

/* Appends up to DB_NAME_PART_MAX characters of s, each outside
 * [A-Za-z0-9_] written as '-', so a display name never carries a quote
 * into a statement. */
static void append_part(struct buf *b, const char *s)
{
	for (size_t i = 0; s && s[i] && i < DB_NAME_PART_MAX; i++) {
		char c = s[i];
		bool ok =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		buf_append_byte(b, ok ? c : '-');
	}
}

int db_username_make(const struct db_plugin *plugin, const char *display_name, const char *role_name,
                     char **out)
{
	char rnd[DB_NAME_RANDOM + 1];
	struct buf b;
	int r;

	*out = NULL;
	if ((r = rand_base62(rnd, DB_NAME_RANDOM)) != 0)
		return r;
	buf_init(&b, BUF_CAP_DEFAULT);
	buf_append_str(&b, "v-");
	append_part(&b, display_name);
	buf_append_byte(&b, '-');
	append_part(&b, role_name);
	buf_printf(&b, "-%s-%lld", rnd, (long long)clock_realtime_s());
	if (plugin->username_max > 0 && b.len > plugin->username_max)
		b.len = plugin->username_max;
	*out = xstrndup(b.data, b.len);
	buf_release(&b);
	return 0;
}

int db_password_make(const struct db_config *cfg, char **out, char **why)
{
	/* cfg->password_policy: password policies come later */
	int r = password_generate(&password_spec_default, out);
	if (r != 0 || db_value_safe(*out))
		return r;
	secure_free_str(*out);
	*out = NULL;
	if (why) {
		struct buf m;
		buf_init(&m, BUF_CAP_DEFAULT);
		buf_printf(
		    &m,
		    "password policy \"%s\" makes passwords with characters not allowed in a statement (a "
		    "quote, backslash, backtick, semicolon or control byte)",
		    cfg && cfg->password_policy ? cfg->password_policy : "");
		*why = buf_take(&m);
	}
	return TROVE_ERR_INVALID;
}
