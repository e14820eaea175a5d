/* sink.c — a sink's config and what happens to a token before it is
 * written: response wrapping, then DH encryption (sink.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/auth_method.h"
#include "agent/sink.h"
#include "err.h"
#include "rand.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

struct sink {
	const struct agent_sink_config *cfg;
	const char *path;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	const char *aad; /* aad, or the value of aad_env_var; borrowed */
	bool have_peer, have_keys;
	unsigned char peer[SINK_DH_KEY_LEN], priv[SINK_DH_KEY_LEN], pub[SINK_DH_KEY_LEN];
};

static const char *const file_keys[] = {"path", "mode", "uid", "gid", NULL};

static int sink_fail(const struct agent_sink_config *cfg, const char *key, struct buf *err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int sink_fail(const struct agent_sink_config *cfg, const char *key, struct buf *err, const char *fmt, ...)
{
	va_list ap;

	auth_config_prefix(err, cfg->where, &cfg->config, "sink", cfg->type, key);
	va_start(ap, fmt);
	buf_vprintf(err, fmt, ap);
	va_end(ap);
	return TROVE_ERR_INVALID;
}

/* An octal mode as written ("0640"), or its decimal value ("416"), which
 * is how an HCL loader may hand over 0640. */
static bool parse_mode(const char *s, mode_t *out)
{
	int64_t v = 0;

	if (s[0] == '0' && s[1] != '\0') {
		for (const char *p = s + 1; *p; p++) {
			if (*p < '0' || *p > '7' || v > 07777)
				return false;
			v = v * 8 + (*p - '0');
		}
	} else if (!strconv_int64(s, &v)) {
		return false;
	}
	if (v < 0 || v > 07777)
		return false;
	*out = (mode_t)v;
	return true;
}

static int parse_id(const struct agent_sink_config *cfg, const char *key, int64_t *out, struct buf *err)
{
	const struct agent_kv *kv = agent_kv_find(&cfg->config, key);

	*out = -1;
	if (kv && (!strconv_int64(kv->value, out) || *out < 0 || *out > (int64_t)UINT32_MAX - 1))
		return sink_fail(cfg, key, err, "\"%s\" is not a user or group number", kv->value);
	return 0;
}

static int check(struct sink *s, struct buf *err)
{
	const struct agent_sink_config *cfg = s->cfg;
	const struct agent_kv *kv;
	int64_t uid, gid;
	int r;

	if (cfg->type == NULL || strcmp(cfg->type, "file") != 0)
		return sink_fail(cfg, NULL, err, "unknown sink type (want file)");
	for (size_t i = 0; i < cfg->config.len; i++) {
		bool known = false;

		for (const char *const *k = file_keys; *k && !known; k++)
			known = strcmp(*k, cfg->config.items[i].key) == 0;
		if (!known)
			return sink_fail(cfg, cfg->config.items[i].key, err, "unknown key for this sink");
	}
	kv = agent_kv_find(&cfg->config, "path");
	if (kv == NULL || kv->value[0] == '\0')
		return sink_fail(cfg, "path", err, kv ? "is empty" : "missing (it is required)");
	s->path = kv->value;
	s->mode = 0640;
	kv = agent_kv_find(&cfg->config, "mode");
	if (kv && !parse_mode(kv->value, &s->mode))
		return sink_fail(cfg, "mode", err, "\"%s\" is not a file mode", kv->value);
	if ((r = parse_id(cfg, "uid", &uid, err)) != 0 || (r = parse_id(cfg, "gid", &gid, err)) != 0)
		return r;
	s->uid = (uid_t)uid;
	s->gid = (gid_t)gid;
	if (cfg->wrap_ttl < 0)
		return sink_fail(cfg, "wrap_ttl", err, "cannot be negative");
	if (cfg->dh_type && strcmp(cfg->dh_type, "curve25519") != 0)
		return sink_fail(cfg, "dh_type", err, "\"%s\" is not a DH type (want curve25519)", cfg->dh_type);
	if ((cfg->dh_type != NULL) != (cfg->dh_path != NULL))
		return sink_fail(cfg, cfg->dh_type ? "dh_path" : "dh_type", err, "dh_type and dh_path go together");
	s->aad = cfg->aad;
	if (cfg->aad_env_var)
		s->aad = getenv(cfg->aad_env_var);
	if (cfg->dh_type == NULL && ((s->aad && *s->aad) || cfg->aad_env_var))
		return sink_fail(cfg, cfg->aad_env_var ? "aad_env_var" : "aad", err, "needs dh_type");
	if (cfg->dh_type == NULL && cfg->derive_key)
		return sink_fail(cfg, "derive_key", err, "needs dh_type");
	return 0;
}

int sink_new(const struct agent_sink_config *cfg, struct sink **out, struct buf *err)
{
	struct sink *s = xcalloc(1, sizeof(*s));
	int r;

	s->cfg = cfg;
	if ((r = check(s, err)) != 0) {
		free(s);
		return r;
	}
	*out = s;
	return 0;
}

void sink_free(struct sink *s)
{
	if (s)
		secure_free(s, sizeof(*s));
}

const char *sink_path(const struct sink *s)
{
	return s->path;
}

bool sink_wraps(const struct sink *s)
{
	return s->cfg->wrap_ttl > 0;
}

/* A string member of o, "" when absent. */
static const char *member(const json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "";
}

int sink_wrap_info_json(const json_t *answer, struct buf *out)
{
	const json_t *wi = json_object_get(answer, "wrap_info");
	const char *tok = json_string_value(json_object_get(wi, "token"));
	json_t *o;
	char *text;
	int r;

	if (tok == NULL || *tok == '\0')
		return TROVE_ERR_INVALID;
	/* The fields of Vault's api.SecretWrapInfo, in its order, all present. */
	o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "token", tok, "accessor", member(wi, "accessor"), "ttl",
	              (json_int_t)json_integer_value(json_object_get(wi, "ttl")), "creation_time",
	              member(wi, "creation_time"), "creation_path", member(wi, "creation_path"), "wrapped_accessor",
	              member(wi, "wrapped_accessor"));
	text = o ? json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT) : NULL;
	r = text && buf_append_str(out, text) == 0 && buf_append_byte(out, '\n') == 0 ? 0 : TROVE_ERR_NOMEM;
	secure_free_str(text);
	api_json_free_secret(o);
	return r;
}

