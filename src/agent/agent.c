/* agent.c — `trove agent`: flags, config, signals, and the parts' lives.
 *
 * Main loads and checks the config, writes the pid file, starts the parts
 * the config asks for (agent_parts.h), then sleeps in poll() on a
 * signalfd and the stop pipe: no timer runs here, so an idle agent's main
 * thread never wakes. Signals are blocked in every thread and read here;
 * with exec mode they go to the exec part (which forwards them to the
 * child), otherwise SIGINT and SIGTERM stop the agent. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/agent_exec.h"
#include "agent/agent_parts.h"
#include "agent/agent_proxy.h"
#include "agent/agent_templates.h"
#include "agent/auto_auth.h"
#include "err.h"
#include "log.h"
#include "object_pages.h"

#include "banned.h"

#define MAX_CONFIG_PATHS 32

/* The parts, in start order (agent_parts.h). */
static const struct agent_part parts[] = {
	{ "proxy", agent_proxy_wanted, agent_proxy_start, agent_proxy_stop, NULL },
	{ "auto-auth", auto_auth_wanted, auto_auth_start, auto_auth_stop, NULL },
	{ "exec", agent_exec_wanted, agent_exec_start, agent_exec_stop, agent_exec_signal },
	{ "templates", agent_templates_wanted, agent_templates_start, agent_templates_stop, NULL },
	{ NULL, NULL, NULL, NULL, NULL },
};

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

int agent_init(struct agent *a, const struct agent_config *cfg, struct buf *err)
{
	const struct agent_vault_config *v = &cfg->vault;
	char *detail = NULL;
	int r;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	api_config_init(&a->api);
	if (agent_state_init(a) != 0) {
		api_config_release(&a->api);
		(void)buf_printf(err, "cannot set up the agent's state");
		return TROVE_ERR_INTERNAL;
	}
	/* vault { } first; the environment overrides it, as in Vault Agent. */
	if (v->address)
		api_config_set(&a->api.address, v->address);
	api_config_set(&a->api.ca_cert, v->ca_cert);
	api_config_set(&a->api.ca_path, v->ca_path);
	api_config_set(&a->api.client_cert, v->client_cert);
	api_config_set(&a->api.client_key, v->client_key);
	api_config_set(&a->api.tls_server_name, v->tls_server_name);
	a->api.tls_skip_verify = v->tls_skip_verify;
	a->api.max_retries = v->num_retries < 0 ? 0 : v->num_retries == 0 ? 12 : (int)v->num_retries;
	r = api_config_from_env(&a->api, &detail);
	if (r != 0) {
		(void)buf_printf(err, "%s", detail ? detail : "invalid client settings in the environment");
		free(detail);
		agent_release(a);
		return r;
	}
	/* The agent's token is its own: never one from the environment. */
	api_config_set(&a->api.token, NULL);
	/* Trove's own HTTP/1.1 client rather than libcurl, whose libraries
	 * alone would more than double the agent's footprint
	 * (docs/decisions/0012-agent-native-http-transport.md). */
	a->api.native_transport = true;
	return 0;
}

void agent_release(struct agent *a)
{
	api_config_release(&a->api);
	agent_state_release(a);
}

int agent_api_client(struct agent *a, struct api_client **out, struct buf *err)
{
	char *detail = NULL;
	int r = api_client_new(&a->api, out, &detail);

	if (r != 0) {
		(void)buf_printf(err, "%s", detail ? detail : "cannot make an API client");
		free(detail);
	}
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: trove agent [options]\n\n"
	           "  Runs the agent: logs in to the server with the workload's identity, keeps\n"
	           "  the token alive, renders templates to files, runs the app (exec) and\n"
	           "  serves the API proxy, as the config file (Vault Agent's agent.hcl) says.\n\n"
	           "Options:\n"
	           "  -config=PATH       A config file or a directory of *.hcl and *.json\n"
	           "                     files; repeat to compose several. Default:\n"
	           "                     TROVE_AGENT_CONFIG_PATH or VAULT_AGENT_CONFIG_PATH.\n"
	           "  -exit-after-auth   Exit after the first successful login (and one\n"
	           "                     rendering of the templates).\n"
	           "  -log-level=LEVEL   trace, debug, info, warn or error (default info).\n"
	           "  -log-format=FORMAT standard or json.\n"
	           "  -log-file=PATH     Append the log to PATH instead of stderr.\n");
}

/* "-name=value", "--name=value" or "-name value": the value, else NULL. */
static const char *flag_value(int argc, char **argv, int *i, const char *name)
{
	const char *a = argv[*i];
	size_t n = strlen(name);

	if (a[0] == '-' && a[1] == '-')
		a++;
	if (a[0] != '-' || strncmp(a + 1, name, n) != 0)
		return NULL;
	if (a[1 + n] == '=')
		return a + 2 + n;
	if (a[1 + n] == '\0' && *i + 1 < argc)
		return argv[++*i];
	return NULL;
}

