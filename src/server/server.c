/* server.c — `trove server`: flags, config, storage, core, listeners,
 * signals, and dev mode.
 *
 * Start-up order: parse flags and config (fail fast, with file:line),
 * configure logging, lock memory, open storage, create the core, start
 * the worker pool and the listeners, then wait for a signal. Dev mode
 * swaps the config for an in-memory one and initialises and unseals the
 * core before listening. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "server.h"

#include "config.h"
#include "audit/device.h"
#include "core/audit.h"
#include "core/background.h"
#include "core/core.h"
#include "core/ha_reads.h"
#include "core/ha.h"
#include "core/lockout.h"
#include "core/mount.h"
#include "core/scheduler.h"
#include "engines/engines.h"
#include "encoding.h"
#include "err.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "secure.h"
#include "storage/storage.h"
#include "storage/storage_pg.h"
#include "rand.h"
#include "strconv.h"
#include "server/storage_open.h"
#include "server/auto_unseal.h"
#include "server/cluster_id.h"
#include "server/forward.h"
#include "core/seal_pkcs11.h"
#include "trove_version.h"

#include "banned.h"

#define MAX_CONFIG_PATHS 32
/* Jobs waiting per password-hashing thread before logins get 429: at
 * ~50 ms a hash, a full queue is served within about a second, so a burst
 * of logins (a fleet restarting) waits instead of failing. */
#define HASH_QUEUE_PER_THREAD 16

struct server_flags {
	const char *configs[MAX_CONFIG_PATHS];
	size_t nconfigs;
	bool dev;
	bool check;
	const char *dev_root_token_id;
	const char *dev_listen_address;
	const char *log_level;
	const char *log_format;
};

/* The mounts' background work runs on the worker pool (core/scheduler.h). */
static int submit_to_pool(void *ctx, sched_fn fn, void *arg)
{
	return pool_submit(ctx, fn, arg);
}

static struct scheduler *background_of(struct core *core)
{
	return background_scheduler(mount_table_background(core_mounts(core)));
}

/* A tuning knob from the environment (milliseconds), for tests that fail
 * over in a fraction of the default time; 0 when unset or not a number. */
static int64_t env_ms(const char *name)
{
	const char *v = getenv(name);
	int64_t n = 0;
	if (!v || !strconv_int64(v, &n) || n < 0)
		return 0;
	return n;
}

/* HA: this node's identity and the lock thread (core/ha.h). */
static int start_ha(const struct server_config *cfg, struct storage *physical, struct core *core, struct buf *err)
{
	struct ha_config hc;
	struct ha_lock *lock = storage_pg_ha_lock(physical);
	char id[37];
	int r;

	if (!lock) {
		buf_printf(err, "storage \"%s\" has no HA lock", cfg->storage.type);
		return TROVE_ERR_INVALID;
	}
	memset(&hc, 0, sizeof(hc));
	if ((r = rand_uuid(id)) != 0)
		return r;
	snprintf(hc.self.node_id, sizeof(hc.self.node_id), "%s", id);
	if (gethostname(hc.self.hostname, sizeof(hc.self.hostname) - 1) != 0)
		hc.self.hostname[0] = '\0';
	snprintf(hc.self.api_addr, sizeof(hc.self.api_addr), "%s", config_api_addr(cfg));
	snprintf(hc.self.cluster_addr, sizeof(hc.self.cluster_addr), "%s", config_cluster_addr(cfg));
	hc.lock_ttl_ms = env_ms("TROVE_HA_LOCK_TTL_MS");
	hc.retry_ms = env_ms("TROVE_HA_RETRY_MS");
	hc.step_down_wait_ms = env_ms("TROVE_HA_STEP_DOWN_WAIT_MS");
	/* the cluster certificate request forwarding uses, made once */
	const struct ha_hooks fwd = {.became_active = cluster_id_became_active};
	if ((r = ha_register_hooks(core_ha(core), &fwd)) != 0 || (r = ha_start(core_ha(core), lock, &hc)) != 0)
		buf_printf(err, "cannot start the HA lock thread: %s", err_message(r));
	else
		log_info("HA enabled: standing by", "api_addr", hc.self.api_addr, "node_id", hc.self.node_id);
	return r;
}

