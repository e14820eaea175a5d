/* migrate.c — `trove operator migrate` (migrate.h).
 *
 * As Vault's: the config names a storage_source and a storage_destination
 * block, each a storage block of the server's config. The source gets a
 * lock key (core/migration, {"start": time}) while the copy runs, so a
 * server does not start on it half-way (server.c refuses a locked
 * storage), and a second migration refuses to start; -reset removes a
 * lock left by a migration that died. Keys are visited depth first in
 * list order, which is bytewise key order, so an interrupted migration
 * can be resumed with -start=KEY. As in Vault, a destination that already
 * holds keys is not refused: copied keys overwrite, others stay (docs/ha.md
 * says to migrate into an empty one). The lock key itself and Vault's HA
 * lock key (core/lock) are not copied. Keys are written in transactions
 * of up to 256 keys or 4 MiB (a durable destination syncs once per
 * transaction); a failed batch is reported by its first key, where
 * -start resumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server/config.h"
#include "server/migrate.h"
#include "server/storage_open.h"

#include "err.h"
#include "hcl.h"
#include "hcl_config.h"
#include "timefmt.h"

#include "banned.h"

#define HA_LOCK_KEY "core/lock"

struct migrate_config {
	struct storage_config source, destination;
};

struct migrate_flags {
	const char *config;
	const char *start;
	bool reset;
};

static void usage(FILE *f)
{
	fputs("Usage: trove operator migrate -config=FILE [-start=KEY] [-reset]\n\n"
	      "  Copies every key of one storage into another, as it is stored (encrypted:\n"
	      "  nothing is unsealed), in key order. Stop Trove first. FILE holds two blocks:\n\n"
	      "      storage_source \"lmdb\" { path = \"/var/lib/trove\" }\n"
	      "      storage_destination \"postgresql\" { connection_url = \"postgres://...\" }\n\n"
	      "  The source holds a lock key (core/migration) while the copy runs; a server\n"
	      "  does not start on a locked storage.\n\n"
	      "  -config=FILE   The migration config (required).\n"
	      "  -start=KEY     Copy only the keys that sort at or after KEY (to resume).\n"
	      "  -reset         Remove the source's migration lock and exit.\n",
	      f);
}

static int parse_flags(int argc, char **argv, struct migrate_flags *fl)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			fprintf(stderr, "trove operator migrate: unexpected argument \"%s\"\n", a);
			return 1;
		}
		a += (a[1] == '-') ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = eq ? eq + 1 : NULL;
		const char **dst;
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
		if (IS("h") || IS("help"))
			return -1;
		if (IS("reset")) {
			fl->reset = true;
			continue;
		}
		if (IS("config"))
			dst = &fl->config;
		else if (IS("start"))
			dst = &fl->start;
		else {
			fprintf(stderr, "trove operator migrate: unknown flag \"%s\"\n", argv[i]);
			return 1;
		}
#undef IS
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "trove operator migrate: flag \"%s\" needs a value\n", argv[i]);
				return 1;
			}
			val = argv[++i];
		}
		*dst = val;
	}
	return 0;
}

static int load_source(void *ctx, const char *type, const struct hcl_value *body, int line, const char *file,
                       struct buf *err)
{
	struct migrate_config *mc = ctx;
	return config_storage_block(&mc->source, "storage_source", type, body, line, file, err);
}

static int load_destination(void *ctx, const char *type, const struct hcl_value *body, int line, const char *file,
                            struct buf *err)
{
	struct migrate_config *mc = ctx;
	return config_storage_block(&mc->destination, "storage_destination", type, body, line, file, err);
}

static int load_text(void *ctx, const char *name, const char *text, size_t len, bool json, struct buf *err)
{
	struct hcl_value *root = NULL;
	struct hcl_error he = {0};
	int r = json ? hcl_parse_json(text, len, &root, &he) : hcl_parse(text, len, &root, &he);

	if (r != 0)
		return hcl_config_fail(err, name, he.line, "%s", he.message);
	for (size_t i = 0; i < root->u.object.len && r == 0; i++) {
		const struct hcl_member *m = &root->u.object.members[i];
		if (strcmp(m->key, "storage_source") == 0)
			r = hcl_config_blocks(m, load_source, ctx, name, err);
		else if (strcmp(m->key, "storage_destination") == 0)
			r = hcl_config_blocks(m, load_destination, ctx, name, err);
		else if (strcmp(m->key, "cluster_addr") != 0) /* Vault's raft needs it; ours not */
			r = hcl_config_fail(err, name, m->line,
			                    "unknown key \"%s\" (a migration config has storage_source and "
			                    "storage_destination)",
			                    m->key);
	}
	hcl_free(root);
	return r;
}

