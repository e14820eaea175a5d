/* ha_reads.h — what lets several nodes on one postgresql storage serve
 * reads correctly: cross-node cache invalidation and the consistency
 * index clients see as X-Vault-Index.
 *
 * ha_reads_start starts the storage's listener (storage_pg.h,
 * "Notifications") with the core's invalidation (invalidate.h) as its
 * hooks. From then on the node's index is the highest commit index whose
 * changes its caches have caught up with. Every response carries
 * X-Vault-Index: the larger of that and the index of the write the
 * request made, if any. A request that sends X-Vault-Index back (one or
 * several) is served once the node's index reaches the largest, waiting
 * at most HA_READS_WAIT_MS; else it is refused with 412, as Vault's
 * performance standbys refuse it. One storage per process: the state is
 * process-wide. On other storage, and on postgresql without ha_enabled,
 * nothing starts and no header is given. */
#ifndef TROVE_HA_READS_H
#define TROVE_HA_READS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct core;
struct storage;

#define HA_READS_WAIT_MS 2000
/* Longest X-Vault-Index value this node writes or reads. */
#define HA_READS_HEADER_MAX 160

/* Starts the listener when physical is a postgresql storage opened with
 * ha_enabled (storage_pg_notifies; else does nothing: a node alone on
 * its storage gives no X-Vault-Index and waits for none); standby_reads: an HA standby answers pure reads itself
 * (ha_reads_serves_here). Returns 0, or TROVE_ERR_INTERNAL when its
 * thread cannot be made. Stopped by ha_reads_stop. */
int ha_reads_start(struct core *c, struct storage *physical, bool standby_reads);

/* Stops the listener (before the core is freed: it calls into it). */
void ha_reads_stop(void);

/* Whether this node, an HA standby that serves reads, answers req itself
 * rather than sending it to the active node: a read (read, list, head)
 * of a route that declares its reads pure (ROUTE_LOOP_READS: they write
 * nothing and call nothing out), not wrapped (wrapping creates a token).
 * Anything else, and every request while this node is not a standby that
 * serves reads, goes the HA way (core/ha.h). req must be matched
 * (router_match). */
struct request;
struct route_match;
bool ha_reads_serves_here(const struct request *req, const struct route_match *m);

/* Whether ha_reads_start started a listener. */
bool ha_reads_active(void);

/* The node's applied index (0 when not active). */
uint64_t ha_reads_index(void);

/* Waits until ha_reads_index() >= index, at most timeout_ms; true when
 * reached (at once for 0). */
bool ha_reads_wait(uint64_t index, int64_t timeout_ms);

/* Writes the X-Vault-Index value of index for storage table `table` into
 * out (cap bytes, HA_READS_HEADER_MAX is enough); returns its length.
 * The value is base64 of "trove1:<table>:<index>": opaque to clients. */
size_t ha_reads_header_format(const char *table, uint64_t index, char *out, size_t cap);

/* Parses one X-Vault-Index value (len bytes, untrusted). 0 with *index
 * set; *index is 0 for a value of another cluster (another table: it says
 * nothing about this one). TROVE_ERR_INVALID when it is not a value this
 * server could have given. */
int ha_reads_header_parse(const char *table, const char *v, size_t len, uint64_t *index);

/* This node's value for a response of a request whose write (if any)
 * committed at write_index: ha_reads_header_format of the larger of that
 * and ha_reads_index(). 0 (nothing written) when not active. */
size_t ha_reads_header(uint64_t write_index, char *out, size_t cap);

/* ha_reads_header_parse against this node's table. */
int ha_reads_header_read(const char *v, size_t len, uint64_t *index);

#endif
