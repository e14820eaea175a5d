/* notes_engine.c — the smallest complete engine: short notes by name, a
 * count of writes kept per mount, and a periodic tally. Built and run by
 * tests/unit/test_notes_engine.c; docs/architecture.md shows it whole. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/mount.h"
#include "err.h"
#include "storage/storage.h"

struct notes_state { /* one per mount, made at mount, freed at unmount */
	atomic_long writes, tallies;
};

static int notes_init(struct mount *m, struct buf *err)
{
	m->engine_state = calloc(1, sizeof(struct notes_state));
	return m->engine_state ? 0 : TROVE_ERR_INTERNAL;
}

static void notes_cleanup(struct mount *m)
{
	free(m->engine_state);
}

static int note_read(struct request *req, struct response *resp)
{
	unsigned char *v = NULL;
	size_t n = 0;
	int r = storage_get(req->storage, req->params[0], &v, &n); /* through the barrier */
	if (r == 0)
		response_set_data(resp, json_pack("{s:s%}", "text", (const char *)v, n));
	free(v);
	return r; /* TROVE_ERR_NOT_FOUND: 404 */
}

static int note_write(struct request *req, struct response *resp)
{
	struct notes_state *st = req->mount->engine_state;
	const char *text = field_string(req, "text"); /* present, typed, bounded */
	int r = storage_put(req->storage, req->params[0], text, strlen(text));
	if (r == 0)
		atomic_fetch_add(&st->writes, field_int(req, "copies"));
	return r;
}

static void notes_tally(struct mount *m) /* on a worker, never on a loop */
{
	atomic_fetch_add(&((struct notes_state *)m->engine_state)->tallies, 1);
}

static const struct field note_fields[] = {
    {.name = "text", .type = FIELD_STRING, .required = true, .description = "the note"},
    {.name = "copies", .type = FIELD_INT, .def = "1", .min = 1, .max = 10, .description = "weight"},
    {0},
};

static const struct route note_routes[] = {
    {.pattern = "notes/:name",
     .ops = {[OP_READ] = note_read, [OP_UPDATE] = note_write},
     .fields = note_fields,
     .flags = ROUTE_NAMES_CI | ROUTE_LOOP_READS, /* reads touch nothing but storage */
     .synopsis = "a note"},
    {0},
};

static const struct route *const note_tables[] = {note_routes, NULL};

const struct engine notes_engine = {
    .type = "notes",
    .tables = note_tables,
    .mount_init = notes_init,
    .mount_cleanup = notes_cleanup,
    .periodic = notes_tally,
    .periodic_interval_s = 1,
};
