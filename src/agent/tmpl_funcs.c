/* tmpl_funcs.c — the function table of the template language, and
 * consul-template's functions that reach outside the template: the Vault
 * sources (secret, pkiCert, through struct tmpl_funcs), env, file and
 * timestamp. The Consul and Nomad functions are refused here, by name. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/tmpl_int.h"
#include "clock.h"
#include "err.h"
#include "banned.h"

/* ---- Vault ---- */

typedef int (*source_fn)(void *ctx, const char *path, const char *const *args, size_t nargs, json_t **out,
                         char **err);

static int call_source(struct texec *e, struct tpos pos, const char *fn, source_fn src, json_t **argv, size_t argc,
                       json_t **out)
{
	const char *path;
	const char **args = NULL;
	char *why = NULL;
	int r;

	if (!src)
		return texec_fail(e, pos, TROVE_ERR_UNSUPPORTED_OP, "function %s is not available here", fn);
	for (size_t i = 0; i < argc; i++) {
		const char *s;
		if ((r = targ_str(e, pos, fn, argv[i], &s, NULL)) != 0)
			return r;
	}
	path = json_string_value(argv[0]);
	if (argc > 1) {
		args = xcalloc(argc - 1, sizeof(*args));
		for (size_t i = 1; i < argc; i++)
			args[i - 1] = json_string_value(argv[i]);
	}
	r = src(e->f->ctx, path, args, argc - 1, out, &why);
	free(args);
	if (r) {
		if (*out) {
			json_decref(*out);
			*out = NULL;
		}
		r = texec_fail(e, pos, r, "%s \"%s\": %s", fn, path, why ? why : err_message(r));
		free(why);
		return r;
	}
	free(why);
	return 0;
}

static int fn_secret(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return call_source(e, pos, "secret", e->f->secret, argv, argc, out);
}

static int fn_pki_cert(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	return call_source(e, pos, "pkiCert", e->f->pki_cert, argv, argc, out);
}

/* ---- environment, files, time ---- */

static int fn_env(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("env");
	(void)n;
	const char *v = getenv(s);
	*out = tval_str(v ? v : "", v ? strlen(v) : 0);
	return 0;
}

static int fn_must_env(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	TFN_STR1("mustEnv");
	(void)n;
	const char *v = getenv(s);
	if (!v || !*v)
		return texec_fail(e, pos, TROVE_ERR_INVALID, "mustEnv: required environment variable %s is empty",
		                  s);
	*out = tval_str(v, strlen(v));
	return 0;
}

static int fn_env_or_default(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	const char *name, *def;
	size_t dn;
	(void)argc;
	int r = targ_str(e, pos, "envOrDefault", argv[0], &name, NULL);
	if (!r)
		r = targ_str(e, pos, "envOrDefault", argv[1], &def, &dn);
	if (r)
		return r;
	const char *v = getenv(name);
	*out = v ? tval_str(v, strlen(v)) : tval_str(def, dn);
	return 0;
}

static int fn_file(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	struct stat st;
	TFN_STR1("file");
	tfn_trim_space(&s, &n);
	if (n == 0) {
		*out = tval_str("", 0);
		return 0;
	}
	if (memchr(s, '\0', n))
		return texec_fail(e, pos, TROVE_ERR_INVALID, "file: the path holds a NUL byte");
	char *path = xstrndup(s, n);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = texec_fail(e, pos, TROVE_ERR_NOT_FOUND, "file: %s: %s", path, strerror(errno));
		free(path);
		return r;
	}
	if (fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
		close(fd);
		r = texec_fail(e, pos, TROVE_ERR_IO, "file: %s: not a readable file", path);
		free(path);
		return r;
	}
	buf_init_secret(&b, TMPL_FILE_MAX + 1);
	for (;;) {
		char chunk[8192];
		ssize_t k = read(fd, chunk, sizeof(chunk));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = texec_fail(e, pos, TROVE_ERR_IO, "file: %s: %s", path, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		if (buf_append(&b, chunk, (size_t)k) != 0 || b.len > TMPL_FILE_MAX) {
			r = texec_fail(e, pos, TROVE_ERR_TOO_LARGE, "file: %s: over %zu bytes", path,
			               TMPL_FILE_MAX);
			break;
		}
	}
	close(fd);
	free(path);
	if (r) {
		buf_release_secret(&b);
		return r;
	}
	return tfn_give(e, pos, &b, 0, out);
}

