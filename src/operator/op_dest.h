/* op_dest.h — the destination Secret of a VaultStaticSecret,
 * VaultDynamicSecret or VaultPKISecret: its data built from a Trove answer
 * as Vault Secrets Operator builds it, the transformation applied, its
 * canonical MAC, and the Secret object written to the API server.
 *
 * Data is a JSON object of key -> string holding the value's bytes (a
 * jansson string may hold any bytes with its length): a string value as
 * it is, any other value as Go's encoding/json writes it (keys sorted, no
 * spaces, <, > and & escaped), and "_raw" the whole answer so written,
 * unless the transformation sets excludeRaw. Templates see .Secrets (the
 * values), .Metadata (kv-v2's metadata), .Annotations and .Labels (the
 * resource's). */
#ifndef TROVE_OPERATOR_OP_DEST_H
#define TROVE_OPERATOR_OP_DEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "operator/op.h"
#include "operator/op_vault.h"

#define OP_RAW_KEY "_raw"
#define OP_OWNER_UID_LABEL "secrets.hashicorp.com/vso-ownerRefUID"

struct tmpl;
struct rx;

/* spec.destination.transformation, parsed. */
struct op_transform {
	size_t ntemplates;
	char **keys;          /* the data key each template renders */
	struct tmpl **tmpls;  /* parsed */
	size_t nincludes, nexcludes;
	struct rx **includes, **excludes; /* Go's expressions (lib/rx.h), unanchored */
	bool exclude_raw;
};

/* Parses dest (spec.destination; NULL: none). transformationRefs are
 * refused (SecretTransformation resources are not supported): rather no
 * Secret than one without the transformation its author asked for.
 * 0, or TROVE_ERR_INVALID with *err naming the field. Release either way. */
int op_transform_parse(const json_t *dest, struct op_transform *out, char **err);
void op_transform_release(struct op_transform *t);

/* The destination's data: secrets (the values, an object; NULL: none),
 * raw (what "_raw" holds; NULL: null), metadata (for templates; NULL: {}),
 * obj (the resource: its annotations and labels for templates). 0 with
 * *out (a new object; free with api_json_free_secret), or an error with
 * *err (a template failed, a value or template collides with "_raw"). */
int op_dest_data(const json_t *secrets, const json_t *raw, const json_t *metadata, const json_t *obj,
                 const struct op_transform *t, json_t **out, char **err);

/* v written as Go's json.Marshal writes it (heap; the caller wipes it
 * when secret). NULL only on allocation failure. */
char *op_go_json(const json_t *v);

/* The canonical text VSO MACs: Go's JSON of the data as a map of byte
 * slices, {"key":"<base64 of the bytes>",...} with keys sorted. Heap;
 * the caller wipes and frees. */
char *op_dest_canonical(const json_t *data);

/* base64 HMAC-SHA256 of op_dest_canonical(data) under key into out (at
 * least 45 bytes). 0, or TROVE_ERR_INTERNAL. */
int op_dest_mac(const unsigned char *key, size_t key_len, const json_t *data, char *out);

/* The data of a Secret object (base64 values) decoded to op_dest's form.
 * A new object ({} when the Secret has none); NULL when a value is not
 * base64. */
json_t *op_secret_data(const json_t *secret);

/* Whether secret carries VSO's owner labels (managed-by, name,
 * component). */
bool op_dest_has_owner_labels(const json_t *secret);
/* Whether secret is obj's: owner labels and an ownerReference with obj's
 * uid. */
bool op_dest_owned_by(const json_t *secret, const json_t *obj);

/* The Secret to write for obj (its kind), spec.destination dest and data:
 * name, namespace, labels (dest's, then VSO's owner labels over them),
 * annotations, type (default Opaque), an ownerReference to obj
 * (controller), data base64-encoded; with existing's resourceVersion when
 * existing is not NULL. A new object (free with api_json_free_secret). */
json_t *op_dest_secret(const json_t *obj, enum op_kind kind, const json_t *dest, const json_t *data,
                       const json_t *existing);

/* Writes data to obj's destination (op_dest.c): create, or replace with
 * the read resourceVersion (a 409 re-reads and tries again, three times);
 * create: false and the Secret absent is an error, as is a Secret owned
 * by another (unless overwrite and it has no owner labels); a changed
 * type deletes and creates. With create: false only the data is
 * replaced. clear: write empty data instead (data ignored). 0, or an error
 * with f ("SecretSyncError"). */
int op_dest_write(struct op *o, enum op_kind kind, const json_t *obj, const json_t *data, struct op_fail *f);

/* GETs obj's destination and returns its data's MAC in out ("" when the
 * Secret is absent). 0, or an error with f. */
int op_dest_read_mac(struct op *o, const json_t *obj, char *out, struct op_fail *f);

#endif
