/* audit_log.c — the files of a file audit log (audit_log.h): finding a
 * log's rotated siblings and their order, reading lines from plain and
 * gzip files with the offset of each (lines past AQ_LINE_MAX are skipped
 * and counted), and reading one line again by its offset, checked against
 * a checksum taken the first time. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audit_log.h"

#include "banned.h"

#define AQ_CHUNK ((size_t)64 << 10)
#define AQ_GZ_BUFFER (128 * 1024)
#define AQ_SEEK_MIN ((uint64_t)1 << 20) /* skip a plain file's gap larger than this by seeking */

static int file_error(struct buf *err, const char *path, const char *why)
{
	buf_reset(err);
	(void)buf_printf(err, "%s: %s", path, why);
	return -1;
}

/* The message of a failed gzread. */
static int gz_error(struct buf *err, const char *path, gzFile gz)
{
	int errnum;
	const char *why = gzerror(gz, &errnum);

	return file_error(err, path, errnum == Z_ERRNO ? strerror(errno) : why);
}

/* A gzip (or plain: zlib reads those as they are) stream over fd, which
 * it then owns; fd is closed when that fails. */
static gzFile gz_over(int fd, const char *path, struct buf *err)
{
	gzFile gz = gzdopen(fd, "rb");

	if (gz == NULL) {
		close(fd);
		(void)file_error(err, path, "out of memory");
		return NULL;
	}
	(void)gzbuffer(gz, AQ_GZ_BUFFER);
	return gz;
}

/* ---- reading lines ---------------------------------------------------- */

struct feed {
	aq_line_fn fn;
	void *arg;
	struct buf line; /* the line being gathered */
	uint64_t start;  /* offset of its first byte */
	uint64_t pos;    /* offset of the next byte fed */
	bool overlong;   /* the line went past AQ_LINE_MAX: dropped up to its newline */
	size_t *overlong_count;
};

/* Hands the complete lines of p[0..n) to fn; the rest stays in f->line. */
static void feed_chunk(struct feed *f, const char *p, size_t n)
{
	const char *nl;
	size_t take;

	while (n > 0) {
		nl = memchr(p, '\n', n);
		take = nl ? (size_t)(nl - p) : n;

		if (!f->overlong && buf_append(&f->line, p, take) != 0) {
			f->overlong = true;
			(*f->overlong_count)++;
		}
		f->pos += take;
		if (nl == NULL)
			return;
		if (!f->overlong)
			f->fn(f->arg, f->line.data, f->line.len, f->start);
		f->overlong = false;
		buf_reset(&f->line);
		f->start = ++f->pos;
		p = nl + 1;
		n -= take + 1;
	}
}

int aq_log_open(const char *path, struct stat *st, struct buf *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0)
		return file_error(err, path, strerror(errno));
	if (fstat(fd, st) != 0 || S_ISDIR(st->st_mode)) {
		r = file_error(err, path, S_ISDIR(st->st_mode) ? "is a directory" : strerror(errno));
		close(fd);
		return r;
	}
	return fd;
}

int aq_log_read(int fd, const char *path, aq_line_fn fn, void *arg, size_t *overlong, struct buf *err)
{
	gzFile gz = gz_over(fd, path, err);
	struct feed f;
	char *chunk;
	int got, r = 0;

	if (gz == NULL)
		return -1;
	memset(&f, 0, sizeof(f));
	f.fn = fn;
	f.arg = arg;
	f.overlong_count = overlong;
	buf_init(&f.line, AQ_LINE_MAX);
	chunk = xmalloc(AQ_CHUNK);
	while ((got = gzread(gz, chunk, (unsigned)AQ_CHUNK)) > 0)
		feed_chunk(&f, chunk, (size_t)got);
	if (got < 0)
		r = gz_error(err, path, gz);
	else if (f.line.len > 0 && !f.overlong)
		fn(arg, f.line.data, f.line.len, f.start);
	buf_release(&f.line);
	free(chunk);
	gzclose(gz);
	return r;
}

/* ---- reading a line again --------------------------------------------- */

uint32_t aq_line_hash(const char *line, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)line[i]) * 16777619u;
	return h;
}

int aq_reread_open(struct aq_reread *r, int fd, const char *path, struct buf *err)
{
	int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	memset(r, 0, sizeof(*r));
	r->path = path;
	if (dupfd < 0)
		return file_error(err, path, strerror(errno));
	if (lseek(dupfd, 0, SEEK_SET) != 0) {
		close(dupfd);
		return file_error(err, path, strerror(errno));
	}
	r->gz = gz_over(dupfd, path, err);
	if (r->gz == NULL)
		return -1;
	r->scratch = xmalloc(AQ_CHUNK);
	return 0;
}

