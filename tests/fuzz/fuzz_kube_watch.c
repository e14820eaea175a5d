/* libFuzzer target: the watch event stream decoder (src/operator/
 * kube_watch.c). Any bytes, fed whole and then cut into pieces whose
 * sizes the input's first byte picks: no crash or leak; every event has
 * an object; the pieces give the same events and the same outcome as the
 * whole, and a failure says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "operator/kube_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	char types[256];
	size_t n;
};

static int note(void *ctx, enum kube_watch_type type, json_t *obj)
{
	struct seen *s = ctx;

	if (!json_is_object(obj) || (unsigned)type > KUBE_W_ERROR)
		abort();
	if (s->n < sizeof(s->types))
		s->types[s->n] = (char)('A' + type);
	s->n++;
	return 0;
}

static int run(const char *p, size_t n, size_t step, struct seen *s)
{
	struct kube_watch_dec d;
	const char *why = NULL;
	size_t i, take;
	int r = 0;

	memset(s, 0, sizeof(*s));
	kube_watch_init(&d);
	for (i = 0; r == 0 && i < n; i += take) {
		take = n - i < step ? n - i : step;
		r = kube_watch_feed(&d, p + i, take, note, s, &why);
	}
	kube_watch_release(&d);
	if (r != 0 && why == NULL)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, cut;
	size_t step;
	int a, b;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 16 + 1;
	a = run((const char *)data + 1, size - 1, size, &whole);
	b = run((const char *)data + 1, size - 1, step, &cut);
	if (a != b || whole.n != cut.n || memcmp(whole.types, cut.types, whole.n < 256 ? whole.n : 256) != 0)
		abort();
	return 0;
}
