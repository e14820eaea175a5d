/* dns_txt.h — the TXT records of a DNS answer (RFC 1035 section 4), read
 * from the untrusted bytes a resolver sent back. */
#ifndef TROVE_ACME_DNS_TXT_H
#define TROVE_ACME_DNS_TXT_H

#include <stddef.h>

#include "buf.h"

#define DNS_TXT_MAX_RECORDS 64

/* Reads the DNS message msg[0..len): a response (QR set) with RCODE 0,
 * its questions skipped, and of its answer records every TXT record of
 * class IN appended to out as one string (its character-strings joined,
 * as RFC 8555 section 8.4 reads them); other records (a CNAME the
 * resolver followed) are skipped. A record holding a NUL is dropped. At
 * most DNS_TXT_MAX_RECORDS records are kept. Names may be compressed.
 * Returns 0 (no TXT record is 0 with out unchanged), TROVE_ERR_NOT_FOUND
 * for RCODE 3 (no such name), or TROVE_ERR_INVALID for a message that is
 * not a well-formed response (truncated, a name pointer past the end or
 * looping, a record past its end). Reads nothing past msg + len. */
int dns_txt_parse(const unsigned char *msg, size_t len, struct strlist *out);

#endif