/* The wrap info JSON of token wrapped for the sink's wrap_ttl. */
static int wrap(struct sink *s, const struct api_config *base, const char *token, struct buf *out, struct buf *err)
{
	struct api_config cfg = *base;
	struct api_client *c = NULL;
	struct api_response resp;
	char ttl[32], *detail = NULL;
	json_t *body = json_pack("{s:s}", "token", token);
	int r;

	api_response_init(&resp);
	(void)snprintf(ttl, sizeof(ttl), "%llds", (long long)s->cfg->wrap_ttl);
	cfg.wrap_ttl = ttl;
	cfg.token = (char *)token;
	if ((r = api_client_new(&cfg, &c, &detail)) != 0) {
		buf_printf(err, "cannot make a client: %s", detail ? detail : err_message(r));
		goto out;
	}
	if ((r = api_write(c, "sys/wrapping/wrap", body, &resp)) != 0) {
		buf_printf(err, "wrapping the token: %s", resp.error ? resp.error : err_message(r));
		goto out;
	}
	if ((r = sink_wrap_info_json(resp.json, out)) != 0)
		buf_append_str(err, "wrapping the token: the answer holds no wrap_info token");
out:
	free(detail);
	api_json_free_secret(body);
	api_response_release(&resp);
	api_client_free(c);
	return r;
}

static int encrypt(struct sink *s, const char *text, size_t len, struct buf *out, struct buf *err)
{
	unsigned char nonce[SINK_DH_NONCE_LEN];
	int r;

	if (!s->have_peer) {
		if ((r = sink_dh_read_peer(s->cfg->dh_path, s->peer, err)) != 0)
			return r;
		s->have_peer = true;
	}
	if (!s->have_keys) {
		if (sink_dh_keypair(s->priv, s->pub) != 0) {
			buf_append_str(err, "cannot make a curve25519 key pair");
			return TROVE_ERR_INTERNAL;
		}
		s->have_keys = true;
	}
	if (rand_bytes(nonce, sizeof(nonce)) != 0) {
		buf_append_str(err, "no randomness for the nonce");
		return TROVE_ERR_INTERNAL;
	}
	return sink_dh_seal(s->priv, s->peer, s->cfg->derive_key, s->aad, nonce, text, len, out, err);
}

int sink_write(struct sink *s, const struct api_config *base, const char *token, struct buf *err)
{
	struct buf wrapped, sealed;
	const char *text = token;
	size_t len = strlen(token);
	int r;

	buf_init_secret(&wrapped, 1 << 20);
	buf_init_secret(&sealed, 1 << 20);
	if (s->cfg->wrap_ttl > 0) {
		if ((r = wrap(s, base, token, &wrapped, err)) != 0)
			goto out;
		text = wrapped.data;
		len = wrapped.len;
	}
	if (s->cfg->dh_type) {
		if ((r = encrypt(s, text, len, &sealed, err)) != 0)
			goto out;
		text = sealed.data;
		len = sealed.len;
	}
	r = sink_file_write(s->path, s->mode, s->uid, s->gid, text, len, err);
out:
	buf_release_secret(&wrapped);
	buf_release_secret(&sealed);
	return r;
}
