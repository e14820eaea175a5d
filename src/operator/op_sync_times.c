/* op_sync_times.c — when leases are renewed and certificates re-issued,
 * and how a PKI answer becomes a destination's data, as VSO does both
 * (op_sync.h). Pure (tests/unit/test_op_sync.c). */
#include <string.h>

#include "operator/op_sync.h"
#include "strhash.h"

#include "banned.h"

#define MIN_MS 1000L

long op_lease_renew_ms(long duration_s, long renewal_percent)
{
	long pct = renewal_percent <= 0 ? 67 : renewal_percent > 90 ? 90 : renewal_percent;
	long ms;

	if (duration_s <= 0)
		return MIN_MS;
	if (duration_s > 100L * 365 * 86400)
		duration_s = 100L * 365 * 86400;
	ms = duration_s * 10 * pct; /* duration_s * 1000 * pct / 100 */
	return ms < MIN_MS ? MIN_MS : ms;
}

long op_pki_renew_ms(long expiration_s, long offset_s, long now_s)
{
	long left = expiration_s - offset_s - now_s;

	if (left <= 0 || left > 100L * 365 * 86400)
		return left <= 0 ? MIN_MS : 100L * 365 * 86400 * 1000;
	return left * 1000 < MIN_MS ? MIN_MS : left * 1000;
}

long op_spread_ms(long ms, const char *key)
{
	long cut = ms / 10;

	if (cut <= 0)
		return ms;
	return ms - (long)(str_hash(key ? key : "") % (uint64_t)(cut + 1));
}

static const char *str(const json_t *data, const char *key, size_t *n)
{
	const json_t *v = json_object_get(data, key);

	*n = json_string_length(v);
	return json_is_string(v) && *n > 0 ? json_string_value(v) : NULL;
}

void op_pki_shape(json_t *data, const json_t *answer_data, bool tls)
{
	const json_t *chain = json_object_get(answer_data, "ca_chain"), *v;
	const char *cert, *key, *ca;
	size_t i, ncert, nkey, nca;
	struct buf b;

	if (json_is_array(chain) && json_array_size(chain) > 0 && json_object_get(data, "ca_chain")) {
		buf_init_secret(&b, (size_t)16 << 20);
		json_array_foreach (chain, i, v) {
			if (i > 0)
				(void)buf_append_byte(&b, '\n');
			(void)buf_append_str(&b, json_string_value(v) ? json_string_value(v) : "");
		}
		json_object_set_new(data, "ca_chain", json_stringn_nocheck(b.data, b.len));
		buf_release_secret(&b);
	}
	if (!tls)
		return;
	cert = str(data, "certificate", &ncert);
	key = str(data, "private_key", &nkey);
	ca = str(data, "ca_chain", &nca);
	if (ca == NULL && (ca = str(data, "issuing_ca", &nca)) != NULL)
		json_object_set_new(data, "ca.crt", json_stringn_nocheck(ca, nca));
	if (key)
		json_object_set_new(data, "tls.key", json_stringn_nocheck(key, nkey));
	if (cert) {
		buf_init_secret(&b, (size_t)16 << 20);
		(void)buf_append(&b, cert, ncert);
		if (ca) {
			(void)buf_append_byte(&b, '\n');
			(void)buf_append(&b, ca, nca);
		}
		json_object_set_new(data, "tls.crt", json_stringn_nocheck(b.data, b.len));
		buf_release_secret(&b);
	}
}
