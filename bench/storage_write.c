/* storage_write.c — durable LMDB puts per second beside the disk's own
 * fsync rate.
 *
 * Opens an LMDB store in a fresh temporary directory and, for each writer
 * count (1, 4, 16, 64 by default), runs that many threads putting unique
 * keys with 200-byte values (the size of an encrypted KV v2 record) for a
 * fixed time, counting puts that returned 0: each one was synced. The
 * ceiling is measured on the same filesystem just before each row (disk
 * rates drift, on virtual disks especially): one thread looping
 * pwrite(4 KiB) + fdatasync() on a temporary file. Without group commit a
 * put costs two syncs (data, then meta page), so puts/s would stay near
 * half the ceiling whatever the writer count; the "x fsync" column shows
 * how far group commit carries past it.
 *
 *   bench_storage_write [-d SECONDS] [-p DIR] [WRITERS...]
 *
 * -d is the time per measurement (default 3), -p the parent directory of
 * the scratch directory (default $TMPDIR or /tmp: put it on the disk you
 * mean to measure). The scratch directory is removed at the end. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "storage/storage.h"

#include "banned.h"

#define VALUE_LEN 200
#define LAT_BUCKET_US 25 /* histogram resolution */
#define LAT_BUCKETS 8000 /* up to 200 ms; slower puts land in the last */
#define MAX_WRITERS 1024

struct writer {
	struct storage *s;
	int run;
	int id;
	atomic_bool *stop;
	uint64_t puts;
	uint64_t errors;
	uint64_t lat_sum_us;
	uint32_t *hist;
	pthread_t th;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Single-threaded write + fdatasync loop: what one durable commit at a
 * time can reach on this filesystem. Returns syncs per second, or -1. */
static double fsync_ceiling(const char *dir, double secs)
{
	char path[4096];
	unsigned char block[4096];
	uint64_t n = 0;
	double start, el;
	int fd;

	snprintf(path, sizeof(path), "%s/fsync-probe", dir);
	if ((fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600)) < 0) {
		fprintf(stderr, "open %s: %s\n", path, strerror(errno));
		return -1;
	}
	memset(block, 0xa5, sizeof(block));
	start = now_s();
	do {
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fdatasync(fd) != 0) {
			fprintf(stderr, "write/fdatasync %s: %s\n", path, strerror(errno));
			close(fd);
			unlink(path);
			return -1;
		}
		n++;
		el = now_s() - start;
	} while (el < secs);
	close(fd);
	unlink(path);
	return (double)n / el;
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char v[VALUE_LEN];
	char key[96];

	for (size_t i = 0; i < sizeof(v); i++)
		v[i] = (unsigned char)(i * 131u + (unsigned)w->id);
	for (uint64_t i = 0; !atomic_load_explicit(w->stop, memory_order_relaxed); i++) {
		snprintf(key, sizeof(key), "logical/bench/data/r%d/w%03d/secret-%08llu", w->run, w->id,
		         (unsigned long long)i);
		memcpy(v, &i, sizeof(i)); /* every value differs */
		double t0 = now_s();
		int r = storage_put(w->s, key, v, sizeof(v));
		uint64_t us = (uint64_t)((now_s() - t0) * 1e6);
		if (r != 0) {
			w->errors++;
			continue;
		}
		w->puts++;
		w->lat_sum_us += us;
		size_t b = us / LAT_BUCKET_US;
		w->hist[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
	}
	return NULL;
}

struct result {
	double rate;
	double mean_ms;
	double p99_ms;
	uint64_t errors;
};