static int check_block(const struct storage_config *sc, const char *kind, const char *file, struct buf *err)
{
	if (sc->type == NULL)
		return hcl_config_fail(err, file, 0, "no %s block", kind);
	if (strcmp(sc->type, "inmem") == 0)
		return hcl_config_fail(err, sc->where, 0, "%s \"inmem\": an in-memory storage cannot be migrated", kind);
	if (strcmp(sc->type, "lmdb") == 0 && (sc->path == NULL || sc->path[0] == '\0'))
		return hcl_config_fail(err, sc->where, 0, "%s \"lmdb\": \"path\" is required", kind);
	return 0;
}

static int set_lock(struct storage *s)
{
	char now[TIME_TEXT_MAX];
	struct buf v;
	int r;

	time_rfc3339((int64_t)time(NULL), now);
	buf_init(&v, 256);
	buf_printf(&v, "{\"start\":\"%s\"}", now); /* digits, '-', ':', 'T', 'Z' */
	r = storage_put(s, STORAGE_MIGRATION_LOCK, v.data, v.len);
	buf_release(&v);
	return r;
}

/* Keys are written in batches, one transaction each: a durable backend
 * syncs once per transaction, so one key per commit would make the copy
 * run at the destination's sync rate. */
#define BATCH_KEYS 256
#define BATCH_BYTES ((size_t)4 << 20)

struct copier {
	struct storage *from, *to;
	const char *start;
	size_t copied;
	struct storage_op batch[BATCH_KEYS];
	size_t nbatch, batch_bytes;
	char *failed_key; /* the key (or folder) that failed: resume there */
	const char *failed_op;
};

static void batch_clear(struct copier *c)
{
	for (size_t i = 0; i < c->nbatch; i++) {
		free((char *)c->batch[i].key);
		free((void *)c->batch[i].value);
	}
	c->nbatch = 0;
	c->batch_bytes = 0;
}

/* Writes the batch in one transaction; reports each key once written. */
static int batch_flush(struct copier *c)
{
	int r;

	if (c->nbatch == 0)
		return 0;
	if ((r = storage_txn(c->to, c->batch, c->nbatch)) != 0) {
		c->failed_op = "write";
		c->failed_key = xstrdup(c->batch[0].key);
	} else {
		for (size_t i = 0; i < c->nbatch; i++)
			fprintf(stderr, "copied key: %s\n", c->batch[i].key);
		c->copied += c->nbatch;
	}
	batch_clear(c);
	return r;
}

/* Reads key from the source into the batch (full is consumed). */
static int copy_key(struct copier *c, char *full)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int r = storage_get(c->from, full, &v, &n);

	if (r == TROVE_ERR_NOT_FOUND) {
		free(full); /* deleted since the list: nothing to copy */
		return 0;
	}
	if (r != 0) {
		c->failed_op = "read";
		c->failed_key = full;
		return r;
	}
	c->batch[c->nbatch++] = (struct storage_op){STORAGE_PUT, full, v, n};
	c->batch_bytes += strlen(full) + n;
	if (c->nbatch == BATCH_KEYS || c->batch_bytes >= BATCH_BYTES)
		return batch_flush(c);
	return 0;
}

/* Copies every key under prefix (depth first, in list order, which is
 * key order). */
static int copy_tree(struct copier *c, const char *prefix)
{
	struct strlist kids;
	size_t plen = strlen(prefix);
	int r;

	strlist_init(&kids);
	if ((r = storage_list(c->from, prefix, &kids)) != 0) {
		c->failed_key = xstrdup(prefix[0] ? prefix : "(root)");
		c->failed_op = "list";
		goto out;
	}
	for (size_t i = 0; i < kids.len && r == 0; i++) {
		size_t klen = strlen(kids.items[i]);
		char *full = xmalloc(plen + klen + 1);
		memcpy(full, prefix, plen);
		memcpy(full + plen, kids.items[i], klen + 1);
		if (klen > 0 && kids.items[i][klen - 1] == '/') {
			/* a folder sorting wholly before -start is skipped */
			if (c->start == NULL || strcmp(full, c->start) >= 0 || strncmp(c->start, full, plen + klen) == 0)
				r = copy_tree(c, full);
			free(full);
			continue;
		}
		if ((c->start && strcmp(full, c->start) < 0) || strcmp(full, STORAGE_MIGRATION_LOCK) == 0 ||
		    strcmp(full, HA_LOCK_KEY) == 0) {
			free(full);
			continue;
		}
		r = copy_key(c, full);
	}
out:
	strlist_release(&kids);
	return r;
}

