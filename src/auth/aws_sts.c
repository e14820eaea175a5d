/* aws_sts.c — what STS answered, read strictly: a small, bounded walker
 * over the XML of a GetCallerIdentityResponse (or an error), the caller's
 * ARN and the role's ARN bindings (aws.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "aws.h"

#include "err.h"

#include "banned.h"

#define XML_DEPTH_MAX 8
#define XML_ELEMENTS_MAX 64
#define XML_NAME_MAX 64

/* Called with the decoded text directly inside the element at the top of
 * stack (depth elements deep); text is NULL when it is longer than the
 * walker decodes (1 KiB). Returns false to stop the walk. */
typedef bool (*xml_text_fn)(void *ctx, char stack[][XML_NAME_MAX + 1], int depth, const char *text, size_t n);
/* Called when an element opens (its name at stack[depth-1]). */
typedef bool (*xml_open_fn)(void *ctx, char stack[][XML_NAME_MAX + 1], int depth);

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' || c == ':';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Decodes the text s[0..n) (the five predefined entities only) into out
 * (n+1 bytes). False on any other '&' or a '>' outside an entity. */
static bool xml_unescape(const char *s, size_t n, char *out, size_t *out_len)
{
	static const struct {
		const char *ent;
		char c;
	} ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] == '&') {
			size_t k;
			for (k = 0; k < sizeof(ents) / sizeof(ents[0]); k++) {
				size_t el = strlen(ents[k].ent);
				if (n - i >= el && memcmp(s + i, ents[k].ent, el) == 0) {
					out[o++] = ents[k].c;
					i += el;
					break;
				}
			}
			if (k == sizeof(ents) / sizeof(ents[0]))
				return false;
		} else if (s[i] == '\0') {
			return false;
		} else {
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	*out_len = o;
	return true;
}

/* Walks the one root element of xml[0..n) (after an optional XML
 * declaration and blanks), calling on_open and on_text. 0, or
 * TROVE_ERR_INVALID for anything outside the small subset STS writes. */
static int xml_walk(const char *xml, size_t n, xml_open_fn on_open, xml_text_fn on_text, void *ctx)
{
	char stack[XML_DEPTH_MAX][XML_NAME_MAX + 1];
	char text[1024];
	const char *p = xml, *end = xml + n;
	int depth = 0, elements = 0;
	bool root_done = false;

	while (p < end && is_blank(*p))
		p++;
	if (end - p >= 5 && memcmp(p, "<?xml", 5) == 0) {
		const char *q = p + 5;
		while (q + 1 < end && !(q[0] == '?' && q[1] == '>'))
			q++;
		if (q + 1 >= end)
			return TROVE_ERR_INVALID;
		p = q + 2;
	}
	while (p < end) {
		if (*p != '<') {
			const char *q = memchr(p, '<', (size_t)(end - p));
			size_t len = q ? (size_t)(q - p) : (size_t)(end - p);
			if (depth == 0) {
				for (size_t i = 0; i < len; i++)
					if (!is_blank(p[i]))
						return TROVE_ERR_INVALID;
			} else {
				size_t dl = len;
				/* a long text (an error's message) is passed as NULL */
				bool fits = len < sizeof(text);
				if (fits && !xml_unescape(p, len, text, &dl))
					return TROVE_ERR_INVALID;
				if (on_text && !on_text(ctx, stack, depth, fits ? text : NULL, dl))
					return TROVE_ERR_INVALID;
			}
			p += len;
			continue;
		}
		p++;
		if (p >= end || *p == '!' || *p == '?')
			return TROVE_ERR_INVALID; /* comments, CDATA, DOCTYPE, PIs */
		bool closing = *p == '/';
		if (closing)
			p++;
		const char *name = p;
		while (p < end && is_name_char(*p))
			p++;
		size_t nl = (size_t)(p - name);
		if (nl == 0 || nl > XML_NAME_MAX)
			return TROVE_ERR_INVALID;
		if (closing) {
			while (p < end && is_blank(*p))
				p++;
			if (p >= end || *p != '>' || depth == 0 || strlen(stack[depth - 1]) != nl ||
			    memcmp(stack[depth - 1], name, nl) != 0)
				return TROVE_ERR_INVALID;
			p++;
			if (--depth == 0)
				root_done = true;
			continue;
		}
		if (root_done || depth == XML_DEPTH_MAX || ++elements > XML_ELEMENTS_MAX)
			return TROVE_ERR_INVALID;
		memcpy(stack[depth], name, nl);
		stack[depth][nl] = '\0';
		depth++;
		/* attributes: name="value" or name='value', no '<' or '&' */
		for (;;) {
			const char *b = p;
			while (p < end && is_blank(*p))
				p++;
			if (p >= end)
				return TROVE_ERR_INVALID;
			if (*p == '>' || (*p == '/' && p + 1 < end && p[1] == '>'))
				break;
			if (p == b)
				return TROVE_ERR_INVALID;
			const char *an = p;
			while (p < end && is_name_char(*p))
				p++;
			if (p == an || p + 1 >= end || *p != '=' || (p[1] != '"' && p[1] != '\''))
				return TROVE_ERR_INVALID;
			char quote = p[1];
			p += 2;
			while (p < end && *p != quote && *p != '<' && *p != '&')
				p++;
			if (p >= end || *p != quote)
				return TROVE_ERR_INVALID;
			p++;
		}
		if (on_open && !on_open(ctx, stack, depth))
			return TROVE_ERR_INVALID;
		if (*p == '/') { /* <empty/> */
			p += 2;
			if (--depth == 0)
				root_done = true;
		} else {
			p++;
		}
	}
	return root_done && depth == 0 ? 0 : TROVE_ERR_INVALID;
}

