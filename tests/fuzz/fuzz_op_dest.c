/* libFuzzer target: what the operator's reconcilers read from the API
 * server and Trove (src/operator/op_dest_data.c, op_vault_spec.c). The
 * input is JSON: {"secrets": a Trove answer's data, "raw": _raw's value,
 * "dest": spec.destination, "obj": a resource (its spec read as a
 * VaultAuth and a VaultConnection, its metadata for templates), "secret":
 * a Secret object, "ref": a reference}. Templates are left out (the
 * template language has its own target). A refusal always says why;
 * otherwise the destination's data survives the trip through a Secret
 * object (base64) with the same MAC. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "operator/op_dest.h"
#include "operator/op_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The runtime's (op.h); the target links no runtime. */
const char *const OP_KIND_NAMES[OP_NKINDS] = {"VaultConnection", "VaultAuth", "VaultStaticSecret",
                                              "VaultDynamicSecret", "VaultPKISecret"};

static const unsigned char KEY[16] = "fuzz-hmac-key-16";

static void specs(const json_t *obj, const json_t *ref)
{
	struct op_auth_spec a;
	struct op_conn_spec c;
	struct op_ref r;
	char *err = NULL;

	if (op_auth_spec_parse(obj, &a, &err) != 0 && err == NULL)
		abort();
	free(err);
	err = NULL;
	op_auth_spec_release(&a);
	if (op_conn_spec_parse(obj, &c, &err) != 0 && err == NULL)
		abort();
	free(err);
	err = NULL;
	op_conn_spec_release(&c);
	(void)op_auth_allows_namespace(obj, "trove-system", "app");
	if (json_is_string(ref)) {
		if (op_ref_parse(json_string_value(ref), "app", "trove-system", &r, &err) == 0) {
			if (!r.ns || !r.name || strchr(r.name, '/'))
				abort();
			op_ref_release(&r);
		} else if (err == NULL)
			abort();
		free(err);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *in = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	json_t *dest, *out = NULL, *secret, *back;
	struct op_transform t;
	char *err = NULL, mac1[64], mac2[64];

	if (in == NULL)
		return 0;
	specs(json_object_get(in, "obj"), json_object_get(in, "ref"));
	back = op_secret_data(json_object_get(in, "secret"));
	json_decref(back);
	dest = json_deep_copy(json_object_get(in, "dest"));
	json_object_del(json_object_get(dest, "transformation"), "templates");
	if (op_transform_parse(dest, &t, &err) != 0) {
		if (err == NULL)
			abort();
		goto out;
	}
	if (op_dest_data(json_is_object(json_object_get(in, "secrets")) ? json_object_get(in, "secrets") : NULL,
	                 json_object_get(in, "raw"), NULL, json_object_get(in, "obj"), &t, &out, &err) != 0) {
		if (err == NULL)
			abort();
		goto out;
	}
	secret = op_dest_secret(json_object_get(in, "obj"), OP_STATIC_SECRET, dest, out, NULL);
	back = op_secret_data(secret);
	if (back == NULL || !json_equal(back, out))
		abort();
	if (op_dest_mac(KEY, sizeof(KEY), out, mac1) != 0 || op_dest_mac(KEY, sizeof(KEY), back, mac2) != 0 ||
	    strcmp(mac1, mac2) != 0)
		abort();
	json_decref(back);
	json_decref(secret);
out:
	op_transform_release(&t);
	free(err);
	json_decref(out);
	json_decref(dest);
	json_decref(in);
	return 0;
}
