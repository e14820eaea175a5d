/* rollback_guard.c — the local high-water mark of the storage's keyring.
 *
 * File format, one line:
 *   trove-rollback-guard 1 <epoch> <sha256 of the root-key record, hex> <mac, hex>\n
 * mac = HMAC-SHA256(K, "trove-rollback-guard 1 <epoch> <hash>"), with
 * K = HMAC-SHA256(root key, "trove rollback guard"). The MAC ties the file
 * to this installation's root key, so a file copied from another
 * installation, or edited by hand, is refused rather than trusted; it does
 * not stop someone who can write the file from deleting it, which is why
 * the file belongs on the node's own disk, away from the storage. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/rollback_guard.h"
#include "encoding.h"
#include "err.h"
#include "hmac.h"
#include "log.h"
#include "secure.h"

#include "banned.h"

#define GUARD_MAGIC "trove-rollback-guard 1"
#define GUARD_MAX 256
#define HASH_LEN 32

struct rollback_guard {
	pthread_mutex_t mu;
	char *path;
	bool armed;
	unsigned char mac_key[HASH_LEN];
	unsigned char root_hash[HASH_LEN];
	uint64_t epoch; /* recorded in the file */
};

struct rollback_guard *rollback_guard_new(const char *path)
{
	struct rollback_guard *g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	g->path = xstrdup(path);
	return g;
}

void rollback_guard_free(struct rollback_guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_destroy(&g->mu);
	free(g->path);
	secure_free(g, sizeof(*g));
}

static void hash_of(const unsigned char *p, size_t n, unsigned char out[HASH_LEN])
{
	if (sha256(p, n, out) != 0)
		abort(); /* SHA-256 does not fail */
}

static void hmac(const unsigned char key[HASH_LEN], const void *p, size_t n, unsigned char out[HASH_LEN])
{
	if (hmac_sha256(key, HASH_LEN, p, n, out) != 0)
		abort(); /* cannot fail with these arguments */
}

/* The signed part of a line: magic, epoch, hash. */
static int body_text(uint64_t epoch, const unsigned char hash[HASH_LEN], char *out, size_t cap)
{
	char hex[2 * HASH_LEN + 1];
	hex_encode(hash, HASH_LEN, hex);
	int n = snprintf(out, cap, GUARD_MAGIC " %" PRIu64 " %s", epoch, hex);
	return n > 0 && (size_t)n < cap ? n : -1;
}

/* Writes epoch/hash atomically. Caller holds mu and the guard is keyed. */
static int write_file(struct rollback_guard *g, uint64_t epoch, const unsigned char hash[HASH_LEN])
{
	char line[GUARD_MAX], mac_hex[2 * HASH_LEN + 1], tmp[4096];
	unsigned char mac[HASH_LEN];
	int fd = -1, r = TROVE_ERR_IO;
	int n = body_text(epoch, hash, line, sizeof(line));
	if (n < 0)
		return TROVE_ERR_INTERNAL;
	hmac(g->mac_key, line, (size_t)n, mac);
	hex_encode(mac, HASH_LEN, mac_hex);
	size_t len = (size_t)n;
	int m = snprintf(line + len, sizeof(line) - len, " %s\n", mac_hex);
	if (m < 0 || (size_t)m >= sizeof(line) - len)
		return TROVE_ERR_INTERNAL;
	len += (size_t)m;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", g->path) >= (int)sizeof(tmp))
		return TROVE_ERR_INVALID;
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, g->path) != 0)
		goto out;
	/* the rename itself must survive a crash */
	char dir[4096];
	if (snprintf(dir, sizeof(dir), "%s", g->path) < (int)sizeof(dir)) {
		int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	g->epoch = epoch;
	memcpy(g->root_hash, hash, HASH_LEN);
	r = 0;
out:
	if (fd >= 0) {
		close(fd);
		(void)unlink(tmp);
	}
	return r;
}

enum read_result { GUARD_ABSENT, GUARD_OK, GUARD_FOREIGN };

