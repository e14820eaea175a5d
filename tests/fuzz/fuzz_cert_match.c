/* libFuzzer target: the auth/cert constraint matchers (auth/cert_match.c)
 * over a client certificate in DER, the bytes a TLS client chooses. No
 * crash, leak or read past the input; an empty list allows every
 * certificate; "*" matches any CN (an empty one too), so allowed_names
 * and allowed_common_names of "*" always match; extension metadata holds
 * only strings under keys without dots. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "auth/cert_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	X509 *leaf;

	if (size > 64 << 10 || !(leaf = d2i_X509(NULL, &p, (long)size)))
		return 0;
	json_t *empty = json_array(), *star = json_pack("[s]", "*"),
	       *some = json_pack("[s,s]", "a*b", "*.example.com");
	json_t *exts = json_pack("[s,s]", "1.3.6.1.4.1.55555.1:*", "2.5.29.17:*");
	json_t *meta_oids = json_pack("[s,s,s]", "1.3.6.1.4.1.55555.1", "2.5.29.17", "2.5.29.14");
	json_t *meta = json_object();

	if (!cert_match_names(leaf, empty) || !cert_match_cn(leaf, empty) || !cert_match_dns(leaf, empty) ||
	    !cert_match_email(leaf, empty) || !cert_match_uri(leaf, empty) || !cert_match_ou(leaf, empty) ||
	    !cert_match_extensions(leaf, empty))
		abort();
	if (!cert_match_cn(leaf, star) || !cert_match_names(leaf, star))
		abort();
	(void)cert_match_dns(leaf, some);
	(void)cert_match_email(leaf, some);
	(void)cert_match_uri(leaf, some);
	(void)cert_match_ou(leaf, some);
	(void)cert_match_extensions(leaf, exts);
	cert_extension_metadata(leaf, meta_oids, meta);
	const char *k;
	json_t *v;
	json_object_foreach(meta, k, v)
	{
		if (!json_is_string(v) || strchr(k, '.'))
			abort();
	}
	char cn[1024];
	cert_subject_cn(leaf, cn, sizeof(cn));
	if (strlen(cn) >= sizeof(cn))
		abort();

	json_decref(meta);
	json_decref(meta_oids);
	json_decref(exts);
	json_decref(some);
	json_decref(star);
	json_decref(empty);
	X509_free(leaf);
	return 0;
}
