/* headers.c — the header lines every request carries (headers.h). */
#include <string.h>

#include "api/headers.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

/* The wrapping TTL Vault's client asks for on sys/wrapping/wrap when none
 * is set: wrapping is that path's whole point. */
#define DEFAULT_WRAP_TTL "5m"

int api_header_value_ok(const char *value)
{
	return value && strpbrk(value, "\r\n") != NULL ? TROVE_ERR_INVALID : 0;
}

static int push(struct strlist *out, const char *name, const char *value)
{
	struct buf b;
	int r;

	if (api_header_value_ok(value) != 0)
		return TROVE_ERR_INVALID;
	buf_init_secret(&b, BUF_CAP_DEFAULT);
	if ((r = buf_printf(&b, "%s: %s", name, value)) == 0)
		r = strlist_push(out, b.data);
	buf_release_secret(&b);
	return r;
}

static bool is_wrap_path(const char *method, const char *path)
{
	while (*path == '/')
		path++;
	return (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) && strcmp(path, "sys/wrapping/wrap") == 0;
}

int api_headers_build(const struct api_config *cfg, const char *method,
                      const char *path, bool has_body, struct strlist *out)
{
	const char *wrap = cfg->wrap_ttl;
	int r;

	if ((r = strlist_push(out, "X-Vault-Request: true")) != 0)
		return r;
	/* An empty value makes curl drop its default form content type. A
	 * PATCH body is a JSON merge patch (RFC 7396), as Vault expects. */
	if ((r = strlist_push(out, !has_body                       ? "Content-Type:"
	                           : strcmp(method, "PATCH") == 0 ? "Content-Type: application/merge-patch+json"
	                                                          : "Content-Type: application/json")) != 0)
		return r;
	if ((r = strlist_push(out, "Expect:")) != 0)
		return r;
	if (cfg->token && (r = push(out, "X-Vault-Token", cfg->token)) != 0)
		return r;
	if (cfg->namespace_name && (r = push(out, "X-Vault-Namespace", cfg->namespace_name)) != 0)
		return r;
	if (wrap == NULL && is_wrap_path(method, path))
		wrap = DEFAULT_WRAP_TTL;
	if (wrap && (r = push(out, "X-Vault-Wrap-TTL", wrap)) != 0)
		return r;
	return 0;
}

void api_headers_wipe(struct strlist *l)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		secure_wipe(l->items[i], strlen(l->items[i]));
	strlist_release(l);
}