static int fn_timestamp(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)
{
	struct buf b;
	const char *layout = "2006-01-02T15:04:05Z07:00";
	size_t n = strlen(layout);
	int64_t now = e->now_ns ? e->now_ns : clock_realtime_ns();

	if (argc == 1) {
		int r = targ_str(e, pos, "timestamp", argv[0], &layout, &n);
		if (r)
			return r;
	}
	buf_init(&b, TMPL_OUT_MAX);
	if (n == 4 && memcmp(layout, "unix", 4) == 0) {
		int64_t secs = now / 1000000000;
		if (now < 0 && now % 1000000000)
			secs--;
		(void)buf_printf(&b, "%lld", (long long)secs);
		return tfn_give(e, pos, &b, 0, out);
	}
	return tfn_give(e, pos, &b, ttime_format(&b, now, layout, n), out);
}

const struct tfunc tfunc_ct[] = {
	{ "secret", 1, -1, fn_secret },
	{ "pkiCert", 1, -1, fn_pki_cert },
	{ "env", 1, 1, fn_env },
	{ "mustEnv", 1, 1, fn_must_env },
	{ "envOrDefault", 2, 2, fn_env_or_default },
	{ "file", 1, 1, fn_file },
	{ "timestamp", 0, 1, fn_timestamp },
};
const size_t tfunc_ct_count = sizeof(tfunc_ct) / sizeof(tfunc_ct[0]);

/* consul-template functions Trove does not offer, and why. */
static const struct {
	const char *name;
	const char *why;
} refused[] = {
	{ "datacenters", "reads Consul" },       { "exportedServices", "reads Consul" },
	{ "importedServices", "reads Consul" },  { "key", "reads Consul" },
	{ "keyExists", "reads Consul" },         { "keyOrDefault", "reads Consul" },
	{ "ls", "reads Consul" },                { "safeLs", "reads Consul" },
	{ "node", "reads Consul" },              { "nodes", "reads Consul" },
	{ "partitions", "reads Consul" },        { "peerings", "reads Consul" },
	{ "service", "reads Consul" },           { "services", "reads Consul" },
	{ "connect", "reads Consul" },           { "tree", "reads Consul" },
	{ "safeTree", "reads Consul" },          { "caRoots", "reads Consul" },
	{ "caLeaf", "reads Consul" },            { "byKey", "works on Consul keys" },
	{ "byPort", "works on Consul services" }, { "byTag", "works on Consul services" },
	{ "byMeta", "works on Consul services" }, { "explode", "works on Consul keys" },
	{ "nomadServices", "reads Nomad" },      { "nomadService", "reads Nomad" },
	{ "nomadVarList", "reads Nomad" },       { "nomadVarListSafe", "reads Nomad" },
	{ "nomadVar", "reads Nomad" },           { "nomadVarExists", "reads Nomad" },
	{ "secrets", "lists Vault paths" },      { "plugin", "runs programs" },
	{ "writeToFile", "writes files" },       { "executeTemplate", "not supported" },
	{ "scratch", "not supported" },          { "sockaddr", "not supported" },
	{ "regexMatch", "not supported" },       { "regexReplaceAll", "not supported" },
	{ "toTOML", "not supported" },           { "parseYAML", "not supported" },
	{ "explodeMap", "not supported" },       { "mergeMap", "not supported" },
	{ "mergeMapWithOverride", "not supported" }, { "splitToMap", "not supported" },
	{ "md5sum", "not supported" },           { "spew_dump", "not supported" },
	{ "spew_printf", "not supported" },      { "spew_sdump", "not supported" },
	{ "spew_sprintf", "not supported" },
};

/* Functions a transformation template cannot have: consul-template's
 * (VSO renders with sprig's) and sprig's that VSO leaves out or Trove does
 * not offer. Any other unknown name is simply unknown. */
