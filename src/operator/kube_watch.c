/* kube_watch.c — the body of a watch answer split into events
 * (kube_int.h). The API server writes one JSON object per line,
 * {"type":"ADDED","object":{...}}, in chunks that cut lines anywhere; a
 * line is kept until its newline arrives, never past KUBE_MAX_EVENT. */
#include <string.h>

#include "err.h"
#include "operator/kube.h"
#include "operator/kube_int.h"

#include "banned.h"

void kube_watch_init(struct kube_watch_dec *d)
{
	buf_init_secret(&d->line, KUBE_MAX_EVENT);
}

void kube_watch_release(struct kube_watch_dec *d)
{
	buf_release_secret(&d->line);
}

static int one_event(const char *p, size_t n, kube_watch_fn fn, void *ctx, const char **why)
{
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
	json_t *ev, *obj;
	const char *type;
	size_t i;
	int r = TROVE_ERR_INVALID;

	for (i = 0; i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'); i++)
		;
	if (i == n)
		return 0;
	ev = json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL);
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	*why = "a watch event that is not JSON with a type and an object";
	for (i = 0; type && json_is_object(obj) && i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(type, names[i]) == 0) {
			r = fn(ctx, (enum kube_watch_type)i, obj);
			break;
		}
	if (type && json_is_object(obj) && i == sizeof(names) / sizeof(names[0]))
		*why = "a watch event of an unknown type";
	json_decref(ev);
	return r;
}

int kube_watch_feed(struct kube_watch_dec *d, const char *p, size_t n, kube_watch_fn fn, void *ctx,
                    const char **why)
{
	const char *nl;
	size_t take;
	int r;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		take = nl ? (size_t)(nl - p) : n;
		if (d->line.len == 0 && nl) {
			r = one_event(p, take, fn, ctx, why); /* a whole line: no copy */
		} else if (buf_append(&d->line, p, take) != 0) {
			*why = "a watch event larger than its limit";
			return TROVE_ERR_TOO_LARGE;
		} else if (nl) {
			r = one_event(d->line.data, d->line.len, fn, ctx, why);
			buf_reset(&d->line);
		} else {
			r = 0;
		}
		if (r != 0)
			return r;
		take += nl ? 1 : 0;
		p += take;
		n -= take;
	}
	return 0;
}
