/* audit_consumers.c — who used a secret (audit_consumers.h). While a log
 * is read, each counted access joins the group of its entity, or of its
 * token; logins and token creations tell which auth mount issued a token.
 * At the end token groups become identities (display name, role, issuing
 * mount) and every group is merged into its identity. Memory grows with
 * the number of distinct tokens and identities, not with the log. */
#include <stdlib.h>
#include <string.h>

#include "cli/audit_consumers.h"
#include "strlist_json.h"

#include "banned.h"

struct aq_group {
	char *entity_id, *display_name, *role, *token, *mount; /* "" when unknown */
	struct strlist policies;
	struct aq_time first, last;
	size_t count;
};

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static void replace_str(char **dst, const char *src)
{
	free(*dst);
	*dst = xstrdup(or_empty(src));
}

static void group_release(struct aq_group *g)
{
	free(g->entity_id);
	free(g->display_name);
	free(g->role);
	free(g->token);
	free(g->mount);
	strlist_release(&g->policies);
}

void aq_groups_init(struct aq_groups *g)
{
	memset(g, 0, sizeof(*g));
	g->index = json_object();
	g->issued = json_object();
}

void aq_groups_release(struct aq_groups *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		group_release(&g->list[i]);
	free(g->list);
	json_decref(g->index);
	json_decref(g->issued);
	memset(g, 0, sizeof(*g));
}

/* Adds one access (or a whole group, src) to g: counts, times, policies;
 * the names shown are those of the latest access. */
static void group_merge(struct aq_group *g, const struct aq_group *src)
{
	size_t i;

	if (g->count == 0 || aq_time_cmp(&src->first, &g->first) < 0)
		g->first = src->first;
	if (g->count == 0 || aq_time_cmp(&src->last, &g->last) >= 0) {
		g->last = src->last;
		replace_str(&g->display_name, src->display_name);
		replace_str(&g->role, src->role);
		replace_str(&g->token, src->token);
		if (aq_has_text(src->mount) || g->mount == NULL)
			replace_str(&g->mount, src->mount);
	}
	for (i = 0; i < src->policies.len; i++)
		if (!strlist_contains(&g->policies, src->policies.items[i]) &&
		    strlist_push(&g->policies, src->policies.items[i]) != 0)
			abort();
	g->count += src->count;
}

/* The group of key in gs, created empty. */
static struct aq_group *group_for(struct aq_groups *gs, const char *key, const char *entity_id)
{
	const json_t *at = json_object_get(gs->index, key);
	struct aq_group *g;

	if (at)
		return &gs->list[json_integer_value(at)];
	if (gs->n == gs->size) {
		gs->size = gs->size ? gs->size * 2 : 16;
		gs->list = xrealloc(gs->list, gs->size * sizeof(*gs->list));
	}
	g = &gs->list[gs->n];
	memset(g, 0, sizeof(*g));
	g->entity_id = xstrdup(or_empty(entity_id));
	strlist_init(&g->policies);
	json_object_set_new(gs->index, key, json_integer((json_int_t)gs->n++));
	return g;
}

/* ---- while reading ---------------------------------------------------- */

/* A response that issued a token (a login, a token creation): remember
 * which mount issued it. */
static void note_issued(struct aq_groups *gs, const struct aq_entry *e)
{
	const json_t *resp = json_object_get(e->root, "response");
	const char *token = aq_str(json_object_get(resp, "auth"), "client_token");
	const char *mount = aq_has_text(e->mount) ? e->mount : aq_str(resp, "mount_point");

	if (e->kind == AQ_RESPONSE && !aq_has_text(e->error) && aq_has_text(token) && aq_has_text(mount))
		json_object_set_new(gs->issued, token, json_string(mount));
}

/* The client token of the entry's identity. */
static const char *entry_token(const struct aq_entry *e)
{
	const char *t = aq_str(e->auth, "client_token");

	return aq_has_text(t) ? t : aq_str(json_object_get(e->root, "request"), "client_token");
}

/* One access: counted in the group of its entity, or of its token
 * (tokens are grouped by issuing mount at the end). */
void aq_groups_add(struct aq_groups *gs, const struct aq_entry *e, bool counted)
{
	const char *entity = aq_str(e->auth, "entity_id"), *token = entry_token(e);
	struct aq_group one;
	struct buf key, pol;
	size_t i, start = 0;

	note_issued(gs, e);
	if (!counted)
		return;
	buf_init(&key, BUF_CAP_DEFAULT);
	buf_init(&pol, BUF_CAP_DEFAULT);
	if (aq_has_text(entity))
		(void)buf_printf(&key, "e\n%s", entity);
	else
		(void)buf_printf(&key, "t\n%s\n%s\n%s", or_empty(aq_str(e->auth, "display_name")),
		                 or_empty(aq_entry_role(e)), or_empty(token));
	memset(&one, 0, sizeof(one));
	one.display_name = (char *)aq_str(e->auth, "display_name");
	one.role = (char *)aq_entry_role(e);
	one.token = (char *)token;
	one.first = one.last = e->time;
	one.count = 1;
	strlist_init(&one.policies);
	aq_entry_policies(e, &pol);
	for (i = 0; i <= pol.len; i++) {
		if (i < pol.len && pol.data[i] != ',')
			continue;
		if (i > start &&
		    strlist_push_owned(&one.policies, xstrndup(pol.data + start, i - start)) != 0)
			abort();
		start = i + 1;
	}
	group_merge(group_for(gs, key.data, entity), &one);
	strlist_release(&one.policies);
	buf_release(&key);
	buf_release(&pol);
}

