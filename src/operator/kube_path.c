/* kube_path.c — REST paths of the Kubernetes API (kube_path in kube.h)
 * and the kinds of resource the operator touches. */
#include <stdio.h>
#include <string.h>

#include "operator/kube.h"
#include "operator/kube_int.h"

#include "banned.h"

const struct kube_resource KUBE_SECRETS = {"", "v1", "secrets", true};
const struct kube_resource KUBE_EVENTS = {"", "v1", "events", true};
const struct kube_resource KUBE_LEASES = {"coordination.k8s.io", "v1", "leases", true};
const struct kube_resource KUBE_DEPLOYMENTS = {"apps", "v1", "deployments", true};
const struct kube_resource KUBE_STATEFULSETS = {"apps", "v1", "statefulsets", true};
const struct kube_resource KUBE_DAEMONSETS = {"apps", "v1", "daemonsets", true};
const struct kube_resource KUBE_ARGO_ROLLOUTS = {"argoproj.io", "v1alpha1", "rollouts", true};

int kube_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;
	int r = 0;

	for (; r == 0 && (c = (unsigned char)*s) != 0; s++) {
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c))
			r = buf_append_byte(b, (char)c);
		else
			r = buf_printf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	return r;
}

/* "/" and the escaped segment s. */
static int segment(struct buf *b, const char *s)
{
	int r = buf_append_byte(b, '/');

	return r ? r : kube_escape(b, s);
}

char *kube_path(const struct kube_resource *res, const char *ns, const char *name, const char *sub,
                const char *query)
{
	struct buf b;
	int r;

	buf_init(&b, (size_t)1 << 16);
	if (res->group[0])
		r = buf_printf(&b, "/apis/%s/%s", res->group, res->version);
	else
		r = buf_printf(&b, "/api/%s", res->version);
	if (r == 0 && ns && res->namespaced)
		r = buf_append_str(&b, "/namespaces") || segment(&b, ns);
	if (r == 0)
		r = buf_printf(&b, "/%s", res->plural);
	if (r == 0 && name)
		r = segment(&b, name);
	if (r == 0 && sub)
		r = buf_printf(&b, "/%s", sub);
	if (r == 0 && query && *query)
		r = buf_printf(&b, "?%s", query);
	if (r != 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_take(&b);
}
