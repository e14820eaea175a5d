/* plugin_driver.c — drives one database plugin from the command line, so
 * the integration tests can check a plugin against a real database
 * without the engine around it.
 *
 *   plugin_driver PLUGIN URL [options] ping
 *   plugin_driver PLUGIN URL [options] exec STATEMENT...
 *
 * options: -u USER, -p PASSWORD, --tls-ca FILE, --tls-cert-key FILE,
 * --tls-server-name NAME, --tls-skip-verify, --timeout-ms N (default 5000).
 * `exec` runs every STATEMENT in one exec_tx call. Prints "ok", or
 * "error <code>: <why>" on stderr; exits 0 on success, 1 on a plugin error,
 * 3 on TROVE_ERR_TIMEOUT, 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "engines/database/plugins.h"
#include "err.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = calloc(1, 1 << 20);
	if (buf == NULL) {
		fclose(f);
		return NULL;
	}
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static int usage(void)
{
	fprintf(stderr, "usage: plugin_driver PLUGIN URL [-u USER] [-p PASSWORD] [--tls-ca FILE] "
	                "[--tls-cert-key FILE] [--tls-server-name NAME] [--tls-skip-verify] "
	                "[--timeout-ms N] ping|exec STATEMENT...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct db_connect_params p = {0};
	const struct db_plugin *plugin;
	struct db_conn *conn = NULL;
	char *why = NULL, *ca = NULL, *cert_key = NULL, *end;
	long timeout_ms = 5000;
	int i, r;

	if (argc < 4)
		return usage();
	plugin = db_plugin_find(argv[1]);
	if (plugin == NULL) {
		fprintf(stderr, "no plugin named %s\n", argv[1]);
		return 2;
	}
	p.connection_url = argv[2];
	for (i = 3; i < argc && argv[i][0] == '-'; i++) {
		if (i + 1 >= argc && strcmp(argv[i], "--tls-skip-verify") != 0)
			return usage();
		if (strcmp(argv[i], "-u") == 0)
			p.username = argv[++i];
		else if (strcmp(argv[i], "-p") == 0)
			p.password = argv[++i];
		else if (strcmp(argv[i], "--tls-ca") == 0)
			p.tls_ca = ca = read_file(argv[++i]);
		else if (strcmp(argv[i], "--tls-cert-key") == 0)
			p.tls_certificate_key = cert_key = read_file(argv[++i]);
		else if (strcmp(argv[i], "--tls-server-name") == 0)
			p.tls_server_name = argv[++i];
		else if (strcmp(argv[i], "--tls-skip-verify") == 0)
			p.tls_skip_verify = true;
		else if (strcmp(argv[i], "--timeout-ms") == 0) {
			errno = 0;
			timeout_ms = strtol(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || timeout_ms <= 0)
				return usage();
		} else
			return usage();
	}
	if (i >= argc)
		return usage();
	p.deadline_ms = clock_realtime_ns() / 1000000 + timeout_ms;
	r = plugin->connect(&p, &conn, &why);
	if (r == 0) {
		if (strcmp(argv[i], "ping") == 0 && i + 1 == argc)
			r = plugin->ping(conn, clock_realtime_ns() / 1000000 + timeout_ms, &why);
		else if (strcmp(argv[i], "exec") == 0 && i + 1 < argc)
			r = plugin->exec_tx(conn, (const char *const *)&argv[i + 1], (size_t)(argc - i - 1),
			                    clock_realtime_ns() / 1000000 + timeout_ms, &why);
		else {
			plugin->disconnect(conn);
			free(ca);
			free(cert_key);
			return usage();
		}
	}
	plugin->disconnect(conn);
	free(ca);
	free(cert_key);
	if (r != 0) {
		fprintf(stderr, "error %s: %s\n", err_name(r), why ? why : "(no message)");
		free(why);
		return r == TROVE_ERR_TIMEOUT ? 3 : 1;
	}
	puts("ok");
	return 0;
}