static const struct {
	const char *name;
	const char *why;
} sprig_refused[] = {
	{ "secret", "a consul-template data source; the template's data is .Secrets" },
	{ "pkiCert", "a consul-template data source; the template's data is .Secrets" },
	{ "file", "a consul-template function: it reads files" },
	{ "env", "it reads the environment" },
	{ "expandenv", "it reads the environment" },
	{ "now", "it is not repeatable (VSO leaves it out)" },
	{ "date", "it is not repeatable (VSO leaves it out)" },
	{ "randAlphaNum", "it is not repeatable (VSO leaves it out)" },
	{ "randAlpha", "it is not repeatable (VSO leaves it out)" },
	{ "randAscii", "it is not repeatable (VSO leaves it out)" },
	{ "randNumeric", "it is not repeatable (VSO leaves it out)" },
	{ "randInt", "it is not repeatable" },
	{ "shuffle", "it is not repeatable" },
	{ "uuidv4", "it is not repeatable (VSO leaves it out)" },
	{ "getHostByName", "it reads the network (VSO leaves it out)" },
	{ "ago", "it reads the clock" },
	{ "bcrypt", "not offered by Trove" },
	{ "htpasswd", "not offered by Trove" },
	{ "buildCustomCert", "not offered by Trove" },
	{ "genPrivateKey", "not offered (VSO leaves it out)" },
	{ "derivePassword", "not offered (VSO leaves it out)" },
	{ "encryptAES", "not offered (VSO leaves it out)" },
	{ "decryptAES", "not offered (VSO leaves it out)" },
	{ "semver", "not offered by Trove" },
	{ "semverCompare", "not offered by Trove" },
	{ "urlParse", "not offered by Trove" },
	{ "urlJoin", "not offered by Trove" },
	{ "toDate", "dates are not offered by Trove" },
	{ "mustToDate", "dates are not offered by Trove" },
	{ "duration", "dates are not offered by Trove" },
	{ "durationRound", "dates are not offered by Trove" },
};

/* The function tables, one after the other: a function's index is its
 * place in this order. The first five are the consul dialect's; the sprig
 * dialect has the builtins and the last six (searched first: sprig's
 * slice replaces Go's, as a FuncMap entry does). */
static const struct {
	const struct tfunc *fns;
	const size_t *n;
} tables[] = {
	{ tfunc_builtin, &tfunc_builtin_count },   { tfunc_ct, &tfunc_ct_count },
	{ tfunc_codec, &tfunc_codec_count },       { tfunc_string, &tfunc_string_count },
	{ tfunc_number, &tfunc_number_count },     { tfunc_sprig, &tfunc_sprig_count },
	{ tfunc_sprig_str, &tfunc_sprig_str_count }, { tfunc_sprig_codec, &tfunc_sprig_codec_count },
	{ tfunc_sprig_coll, &tfunc_sprig_coll_count },
	{ tfunc_sprig_re, &tfunc_sprig_re_count },   { tfunc_sprig_path, &tfunc_sprig_path_count },
};
#define NTABLES (sizeof(tables) / sizeof(tables[0]))
#define CONSUL_TABLES 5

/* name's index in table t, or -1. */
static int find_in(size_t t, const char *name, size_t n)
{
	for (size_t i = 0; i < *tables[t].n; i++)
		if (strlen(tables[t].fns[i].name) == n && memcmp(tables[t].fns[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

static int table_base(size_t t)
{
	int base = 0;
	for (size_t i = 0; i < t; i++)
		base += (int)*tables[i].n;
	return base;
}

int tfunc_lookup(enum tmpl_dialect d, const char *name, size_t n, const char **why)
{
	*why = NULL;
	if (d == TMPL_SPRIG) {
		for (size_t t = CONSUL_TABLES; t < NTABLES; t++) {
			int i = find_in(t, name, n);
			if (i >= 0)
				return table_base(t) + i;
		}
		int i = find_in(0, name, n);
		if (i >= 0)
			return i;
		for (size_t k = 0; k < sizeof(sprig_refused) / sizeof(sprig_refused[0]); k++)
			if (strlen(sprig_refused[k].name) == n && memcmp(sprig_refused[k].name, name, n) == 0) {
				*why = sprig_refused[k].why;
				return -1;
			}
		for (size_t t = 1; t < CONSUL_TABLES; t++)
			if (find_in(t, name, n) >= 0) {
				*why = "a consul-template function; transformation templates have sprig's, as VSO";
				return -1;
			}
		return -1;
	}
	for (size_t t = 0; t < CONSUL_TABLES; t++) {
		int i = find_in(t, name, n);
		if (i >= 0)
			return table_base(t) + i;
	}
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (strlen(refused[i].name) == n && memcmp(refused[i].name, name, n) == 0) {
			*why = refused[i].why;
			return -1;
		}
	if (n > 6 && memcmp(name, "sprig_", 6) == 0)
		*why = "sprig functions are not offered";
	return -1;
}

const struct tfunc *tfunc_get(int i)
{
	size_t k = (size_t)i;
	for (size_t t = 0; t < NTABLES; t++) {
		if (k < *tables[t].n)
			return &tables[t].fns[k];
		k -= *tables[t].n;
	}
	return NULL; /* an index tfunc_lookup never gives */
}
