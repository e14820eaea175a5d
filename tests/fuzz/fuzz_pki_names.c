/* libFuzzer target: a PKI role read from JSON (pki_role_apply_json and
 * pki_role_validate) and the name policy (pki_names_check) over the names
 * a request asks for. The input is the role's JSON on the first line,
 * then one line each for the common name, the alt names, the IP SANs,
 * the URI SANs and the other SANs (comma-separated), and the subject
 * serial number. Nothing crashes or leaks; a refused request names what
 * it refused; an accepted one returns canonical names that pass the
 * policy again as they are (checking is idempotent), DNS names that are
 * host names in lower case, and nothing when the role was invalid. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "engines/pki/names.h"
#include "engines/pki/role.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void split(struct strlist *l, const char *s)
{
	strlist_init(l);
	while (s && *s) {
		const char *c = strchr(s, ',');
		size_t n = c ? (size_t)(c - s) : strlen(s);
		strlist_push_owned(l, xstrndup(s, n));
		s = c ? c + 1 : NULL;
	}
}

/* The next line of *p (cut in place), or "" at the end. */
static char *line(char **p)
{
	char *s = *p, *nl = strchr(s, '\n');
	if (nl) {
		*nl = '\0';
		*p = nl + 1;
	} else {
		*p = s + strlen(s);
	}
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char *p = text;
	const char *role_json = line(&p);
	const char *cn = line(&p), *alt = line(&p), *ips = line(&p), *uris = line(&p), *others = line(&p);
	const char *serial = line(&p);

	struct pki_role r;
	struct buf why;
	buf_init(&why, 4096);
	pki_role_init(&r);
	json_t *o = json_loads(role_json, JSON_DECODE_ANY, NULL);
	bool ok = o && pki_role_apply_json(&r, o, &why) == 0 && pki_role_validate(&r, &why) == 0;
	json_decref(o);
	if (ok) {
		json_t *j = pki_role_to_json(&r);
		struct pki_role back;
		pki_role_init(&back);
		buf_reset(&why);
		if (pki_role_apply_json(&back, j, &why) != 0 || pki_role_validate(&back, &why) != 0)
			abort(); /* a stored role loads again */
		json_t *j2 = pki_role_to_json(&back);
		if (!json_equal(j, j2))
			abort(); /* and is the same role */
		json_decref(j);
		json_decref(j2);
		pki_role_release(&back);

		struct strlist a, i, u, ot;
		split(&a, alt);
		split(&i, ips);
		split(&u, uris);
		split(&ot, others);
		struct pki_name_request in = {.common_name = cn,
					      .alt_names = &a,
					      .ip_sans = &i,
					      .uri_sans = &u,
					      .other_sans = &ot,
					      .serial_number = serial};
		struct pki_names n, again;
		pki_names_init(&n);
		pki_names_init(&again);
		buf_reset(&why);
		int rc = pki_names_check(&r, &in, &n, &why);
		if (rc != 0 && (rc != TROVE_ERR_INVALID || !n.refused || !why.data))
			abort(); /* a refusal says what and why */
		if (rc == 0) {
			for (size_t k = 0; k < n.dns.len; k++) {
				if (!pki_hostname_ok(n.dns.items[k], true))
					abort();
				for (const char *c = n.dns.items[k]; *c; c++)
					if (isupper((unsigned char)*c))
						abort(); /* canonical */
			}
			/* the canonical names pass as they are */
			struct pki_name_request in2 = {.common_name = n.common_name,
						       .alt_names = &n.dns,
						       .ip_sans = &n.ips,
						       .uri_sans = &n.uris,
						       .other_sans = &n.other_sans,
						       .serial_number = n.serial_number};
			struct strlist both;
			strlist_init(&both);
			for (size_t k = 0; k < n.dns.len; k++)
				strlist_push(&both, n.dns.items[k]);
			for (size_t k = 0; k < n.emails.len; k++)
				strlist_push(&both, n.emails.items[k]);
			in2.alt_names = &both;
			buf_reset(&why);
			if (pki_names_check(&r, &in2, &again, &why) != 0)
				abort();
			strlist_release(&both);
		}
		pki_names_release(&n);
		pki_names_release(&again);
		strlist_release(&a);
		strlist_release(&i);
		strlist_release(&u);
		strlist_release(&ot);
	}
	pki_role_release(&r);
	buf_release(&why);
	free(text);
	return 0;
}
