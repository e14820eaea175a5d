/* body_buffer.c — see body_buffer.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "body_buffer.h"
#include "picohttp.h"

#include "banned.h"

/* h2o's own limit (H2O_MAX_HEADERS): a head with more is refused by h2o. */
#define HEADERS_MAX 100
/* What h2o_buffer_reserve asks for before every read. */
#define READ_ROOM 4096

static bool name_is(const struct phr_header *h, const char *name)
{
	size_t n = strlen(name);
	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

size_t body_buffer_request_size(const char *bytes, size_t len, size_t max_body)
{
	struct phr_header h[HEADERS_MAX];
	size_t nh = HEADERS_MAX, ml, pl, length = SIZE_MAX;
	const char *m, *p;
	int minor;
	int head = phr_parse_request(bytes, len, &m, &ml, &p, &pl, &minor, h, &nh, 0);

	if (head <= 0)
		return 0;
	for (size_t i = 0; i < nh; i++) {
		if (name_is(&h[i], "transfer-encoding"))
			return 0;
		if (name_is(&h[i], "content-length")) {
			/* h2o's reading of the value: digits only, SIZE_MAX if not */
			length = h2o_strtosize(h[i].value, h[i].value_len);
			if (length == SIZE_MAX)
				return 0;
		}
	}
	if (length == SIZE_MAX || length > max_body)
		return 0;
	return (size_t)head + length;
}

bool body_buffer_fit(h2o_buffer_t **input, size_t max_body)
{
	h2o_buffer_t *in = *input, *nb;
	size_t want, room;

	if (in->size < BODY_BUFFER_MIN)
		return false;
	want = body_buffer_request_size(in->bytes, in->size, max_body);
	room = in->capacity - (size_t)(in->bytes - in->_buf);
	if (want <= in->size || want + READ_ROOM <= room)
		return true;
	if (in->size < want / 4)
		return false;
	/* h2o_buffer_reserve's own move, to an exact size rather than the
	 * next power of two: a buffer of neither the prototype's capacity
	 * nor a file's is released by h2o with free(). */
	nb = malloc(offsetof(h2o_buffer_t, _buf) + want + READ_ROOM);
	if (!nb)
		return true;
	nb->capacity = want + READ_ROOM;
	nb->size = in->size;
	nb->bytes = nb->_buf;
	nb->_prototype = in->_prototype;
	nb->_fd = -1;
	memcpy(nb->_buf, in->bytes, in->size);
	h2o_buffer__do_free(in);
	*input = nb;
	return true;
}
