/* config.c — client settings: defaults and the VAULT_* / TROVE_*
 * environment.
 *
 * Which variables and how they parse follow Vault's api package
 * (Config.ReadEnvironment and NewClient): booleans as Go's ParseBool,
 * VAULT_MAX_RETRIES a whole number, VAULT_CLIENT_TIMEOUT seconds or a Go
 * duration. Trove reads each TROVE_* twin first, as its CLI always has. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/config.h"
#include "buf.h"
#include "duration.h"
#include "err.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

void api_config_init(struct api_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->address = xstrdup(API_DEFAULT_ADDRESS);
	cfg->max_retries = API_DEFAULT_MAX_RETRIES;
	cfg->timeout_ms = API_DEFAULT_TIMEOUT_MS;
	cfg->retry_wait_min_ms = API_RETRY_WAIT_MIN_MS;
	cfg->retry_wait_max_ms = API_RETRY_WAIT_MAX_MS;
}

void api_config_set(char **slot, const char *value)
{
	secure_free_str(*slot);
	*slot = value && *value ? xstrdup(value) : NULL;
}

void api_config_release(struct api_config *cfg)
{
	if (cfg == NULL)
		return;
	api_config_set(&cfg->address, NULL);
	api_config_set(&cfg->token, NULL);
	api_config_set(&cfg->ca_cert, NULL);
	api_config_set(&cfg->ca_path, NULL);
	api_config_set(&cfg->ca_pem, NULL);
	api_config_set(&cfg->client_cert, NULL);
	api_config_set(&cfg->client_key, NULL);
	api_config_set(&cfg->tls_server_name, NULL);
	api_config_set(&cfg->namespace_name, NULL);
	api_config_set(&cfg->wrap_ttl, NULL);
	memset(cfg, 0, sizeof(*cfg));
}

/* The value of TROVE_<name>, else VAULT_<name>; NULL when both are unset
 * or empty. *which gets the variable's full name for messages. */
static const char *env_get(const char *name, char which[64])
{
	static const char *const prefixes[] = {"TROVE_", "VAULT_"};
	const char *v;
	size_t i;

	for (i = 0; i < 2; i++) {
		(void)snprintf(which, 64, "%s%s", prefixes[i], name);
		v = getenv(which);
		if (v && *v)
			return v;
	}
	return NULL;
}

const char *api_config_env(const char *name)
{
	char which[64];

	return env_get(name, which);
}

static int env_fail(char **detail, const char *var, const char *value, const char *why)
{
	if (detail) {
		struct buf b;

		buf_init(&b, BUF_CAP_DEFAULT);
		(void)buf_printf(&b, "\"%s\" in %s: %s", value, var, why);
		*detail = buf_take(&b);
		buf_release(&b);
	}
	return TROVE_ERR_INVALID;
}

/* The string settings, each VAULT_<name> / TROVE_<name>. */
static char **string_slot(struct api_config *cfg, size_t i, const char **name)
{
	static const char *const names[] = {"ADDR",        "TOKEN",      "CACERT",          "CAPATH",    "CLIENT_CERT",
	                                    "CLIENT_KEY",  "NAMESPACE",  "TLS_SERVER_NAME", "WRAP_TTL"};
	char **slots[] = {&cfg->address,    &cfg->token,          &cfg->ca_cert,
	                  &cfg->ca_path,    &cfg->client_cert,    &cfg->client_key,
	                  &cfg->namespace_name, &cfg->tls_server_name, &cfg->wrap_ttl};

	if (i >= sizeof(names) / sizeof(names[0]))
		return NULL;
	*name = names[i];
	return slots[i];
}

int api_config_from_env(struct api_config *cfg, char **detail)
{
	char var[64];
	const char *v, *name;
	bool skip = cfg->tls_skip_verify;
	int64_t retries = cfg->max_retries, timeout_ns = 0;
	bool have_retries = false;
	char **slot;
	size_t i;

	if (detail)
		*detail = NULL;
	/* Everything that can fail first, so a failure changes nothing. */
	if ((v = env_get("SKIP_VERIFY", var)) != NULL && !strconv_bool(v, &skip))
		return env_fail(detail, var, v, "want true or false");
	if ((v = env_get("MAX_RETRIES", var)) != NULL) {
		if (!strconv_int64(v, &retries) || retries < 0 || retries > API_MAX_RETRIES_LIMIT)
			return env_fail(detail, var, v, "want a whole number from 0 to 100");
		have_retries = true;
	}
	if ((v = env_get("CLIENT_TIMEOUT", var)) != NULL &&
	    (duration_parse_ns(v, strlen(v), &timeout_ns) != 0 || timeout_ns < INT64_C(1000000) ||
	     timeout_ns / 1000000000 > DURATION_MAX_SECONDS))
		return env_fail(detail, var, v, "want a duration of at least 1ms, such as \"30s\" or \"90\"");

	cfg->tls_skip_verify = skip;
	if (have_retries) {
		cfg->max_retries = (int)retries;
		cfg->max_retries_set = true;
	}
	if (timeout_ns > 0)
		cfg->timeout_ms = (long)(timeout_ns / 1000000);
	for (i = 0; (slot = string_slot(cfg, i, &name)) != NULL; i++)
		if ((v = env_get(name, var)) != NULL)
			api_config_set(slot, v);
	return 0;
}