static int run(const struct migrate_config *mc, const struct migrate_flags *fl)
{
	struct storage *from = NULL, *to = NULL;
	struct buf err;
	char started[64];
	bool locked = false;
	int r, code = 2;

	buf_init(&err, 4096);
	if ((from = server_storage_open(&mc->source, &err)) == NULL) {
		fprintf(stderr, "Error opening storage_source \"%s\": %s\n", mc->source.type, err.data);
		goto out;
	}
	if (fl->reset) {
		if ((r = storage_delete(from, STORAGE_MIGRATION_LOCK)) != 0) {
			fprintf(stderr, "Error resetting the migration lock: %s\n", err_message(r));
			goto out;
		}
		fprintf(stderr, "Success! Migration lock reset (if it was set).\n");
		code = 0;
		goto out;
	}
	if ((to = server_storage_open(&mc->destination, &err)) == NULL) {
		fprintf(stderr, "Error opening storage_destination \"%s\": %s\n", mc->destination.type, err.data);
		goto out;
	}
	if ((r = server_storage_migration_locked(from, started, sizeof(started))) != 0) {
		if (r > 0)
			fprintf(stderr,
			        "Error migrating: storage migration in progress (started: %s); "
			        "'trove operator migrate -reset' clears a lock left by a migration that died\n",
			        started);
		else
			fprintf(stderr, "Error migrating: cannot read the migration lock: %s\n", err_message(r));
		goto out;
	}
	if ((r = set_lock(from)) != 0) {
		fprintf(stderr, "Error migrating: cannot set the migration lock: %s\n", err_message(r));
		goto out;
	}
	locked = true;
	struct copier *c = xcalloc(1, sizeof(*c));
	c->from = from;
	c->to = to;
	c->start = fl->start;
	if ((r = copy_tree(c, "")) == 0)
		r = batch_flush(c);
	if (r != 0) {
		fprintf(stderr, "Error migrating: %s of key \"%s\" failed: %s (resume with -start=\"%s\")\n",
		        c->failed_op ? c->failed_op : "copy", c->failed_key ? c->failed_key : "?", err_message(r),
		        c->failed_key ? c->failed_key : "");
	} else {
		fprintf(stderr, "Success! All of the keys have been migrated (%zu copied).\n", c->copied);
		code = 0;
	}
	batch_clear(c);
	free(c->failed_key);
	free(c);
out:
	if (locked && (r = storage_delete(from, STORAGE_MIGRATION_LOCK)) != 0) {
		fprintf(stderr, "Error: cannot remove the migration lock (%s): run 'trove operator migrate -reset'\n",
		        err_message(r));
		code = 2;
	}
	storage_free(to);
	storage_free(from);
	buf_release(&err);
	return code;
}

int server_operator_migrate(int argc, char **argv)
{
	struct migrate_flags fl = {0};
	struct migrate_config mc;
	struct buf err;
	int r = parse_flags(argc, argv, &fl);

	if (r < 0) {
		usage(stdout);
		return 0;
	}
	if (r != 0) {
		usage(stderr);
		return 1;
	}
	if (fl.config == NULL) {
		fprintf(stderr, "trove operator migrate: give -config=FILE\n\n");
		usage(stderr);
		return 1;
	}
	memset(&mc, 0, sizeof(mc));
	buf_init(&err, 4096);
	if ((r = hcl_config_load_path(fl.config, load_text, &mc, &err)) == 0 &&
	    (r = check_block(&mc.source, "storage_source", fl.config, &err)) == 0 &&
	    (r = check_block(&mc.destination, "storage_destination", fl.config, &err)) == 0)
		r = run(&mc, &fl);
	else {
		fprintf(stderr, "Error parsing the migration config: %s\n", err.data);
		r = 1;
	}
	config_storage_release(&mc.source);
	config_storage_release(&mc.destination);
	buf_release(&err);
	return r;
}