static void usage(FILE *f)
{
	fputs("Usage: trove server [options]\n"
	      "\n"
	      "  Starts a Trove server. The server reads a Vault-style HCL (or JSON) config\n"
	      "  file: storage, listener, audit devices and server-wide settings. In dev mode\n"
	      "  it runs from memory, already initialised and unsealed, for local experiments\n"
	      "  only (file audit devices may then be enabled under $TMPDIR or /tmp).\n"
	      "\n"
	      "  Start a server with a config file:\n"
	      "\n"
	      "      $ trove server -config=/etc/trove/trove.hcl\n"
	      "\n"
	      "  Validate a config and exit:\n"
	      "\n"
	      "      $ trove server -config=/etc/trove/trove.hcl -check\n"
	      "\n"
	      "  Start a dev server:\n"
	      "\n"
	      "      $ trove server -dev\n"
	      "\n"
	      "Options:\n"
	      "\n"
	      "  -config=PATH                 A config file or a directory of .hcl/.json files.\n"
	      "                               Repeatable; later files override earlier settings\n"
	      "                               and add listeners.\n"
	      "  -check                       Validate the config and exit (0 valid, 1 invalid).\n"
	      "  -log-level=LEVEL             trace, debug, info, warn or error (overrides the\n"
	      "                               config's log_level).\n"
	      "  -log-format=FORMAT           standard or json.\n"
	      "  -dev                         In-memory dev server, initialised and unsealed.\n"
	      "  -dev-root-token-id=ID        Root token id for dev mode (default: random).\n"
	      "  -dev-listen-address=ADDR     Dev listener address (default 127.0.0.1:8200).\n",
	      f);
}

/* Accepts -name=value, -name value, --name=value; bool flags take no value. */
static int parse_flags(int argc, char **argv, struct server_flags *fl)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-') {
			fprintf(stderr, "trove server: unexpected argument \"%s\"\n", a);
			return 2;
		}
		a += (a[1] == '-') ? 2 : 1;
		const char *eq = strchr(a, '=');
		size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
		const char *val = eq ? eq + 1 : NULL;
#define IS(name) (nlen == strlen(name) && strncmp(a, name, nlen) == 0)
		if (IS("h") || IS("help"))
			return 1;
		if (IS("dev")) {
			fl->dev = true;
			continue;
		}
		if (IS("check")) {
			fl->check = true;
			continue;
		}
		const char **dst = NULL;
		if (IS("config")) {
			if (fl->nconfigs >= MAX_CONFIG_PATHS) {
				fprintf(stderr, "trove server: too many -config flags\n");
				return 2;
			}
			dst = &fl->configs[fl->nconfigs++];
		} else if (IS("dev-root-token-id")) {
			dst = &fl->dev_root_token_id;
		} else if (IS("dev-listen-address")) {
			dst = &fl->dev_listen_address;
		} else if (IS("log-level")) {
			dst = &fl->log_level;
		} else if (IS("log-format")) {
			dst = &fl->log_format;
		} else {
			fprintf(stderr, "trove server: unknown flag \"%s\"\n", argv[i]);
			return 2;
		}
#undef IS
		if (!val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "trove server: flag \"%s\" needs a value\n", argv[i]);
				return 2;
			}
			val = argv[++i];
		}
		*dst = val;
	}
	return 0;
}

/* Writes our pid to path. Never follows a symlink (a planted link would
 * have the server truncate whatever it names) and refuses anything but a
 * regular file (a FIFO would block the open, a device would take the
 * write); O_NONBLOCK keeps the open itself from waiting. Returns NULL or
 * why not. */
static const char *write_pid_file(const char *path)
{
	char text[32];
	struct stat st;
	const char *why = NULL;
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0644);
	if (fd < 0) /* ENXIO: a FIFO nobody reads */
		return errno == ELOOP ? "it is a symbolic link" : errno == ENXIO ? "it is not a regular file" : strerror(errno);
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fstat(fd, &st) != 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "it is not a regular file";
	else if (ftruncate(fd, 0) != 0 || write(fd, text, (size_t)n) != n)
		why = strerror(errno ? errno : EIO);
	close(fd);
	return why;
}

