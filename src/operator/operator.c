/* operator.c — `trove secrets-operator`: flags, logging, signals and the
 * runtime's life (operator.h).
 *
 * The flags are VSO's manager's where they apply (Go's flag syntax:
 * -name=value, -name value, --name; a bool as -name or -name=false), each
 * declared once in the table below, which also writes -h. Main blocks the
 * signals before any thread starts (every thread inherits the mask) and
 * reads them from a signalfd in poll(): until the informers have synced it
 * wakes every 100 ms to see whether work can begin, then it sleeps until a
 * signal comes. SIGTERM or SIGINT stops the operator gracefully. */
#include <errno.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "operator/operator.h"
#include "strconv.h"
#include "trove_version.h"

#include "banned.h"

/* Few workers by default (VSO runs 100): each reconcile mostly waits on
 * Trove or the API server, four keep 1,000 resources current well within
 * their refresh times, and every worker is a thread's stack and a Trove
 * connection of its own. */
#define DEFAULT_WORKERS 4
#define MAX_WORKERS 256

enum flag_type { F_BOOL, F_STRING, F_INT, F_NOTE };

struct flag_def {
	const char *name;
	enum flag_type type;
	size_t off; /* into struct flags */
	const char *arg;
	const char *help;
};

struct flags {
	const char *kubeconfig;
	bool leader_elect;
	const char *lease_name;
	const char *metrics_addr;
	const char *probe_addr;
	const char *workers;
	const char *namespace;
	const char *log_level;
	const char *log_format;
	const char *zap_log_level;
	const char *zap_encoder;
	bool zap_devel;
	const char *zap_time_encoding;
	const char *zap_stacktrace_level;
	bool version;
	bool help;
};

#define OFF(f) offsetof(struct flags, f)

static const struct flag_def FLAGS[] = {
	{ "kubeconfig", F_STRING, OFF(kubeconfig), "FILE",
	  "The kubeconfig to use. Default: in a pod, the in-cluster configuration; else the first file of "
	  "$KUBECONFIG, else ~/.kube/config." },
	{ "operator-namespace", F_STRING, OFF(namespace), "NS",
	  "The operator's namespace: where the default VaultConnection and VaultAuth live and the leader "
	  "Lease is kept. Default: $OPERATOR_NAMESPACE, else the pod's (or the kubeconfig context's) "
	  "namespace, else \"default\"." },
	{ "leader-elect", F_BOOL, OFF(leader_elect), NULL,
	  "Elect one leader over a coordination.k8s.io Lease so that only one replica works (off by "
	  "default, as controller-runtime's; VSO's chart passes it, and so does Trove's)." },
	{ "leader-election-id", F_STRING, OFF(lease_name), "NAME",
	  "The leader Lease's name (default " OP_DEFAULT_LEASE_NAME ", VSO's)." },
	{ "metrics-bind-address", F_STRING, OFF(metrics_addr), "ADDR",
	  "Where /metrics is served (default :8080; 0 turns it off)." },
	{ "health-probe-bind-address", F_STRING, OFF(probe_addr), "ADDR",
	  "Where /healthz and /readyz are served (default :8081; 0 turns it off)." },
	{ "max-concurrent-reconciles", F_STRING, OFF(workers), "N",
	  "Reconciles run at once (default 4; also $VSO_MAX_CONCURRENT_RECONCILES)." },
	{ "log-level", F_STRING, OFF(log_level), "LEVEL", "trace, debug, info, warn or error (default info)." },
	{ "log-format", F_STRING, OFF(log_format), "FORMAT", "json (the default, as VSO's) or standard." },
	{ "zap-log-level", F_STRING, OFF(zap_log_level), "LEVEL",
	  "VSO's spelling of -log-level: debug, info, error, or a number (1-4 debug, 5 or more trace)." },
	{ "zap-encoder", F_STRING, OFF(zap_encoder), "ENC", "VSO's spelling of -log-format: json or console." },
	{ "zap-devel", F_BOOL, OFF(zap_devel), NULL, "Development logging: standard format at debug level." },
	{ "zap-time-encoding", F_STRING, OFF(zap_time_encoding), "ENC",
	  "Accepted for VSO's charts; Trove's log times are always RFC 3339." },
	{ "zap-stacktrace-level", F_STRING, OFF(zap_stacktrace_level), "LEVEL",
	  "Accepted for VSO's charts; Trove logs no stack traces." },
	{ "version", F_BOOL, OFF(version), NULL, "Print the version and exit." },
	{ "h", F_BOOL, OFF(help), NULL, "Print this help and exit (also -help)." },
	{ "help", F_BOOL, OFF(help), NULL, NULL },
};

