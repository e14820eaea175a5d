/* audit_query.c — the scan behind `trove audit query` and `trove audit
 * consumers` (audit_query.h): matching entries against a filter, pairing
 * request and response entries so that each request shows once, and
 * handing the kept entries out in time order; consumer grouping is
 * audit_consumers.c.
 *
 * Memory. A query keeps no entry, only where it is: per kept entry a
 * 40-byte struct aq_kept (time, file, offset, length, checksum). After
 * reading, the kept entries are ordered by (time, file, offset) (an
 * 8-byte pointer each, only when the log is not already in time order)
 * and each is read again from its file, parsed, handed out and freed, so
 * -format=json and yaml stream: one entry's JSON tree at a time. A file
 * is read again forward only; a kept line that it passes before its turn
 * (an entry logged before an earlier-timed one) is held as raw bytes
 * until then: for a log in time order that is none, for one out of order
 * at worst every kept line of that file. Besides: the ids of responses
 * (-type=response only, to hide their requests, ~100 bytes each), the
 * requests still waiting for a response, and one line buffer. Lines fed
 * from memory (aq_scan_line), and lines of files that cannot stay open,
 * are held as raw bytes. Each file read stays open until the scan is
 * released (closed at once when it kept nothing), so a line is read again
 * from the same file even if the log was rotated meanwhile; a file
 * changed in place since is an error, told by the checksum.
 *
 * Measured: a 320 MB log of 266,000 entries, unfiltered, -format=json:
 * 35 MB peak resident (1.2 GB when every entry was kept as a JSON tree);
 * the table keeps its cells: 89 MB. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/audit_query.h"
#include "cli/cli.h"

#include "banned.h"

/* One kept entry: where its line is. (Its time is not a struct aq_time,
 * whose padding would make this 48 bytes.) */
struct aq_kept {
	int64_t sec; /* its time */
	int32_t nsec;
	uint32_t file;   /* index in files */
	uint64_t offset; /* of the line in its file, or its number in a run from memory */
	uint32_t len;    /* the line's length; DROPPED once its response came */
	uint32_t hash;   /* aq_line_hash of the line */
	char *line;      /* the line when held in memory, else NULL */
};

#define DROPPED 0 /* kept lines hold a '{': never empty */

/* A file read, or a run of lines fed from memory (path NULL). */
struct aq_file {
	dev_t dev;
	ino_t ino;
	int fd;            /* open to read kept lines again; -1: kept lines held in memory */
	char *path;        /* NULL for lines from memory */
	size_t first, end; /* its kept entries, kept[first..end), set by finish() */
};

/* ---- matching --------------------------------------------------------- */

static bool any_equal(const struct strlist *l, const char *s)
{
	return l->len == 0 || (s && strlist_contains(l, s));
}

static bool match_paths(const struct aq_filter *f, const struct aq_entry *e)
{
	size_t i;

	for (i = 0; i < f->paths.len; i++)
		if (aq_path_match(f->paths.items[i], e->path ? e->path : ""))
			return true;
	return f->paths.len == 0;
}

static bool match_mount(const struct aq_filter *f, const struct aq_entry *e)
{
	char *m;
	bool ok;

	if (f->mounts.len == 0)
		return true;
	if (e->mount == NULL)
		return false;
	m = cli_trim_slashes(e->mount);
	ok = strlist_contains(&f->mounts, m);
	free(m);
	return ok;
}

static bool match_remote(const struct aq_filter *f, const struct aq_entry *e)
{
	size_t i;

	for (i = 0; i < f->nremotes; i++)
		if (aq_cidr_contains(&f->remotes[i], e->remote))
			return true;
	return f->nremotes == 0;
}

static bool match_token(const struct aq_filter *f, const struct aq_entry *e)
{
	const json_t *resp_auth = json_object_get(json_object_get(e->root, "response"), "auth");

	if (f->token_hashes.len == 0)
		return true;
	return any_equal(&f->token_hashes, aq_str(json_object_get(e->root, "auth"), "client_token")) ||
	       any_equal(&f->token_hashes, aq_str(json_object_get(e->root, "request"), "client_token")) ||
	       any_equal(&f->token_hashes, aq_str(resp_auth, "client_token"));
}

static bool match_want(enum aq_want want, bool have)
{
	return want == AQ_ANY || (want == AQ_YES) == have;
}

static bool match_time(const struct aq_filter *f, const struct aq_entry *e)
{
	if (f->has_since && aq_time_cmp(&e->time, &f->since) < 0)
		return false;
	return !(f->has_until && aq_time_cmp(&e->time, &f->until) >= 0);
}

