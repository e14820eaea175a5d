/* pki.h — what the `trove pki` commands share (pki.c, pki_cert.c,
 * pki_issue.c, pki_health*.c): reading an issuer through the API, and
 * comparing two certificates the way Vault's `pki verify-sign` does.
 * Certificates arrive as PEM in API answers and are parsed with OpenSSL
 * here, on the client; nothing is trusted because the server said so. */
#ifndef TROVE_CLI_PKI_H
#define TROVE_CLI_PKI_H

#include <stdbool.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "cli/cli.h"

/* An issuer (or any path answering "certificate" and "ca_chain") as read. */
struct pki_issuer_read {
	X509 *cert;             /* data.certificate; owned */
	STACK_OF(X509) * chain; /* data.ca_chain, in order; owned, never NULL after a read */
	json_t *data;           /* the data object as answered; owned */
};

/* GETs path and parses data.certificate (required) and data.ca_chain (a
 * list of PEM strings, each possibly holding several certificates; absent
 * is empty). Returns 0 with *out filled (release it), or CLI_EXIT_REMOTE
 * after printing "Error <doing>: ..." (the API error, or which field is
 * missing or does not parse). */
int pki_read_issuer(struct cli *cli, const char *doing, const char *path, struct pki_issuer_read *out);
void pki_issuer_read_release(struct pki_issuer_read *ir);

/* The first certificate of a PEM text, or NULL when none parses. The
 * caller frees it with X509_free. */
X509 *pki_cert_from_pem(const char *pem);
/* Appends every certificate of a PEM text to chain. Returns how many, or
 * -1 when the text holds something that is not a certificate. */
int pki_certs_from_pem(const char *pem, STACK_OF(X509) * chain);

/* Vault's five relations between a possible issuer and an issued
 * certificate (pki verify-sign, pki list-intermediates). */
struct pki_sign_match {
	bool key_id_match; /* issued's authority key id equals issuer's subject key id (both absent counts) */
	bool path_match;   /* issuer's certificate is one of issued's ca_chain, byte for byte */
	bool signature_match; /* issuer is a CA and its key verifies issued's signature */
	bool subject_match;   /* issuer's subject equals issued's issuer, DER for DER */
	bool trust_match;     /* trusting issuer alone, issued verifies (validity included) */
};

/* Fills m for issuer and issued (issued_chain is its ca_chain; may be
 * NULL). Never fails: what cannot be checked is false. */
void pki_verify_sign(X509 *issuer, X509 *issued, STACK_OF(X509) * issued_chain, struct pki_sign_match *m);
/* The relations as a JSON object, keys sorted as Vault prints them. */
json_t *pki_sign_match_json(const struct pki_sign_match *m);

/* An issuer argument as Vault's commands clean it: surrounding blanks and
 * slashes dropped. Free the result. */
char *pki_clean_path(const char *arg);

/* The commands (pki_issue.c, pki_health_cmd.c). */
extern const struct cli_command pki_issue_spec, pki_health_check_spec;
int pki_cmd_issue(int argc, char **argv);
int pki_cmd_health_check(int argc, char **argv);

#endif