static void print_dev_banner(const struct listener_config *l, const char *unseal_b64, const char *root_token)
{
	printf("==> Trove server configuration:\n\n"
	       "             Api Address: http://%s\n"
	       "                 Storage: inmem\n"
	       "                 Version: Trove v%s\n\n"
	       "WARNING! Dev mode is on. Everything lives in memory and is lost when the\n"
	       "server stops; the server starts initialised and unsealed with a single\n"
	       "unseal key. Never use dev mode for real secrets.\n\n"
	       "Point the CLI at this server with:\n\n"
	       "    $ export VAULT_ADDR='http://%s'\n\n"
	       "The unseal key and the root token follow, should you seal the server or\n"
	       "need to log in again:\n\n"
	       "Unseal Key: %s\n"
	       "Root Token: %s\n\n",
	       l->address, TROVE_VERSION, l->address, unseal_b64, root_token);
	fflush(stdout);
}

static int dev_bootstrap(struct core *core, const struct listener_config *l, const char *root_id, struct buf *err)
{
	struct core_init_result res;
	struct seal_status st;
	char b64[128];
	int r = core_initialize(core, 1, 1, root_id, &res, err);
	if (r != 0)
		return r;
	r = core_unseal(core, res.keys[0], res.key_len, &st, err);
	if (r == 0 && st.sealed) {
		buf_append_str(err, "dev mode could not unseal");
		r = TROVE_ERR_INTERNAL;
	}
	if (r == 0) {
		/* Like Vault's dev server: versioned kv at secret/. */
		json_t *opts = json_pack("{s:s}", "version", "2");
		struct mount_enable_params mp = { .path = "secret", .type = "kv", .description = "key/value secret storage",
						  .options = opts };
		r = mount_enable(core_mounts(core), &mp, err);
		json_decref(opts);
	}
	if (r == 0) {
		base64_encode(res.keys[0], res.key_len, b64);
		print_dev_banner(l, b64, res.root_token);
		secure_wipe(b64, sizeof(b64));
	}
	core_init_result_release(&res);
	return r;
}

/* Dev mode's audit limits, before any -config file (which may set its
 * own): API file devices may write below the temporary directory (where
 * tests and tutorials put their logs) and set a prefix. Still no path
 * elsewhere on the host, and no links followed below that directory. */
static void dev_audit_defaults(struct server_config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	size_t n = tmp ? strlen(tmp) : 0;
	while (n > 1 && tmp[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(dir) || (n == 1 && tmp[0] == '/'))
		tmp = "/tmp", n = 4;
	memcpy(dir, tmp, n);
	dir[n] = '\0';
	if (!audit_path_canonical(dir, n))
		snprintf(dir, sizeof(dir), "/tmp");
	strlist_push(&cfg->audit_file_dirs, dir);
	cfg->allow_audit_log_prefixing = true;
}

static unsigned online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 256 ? (unsigned)n : 1;
}

