/* auth_cert.c — auto-auth with cert: the login is the TLS client
 * certificate itself (auth_method.h). client_cert and client_key in the
 * method's config (both or neither) and ca_cert replace vault { }'s for the
 * login; name picks the cert role. reload is accepted as Vault's: the
 * files are read at each login anyway. */
#include <stdlib.h>
#include <string.h>

#include "agent/auth_method.h"
#include "err.h"

#include "banned.h"

static const char *const keys[] = {"name", "ca_cert", "client_cert", "client_key", "reload", NULL};

static int init(struct auth_method *m, struct buf *err)
{
	const char *cert = auth_method_value(m, "client_cert"), *key = auth_method_value(m, "client_key");
	const char *ca = auth_method_value(m, "ca_cert");
	bool reload;
	int r;

	if ((r = auth_method_bool(m, "reload", false, &reload, err)) != 0)
		return r;
	if ((cert && *cert) != (key && *key))
		return auth_method_fail(m, cert && *cert ? "client_key" : "client_cert", err,
		                        "client_cert and client_key go together");
	if (cert && *cert) {
		m->client_cert = cert;
		m->client_key = key;
	}
	if (ca && *ca)
		m->ca_cert = ca;
	return 0;
}

static int login(struct auth_method *m, struct api_client *c, struct auth_login *out, struct buf *err)
{
	const char *name = auth_method_value(m, "name");

	(void)c;
	(void)err;
	auth_login_init(out, m);
	if (name && *name)
		json_object_set_new(out->body, "name", json_string(name));
	return 0;
}

const struct auth_method_ops auth_cert_ops = {"cert", keys, init, login, NULL};