/* ---- at the end: identities ------------------------------------------- */

/* Identities, being built from the groups read. */
struct identities {
	struct aq_groups ids;
	json_t *by_who; /* display name + role -> index of the one identity with
	                 * a known mount, or -1 when several have one */
};

static void identity_key(const struct aq_group *g, bool with_mount, struct buf *key)
{
	buf_reset(key);
	if (*g->entity_id)
		(void)buf_printf(key, "e\n%s", g->entity_id);
	else if (with_mount)
		(void)buf_printf(key, "n\n%s\n%s\n%s", g->display_name, g->role, g->mount);
	else
		(void)buf_printf(key, "w\n%s\n%s", g->display_name, g->role);
}

/* Merges into identities the groups with an entity or a known issuing
 * mount (known), or the others: token groups whose issue is not in the
 * logs, which join the one identity of the same display name and role
 * with a known mount, or one of their own. */
static void identities_add(const struct aq_groups *gs, struct identities *ids, bool known, struct buf *key)
{
	const json_t *seen;
	struct aq_group tmp;
	const char *mount;
	size_t i;

	for (i = 0; i < gs->n; i++) {
		const struct aq_group *g = &gs->list[i];

		mount = aq_str(gs->issued, g->token);
		if ((*g->entity_id || mount) != known)
			continue;
		tmp = *g;
		tmp.mount = (char *)or_empty(mount);
		identity_key(&tmp, false, key);
		seen = json_object_get(ids->by_who, key->data);
		if (!known && seen && json_integer_value(seen) >= 0) {
			group_merge(&ids->ids.list[json_integer_value(seen)], &tmp);
			continue;
		}
		if (known && !*g->entity_id) {
			identity_key(&tmp, true, key);
			/* a new (display name, role, mount): one more for by_who */
			if (!json_object_get(ids->ids.index, key->data)) {
				identity_key(&tmp, false, key);
				json_object_set_new(ids->by_who, key->data,
				                    json_integer(seen ? -1 : (json_int_t)ids->ids.n));
			}
		}
		identity_key(&tmp, true, key);
		group_merge(group_for(&ids->ids, key->data, tmp.entity_id), &tmp);
	}
}

static int identity_cmp(const void *a, const void *b)
{
	const struct aq_group *x = a, *y = b;
	int c = aq_time_cmp(&y->last, &x->last);

	if (c != 0)
		return c;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->display_name, y->display_name);
}

static json_t *identity_json(const struct aq_group *g)
{
	json_t *o = json_object(), *pol = strlist_json(&g->policies);
	struct buf t;

	buf_init(&t, BUF_CAP_DEFAULT);
	json_object_set_new(o, "entity_id", json_string(g->entity_id));
	json_object_set_new(o, "display_name", json_string(g->display_name));
	json_object_set_new(o, "role", json_string(g->role));
	if (aq_has_text(g->mount))
		json_object_set_new(o, "auth_mount", json_string(g->mount));
	json_object_set_new(o, "policies", pol);
	aq_time_format(&g->first, true, &t);
	json_object_set_new(o, "first", json_string(t.data));
	buf_reset(&t);
	aq_time_format(&g->last, true, &t);
	json_object_set_new(o, "last", json_string(t.data));
	json_object_set_new(o, "count", json_integer((json_int_t)g->count));
	buf_release(&t);
	return o;
}

json_t *aq_groups_consumers(const struct aq_groups *gs)
{
	struct identities ids;
	struct buf key;
	json_t *out = json_array();
	size_t i;

	aq_groups_init(&ids.ids);
	ids.by_who = json_object();
	buf_init(&key, BUF_CAP_DEFAULT);
	identities_add(gs, &ids, true, &key);
	identities_add(gs, &ids, false, &key);
	if (ids.ids.n > 0)
		qsort(ids.ids.list, ids.ids.n, sizeof(*ids.ids.list), identity_cmp);
	for (i = 0; i < ids.ids.n; i++) {
		strlist_sort(&ids.ids.list[i].policies);
		json_array_append_new(out, identity_json(&ids.ids.list[i]));
	}
	aq_groups_release(&ids.ids);
	json_decref(ids.by_who);
	buf_release(&key);
	return out;
}