int server_main(int argc, char **argv)
{
	struct server_flags fl;
	struct server_config cfg;
	struct buf err;
	struct storage *physical = NULL;
	struct core *core = NULL;
	struct pool *pool = NULL, *hash_pool = NULL;
	struct listener_set *listeners = NULL;
	struct seal_wrap *seal = NULL;
	struct auto_unseal *unsealer = NULL;
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_FORMAT_STANDARD;
	int rc = 1, r;

	memset(&fl, 0, sizeof(fl));
	config_init(&cfg);
	buf_init(&err, 4096);
	r = parse_flags(argc, argv, &fl);
	if (r == 1) {
		usage(stdout);
		rc = 0;
		goto out;
	}
	if (r != 0) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (!fl.dev && fl.nconfigs == 0) {
		fprintf(stderr, "trove server: give -config=FILE (or -dev for a dev server)\n\n");
		usage(stderr);
		rc = 2;
		goto out;
	}
	if (fl.dev)
		dev_audit_defaults(&cfg);
	for (size_t i = 0; i < fl.nconfigs; i++) {
		if (config_load_path(&cfg, fl.configs[i], &err) != 0) {
			fprintf(stderr, "Error loading configuration: %s\n", err.data);
			goto out;
		}
	}
	if (fl.dev) {
		struct listener_config *l = NULL;
		if (!cfg.storage.type)
			cfg.storage.type = xstrdup("inmem");
		if (cfg.nlisteners == 0 || fl.dev_listen_address) {
			l = (cfg.nlisteners == 0) ? config_add_listener(&cfg) : &cfg.listeners[0];
			free(l->address);
			l->address = xstrdup(fl.dev_listen_address ? fl.dev_listen_address : "127.0.0.1:8200");
			l->tls_disable = true;
		}
		cfg.disable_mlock = true;
	}
	if (config_seal_apply_env(&cfg, &err) != 0 || config_validate(&cfg, &err) != 0) {
		fprintf(stderr, "Error in configuration: %s\n", err.data);
		goto out;
	}
	if (cfg.seal.type) {
		struct seal_pkcs11_opts so = { .lib = cfg.seal.lib, .slot = cfg.seal.slot,
					       .token_label = cfg.seal.token_label, .pin = cfg.seal.pin,
					       .key_label = cfg.seal.key_label, .key_id = cfg.seal.key_id,
					       .mechanism = cfg.seal.mechanism, .rsa_oaep_hash = cfg.seal.rsa_oaep_hash,
					       .generate_key = cfg.seal.generate_key };
		if (seal_pkcs11_new(&so, &seal, &err) != 0) {
			fprintf(stderr, "Error in configuration: %s: %s\n", cfg.seal.where, err.data);
			goto out;
		}
	}
	if (fl.check) {
		printf("Configuration is valid.\n");
		rc = 0;
		goto out;
	}
	if (fl.log_level || cfg.log_level) {
		const char *lv = fl.log_level ? fl.log_level : cfg.log_level;
		if (log_level_parse(lv, &level) != 0) {
			fprintf(stderr, "Error: log level \"%s\" is not one of trace, debug, info, warn, error\n", lv);
			rc = 2;
			goto out;
		}
	}
	if (fl.log_format || cfg.log_format) {
		const char *lf = fl.log_format ? fl.log_format : cfg.log_format;
		if (log_format_parse(lf, &format) != 0) {
			fprintf(stderr, "Error: log format \"%s\" is not one of standard, json\n", lf);
			rc = 2;
			goto out;
		}
	}
	log_configure(level, format);
	lockout_set_max_entries((size_t)cfg.user_lockout_max_entries);

	if (!cfg.disable_mlock && (r = secure_lock_memory()) != 0) {
		fprintf(stderr,
			"Error: cannot lock memory (mlockall: %s). Trove locks its memory so that keys never\n"
			"reach swap. Give the process CAP_IPC_LOCK and a high enough RLIMIT_MEMLOCK, or set\n"
			"disable_mlock = true in the config if swap is encrypted or absent.\n",
			strerror(-r));
		goto out;
	}

	/* Signals are taken synchronously by the main thread only. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!(physical = server_storage_open(&cfg.storage, &err))) {
		fprintf(stderr, "Error opening storage \"%s\": %s\n", cfg.storage.type, err.data);
		goto out;
	}
	{
		char started[64];
		int locked = server_storage_migration_locked(physical, started, sizeof(started));
		if (locked != 0) {
			if (locked > 0)
				fprintf(stderr,
				        "Error: a storage migration is in progress (started: %s). Trove does not start "
				        "until it completes; 'trove operator migrate -reset' clears the lock.\n",
				        started);
			else
				fprintf(stderr, "Error reading storage \"%s\": %s\n", cfg.storage.type,
				        err_message(locked));
			goto out;
		}
	}
	struct core_config cc = {
	    .storage_type = cfg.storage.type,
	    .cluster_name = cfg.cluster_name,
	    .default_lease_ttl = cfg.default_lease_ttl,
	    .max_lease_ttl = cfg.max_lease_ttl,
	    .rollback_guard_file = cfg.rollback_guard_file,
	    .engines = &builtin_engines,
	    .audit_devices = &audit_device_types,
	    .lease_revocation_workers = (unsigned)cfg.lease_revocation_workers,
	    .lease_revocation_timeout_ms = cfg.lease_revocation_timeout * 1000,
	    .seal = seal,
	    .seal_disabled = cfg.seal.disabled,
	};
	core = core_new(physical, &cc);
	if (ha_reads_start(core, physical, !cfg.disable_performance_standby) != 0) {
		fprintf(stderr, "Error: cannot start the storage listener thread\n");
		goto out;
	}
	struct audit_settings as = { (const char *const *)cfg.audit_file_dirs.items, cfg.audit_file_dirs.len,
				     cfg.allow_audit_log_prefixing, cfg.audits, cfg.naudits };
	audit_broker_configure(core_audit(core), &as);
	if (fl.dev && dev_bootstrap(core, &cfg.listeners[0], fl.dev_root_token_id, &err) != 0) {
		fprintf(stderr, "Error starting dev mode: %s\n", err.len ? err.data : "initialisation failed");
		goto out;
	}
	unsigned cpus = online_cpus();
	if (!(pool = pool_new(cpus * 32 < 64 ? 64 : cpus * 32, 8192))) {
		fprintf(stderr, "Error: cannot start worker threads\n");
		goto out;
	}
	/* Password hashing (argon2id, CPU-bound, 19 MiB each) gets its own
	 * few threads, one per core, and a queue of a few jobs per thread: a
	 * login flood is answered 429 at once instead of filling the shared
	 * pool with threads waiting for a core. */
	unsigned hashers = cpus < 2 ? 2 : cpus;
	if (!(hash_pool = pool_new(hashers, (size_t)hashers * HASH_QUEUE_PER_THREAD))) {
		fprintf(stderr, "Error: cannot start password-hashing threads\n");
		goto out;
	}
	scheduler_set_submit(background_of(core), submit_to_pool, pool);
	if (cfg.storage.ha_enabled && start_ha(&cfg, physical, core, &err) != 0) {
		fprintf(stderr, "Error: %s\n", err.data);
		goto out;
	}
	if (listeners_start(&cfg, core, pool, hash_pool, cpus, &listeners, &err) != 0) {
		fprintf(stderr, "Error starting listener: %s\n", err.data);
		goto out;
	}
	if (seal && !cfg.seal.disabled && !(unsealer = auto_unseal_start(core))) {
		fprintf(stderr, "Error: cannot start the auto-unseal thread\n");
		goto out;
	}
	const char *pid_why = cfg.pid_file ? write_pid_file(cfg.pid_file) : NULL;
	if (pid_why)
		log_warn("cannot write pid_file", "path", cfg.pid_file, "error", pid_why);
	log_info("server started", "version", TROVE_VERSION, "storage", cfg.storage.type);

	for (;;) {
		int sig = 0;
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			/* logrotate moved the audit files: write to new ones */
			log_info("SIGHUP received; reopening audit devices");
			audit_broker_reopen(core_audit(core));
			continue;
		}
		log_info("shutting down", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM");
		/* an active node gives its lock back: a standby takes over now,
		 * not when the lease runs out */
		ha_stop(core_ha(core));
		break;
	}
	rc = 0;
out:
	auto_unseal_stop(unsealer);
	listeners_stop(listeners);
	if (core)
		scheduler_set_submit(background_of(core), NULL, NULL); /* the pool goes next */
	pool_free(hash_pool);
	pool_free(pool);
	forward_close_all(); /* the workers that forwarded are gone */
	ha_reads_stop(); /* its thread calls into the core */
	core_free(core);
	seal_pkcs11_free(seal);
	storage_free(physical);
	if (rc == 0 && cfg.pid_file && !fl.check)
		unlink(cfg.pid_file);
	config_release(&cfg);
	buf_release(&err);
	return rc;
}
