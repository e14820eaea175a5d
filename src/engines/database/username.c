/* username.c — the user name and password of a new database user.
 *
 * Names come from the connection's username_template, or the plugin's
 * default (Vault's, per database), rendered over the token's display
 * name and the role's name; passwords from the connection's
 * password_policy, or password_gen.h's default spec. Either must be safe
 * to put in a statement (db_value_safe): a display name's unsafe
 * characters become '-' before the template sees them, and a result that
 * is still unsafe (a template's literal, a policy's charset) is refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "database.h"

#include "core/password_policy.h"
#include "err.h"
#include "password_gen.h"
#include "secure.h"
#include "username_template.h"

#include "banned.h"

/* Used when neither the connection nor the plugin names a template. */
#define DB_USERNAME_TEMPLATE_FALLBACK                                                              \
	"{{ printf \"v-%s-%s-%s-%s\" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) "  \
	"(unix_time) }}"

/* s with every character db_value_safe refuses written as '-'. */
static char *made_safe(const char *s)
{
	char *o = xstrdup(s ? s : "");
	char one[2] = {0, 0};

	for (char *p = o; *p; p++) {
		one[0] = *p;
		if (!db_value_safe(one))
			*p = '-';
	}
	return o;
}

int db_username_make(const struct db_plugin *plugin, const char *tmpl, const char *display_name,
                     const char *role_name, char **out, char **why)
{
	struct username_template_vars v = {0};
	char *display = made_safe(display_name), *role = made_safe(role_name), *name = NULL;
	int r;

	*out = NULL;
	if (tmpl == NULL || tmpl[0] == '\0')
		tmpl = plugin->default_username_template ? plugin->default_username_template
		                                         : DB_USERNAME_TEMPLATE_FALLBACK;
	v.display_name = display;
	v.role_name = role;
	if ((r = username_template_render(tmpl, &v, &name, why)) != 0)
		goto out;
	if (plugin->username_max > 0 && strlen(name) > plugin->username_max)
		name[plugin->username_max] = '\0';
	if (name[0] == '\0' || !db_value_safe(name)) {
		if (why)
			*why = xstrdup("username_template makes a user name that is empty or holds a quote, "
			               "backslash, backtick, semicolon or control byte");
		r = TROVE_ERR_INVALID;
		goto out;
	}
	*out = name;
	name = NULL;
out:
	free(name);
	free(display);
	free(role);
	return r;
}

int db_password_make(struct core *core, const struct db_config *cfg, char **out, char **why)
{
	const char *policy = cfg && cfg->password_policy && cfg->password_policy[0] ? cfg->password_policy : NULL;
	int r = policy ? password_policy_generate(core, policy, out) : password_generate(&password_spec_default, out);

	if (r == TROVE_ERR_NOT_FOUND) {
		if (why) {
			struct buf m;
			buf_init(&m, BUF_CAP_DEFAULT);
			buf_printf(&m, "password_policy: no password policy named \"%s\"", policy);
			*why = buf_take(&m);
		}
		return TROVE_ERR_INVALID;
	}
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