static int run_writers(struct storage *s, int run, int nw, double secs, struct result *res)
{
	struct writer *w = calloc((size_t)nw, sizeof(*w));
	uint32_t *hist = calloc((size_t)nw * LAT_BUCKETS, sizeof(*hist));
	atomic_bool stop = false;
	uint64_t puts = 0, lat = 0;
	int started = 0, r = TROVE_ERR_NOMEM;

	if (w == NULL || hist == NULL)
		goto out;
	double start = now_s();
	for (; started < nw; started++) {
		w[started] = (struct writer){.s = s,
		                             .run = run,
		                             .id = started,
		                             .stop = &stop,
		                             .hist = hist + (size_t)started * LAT_BUCKETS};
		if (pthread_create(&w[started].th, NULL, writer_main, &w[started]) != 0) {
			r = TROVE_ERR_INTERNAL;
			break;
		}
	}
	if (started == nw) {
		sleep_s(secs);
		r = 0;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	double el = now_s() - start;
	if (r != 0)
		goto out;

	memset(res, 0, sizeof(*res));
	for (int i = 0; i < nw; i++) {
		puts += w[i].puts;
		lat += w[i].lat_sum_us;
		res->errors += w[i].errors;
		if (i > 0)
			for (size_t b = 0; b < LAT_BUCKETS; b++)
				hist[b] += w[i].hist[b];
	}
	res->rate = (double)puts / el;
	res->mean_ms = puts ? (double)lat / (double)puts / 1e3 : 0;
	uint64_t want = puts - puts / 100, seen = 0;
	for (size_t b = 0; b < LAT_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= want && puts) {
			res->p99_ms = (double)((b + 1) * LAT_BUCKET_US) / 1e3;
			break;
		}
	}
out:
	free(hist);
	free(w);
	return r;
}

static void rm_store(const char *dir)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/data.mdb", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/lock.mdb", dir);
	unlink(p);
	rmdir(dir);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench_storage_write [-d SECONDS] [-p DIR] [WRITERS...]\n");
}

int main(int argc, char **argv)
{
	static const int default_writers[] = {1, 4, 16, 64};
	const char *parent = getenv("TMPDIR");
	double secs = 3;
	int writers[32], nwriters = 0, opt, r = 1;
	char dir[1024];
	struct storage *s = NULL;
	struct buf err;

	while ((opt = getopt(argc, argv, "d:p:h")) != -1) {
		char *end;
		switch (opt) {
		case 'd':
			secs = strtod(optarg, &end);
			if (*end != '\0' || !(secs > 0 && secs <= 3600)) {
				usage();
				return 2;
			}
			break;
		case 'p':
			parent = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		char *end;
		errno = 0;
		long n = strtol(argv[i], &end, 10);
		if (errno != 0 || *end != '\0' || n < 1 || n > MAX_WRITERS || nwriters == 32) {
			usage();
			return 2;
		}
		writers[nwriters++] = (int)n;
	}
	if (nwriters == 0)
		for (size_t i = 0; i < sizeof(default_writers) / sizeof(default_writers[0]); i++)
			writers[nwriters++] = default_writers[i];
	if (parent == NULL || parent[0] == '\0')
		parent = "/tmp";

	if ((size_t)snprintf(dir, sizeof(dir), "%s/trove-bench-XXXXXX", parent) >= sizeof(dir)) {
		fprintf(stderr, "directory name too long: %s\n", parent);
		return 2;
	}
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
		return 1;
	}
	buf_init(&err, 4096);
	struct storage_lmdb_config cfg = {.path = dir, .max_size = (size_t)4 << 30};
	if ((s = storage_lmdb_new(&cfg, &err)) == NULL) {
		fprintf(stderr, "%s\n", err.data);
		goto out;
	}

	printf("scratch: %s   %.1f s per point   values %d bytes\n", dir, secs, VALUE_LEN);
	printf("fsync/s: pwrite 4 KiB + fdatasync in one thread, measured just before each row\n\n");
	printf("%8s %12s %9s %9s %9s %9s %7s\n", "writers", "puts/s", "fsync/s", "x fsync", "mean ms",
	       "p99 ms", "errors");
	for (int i = 0; i < nwriters; i++) {
		struct result res;
		/* the disk's rate drifts (shared or virtual disks especially):
		 * measure the ceiling next to each point */
		double ceiling = fsync_ceiling(dir, secs / 2);
		if (ceiling <= 0)
			goto out;
		if (run_writers(s, i, writers[i], secs, &res) != 0) {
			fprintf(stderr, "cannot start %d writers\n", writers[i]);
			goto out;
		}
		printf("%8d %12.0f %9.0f %9.2f %9.2f %9.2f %7llu\n", writers[i], res.rate, ceiling,
		       res.rate / ceiling, res.mean_ms, res.p99_ms, (unsigned long long)res.errors);
		fflush(stdout);
	}
	r = 0;
out:
	storage_free(s);
	rm_store(dir);
	buf_release(&err);
	return r;
}