/* --- GetCallerIdentityResponse ---------------------------------------------- */

struct identity_walk {
	struct aws_caller *out;
	bool seen[3];
};

static const char *const identity_fields[3] = {"Arn", "UserId", "Account"};

static int identity_field(char stack[][XML_NAME_MAX + 1], int depth)
{
	if (depth != 3 || strcmp(stack[1], "GetCallerIdentityResult") != 0)
		return -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(stack[2], identity_fields[i]) == 0)
			return i;
	return -1;
}

static bool identity_open(void *ctx, char stack[][XML_NAME_MAX + 1], int depth)
{
	struct identity_walk *w = ctx;
	if (depth == 1)
		return strcmp(stack[0], "GetCallerIdentityResponse") == 0;
	if (depth == 4 && identity_field(stack, 3) >= 0)
		return false; /* no element inside Arn, UserId, Account */
	int f = identity_field(stack, depth);
	if (f < 0)
		return true;
	if (w->seen[f])
		return false; /* each exactly once */
	w->seen[f] = true;
	return true;
}

static bool identity_text(void *ctx, char stack[][XML_NAME_MAX + 1], int depth, const char *text, size_t n)
{
	struct identity_walk *w = ctx;
	int f = identity_field(stack, depth);
	if (f < 0)
		return true;
	char *dst = f == 0 ? w->out->arn : f == 1 ? w->out->user_id : w->out->account;
	size_t cap = f == 0   ? sizeof(w->out->arn)
	             : f == 1 ? sizeof(w->out->user_id)
	                      : sizeof(w->out->account);
	size_t have = strlen(dst);
	if (!text || have + n >= cap)
		return false;
	memcpy(dst + have, text, n);
	dst[have + n] = '\0';
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int aws_sts_identity_parse(const char *xml, size_t n, struct aws_caller *out)
{
	struct identity_walk w = {.out = out};
	memset(out, 0, sizeof(*out));
	int r = xml_walk(xml, n, identity_open, identity_text, &w);
	if (r == 0 && !(out->arn[0] && out->user_id[0] && out->account[0] && printable(out->arn) &&
	                printable(out->user_id) && printable(out->account)))
		r = TROVE_ERR_INVALID;
	if (r != 0)
		memset(out, 0, sizeof(*out));
	return r;
}

/* --- errors ------------------------------------------------------------------- */

struct error_walk {
	char *out;
	size_t cap;
};

static bool error_text(void *ctx, char stack[][XML_NAME_MAX + 1], int depth, const char *text, size_t n)
{
	struct error_walk *w = ctx;
	if (!text || depth < 2 || strcmp(stack[depth - 1], "Code") != 0 ||
	    strcmp(stack[depth - 2], "Error") != 0)
		return true;
	size_t have = strlen(w->out);
	for (size_t i = 0; i < n && have + 1 < w->cap; i++)
		if (isalnum((unsigned char)text[i]) || text[i] == '.')
			w->out[have++] = text[i];
	w->out[have] = '\0';
	return true;
}

void aws_sts_error_code(const char *xml, size_t n, char *out, size_t cap)
{
	struct error_walk w = {out, cap};
	if (cap == 0)
		return;
	out[0] = '\0';
	if (xml_walk(xml, n, NULL, error_text, &w) != 0)
		out[0] = '\0';
}

/* --- ARNs ------------------------------------------------------------------------ */

int aws_arn_parse(const char *arn, struct aws_principal *out)
{
	const char *part[6];
	size_t len[6];
	const char *p = arn;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < 6; i++) {
		const char *c = i < 5 ? strchr(p, ':') : p + strlen(p);
		if (!c)
			return TROVE_ERR_INVALID;
		part[i] = p;
		len[i] = (size_t)(c - p);
		p = c + (i < 5 ? 1 : 0);
	}
	if (len[0] != 3 || memcmp(part[0], "arn", 3) != 0 || len[1] == 0 ||
	    len[1] >= sizeof(out->partition) || len[3] != 0 || len[4] == 0 ||
	    len[4] >= sizeof(out->account) || len[5] == 0 || len[5] > AWS_ARN_MAX)
		return TROVE_ERR_INVALID;
	for (size_t i = 0; i < len[4]; i++)
		if (!isdigit((unsigned char)part[4][i]))
			return TROVE_ERR_INVALID;
	memcpy(out->partition, part[1], len[1]);
	memcpy(out->account, part[4], len[4]);
	bool iam = len[2] == 3 && memcmp(part[2], "iam", 3) == 0;
	out->sts = len[2] == 3 && memcmp(part[2], "sts", 3) == 0;
	/* resource: type/[path/]name, or assumed-role/role/session */
	const char *res = part[5];
	const char *slash = strchr(res, '/');
	const char *last = strrchr(res, '/');
	if (!slash || (size_t)(slash - res) >= sizeof(out->type) || !last[1])
		return TROVE_ERR_INVALID;
	memcpy(out->type, res, (size_t)(slash - res));
	for (const char *c = res; *c; c++)
		if (c[0] == '/' && c[1] == '/')
			return TROVE_ERR_INVALID;
	if (iam && (strcmp(out->type, "user") == 0 || strcmp(out->type, "role") == 0)) {
		snprintf(out->friendly, sizeof(out->friendly), "%s", last + 1);
		return 0;
	}
	if (out->sts && strcmp(out->type, "assumed-role") == 0) {
		const char *role = slash + 1, *sep = strchr(role, '/');
		if (!sep || sep == role || strchr(sep + 1, '/'))
			return TROVE_ERR_INVALID;
		snprintf(out->friendly, sizeof(out->friendly), "%.*s", (int)(sep - role), role);
		snprintf(out->session, sizeof(out->session), "%s", sep + 1);
		return 0;
	}
	return TROVE_ERR_INVALID;
}

void aws_arn_canonical(const struct aws_principal *p, char *out, size_t cap)
{
	snprintf(out, cap, "arn:%s:iam::%s:%s/%s", p->partition, p->account,
	         strcmp(p->type, "assumed-role") == 0 ? "role" : p->type, p->friendly);
}

bool aws_arn_bound(const struct strlist *bound, const char *client_arn, const char *canonical)
{
	bool client_has_path = strncmp(client_arn, "arn:", 4) == 0 && strstr(client_arn, ":iam::") != NULL;
	for (size_t i = 0; i < bound->len; i++) {
		const char *b = bound->items[i];
		size_t n = strlen(b);
		if (n > 0 && b[n - 1] == '*') {
			if (strncmp(canonical, b, n - 1) == 0 ||
			    (client_has_path && strncmp(client_arn, b, n - 1) == 0))
				return true;
		} else if (strcmp(b, canonical) == 0) {
			return true;
		}
	}
	return false;
}
