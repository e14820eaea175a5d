/* http_rss.c — the resident memory one API request costs, per transport.
 *
 *   bench_http_rss none|curl|native ADDRESS [CA_FILE] [COUNT]
 *
 * Makes an API client (libcurl, or the native HTTP/1.1 transport the agent
 * uses), sends COUNT (1) GETs of sys/health to ADDRESS, and prints the
 * peak resident set (VmHWM), the resident set at the end (VmRSS) and its
 * parts, anonymous memory (RssAnon: the program's own) and mapped files
 * (RssFile: library pages, shared with every process using them), and
 * the proportional set (Pss: shared pages divided among their users), in
 * KiB. "none" sends nothing: the program's own floor. Any HTTP answer
 * counts (an uninitialised server answers 501); no answer exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

/* A "Field:   N kB" line of a /proc file, in KiB; -1 when missing. */
static long proc_kib(const char *path, const char *field)
{
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

int main(int argc, char **argv)
{
	struct api_config cfg;
	struct api_client *c = NULL;
	struct api_response resp;
	char *detail = NULL;
	long i, count = argc > 4 ? strtol(argv[4], NULL, 10) : 1;
	int rc = 0;

	if (argc < 3 || (strcmp(argv[1], "none") != 0 && strcmp(argv[1], "curl") != 0 &&
	                 strcmp(argv[1], "native") != 0)) {
		fprintf(stderr, "usage: %s none|curl|native ADDRESS [CA_FILE] [COUNT]\n", argv[0]);
		return 2;
	}
	api_config_init(&cfg);
	api_config_set(&cfg.address, argv[2]);
	if (argc > 3 && argv[3][0])
		api_config_set(&cfg.ca_cert, argv[3]);
	cfg.native_transport = strcmp(argv[1], "curl") != 0; /* "none": nothing loaded */
	cfg.max_retries = 0;
	if (api_client_new(&cfg, &c, &detail) != 0) {
		fprintf(stderr, "client: %s\n", detail ? detail : "?");
		return 1;
	}
	api_response_init(&resp);
	for (i = 0; strcmp(argv[1], "none") != 0 && i < count; i++) {
		(void)api_read(c, "sys/health", &resp);
		if (resp.status == 0) {
			fprintf(stderr, "no answer: %s\n", resp.error ? resp.error : "?");
			rc = 1;
			break;
		}
	}
	printf(
	    "%s requests=%ld status=%ld max_rss_kib=%ld rss_kib=%ld anon_kib=%ld file_kib=%ld pss_kib=%ld\n",
	    argv[1], strcmp(argv[1], "none") ? count : 0, resp.status, proc_kib("/proc/self/status", "VmHWM"),
	    proc_kib("/proc/self/status", "VmRSS"), proc_kib("/proc/self/status", "RssAnon"),
	    proc_kib("/proc/self/status", "RssFile"), proc_kib("/proc/self/smaps_rollup", "Pss"));
	api_response_release(&resp);
	api_client_free(c);
	api_config_release(&cfg);
	return rc;
}