/* Reads and authenticates the file. Caller holds mu and the guard is keyed. */
static int read_file(struct rollback_guard *g, enum read_result *res, uint64_t *epoch,
		     unsigned char hash[HASH_LEN])
{
	char text[GUARD_MAX + 1];
	ssize_t n = 0;
	struct stat st;
	int fd = open(g->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*res = GUARD_ABSENT;
			return 0;
		}
		return TROVE_ERR_IO; /* ELOOP: a symlink is never followed */
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return TROVE_ERR_IO;
	}
	n = read(fd, text, GUARD_MAX);
	close(fd);
	if (n < 0)
		return TROVE_ERR_IO;
	text[n] = '\0';
	*res = GUARD_FOREIGN;

	/* magic SP epoch SP hash SP mac LF, nothing else */
	const size_t magic_len = strlen(GUARD_MAGIC);
	if ((size_t)n < magic_len + 2 || memcmp(text, GUARD_MAGIC " ", magic_len + 1) != 0 ||
	    text[n - 1] != '\n')
		return 0;
	text[n - 1] = '\0';
	char *p = text + magic_len + 1;
	uint64_t e = 0;
	size_t digits = 0;
	while (*p >= '0' && *p <= '9') {
		if (digits++ > 19 || e > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return 0;
		e = e * 10 + (uint64_t)(*p - '0');
		p++;
	}
	size_t hlen = 0;
	unsigned char h[HASH_LEN], mac[HASH_LEN], want[HASH_LEN];
	if (digits == 0 || *p != ' ' || strlen(p + 1) != 4 * HASH_LEN + 1 || p[1 + 2 * HASH_LEN] != ' ')
		return 0;
	if (hex_decode(p + 1, 2 * HASH_LEN, h, HASH_LEN, &hlen) != 0 || hlen != HASH_LEN)
		return 0;
	if (hex_decode(p + 2 + 2 * HASH_LEN, 2 * HASH_LEN, mac, HASH_LEN, &hlen) != 0 || hlen != HASH_LEN)
		return 0;
	size_t body_len = (size_t)(p + 1 + 2 * HASH_LEN - text);
	hmac(g->mac_key, text, body_len, want);
	if (!secure_eq(mac, want, HASH_LEN))
		return 0;
	*res = GUARD_OK;
	*epoch = e;
	memcpy(hash, h, HASH_LEN);
	return 0;
}

int rollback_guard_check(struct rollback_guard *g, const unsigned char root_key[BARRIER_KEY_LEN],
			 const unsigned char *root_rec, size_t root_rec_len, uint64_t epoch, struct buf *err)
{
	static const char label[] = "trove rollback guard";
	unsigned char hash[HASH_LEN], seen_hash[HASH_LEN];
	uint64_t seen = 0;
	enum read_result res = GUARD_ABSENT;
	int r = TROVE_ERR_INTEGRITY;

	pthread_mutex_lock(&g->mu);
	g->armed = false;
	hmac(root_key, label, sizeof(label) - 1, g->mac_key);
	hash_of(root_rec, root_rec_len, hash);
	if ((r = read_file(g, &res, &seen, seen_hash)) != 0) {
		buf_printf(err, "rollback guard %s cannot be read (not a regular file, or a symlink)", g->path);
		goto out;
	}
	r = TROVE_ERR_INTEGRITY;
	if (res == GUARD_FOREIGN) {
		buf_printf(err,
			   "rollback guard %s was not written for this storage (damaged, edited, or from another "
			   "installation); refusing to unseal. Remove the file only if the storage was initialised "
			   "anew or restored on purpose",
			   g->path);
		goto out;
	}
	if (res == GUARD_OK && epoch < seen) {
		buf_printf(err,
			   "storage rolled back: its keyring epoch %" PRIu64 " is older than epoch %" PRIu64
			   " recorded in %s; refusing to unseal. If an older copy of the storage was restored on "
			   "purpose, remove that file and unseal again",
			   epoch, seen, g->path);
		goto out;
	}
	if (res == GUARD_OK && epoch == seen && !secure_eq(hash, seen_hash, HASH_LEN)) {
		buf_printf(err,
			   "storage rolled back: the root key record differs from the one recorded in %s at the "
			   "same keyring epoch; refusing to unseal. If this follows a rekey interrupted by a crash, "
			   "remove that file and unseal again",
			   g->path);
		goto out;
	}
	if (res == GUARD_ABSENT || epoch != seen || !secure_eq(hash, seen_hash, HASH_LEN)) {
		if ((r = write_file(g, epoch, hash)) != 0) {
			buf_printf(err, "rollback guard %s cannot be written: %s", g->path, strerror(errno));
			goto out;
		}
	} else {
		g->epoch = seen;
		memcpy(g->root_hash, seen_hash, HASH_LEN);
	}
	g->armed = true;
	r = 0;
out:
	if (!g->armed)
		secure_wipe(g->mac_key, sizeof(g->mac_key));
	pthread_mutex_unlock(&g->mu);
	return r;
}

void rollback_guard_epoch(void *arg, uint64_t epoch)
{
	struct rollback_guard *g = arg;
	pthread_mutex_lock(&g->mu);
	if (g->armed && epoch > g->epoch) {
		unsigned char hash[HASH_LEN];
		memcpy(hash, g->root_hash, HASH_LEN);
		if (write_file(g, epoch, hash) != 0)
			log_warn("rollback guard not updated; it stays at an older epoch", "path", g->path,
				 "error", strerror(errno));
	}
	pthread_mutex_unlock(&g->mu);
}

void rollback_guard_root_record(struct rollback_guard *g, const unsigned char *root_rec, size_t root_rec_len)
{
	pthread_mutex_lock(&g->mu);
	if (g->armed)
		hash_of(root_rec, root_rec_len, g->root_hash);
	pthread_mutex_unlock(&g->mu);
}

void rollback_guard_disarm(struct rollback_guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->armed = false;
	secure_wipe(g->mac_key, sizeof(g->mac_key));
	pthread_mutex_unlock(&g->mu);
}
