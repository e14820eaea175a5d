/* acl_impl.h — what acl_build.c (parse, compile, look up) and acl.c
 * (decide) share: the parsed policy and the compiled ACL. Private to
 * those two files; everyone else uses acl.h. */
#ifndef TROVE_ACL_IMPL_H
#define TROVE_ACL_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "acl.h"
#include "buf.h"

#define CAPS_ALL                                                                                       \
	(ACL_CAP_CREATE | ACL_CAP_READ | ACL_CAP_UPDATE | ACL_CAP_DELETE | ACL_CAP_LIST | ACL_CAP_SUDO | \
	 ACL_CAP_PATCH)

struct policy_rule {
	char *pattern;        /* leading '/' removed */
	unsigned caps;        /* ACL_CAP_DENY alone when denied */
	bool templated;       /* holds "{{": dropped at compile */
	struct strlist required;
	json_t *allowed;      /* object key -> array, or NULL */
	json_t *denied;
	int64_t min_wrap;
	int64_t max_wrap;
	int line;
};

struct policy {
	char *name;
	struct policy_rule *rules;
	size_t nrules;
	size_t cap;
};

struct contrib {
	const char *policy; /* interned in the acl */
	unsigned caps;
};

/* One distinct pattern of the ACL, with everything merged into it. */
struct perm {
	char *pattern;
	unsigned caps;
	struct strlist required;
	json_t *allowed;
	json_t *denied;
	int64_t min_wrap;
	int64_t max_wrap;
	struct contrib *contribs;
	size_t ncontribs;
	/* ranking among non-exact matches */
	bool is_prefix;
	size_t first_wc;  /* index of the first '+' or the trailing '*' */
	unsigned wildcards;
	size_t wc_len;    /* pattern length without the trailing '*' */
};

struct rnode {
	char *label; /* edge from the parent */
	size_t label_len;
	struct rnode **kids; /* sorted by first label byte */
	size_t nkids;
	size_t kids_cap;
	struct perm *exact;
	struct perm *prefix;
};

struct skid {
	char *seg;
	size_t len;
	struct snode *node;
};

struct sprefix {
	char *last; /* the partial final segment */
	size_t len;
	struct perm *perm;
};

struct snode {
	struct skid *kids; /* sorted by span_cmp */
	size_t nkids;
	size_t kids_cap;
	struct snode *plus;
	struct perm *exact;
	struct sprefix *prefixes; /* sorted likewise */
	size_t nprefixes;
	size_t prefixes_cap;
	size_t prefix_maxlen; /* longest partial segment among prefixes */
};

struct acl {
	atomic_int refs;
	bool root;
	struct rnode *radix;
	struct snode *segs;
	struct perm **perms; /* every distinct pattern, in insertion order */
	size_t nperms;
	size_t perms_cap;
	char **names; /* interned policy names */
	size_t nnames;
	bool has_templates; /* a policy had templated rules (see acl.h) */
};

/* The deciding rule for path (leading '/' ignored) under Vault's
 * precedence (acl_build.c's note), or NULL when no rule matches. list:
 * an exact rule for "p" also covers LIST "p/". Borrowed from a. */
const struct perm *acl_lookup_perm(const struct acl *a, const char *path, bool list);

#endif