#define NFLAGS (sizeof(FLAGS) / sizeof(FLAGS[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: trove secrets-operator [flags]\n\n"
	           "  Runs the Kubernetes secrets operator: syncs secrets, dynamic credentials and\n"
	           "  certificates from Trove into Kubernetes Secrets as the custom resources of\n"
	           "  secrets.hashicorp.com/v1beta1 (Vault Secrets Operator's) say, and rolls the\n"
	           "  workloads that use them.\n\nFlags:\n");
	for (i = 0; i < NFLAGS; i++) {
		char left[64];

		if (FLAGS[i].help == NULL)
			continue;
		snprintf(left, sizeof(left), "-%s%s%s", FLAGS[i].name, FLAGS[i].arg ? " " : "",
		         FLAGS[i].arg ? FLAGS[i].arg : "");
		fprintf(f, "  %-32s %s\n", left, FLAGS[i].help);
	}
}

static const struct flag_def *find_flag(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < NFLAGS; i++)
		if (strlen(FLAGS[i].name) == n && strncmp(FLAGS[i].name, name, n) == 0)
			return &FLAGS[i];
	return NULL;
}

/* Go's flag package: returns -1 to go on, else the exit code. */
static int parse_flags(int argc, char **argv, struct flags *f)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *v;
		const struct flag_def *d;
		size_t n;

		if (a[0] != '-' || a[1] == '\0') {
			fprintf(stderr, "Error: unexpected argument \"%s\"\n\n", a);
			usage(stderr);
			return 1;
		}
		name = a + 1 + (a[1] == '-');
		eq = strchr(name, '=');
		n = eq ? (size_t)(eq - name) : strlen(name);
		d = find_flag(name, n);
		if (d == NULL) {
			fprintf(stderr, "Error: flag provided but not defined: -%.*s\n\n", (int)n, name);
			usage(stderr);
			return 1;
		}
		if (d->type == F_BOOL) {
			bool b = true;

			if (eq && !strconv_bool(eq + 1, &b)) {
				fprintf(stderr, "Error: invalid boolean value \"%s\" for -%s\n", eq + 1, d->name);
				return 1;
			}
			*(bool *)((char *)f + d->off) = b;
			continue;
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "Error: flag needs an argument: -%s\n\n", d->name);
			usage(stderr);
			return 1;
		}
		*(const char **)((char *)f + d->off) = v;
	}
	return -1;
}

/* zap's levels: names, or a number of verbosity (1 debug ... 5+ trace). */
static int zap_level(const char *s, enum log_level *out)
{
	int64_t n;

	if (strcmp(s, "panic") == 0 || strcmp(s, "dpanic") == 0 || strcmp(s, "fatal") == 0) {
		*out = LOG_ERROR;
		return 0;
	}
	if (strconv_int64(s, &n) && n > 0) {
		*out = n >= 5 ? LOG_TRACE : LOG_DEBUG;
		return 0;
	}
	return log_level_parse(s, out);
}

static int setup_logging(const struct flags *f)
{
	enum log_level level = f->zap_devel ? LOG_DEBUG : LOG_INFO;
	enum log_format format = f->zap_devel ? LOG_FORMAT_STANDARD : LOG_FORMAT_JSON;
	const char *lv = f->log_level ? f->log_level : f->zap_log_level;
	const char *fmt = f->log_format;

	if (fmt == NULL && f->zap_encoder)
		fmt = strcmp(f->zap_encoder, "console") == 0 ? "standard" : f->zap_encoder;
	if (lv && (f->log_level ? log_level_parse(lv, &level) : zap_level(lv, &level)) != 0) {
		fprintf(stderr, "Error: invalid log level \"%s\": want trace, debug, info, warn or error\n", lv);
		return 1;
	}
	if (fmt && log_format_parse(fmt, &format) != 0) {
		fprintf(stderr, "Error: invalid log format \"%s\": want json or standard\n", fmt);
		return 1;
	}
	log_configure(level, format);
	return 0;
}

