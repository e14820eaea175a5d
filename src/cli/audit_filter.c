/* audit_filter.c — the filter behind the flags of `trove audit query` and
 * `trove audit consumers` (audit_filter.h): each flag's value checked and
 * turned into a condition (times and durations, path globs, networks,
 * operations, booleans), with an error that names the flag. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "cli/audit_filter.h"
#include "cli/cli.h"
#include "audit_hash.h"
#include "duration.h"
#include "strconv.h"

#include "banned.h"

/* ---- globs, paths, addresses ------------------------------------------ */

bool aq_glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s) {
		if (*p == '*') {
			star = ++p;
			resume = s;
		} else if (*p == '?' || *p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool aq_path_match(const char *pattern, const char *path)
{
	while (*pattern == '/')
		pattern++;
	while (*path == '/')
		path++;
	if (strpbrk(pattern, "*?"))
		return aq_glob_match(pattern, path);
	return strncmp(path, pattern, strlen(pattern)) == 0;
}

bool aq_cidr_parse(const char *s, struct cidr *out)
{
	if (!strchr(s, '/'))
		return cidr_parse_addr(s, strlen(s), out);
	return cidr_parse_unmapped(s, out);
}

bool aq_cidr_contains(const struct cidr *net, const char *addr)
{
	struct cidr a;

	return addr != NULL && cidr_parse_addr(addr, strlen(addr), &a) && cidr_contains(net, &a);
}

/* ---- filters ---------------------------------------------------------- */

/* The string lists of struct aq_filter, by offset. */
static const size_t lists[] = {
    offsetof(struct aq_filter, paths),    offsetof(struct aq_filter, display_names),
    offsetof(struct aq_filter, entities), offsetof(struct aq_filter, roles),
    offsetof(struct aq_filter, mounts),   offsetof(struct aq_filter, token_hashes),
};

static struct strlist *list_at(struct aq_filter *f, size_t offset)
{
	return (struct strlist *)((char *)f + offset);
}

void aq_filter_init(struct aq_filter *f, int64_t now)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	f->now = now;
	f->show = AQ_SHOW_RESPONSES;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		strlist_init(list_at(f, lists[i]));
}

void aq_filter_release(struct aq_filter *f)
{
	size_t i;

	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		strlist_release(list_at(f, lists[i]));
	free(f->remotes);
	memset(f, 0, sizeof(*f));
}

static int bad_value(struct buf *err, const char *name, const char *value, const char *want)
{
	buf_reset(err);
	(void)buf_printf(err, "Invalid -%s value \"%s\": %s", name, value ? value : "", want);
	return -1;
}

static int add_string(struct strlist *l, const char *name, const char *value, struct buf *err)
{
	if (value == NULL || *value == '\0')
		return bad_value(err, name, value, "want a non-empty value");
	if (strlist_push(l, value) != 0)
		abort(); /* small fixed allocation: out of memory */
	return 0;
}

static int add_mount(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	char *m;

	if (value == NULL)
		return bad_value(err, name, value, "want a mount path such as secret/");
	m = cli_trim_slashes(value);
	if (*m == '\0') {
		free(m);
		return bad_value(err, name, value, "want a mount path such as secret/");
	}
	if (strlist_push_owned(&f->mounts, m) != 0)
		abort();
	return 0;
}

static int add_token_hash(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	static const char want[] = "want hmac-sha256:<hex>, as sys/audit-hash answers";
	size_t plen = strlen(AUDIT_HASH_PREFIX), i;

	if (value == NULL || strncmp(value, AUDIT_HASH_PREFIX, plen) != 0 || value[plen] == '\0')
		return bad_value(err, name, value, want);
	for (i = plen; value[i]; i++)
		if (strconv_hex_digit((unsigned char)value[i]) < 0)
			return bad_value(err, name, value, want);
	return add_string(&f->token_hashes, name, value, err);
}

static const struct {
	const char *name;
	unsigned bit;
} op_names[] = {
    {"read", AQ_OP_READ},   {"create", AQ_OP_CREATE}, {"update", AQ_OP_UPDATE},
    {"patch", AQ_OP_PATCH}, {"delete", AQ_OP_DELETE}, {"list", AQ_OP_LIST},
};

unsigned aq_op_bit(const char *op)
{
	size_t i;

	for (i = 0; op && i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(op, op_names[i].name) == 0)
			return op_names[i].bit;
	return 0;
}

static int add_op(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	unsigned bit = aq_op_bit(value);

	if (value && strcmp(value, "any") == 0) {
		f->any_op = true;
		return 0;
	}
	if (bit == 0)
		return bad_value(err, name, value, "want read, create, update, patch, delete, list or any");
	f->ops |= bit;
	return 0;
}

static int add_remote(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	struct cidr net;

	if (value == NULL || !aq_cidr_parse(value, &net))
		return bad_value(err, name, value,
		                 "want an IP address or a network such as 10.0.0.0/8 or 2001:db8::/32");
	f->remotes = xrealloc(f->remotes, (f->nremotes + 1) * sizeof(*f->remotes));
	f->remotes[f->nremotes++] = net;
	return 0;
}

/* -since or -until into *at: an RFC 3339 time, a date, or a duration
 * before f->now; once only (*given). */
static int add_when(const struct aq_filter *f, const char *name, const char *value, struct aq_time *at,
                    bool *given, struct buf *err)
{
	int64_t secs;

	if (value == NULL || !aq_time_parse(value, at)) {
		if (value == NULL || *value == '\0' ||
		    duration_parse_seconds(value, strlen(value), &secs) != 0)
			return bad_value(
			    err, name, value,
			    "want an RFC 3339 time (2024-05-01T10:00:00Z), a date (2024-05-01) or "
			    "a duration before now such as 30m, 24h or 7d");
		at->sec = f->now - secs;
		at->nsec = 0;
	}
	if (*given) {
		buf_reset(err);
		(void)buf_printf(err, "-%s may be given only once", name);
		return -1;
	}
	*given = true;
	return 0;
}

static int add_since(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	return add_when(f, name, value, &f->since, &f->has_since, err);
}

static int add_until(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	return add_when(f, name, value, &f->until, &f->has_until, err);
}

static int add_type(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	if (value && strcmp(value, "response") == 0)
		f->show = AQ_SHOW_RESPONSES;
	else if (value && strcmp(value, "request") == 0)
		f->show = AQ_SHOW_REQUESTS;
	else if (value && strcmp(value, "all") == 0)
		f->show = AQ_SHOW_ALL;
	else
		return bad_value(err, name, value, "want request, response or all");
	return 0;
}

/* A boolean flag (NULL or "" is true): when true, *want becomes v. With
 * exclusive (the pair's names for the message), the other answer already
 * set is an error. */
static int add_bool(const char *name, const char *value, enum aq_want *want, enum aq_want v,
                    const char *exclusive, struct buf *err)
{
	bool on = true;

	if (value != NULL && *value != '\0' && !strconv_bool(value, &on))
		return bad_value(err, name, value, "want true or false");
	if (!on)
		return 0;
	if (exclusive && *want != AQ_ANY && *want != v) {
		buf_reset(err);
		(void)buf_printf(err, "%s exclude each other", exclusive);
		return -1;
	}
	*want = v;
	return 0;
}

static int add_allowed(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	return add_bool(name, value, &f->allowed, AQ_YES, "-allowed and -denied", err);
}

static int add_denied(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	return add_bool(name, value, &f->allowed, AQ_NO, "-allowed and -denied", err);
}

static int add_error(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	return add_bool(name, value, &f->error, AQ_YES, NULL, err);
}

typedef int (*filter_adder)(struct aq_filter *f, const char *name, const char *value, struct buf *err);

/* A flag's adder, or for a plain list of strings (add NULL) the offset of
 * the list in struct aq_filter. */
static const struct {
	const char *name;
	filter_adder add;
	size_t list;
} adders[] = {
    {"path", NULL, offsetof(struct aq_filter, paths)},
    {"display-name", NULL, offsetof(struct aq_filter, display_names)},
    {"entity", NULL, offsetof(struct aq_filter, entities)},
    {"role", NULL, offsetof(struct aq_filter, roles)},
    {"mount", add_mount, 0},
    {"token-hash", add_token_hash, 0},
    {"op", add_op, 0},
    {"remote", add_remote, 0},
    {"since", add_since, 0},
    {"until", add_until, 0},
    {"type", add_type, 0},
    {"allowed", add_allowed, 0},
    {"denied", add_denied, 0},
    {"error", add_error, 0},
};

int aq_filter_add(struct aq_filter *f, const char *name, const char *value, struct buf *err)
{
	size_t i;

	for (i = 0; name && i < sizeof(adders) / sizeof(adders[0]); i++) {
		if (strcmp(name, adders[i].name) != 0)
			continue;
		if (adders[i].add)
			return adders[i].add(f, name, value, err);
		return add_string(list_at(f, adders[i].list), name, value, err);
	}
	buf_reset(err);
	(void)buf_printf(err, "Unknown filter -%s", name ? name : "");
	return -1;
}
