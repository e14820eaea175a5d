/* picohttpparser.h — the HTTP/1 head parser compiled into libh2o. Debian
 * ships its symbols in libh2o but not its header; these declarations
 * follow that header, for the parts Trove calls: a client reading an
 * answer's head and chunked body (api/http_response.c) and the server
 * sizing a request's buffer from its head (server/body_buffer.c). The
 * symbols resolve from libh2o, which the binary links. */
#ifndef TROVE_PICOHTTP_H
#define TROVE_PICOHTTP_H

#include <stddef.h>
#include <sys/types.h>

struct phr_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

struct phr_chunked_decoder {
	size_t bytes_left_in_chunk;
	char consume_trailer;
	char hex_count_;
	char state_;
};

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);
int phr_parse_response(const char *buf, size_t len, int *minor_version, int *status, const char **msg,
                       size_t *msg_len, struct phr_header *headers, size_t *num_headers, size_t last_len);
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);

#endif