static int parse_workers(const struct flags *f, int *out)
{
	const char *s = f->workers ? f->workers : getenv("VSO_MAX_CONCURRENT_RECONCILES");
	int64_t n;

	*out = DEFAULT_WORKERS;
	if (s == NULL || *s == '\0')
		return 0;
	if (!strconv_int64(s, &n) || n < 1 || n > MAX_WORKERS) {
		fprintf(stderr, "Error: invalid -max-concurrent-reconciles \"%s\": want 1 to %d\n", s, MAX_WORKERS);
		return 1;
	}
	*out = (int)n;
	return 0;
}

/* Blocks SIGINT and SIGTERM in this thread and every one made after, and
 * returns a signalfd reading them, or -1. */
static int signals_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN); /* a closed socket is an error return */
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Waits for the caches, begins work, then for a stop signal. Returns the
 * exit code. */
static int main_loop(struct op *o, int sfd)
{
	bool begun = false;
	int waited = 0;

	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;
		int n = poll(&p, 1, begun ? -1 : 100);

		if (n < 0 && errno != EINTR) {
			log_error("poll failed; stopping");
			return 1;
		}
		if (n > 0 && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			log_info("stopping on a signal", "signal", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			return 0;
		}
		if (!begun && op_runtime_synced(o)) {
			char *err = NULL;

			if (op_runtime_begin(o, &err) != 0) {
				log_error("cannot begin", "error", err);
				free(err);
				return 1;
			}
			begun = true;
		} else if (!begun && ++waited % 100 == 0) {
			log_info("waiting for the informers' first lists");
		}
	}
}

int operator_main(int argc, char **argv)
{
	struct flags f = { .leader_elect = false, .metrics_addr = ":8080", .probe_addr = ":8081" };
	struct op_options opt;
	struct op *o = NULL;
	char *err = NULL;
	int r, sfd;

	/* One malloc arena for every thread, as the agent has it: the threads
	 * mostly wait on the network, and an arena per thread would hold
	 * megabytes of freed memory each (docs/performance.md). */
	mallopt(M_ARENA_MAX, 1);
	if ((r = parse_flags(argc, argv, &f)) >= 0)
		return r;
	if (f.help) {
		usage(stdout);
		return 0;
	}
	if (f.version) {
		printf("Trove v%s\n", TROVE_VERSION);
		return 0;
	}
	memset(&opt, 0, sizeof(opt));
	if (setup_logging(&f) != 0 || parse_workers(&f, &opt.workers) != 0)
		return 1;
	opt.kubeconfig = f.kubeconfig;
	opt.namespace = f.namespace;
	opt.leader_elect = f.leader_elect;
	opt.lease_name = f.lease_name;
	opt.metrics_addr = f.metrics_addr;
	opt.probe_addr = f.probe_addr;
	sfd = signals_setup();
	if (sfd < 0) {
		fprintf(stderr, "Error: cannot set up signal handling: %s\n", strerror(errno));
		return 1;
	}
	if (op_runtime_new(&opt, &o, &err) != 0) {
		log_error("cannot start the operator", "error", err);
		free(err);
		close(sfd);
		return 1;
	}
	log_info("secrets operator started", "version", TROVE_VERSION, "namespace", o->namespace, "identity",
	         o->identity, "leader_elect", opt.leader_elect ? "true" : "false");
	r = main_loop(o, sfd);
	if (!op_runtime_stop(o, OP_SHUTDOWN_GRACE_MS))
		r = r ? r : 1;
	log_info("secrets operator stopped");
	close(sfd);
	return r;
}