static bool flag_is(const char *a, const char *name)
{
	if (a[0] == '-' && a[1] == '-')
		a++;
	return a[0] == '-' && strcmp(a + 1, name) == 0;
}

struct agent_flags {
	const char *configs[MAX_CONFIG_PATHS];
	size_t nconfigs;
	bool exit_after_auth;
	const char *log_level;
	const char *log_format;
	const char *log_file;
};

/* Returns -1 to go on, else the exit code. */
static int parse_flags(int argc, char **argv, struct agent_flags *f)
{
	int i;

	for (i = 1; i < argc; i++) {
		const char *v;

		if (flag_is(argv[i], "h") || flag_is(argv[i], "help")) {
			usage(stdout);
			return 0;
		} else if (flag_is(argv[i], "exit-after-auth")) {
			f->exit_after_auth = true;
		} else if ((v = flag_value(argc, argv, &i, "config")) != NULL) {
			if (f->nconfigs == MAX_CONFIG_PATHS) {
				fprintf(stderr, "Error: more than %d -config flags\n", MAX_CONFIG_PATHS);
				return 1;
			}
			f->configs[f->nconfigs++] = v;
		} else if ((v = flag_value(argc, argv, &i, "log-level")) != NULL) {
			f->log_level = v;
		} else if ((v = flag_value(argc, argv, &i, "log-format")) != NULL) {
			f->log_format = v;
		} else if ((v = flag_value(argc, argv, &i, "log-file")) != NULL) {
			f->log_file = v;
		} else {
			fprintf(stderr, "Error: unknown argument \"%s\"\n\n", argv[i]);
			usage(stderr);
			return 1;
		}
	}
	if (f->nconfigs == 0) {
		const char *env = getenv("TROVE_AGENT_CONFIG_PATH");

		if (env == NULL || *env == '\0')
			env = getenv("VAULT_AGENT_CONFIG_PATH");
		if (env && *env)
			f->configs[f->nconfigs++] = env;
	}
	if (f->nconfigs == 0) {
		fprintf(stderr, "Error: no config: give -config=PATH (or set TROVE_AGENT_CONFIG_PATH)\n");
		return 1;
	}
	return -1;
}

static int load_config(const struct agent_flags *f, struct agent_config *cfg)
{
	struct buf err;
	size_t i;
	int r = 0;

	buf_init(&err, 4096);
	for (i = 0; i < f->nconfigs && r == 0; i++)
		r = agent_config_load_path(cfg, f->configs[i], &err);
	if (r == 0) {
		if (f->exit_after_auth)
			cfg->exit_after_auth = true;
		r = agent_config_validate(cfg, &err);
	}
	if (r != 0)
		fprintf(stderr, "Error loading the agent config: %s\n", err.data);
	buf_release(&err);
	return r;
}

/* log_file, as Vault Agent names it: a path ending in '/' gets
 * "agent.log", a name without an extension gets ".log". Log lines (and
 * anything else on stderr) are appended there. */