bool aq_entry_match(const struct aq_filter *f, const struct aq_entry *e)
{
	if (!f->any_op && f->ops != 0 && (aq_op_bit(e->op) & f->ops) == 0)
		return false;
	if (!match_want(f->allowed, aq_entry_allowed(e)) || !match_want(f->error, aq_has_text(e->error)))
		return false;
	if (!match_time(f, e) || !match_paths(f, e) || !match_mount(f, e) || !match_remote(f, e))
		return false;
	if (!any_equal(&f->display_names, aq_str(e->auth, "display_name")) ||
	    !any_equal(&f->entities, aq_str(e->auth, "entity_id")) || !any_equal(&f->roles, aq_entry_role(e)))
		return false;
	return match_token(f, e);
}

/* ---- the scan --------------------------------------------------------- */

void aq_scan_init(struct aq_scan *s, const struct aq_filter *f, enum aq_mode mode)
{
	memset(s, 0, sizeof(*s));
	s->filter = f;
	s->mode = mode;
	s->responded = json_object();
	s->pending = json_object();
	aq_groups_init(&s->groups);
	s->file = SIZE_MAX;
	s->memory = SIZE_MAX;
}

void aq_scan_release(struct aq_scan *s)
{
	size_t i;

	for (i = 0; i < s->nkept; i++)
		free(s->kept[i].line);
	for (i = 0; i < s->nfiles; i++) {
		if (s->files[i].fd >= 0)
			close(s->files[i].fd);
		free(s->files[i].path);
	}
	free(s->kept);
	free(s->files);
	json_decref(s->responded);
	json_decref(s->pending);
	aq_groups_release(&s->groups);
	memset(s, 0, sizeof(*s));
}

/* A new entry in files: a file (st and path) or a run of lines from
 * memory (both NULL). Returns its index. */
static size_t add_file(struct aq_scan *s, const struct stat *st, const char *path, int fd)
{
	struct aq_file *f;

	s->files = xrealloc(s->files, (s->nfiles + 1) * sizeof(*s->files));
	f = &s->files[s->nfiles];
	memset(f, 0, sizeof(*f));
	f->dev = st ? st->st_dev : 0;
	f->ino = st ? st->st_ino : 0;
	f->fd = fd;
	f->path = path ? xstrdup(path) : NULL;
	return s->nfiles++;
}

/* Removes the dropped entries from kept (order kept). */
static void compact(struct aq_scan *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nkept; i++)
		if (s->kept[i].len != DROPPED)
			s->kept[n++] = s->kept[i];
	s->nkept = n;
	s->ndropped = 0;
}

static void keep(struct aq_scan *s, const struct aq_entry *e, const char *line, size_t len, size_t file,
                 uint64_t offset)
{
	struct aq_kept *k;

	if (s->nkept == s->kept_size && s->ndropped >= s->nkept / 4 && s->ndropped > 0)
		compact(s);
	if (s->nkept == s->kept_size) {
		s->kept_size = s->kept_size ? s->kept_size * 2 : 64;
		s->kept = xrealloc(s->kept, s->kept_size * sizeof(*s->kept));
	}
	k = &s->kept[s->nkept++];
	k->sec = e->time.sec;
	k->nsec = e->time.nsec;
	k->file = (uint32_t)file;
	k->offset = offset;
	k->len = (uint32_t)len;
	k->hash = aq_line_hash(line, len);
	k->line = NULL;
	if (s->files[file].fd < 0) {
		k->line = xmalloc(len);
		memcpy(k->line, line, len);
	}
}

/* The kept entry at (file, offset): kept is in that order. */
static struct aq_kept *find_kept(const struct aq_scan *s, size_t file, uint64_t offset)
{
	size_t lo = 0, hi = s->nkept, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->kept[mid].file < file || (s->kept[mid].file == file && s->kept[mid].offset < offset))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->nkept && s->kept[lo].file == file && s->kept[lo].offset == offset ? &s->kept[lo]
	                                                                                 : NULL;
}

/* A response for id: its request entry, if kept, is no longer shown. */
static void note_response(struct aq_scan *s, const char *id)
{
	const json_t *at = json_object_get(s->pending, id);
	struct aq_kept *k;

	json_object_set_new(s->responded, id, json_true());
	if (at == NULL)
		return;
	k = find_kept(s, (size_t)json_integer_value(json_array_get(at, 0)),
	              (uint64_t)json_integer_value(json_array_get(at, 1)));
	if (k) {
		k->len = DROPPED;
		free(k->line);
		k->line = NULL;
		s->ndropped++;
	}
	json_object_del(s->pending, id);
}

