/* libFuzzer target: what pkiCert reads back from a template's destination
 * (tpki_value_from_pem, src/agent/agent_templates_pki.c): any bytes, as a
 * file someone else may have written there. Nothing crashes or reads past
 * its input; a value found has a leaf certificate in PEM, and reading
 * that leaf again on its own finds the same leaf and validity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_templates_run.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t nb = 0, na = 0, nb2 = 0, na2 = 0;
	json_t *v, *again;
	const char *cert;

	if (size > 64 << 10)
		return 0;
	v = tpki_value_from_pem((const char *)data, size, &nb, &na);
	if (v == NULL)
		return 0;
	cert = json_string_value(json_object_get(v, "Cert"));
	if (cert == NULL || strncmp(cert, "-----BEGIN CERTIFICATE-----", 27) != 0)
		abort();
	if (!json_is_array(json_object_get(v, "CAChain")) || !json_is_object(json_object_get(v, "Data")))
		abort();
	again = tpki_value_from_pem(cert, strlen(cert), &nb2, &na2);
	if (again == NULL || strcmp(json_string_value(json_object_get(again, "Cert")), cert) != 0 || nb != nb2 ||
	    na != na2)
		abort();
	(void)tpki_refresh_ms(nb, na, nb + (na - nb) / 2, 0.9, 0.5);
	json_decref(again);
	json_decref(v);
	return 0;
}
