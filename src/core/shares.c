/* shares.c — collecting key shares (see shares.h). */
#include <stdlib.h>
#include <string.h>

#include "shares.h"

#include "err.h"
#include "secure.h"

#include "banned.h"

int share_set_add(struct share_set *s, const unsigned char *key, size_t len, size_t want_len,
                  const char *attempt, struct buf *err)
{
	if (len != want_len) {
		buf_printf(err, "invalid key length: a key share is %zu bytes", want_len);
		return TROVE_ERR_INVALID;
	}
	for (unsigned i = 0; i < s->n; i++) {
		if (secure_eq(s->shares[i], key, len)) {
			buf_printf(err, "this key share was already submitted in the current %s", attempt);
			return TROVE_ERR_INVALID;
		}
	}
	if (s->n >= SHAMIR_MAX_SHARES) {
		buf_append_str(err, "too many key shares");
		return TROVE_ERR_INVALID;
	}
	s->shares[s->n] = xmalloc(len);
	memcpy(s->shares[s->n], key, len);
	s->share_len = len;
	s->n++;
	return 0;
}

int share_set_combine(const struct share_set *s, unsigned char *out)
{
	if (s->n == 0)
		return TROVE_ERR_INVALID;
	return shamir_combine((const unsigned char *const *)s->shares, s->n, s->share_len, out);
}

void share_set_clear(struct share_set *s)
{
	for (unsigned i = 0; i < s->n; i++) {
		secure_free(s->shares[i], s->share_len);
		s->shares[i] = NULL;
	}
	s->n = 0;
	s->share_len = 0;
}