static void scan_entry(struct aq_scan *s, const struct aq_entry *e, const char *line, size_t len, size_t file,
                       uint64_t offset)
{
	bool has_id = aq_has_text(e->id);

	if (s->filter->show == AQ_SHOW_RESPONSES && e->kind == AQ_RESPONSE && has_id)
		note_response(s, e->id);
	if (!aq_entry_match(s->filter, e))
		return;
	switch (s->filter->show) {
	case AQ_SHOW_ALL:
		keep(s, e, line, len, file, offset);
		return;
	case AQ_SHOW_REQUESTS:
		if (e->kind == AQ_REQUEST)
			keep(s, e, line, len, file, offset);
		return;
	case AQ_SHOW_RESPONSES:
		break;
	}
	if (e->kind == AQ_RESPONSE) {
		keep(s, e, line, len, file, offset);
		return;
	}
	/* A request stands in for its response until one comes; a request
	 * without an id can never be paired. */
	if (has_id && !json_object_get(s->responded, e->id)) {
		keep(s, e, line, len, file, offset);
		json_object_set_new(s->pending, e->id,
		                    json_pack("[I,I]", (json_int_t)file, (json_int_t)offset));
	}
}

/* One line, of files[file] at offset. */
static void scan_at(struct aq_scan *s, const char *line, size_t len, size_t file, uint64_t offset)
{
	struct aq_entry e;

	s->lines++;
	switch (aq_entry_parse(line, len, &e)) {
	case AQ_PARSE_BLANK:
		return;
	case AQ_PARSE_MALFORMED:
		s->malformed++;
		return;
	case AQ_PARSE_OK:
		break;
	}
	if (s->mode == AQ_MODE_ENTRIES)
		scan_entry(s, &e, line, len, file, offset);
	else
		aq_groups_add(&s->groups, &e, e.kind == AQ_RESPONSE && aq_entry_match(s->filter, &e));
	aq_entry_release(&e);
}

void aq_scan_line(struct aq_scan *s, const char *line, size_t len)
{
	if (len > AQ_LINE_MAX) { /* as in files */
		s->malformed++;
		return;
	}
	if (s->memory == SIZE_MAX) {
		s->memory = add_file(s, NULL, NULL, -1);
		s->memory_pos = 0;
	}
	scan_at(s, line, len, s->memory, s->memory_pos++);
}

static void file_line(void *arg, const char *line, size_t len, uint64_t offset)
{
	struct aq_scan *s = arg;

	scan_at(s, line, len, s->file, offset);
}

int aq_scan_file(struct aq_scan *s, const char *path, struct buf *err)
{
	struct aq_file *f;
	struct stat st;
	size_t i;
	int fd = aq_log_open(path, &st, err), r;

	if (fd < 0)
		return -1;
	for (i = 0; i < s->nfiles; i++) {
		if (s->files[i].path && s->files[i].dev == st.st_dev && s->files[i].ino == st.st_ino) {
			close(fd); /* read already */
			return 0;
		}
	}
	/* entries are read again through a descriptor of their own; without
	 * one (too many files open) their lines are held in memory */
	s->file = add_file(s, &st, path, s->mode == AQ_MODE_ENTRIES ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1);
	s->memory = SIZE_MAX;
	r = aq_log_read(fd, path, file_line, s, &s->malformed, err);
	f = &s->files[s->file];
	if (f->fd >= 0 && (s->nkept == 0 || s->kept[s->nkept - 1].file != s->file)) {
		close(f->fd); /* nothing kept */
		f->fd = -1;
	}
	s->file = SIZE_MAX;
	return r;
}

int aq_scan_log(struct aq_scan *s, const char *path, struct buf *err)
{
	struct strlist files;
	size_t i;
	int r;

	strlist_init(&files);
	r = aq_log_files(path, &files, err);
	for (i = 0; r == 0 && i < files.len; i++)
		r = aq_scan_file(s, files.items[i], err);
	strlist_release(&files);
	return r;
}

json_t *aq_scan_consumers(const struct aq_scan *s)
{
	return aq_groups_consumers(&s->groups);
}

/* ---- handing entries out ---------------------------------------------- */

/* Drops what was dropped for good and notes each file's kept entries. */
static void finish(struct aq_scan *s)
{
	size_t i;

	if (s->ndropped > 0)
		compact(s);
	for (i = 0; i < s->nfiles; i++)
		s->files[i].first = s->files[i].end = 0;
	for (i = 0; i < s->nkept; i++) {
		struct aq_file *f = &s->files[s->kept[i].file];

		if (f->end == 0)
			f->first = i;
		f->end = i + 1;
	}
}

size_t aq_scan_count(struct aq_scan *s)
{
	finish(s);
	return s->nkept;
}

static int time_cmp(const struct aq_kept *x, const struct aq_kept *y)
{
	const struct aq_time a = {x->sec, x->nsec}, b = {y->sec, y->nsec};

	return aq_time_cmp(&a, &b);
}