/* Reads n bytes into out (appended; NULL: dropped). */
static int reread_bytes(struct aq_reread *r, uint64_t n, struct buf *out, struct buf *err)
{
	int got;

	while (n > 0) {
		got = gzread(r->gz, r->scratch, (unsigned)(n < AQ_CHUNK ? n : AQ_CHUNK));
		if (got < 0)
			return gz_error(err, r->path, r->gz);
		if (got == 0 || (out && buf_append(out, r->scratch, (size_t)got) != 0))
			return file_error(err, r->path, "changed while it was being read");
		r->pos += (uint64_t)got;
		n -= (uint64_t)got;
	}
	return 0;
}

int aq_reread_line(struct aq_reread *r, uint64_t offset, size_t len, uint32_t hash, struct buf *out,
                   struct buf *err)
{
	if (offset < r->pos)
		return file_error(err, r->path, "read out of order");
	if (offset - r->pos > AQ_SEEK_MIN && gzdirect(r->gz)) {
		if (gzseek(r->gz, (z_off_t)offset, SEEK_SET) < 0)
			return gz_error(err, r->path, r->gz);
		r->pos = offset;
	}
	buf_reset(out);
	if (reread_bytes(r, offset - r->pos, NULL, err) != 0 || reread_bytes(r, len, out, err) != 0)
		return -1;
	if (aq_line_hash(out->data, out->len) != hash)
		return file_error(err, r->path, "changed while it was being read");
	return 0;
}

void aq_reread_close(struct aq_reread *r)
{
	if (r->gz)
		gzclose(r->gz);
	free(r->scratch);
	memset(r, 0, sizeof(*r));
}

/* ---- the files of a log ----------------------------------------------- */

/* A rotated sibling: base ".N" or "-DATE" (8 to 14 digits), maybe ".gz". */
struct sibling {
	char *name;
	bool dated;
	long long n;      /* .N */
	const char *date; /* the digits in name */
};

/* Whether name is a sibling of base; fills sib (name borrowed). */
static bool sibling_of(const char *base, const char *name, struct sibling *sib)
{
	size_t blen = strlen(base), digits = 0;
	const char *rest;

	if (strncmp(name, base, blen) != 0 || (name[blen] != '.' && name[blen] != '-'))
		return false;
	rest = name + blen + 1;
	while (rest[digits] >= '0' && rest[digits] <= '9')
		digits++;
	if (strcmp(rest + digits, "") != 0 && strcmp(rest + digits, ".gz") != 0)
		return false;
	sib->dated = name[blen] == '-';
	sib->date = rest;
	sib->n = 0;
	if (sib->dated)
		return digits >= 8 && digits <= 14;
	if (digits == 0 || digits > 9)
		return false;
	for (; digits > 0; digits--)
		sib->n = sib->n * 10 + (*rest++ - '0');
	return true;
}

/* Oldest first: dated ascending, then numbered descending. */
static int sibling_cmp(const void *a, const void *b)
{
	const struct sibling *x = a, *y = b;
	int c;

	if (x->dated != y->dated)
		return x->dated ? -1 : 1;
	if (x->dated) {
		c = strcmp(x->date, y->date);
		return c ? c : strcmp(x->name, y->name);
	}
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(y->name, x->name); /* N.gz before N: both would be older than N-1 */
}

/* The siblings of base in dir, sorted oldest first. */
static int list_siblings(const char *dir, const char *base, struct sibling **out, size_t *n, struct buf *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct sibling sib;
	size_t size = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL)
		return file_error(err, dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!sibling_of(base, de->d_name, &sib))
			continue;
		if (*n == size) {
			size = size ? size * 2 : 8;
			*out = xrealloc(*out, size * sizeof(**out));
		}
		sib.name = xstrdup(de->d_name);
		sib.date = sib.name + (sib.date - de->d_name);
		(*out)[(*n)++] = sib;
	}
	closedir(d);
	if (*n > 0)
		qsort(*out, *n, sizeof(**out), sibling_cmp);
	return 0;
}

int aq_log_files(const char *path, struct strlist *out, struct buf *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	const char *base = slash ? slash + 1 : path;
	struct sibling *sibs = NULL;
	struct stat st;
	struct buf full;
	size_t n = 0, i;
	int r;

	buf_init(&full, BUF_CAP_DEFAULT);
	r = *base ? list_siblings(dir, base, &sibs, &n, err) : file_error(err, path, "is a directory");
	for (i = 0; r == 0 && i < n; i++) {
		buf_reset(&full);
		(void)buf_printf(&full, "%.*s%s", slash ? (int)(slash - path + 1) : 0, path, sibs[i].name);
		if (strlist_push(out, full.data) != 0)
			abort();
	}
	for (i = 0; r == 0 && i < n; i++)
		free(sibs[i].name);
	if (r == 0) {
		free(sibs);
		if (stat(path, &st) == 0 || errno != ENOENT)
			(void)strlist_push(out, path);
		else if (n == 0)
			r = file_error(err, path, strerror(ENOENT));
	}
	buf_release(&full);
	free(dir);
	return r;
}