static int open_log_file(const char *path)
{
	size_t n = strlen(path);
	const char *base = strrchr(path, '/');
	char full[4096];
	int fd;

	base = base ? base + 1 : path;
	if (n == 0 || path[n - 1] == '/')
		snprintf(full, sizeof(full), "%sagent.log", path);
	else if (strchr(base, '.') == NULL)
		snprintf(full, sizeof(full), "%s.log", path);
	else
		snprintf(full, sizeof(full), "%s", path);
	fd = open(full, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		fprintf(stderr, "Error: cannot open the log file %s: %s\n", full, strerror(errno));
		return 1;
	}
	if (dup2(fd, STDERR_FILENO) < 0) {
		fprintf(stderr, "Error: cannot log to %s: %s\n", full, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}

static int setup_logging(const struct agent_flags *f, const struct agent_config *cfg)
{
	const char *level = f->log_level ? f->log_level : cfg->log_level;
	const char *format = f->log_format ? f->log_format : cfg->log_format;
	enum log_level l = LOG_INFO;
	enum log_format fmt = LOG_FORMAT_STANDARD;

	if (level == NULL)
		level = getenv("TROVE_LOG_LEVEL");
	if (level && *level && log_level_parse(level, &l) != 0) {
		fprintf(stderr, "Error: invalid log level \"%s\": want trace, debug, info, warn or error\n", level);
		return 1;
	}
	if (format && *format && log_format_parse(format, &fmt) != 0) {
		fprintf(stderr, "Error: invalid log format \"%s\": want standard or json\n", format);
		return 1;
	}
	log_configure(l, fmt);
	if (f->log_file)
		return open_log_file(f->log_file);
	return cfg->log_file ? open_log_file(cfg->log_file) : 0;
}

static int write_pid_file(const char *path)
{
	char line[32];
	int fd, n;
	bool ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	ok = write(fd, line, (size_t)n) == n;
	return close(fd) == 0 && ok ? 0 : -1;
}

/* Blocks the signals main reads (every thread made after inherits the
 * mask) and returns a signalfd for them, or -1. */
static int signals_setup(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(forwarded_signals) / sizeof(forwarded_signals[0]); i++)
		sigaddset(&set, forwarded_signals[i]);
	sigaddset(&set, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	/* A closed pipe or socket is an error return, never a signal. */
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static size_t count_parts(void)
{
	size_t n = 0;

	while (parts[n].name != NULL)
		n++;
	return n;
}

static void on_signal(struct agent *a, int sig, size_t started)
{
	size_t i;

	for (i = 0; i < started; i++)
		if (parts[i].on_signal && parts[i].wanted(a->cfg) && parts[i].on_signal(a, sig))
			return;
	if (sig == SIGINT || sig == SIGTERM) {
		log_info("stopping on a signal", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
		agent_request_stop(a, 0);
	}
}

/* Waits for signals and for the stop request. */
static void main_loop(struct agent *a, int sfd, size_t started)
{
	long timeout = a->rest.quiet_ms; /* start-up was work: its pages go back once quiet */

	while (!agent_stopping(a)) {
		struct pollfd p[3] = { { .fd = sfd, .events = POLLIN },
		                       { .fd = a->wake_fd[0], .events = POLLIN },
		                       { .fd = agent_rest_fd(&a->rest), .events = POLLIN } };
		struct signalfd_siginfo si;
		int n = poll(p, 3, (int)timeout);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll failed; stopping");
			agent_request_stop(a, 1);
			break;
		}
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			on_signal(a, (int)si.ssi_signo, started);
		timeout = agent_rest_step(&a->rest, (p[2].revents & POLLIN) != 0, n == 0);
	}
}

static int run(const struct agent_config *cfg)
{
	struct agent a;
	struct buf err;
	size_t i, started = 0, nparts = count_parts();
	int sfd = -1, r;

	buf_init(&err, 4096);
	sfd = signals_setup();
	if (sfd < 0) {
		fprintf(stderr, "Error: cannot set up signal handling: %s\n", strerror(errno));
		buf_release(&err);
		return 1;
	}
	if (agent_init(&a, cfg, &err) != 0) {
		fprintf(stderr, "Error: %s\n", err.data);
		close(sfd);
		buf_release(&err);
		return 1;
	}
	if (cfg->pid_file && write_pid_file(cfg->pid_file) != 0) {
		fprintf(stderr, "Error: cannot write the pid file %s: %s\n", cfg->pid_file, strerror(errno));
		agent_release(&a);
		close(sfd);
		buf_release(&err);
		return 1;
	}
	for (i = 0; i < nparts; i++) {
		if (!parts[i].wanted(cfg))
			continue;
		buf_reset(&err);
		started = i + 1;
		r = parts[i].start(&a, &err);
		if (r != 0) {
			fprintf(stderr, "Error starting %s: %s\n", parts[i].name, err.data);
			agent_request_stop(&a, 1);
			break;
		}
	}
	if (!agent_stopping(&a))
		log_info("agent started");
	main_loop(&a, sfd, started);
	for (i = started; i-- > 0;)
		if (parts[i].wanted(cfg))
			parts[i].stop(&a);
	r = a.exit_code;
	if (cfg->pid_file)
		(void)unlink(cfg->pid_file);
	agent_release(&a);
	close(sfd);
	buf_release(&err);
	return r;
}

int agent_main(int argc, char **argv)
{
	struct agent_flags f;
	struct agent_config cfg;
	int r;

	/* One malloc arena for all threads keeps the footprint small; the
	 * agent's threads mostly wait, and give back what they touched once
	 * idle (agent_rest.h). What the loader read to start the process is
	 * not needed again (trove is linked with -z now): given back at once,
	 * it is not resident beside the first burst of work either. */
	mallopt(M_ARENA_MAX, 1);
	(void)object_pages_release();
	memset(&f, 0, sizeof(f));
	r = parse_flags(argc, argv, &f);
	if (r >= 0)
		return r;
	agent_config_init(&cfg);
	if (load_config(&f, &cfg) != 0) {
		agent_config_release(&cfg);
		return 1;
	}
	r = setup_logging(&f, &cfg);
	if (r == 0)
		r = run(&cfg);
	agent_config_release(&cfg);
	return r;
}