/* By time, then in reading order (file, offset): where they are in kept. */
static int kept_cmp(const void *a, const void *b)
{
	const struct aq_kept *x = *(const struct aq_kept *const *)a, *y = *(const struct aq_kept *const *)b;
	int c = time_cmp(x, y);

	if (c != 0)
		return c;
	return x < y ? -1 : x > y;
}

/* The kept entries in time order, or NULL when kept is in that order. */
static struct aq_kept **time_order(const struct aq_scan *s)
{
	struct aq_kept **order;
	size_t i;

	for (i = 1; i < s->nkept; i++)
		if (time_cmp(&s->kept[i - 1], &s->kept[i]) > 0)
			break;
	if (i >= s->nkept)
		return NULL;
	order = xmalloc(s->nkept * sizeof(*order));
	for (i = 0; i < s->nkept; i++)
		order[i] = &s->kept[i];
	qsort(order, s->nkept, sizeof(*order), kept_cmp);
	return order;
}

/* Reading kept lines again: a reader and the next kept entry not read
 * yet, per file. */
struct rereads {
	struct aq_reread *readers;
	size_t *next;
	struct buf line;
};

/* The bytes of k's line: held in memory, or read from its file. The
 * file's kept lines before k are read on the way and held until their
 * turn. */
static const char *line_of(struct aq_scan *s, struct aq_kept *k, struct rereads *rr, struct buf *err)
{
	const struct aq_file *f = &s->files[k->file];
	struct aq_reread *r = &rr->readers[k->file];
	size_t at = (size_t)(k - s->kept), *next = &rr->next[k->file];
	struct aq_kept *c;

	if (f->fd < 0 || k->line)
		return k->line;
	if (r->gz == NULL && aq_reread_open(r, f->fd, f->path, err) != 0)
		return NULL;
	for (; *next < at; ++*next) {
		c = &s->kept[*next];
		if (aq_reread_line(r, c->offset, c->len, c->hash, &rr->line, err) != 0)
			return NULL;
		c->line = xmalloc(c->len);
		memcpy(c->line, rr->line.data, c->len);
	}
	if (aq_reread_line(r, k->offset, k->len, k->hash, &rr->line, err) != 0)
		return NULL;
	if (++*next == f->end)
		aq_reread_close(r);
	return rr->line.data;
}

/* Hands k to fn. Returns 0, 1 when fn says stop, or -1 with err. */
static int hand_out(struct aq_scan *s, struct aq_kept *k, struct rereads *rr, aq_entry_fn fn, void *arg,
                    struct buf *err)
{
	const char *line = line_of(s, k, rr, err);
	const struct aq_file *f = &s->files[k->file];
	struct aq_entry e;
	bool go_on;

	if (line == NULL)
		return -1;
	if (aq_entry_parse(line, k->len, &e) != AQ_PARSE_OK) { /* cannot be: the checksum matched */
		buf_reset(err);
		(void)buf_printf(err, "%s: changed while it was being read", f->path ? f->path : "(memory)");
		return -1;
	}
	go_on = fn(arg, &e);
	aq_entry_release(&e);
	if (f->fd >= 0 && k->line) { /* held until its turn: done */
		free(k->line);
		k->line = NULL;
	}
	return go_on ? 0 : 1;
}

int aq_scan_each(struct aq_scan *s, aq_entry_fn fn, void *arg, struct buf *err)
{
	struct aq_kept **order;
	struct rereads rr;
	size_t i;
	int r = 0;

	finish(s);
	for (i = 0; i < s->nkept; i++) {
		if (s->files[s->kept[i].file].fd >= 0 && s->kept[i].line) { /* left by a pass stopped early */
			free(s->kept[i].line);
			s->kept[i].line = NULL;
		}
	}
	order = time_order(s);
	rr.readers = xcalloc(s->nfiles + 1, sizeof(*rr.readers));
	rr.next = xcalloc(s->nfiles + 1, sizeof(*rr.next));
	for (i = 0; i < s->nfiles; i++)
		rr.next[i] = s->files[i].first;
	buf_init(&rr.line, AQ_LINE_MAX);
	for (i = 0; r == 0 && i < s->nkept; i++)
		r = hand_out(s, order ? order[i] : &s->kept[i], &rr, fn, arg, err);
	for (i = 0; i < s->nfiles; i++)
		aq_reread_close(&rr.readers[i]);
	buf_release(&rr.line);
	free(rr.readers);
	free(rr.next);
	free(order);
	return r;
}

static bool append_entry(void *arg, const struct aq_entry *e)
{
	return json_array_append(arg, e->root) == 0;
}

json_t *aq_scan_entries(struct aq_scan *s)
{
	json_t *out = json_array();
	struct buf err;

	buf_init(&err, BUF_CAP_DEFAULT);
	if (aq_scan_each(s, append_entry, out, &err) != 0) {
		json_decref(out);
		out = NULL;
	}
	buf_release(&err);
	return out;
}
