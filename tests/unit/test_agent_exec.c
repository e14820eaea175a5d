/* test_agent_exec.c — exec mode of `trove agent` (src/agent/agent_exec*.c)
 * with real child processes: a shell script written by the test records
 * each start (its PID and selected environment variables) and the
 * signals it traps into a log file, then sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/agent.h"
#include "agent/agent_exec.h"
#include "agent/agent_exec_spawn.h"
#include "agent/agent_parts.h"
#include "buf.h"
#include "clock.h"
#include "err.h"

/* argv: DIR MODE. Modes: run (default), exit3, kill9, output,
 * ignoreterm. Each start appends "start PID A=.. B=.. P=.." and, once its
 * traps are set, "ready PID". */
static const char script_text[] =
    "d=$1\n"
    "echo \"start $$ A=${EXEC_A-unset} B=${EXEC_B-unset} P=${EXEC_PARENT-unset}\" >> \"$d/log\"\n"
    "case \"$2\" in\n"
    "exit3) exit 3 ;;\n"
    "kill9) kill -9 $$ ;;\n"
    "output) echo 'to stdout'; echo 'to stderr' >&2; exit 0 ;;\n"
    "esac\n"
    "s=\n"
    "trap 'kill $s 2>/dev/null; echo \"usr1 $$\" >> \"$d/log\"' USR1\n"
    "if [ \"$2\" = ignoreterm ]; then trap '' TERM\n"
    "else trap 'kill $s 2>/dev/null; echo \"term $$\" >> \"$d/log\"; exit 7' TERM; fi\n"
    "echo \"ready $$\" >> \"$d/log\"\n"
    "while :; do sleep 5 & s=$!; wait $s; done\n";

struct fx {
	char dir[64];
	char script[128];
	char log[128];
	char *argv[4];
	char shell_cmd[300];
	struct agent_config *cfg;
	struct agent a;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	FILE *fp;

	umask(022);
	snprintf(f->dir, sizeof(f->dir), "/tmp/trove-exec-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->script, sizeof(f->script), "%s/app.sh", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	fp = fopen(f->script, "w");
	assert_non_null(fp);
	fputs(script_text, fp);
	fclose(fp);
	f->argv[0] = "/bin/sh";
	f->argv[1] = f->script;
	f->argv[2] = f->dir;
	f->argv[3] = "run";
	f->cfg = calloc(1, sizeof(*f->cfg));
	f->cfg->exec.present = true;
	f->cfg->exec.command = f->argv;
	f->cfg->exec.ncommand = 4;
	f->cfg->exec.restart_on_secret_changes = AGENT_RESTART_ALWAYS;
	f->cfg->exec.restart_stop_signal = SIGTERM;
	f->cfg->exec.where = "agent.hcl:12";
	f->a.cfg = f->cfg;
	assert_int_equal(agent_state_init(&f->a), 0);
	unsetenv("EXEC_A");
	unsetenv("EXEC_B");
	unsetenv("EXEC_PARENT");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	agent_exec_stop(&f->a);
	agent_state_release(&f->a);
	free(f->cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(f);
	return 0;
}

/* The config asks for one env_template (the runner's values come
 * through agent_exec_set_env). */
static void with_env_template(struct fx *f)
{
	f->cfg->ntemplates = 1;
	f->cfg->templates[0].env_name = "EXEC_A";
	f->cfg->templates[0].contents = "{{ .x }}";
}

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s = calloc(1, 65536);
	size_t n;

	if (fp) {
		n = fread(s, 1, 65535, fp);
		s[n] = '\0';
		fclose(fp);
	}
	return s;
}

static bool log_has(struct fx *f, const char *needle)
{
	char *s = slurp(f->log);
	bool has = strstr(s, needle) != NULL;

	free(s);
	return has;
}

static int count_lines(struct fx *f, const char *prefix)
{
	char *s = slurp(f->log);
	int n = 0;
	size_t len = strlen(prefix);

	for (char *p = s; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if (strncmp(p, prefix, len) == 0)
			n++;
	free(s);
	return n;
}

static void sleep_ms(long ms)
{
	struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&t, &t) != 0 && errno == EINTR)
		;
}

/* Waits up to 10 s for the log to hold needle. */
static void wait_log(struct fx *f, const char *needle)
{
	for (int i = 0; i < 1000 && !log_has(f, needle); i++)
		sleep_ms(10);
	if (!log_has(f, needle)) {
		char *s = slurp(f->log);

		fail_msg("no \"%s\" in the log:\n%s", needle, s);
	}
}

static void wait_lines(struct fx *f, const char *prefix, int n)
{
	for (int i = 0; i < 1000 && count_lines(f, prefix) < n; i++)
		sleep_ms(10);
	assert_int_equal(count_lines(f, prefix), n);
}

/* "ready PID" for the running child: its traps are set. */
static pid_t wait_ready(struct fx *f)
{
	char line[64];
	pid_t pid = 0;

	for (int i = 0; i < 1000 && (pid = agent_exec_pid(&f->a)) == 0; i++)
		sleep_ms(10);
	assert_true(pid > 0);
	snprintf(line, sizeof(line), "ready %ld\n", (long)pid);
	wait_log(f, line);
	return pid;
}

static bool process_gone(pid_t pid)
{
	return kill(pid, 0) != 0 && errno == ESRCH;
}

static void set_env2(struct agent *a, const char *x, const char *y)
{
	struct strlist l;

	strlist_init(&l);
	strlist_push(&l, x);
	if (y)
		strlist_push(&l, y);
	agent_exec_set_env(a, &l);
	strlist_release(&l);
}

static void start_ok(struct fx *f)
{
	struct buf err;

	buf_init(&err, 1024);
	assert_int_equal(agent_exec_start(&f->a, &err), 0);
	buf_release(&err);
}

/* start fails with code and an error beginning with want; stop then
 * frees what start made. */
static void start_fails(struct fx *f, int code, const char *want)
{
	struct buf err;

	buf_init(&err, 1024);
	assert_int_equal(agent_exec_start(&f->a, &err), code);
	if (strncmp(err.data, want, strlen(want)) != 0)
		fail_msg("error \"%s\", wanted \"%s...\"", err.data, want);
	buf_release(&err);
	agent_exec_stop(&f->a);
	assert_null(f->a.exec);
}

/* No env_template: the child runs from start() on with the agent's own
 * environment; stop sends the stop signal and reaps it, leaving the
 * agent's exit code alone. */
static void t_starts_at_once(void **state)
{
	struct fx *f = *state;
	char line[64];
	pid_t pid;

	setenv("EXEC_PARENT", "parent", 1);
	assert_true(agent_exec_wanted(f->cfg));
	start_ok(f);
	pid = agent_exec_pid(&f->a);
	assert_true(pid > 0);
	assert_int_equal(wait_ready(f), pid);
	snprintf(line, sizeof(line), "start %ld A=unset B=unset P=parent\n", (long)pid);
	assert_true(log_has(f, line));
	agent_exec_stop(&f->a);
	assert_null(f->a.exec);
	snprintf(line, sizeof(line), "term %ld\n", (long)pid);
	assert_true(log_has(f, line));
	assert_true(process_gone(pid));
	assert_false(agent_stopping(&f->a));
	/* Harmless without a part. */
	agent_exec_on_sigchld(&f->a);
	agent_exec_on_signal(&f->a, SIGUSR1);
	set_env2(&f->a, "EXEC_A=x", NULL);
}

/* With env_templates nothing runs before the first rendering; its values
 * replace inherited variables of the same name. */
static void t_waits_for_env(void **state)
{
	struct fx *f = *state;
	char line[80];
	pid_t pid;

	with_env_template(f);
	setenv("EXEC_A", "inherited", 1);
	setenv("EXEC_PARENT", "parent", 1);
	start_ok(f);
	sleep_ms(200);
	assert_int_equal(agent_exec_pid(&f->a), 0);
	assert_false(log_has(f, "start"));
	set_env2(&f->a, "EXEC_B=two", "EXEC_A=one");
	pid = wait_ready(f);
	snprintf(line, sizeof(line), "start %ld A=one B=two P=parent\n", (long)pid);
	assert_true(log_has(f, line));
	assert_int_equal(count_lines(f, "start "), 1);
}

/* The same values (in any order) change nothing; new values restart the
 * child: the old one gets the stop signal, a new PID sees them. */
static void t_restart_on_change(void **state)
{
	struct fx *f = *state;
	char line[80];
	pid_t first, second;

	with_env_template(f);
	start_ok(f);
	set_env2(&f->a, "EXEC_A=one", "EXEC_B=two");
	first = wait_ready(f);
	set_env2(&f->a, "EXEC_B=two", "EXEC_A=one");
	sleep_ms(300);
	assert_int_equal(count_lines(f, "start "), 1);
	assert_int_equal(agent_exec_pid(&f->a), first);

	set_env2(&f->a, "EXEC_A=three", "EXEC_B=two");
	wait_lines(f, "ready ", 2);
	second = wait_ready(f);
	assert_true(second != first);
	snprintf(line, sizeof(line), "term %ld\n", (long)first);
	assert_true(log_has(f, line));
	snprintf(line, sizeof(line), "start %ld A=three B=two P=unset\n", (long)second);
	assert_true(log_has(f, line));
	assert_true(process_gone(first));
	assert_false(agent_stopping(&f->a));
}

/* restart_on_secret_changes = "never": new values are only remembered. */
static void t_never_restarts(void **state)
{
	struct fx *f = *state;
	pid_t pid;

	with_env_template(f);
	f->cfg->exec.restart_on_secret_changes = AGENT_RESTART_NEVER;
	start_ok(f);
	set_env2(&f->a, "EXEC_A=one", NULL);
	pid = wait_ready(f);
	set_env2(&f->a, "EXEC_A=two", NULL);
	sleep_ms(500);
	assert_int_equal(agent_exec_pid(&f->a), pid);
	assert_int_equal(count_lines(f, "start "), 1);
	assert_false(log_has(f, "term "));
}

static void expect_exit(struct fx *f, const char *mode, int code)
{
	f->argv[3] = (char *)mode;
	start_ok(f);
	assert_false(agent_sleep(&f->a, 10000));
	assert_int_equal(f->a.exit_code, code);
	assert_int_equal(agent_exec_pid(&f->a), 0);
}

/* A child that exits on its own ends the agent with its status. */
static void t_child_exit_code(void **state)
{
	expect_exit(*state, "exit3", 3);
}

/* ... killed by a signal: 128 + the signal, as shells report it. */
static void t_child_killed(void **state)
{
	expect_exit(*state, "kill9", 128 + SIGKILL);
}

/* SIGUSR1 is passed on and the child keeps running. */
static void t_forwards_usr1(void **state)
{
	struct fx *f = *state;
	char line[64];
	pid_t pid;

	start_ok(f);
	pid = wait_ready(f);
	/* Through main's row: taken, while SIGCHLD is left to others too. */
	assert_true(agent_exec_signal(&f->a, SIGUSR1));
	snprintf(line, sizeof(line), "usr1 %ld\n", (long)pid);
	wait_log(f, line);
	assert_false(agent_exec_signal(&f->a, SIGCHLD));
	sleep_ms(100);
	assert_int_equal(agent_exec_pid(&f->a), pid);
	assert_false(agent_stopping(&f->a));
}

/* SIGTERM reaches the child, whose exit (7 from its trap) ends the agent. */
static void t_forwards_term(void **state)
{
	struct fx *f = *state;
	char line[64];
	pid_t pid;

	start_ok(f);
	pid = wait_ready(f);
	agent_exec_on_signal(&f->a, SIGTERM);
	assert_false(agent_sleep(&f->a, 10000));
	assert_int_equal(f->a.exit_code, 7);
	snprintf(line, sizeof(line), "term %ld\n", (long)pid);
	assert_true(log_has(f, line));
	assert_true(process_gone(pid));
}

/* SIGINT/SIGTERM before any child ran: the agent ends at once with 0. */
static void t_term_without_child(void **state)
{
	struct fx *f = *state;

	with_env_template(f);
	start_ok(f);
	agent_exec_on_signal(&f->a, SIGINT);
	assert_false(agent_sleep(&f->a, 1000));
	assert_int_equal(f->a.exit_code, 0);
	set_env2(&f->a, "EXEC_A=late", NULL);
	sleep_ms(200);
	assert_int_equal(agent_exec_pid(&f->a), 0);
	assert_false(log_has(f, "start"));
}

/* A child that ignores the stop signal is killed after the kill timeout,
 * and stop returns only once it is reaped. */
static void t_stop_kills_after_timeout(void **state)
{
	struct fx *f = *state;
	int64_t t0;
	pid_t pid;
	long ms;

	f->argv[3] = "ignoreterm";
	start_ok(f);
	agent_exec_set_kill_timeout(&f->a, 300);
	pid = wait_ready(f);
	t0 = clock_monotonic_ns();
	agent_exec_stop(&f->a);
	ms = (long)((clock_monotonic_ns() - t0) / 1000000);
	assert_true(ms >= 290);
	assert_true(ms < 5000);
	assert_true(process_gone(pid));
}

/* The same during a restart: the new child starts once the old one is
 * killed. */
static void t_restart_kills_after_timeout(void **state)
{
	struct fx *f = *state;
	pid_t first, second;

	with_env_template(f);
	f->argv[3] = "ignoreterm";
	start_ok(f);
	agent_exec_set_kill_timeout(&f->a, 300);
	set_env2(&f->a, "EXEC_A=one", NULL);
	first = wait_ready(f);
	set_env2(&f->a, "EXEC_A=two", NULL);
	wait_lines(f, "ready ", 2);
	second = wait_ready(f);
	assert_true(second != first);
	assert_true(process_gone(first));
	assert_true(log_has(f, "A=two"));
}

/* A program that cannot be run fails start, naming the block and key. */
static void t_command_not_found(void **state)
{
	struct fx *f = *state;

	f->argv[0] = "/nonexistent/trove-exec-app";
	start_fails(f, TROVE_ERR_INVALID,
	            "agent.hcl:12: exec: command: cannot run \"/nonexistent/trove-exec-app\": No such file");
}

/* ... and with env_templates, at the first rendering: the agent ends with 1. */
static void t_command_not_found_later(void **state)
{
	struct fx *f = *state;

	with_env_template(f);
	f->argv[0] = "trove-exec-no-such-program";
	start_ok(f);
	set_env2(&f->a, "EXEC_A=one", NULL);
	assert_false(agent_sleep(&f->a, 10000));
	assert_int_equal(f->a.exit_code, 1);
}

/* child_process_stdout/_stderr: appended to, created 0644. */
static void t_output_files(void **state)
{
	struct fx *f = *state;
	char out[128], errp[128];
	char *s;
	struct stat st;
	FILE *fp;

	snprintf(out, sizeof(out), "%s/out", f->dir);
	snprintf(errp, sizeof(errp), "%s/err", f->dir);
	fp = fopen(out, "w");
	fputs("old\n", fp);
	fclose(fp);
	f->cfg->exec.child_process_stdout = out;
	f->cfg->exec.child_process_stderr = errp;
	expect_exit(f, "output", 0);
	s = slurp(out);
	assert_string_equal(s, "old\nto stdout\n");
	free(s);
	s = slurp(errp);
	assert_string_equal(s, "to stderr\n");
	free(s);
	assert_int_equal(stat(errp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void t_output_file_refused(void **state)
{
	struct fx *f = *state;

	f->cfg->exec.child_process_stderr = "/nonexistent/dir/err";
	start_fails(f, TROVE_ERR_IO, "agent.hcl:12: exec: child_process_stderr: cannot open \"/nonexistent/dir/err\"");
}

/* One string with spaces runs under /bin/sh -c in a process group of its
 * own, and signals reach the group. */
static void t_shell_form(void **state)
{
	struct fx *f = *state;
	pid_t pid;

	snprintf(f->shell_cmd, sizeof(f->shell_cmd), "exec /bin/sh %s %s run", f->script, f->dir);
	f->argv[0] = f->shell_cmd;
	f->cfg->exec.ncommand = 1;
	start_ok(f);
	pid = wait_ready(f);
	assert_int_equal(getpgid(pid), pid);
	agent_exec_on_signal(&f->a, SIGUSR1);
	wait_log(f, "usr1 ");
	agent_exec_stop(&f->a);
	assert_true(process_gone(pid));
}

static void t_cmd_forms(void **state)
{
	struct agent_exec_config c = { .where = "a.hcl:3" };
	struct agent_exec_cmd cmd;
	struct buf err;
	char *one[] = { "app" }, *spaced[] = { "app --flag x" }, *two[] = { "my app", "x" }, *blank[] = { "  " };

	(void)state;
	buf_init(&err, 256);
	c.command = one;
	c.ncommand = 1;
	assert_int_equal(agent_exec_cmd_init(&cmd, &c, &err), 0);
	assert_string_equal(cmd.argv[0], "app");
	assert_null(cmd.argv[1]);
	assert_false(cmd.own_group);
	agent_exec_cmd_release(&cmd);

	c.command = spaced;
	assert_int_equal(agent_exec_cmd_init(&cmd, &c, &err), 0);
	assert_string_equal(cmd.argv[0], "/bin/sh");
	assert_string_equal(cmd.argv[1], "-c");
	assert_string_equal(cmd.argv[2], "app --flag x");
	assert_null(cmd.argv[3]);
	assert_true(cmd.own_group);
	agent_exec_cmd_release(&cmd);

	c.command = two;
	c.ncommand = 2;
	assert_int_equal(agent_exec_cmd_init(&cmd, &c, &err), 0);
	assert_string_equal(cmd.argv[0], "my app");
	assert_string_equal(cmd.argv[1], "x");
	assert_false(cmd.own_group);
	agent_exec_cmd_release(&cmd);

	c.command = blank;
	c.ncommand = 1;
	assert_int_equal(agent_exec_cmd_init(&cmd, &c, &err), TROVE_ERR_INVALID);
	assert_string_equal(err.data, "a.hcl:3: exec: command: must name the program to run");
	buf_reset(&err);
	c.ncommand = 0;
	assert_int_equal(agent_exec_cmd_init(&cmd, &c, &err), TROVE_ERR_INVALID);
	buf_release(&err);
}

static void t_envp(void **state)
{
	char *base[] = { "PATH=/bin", "SECRET=old", "SECRETX=keep", "BARE", NULL };
	struct strlist env;
	char **e;

	(void)state;
	strlist_init(&env);
	strlist_push(&env, "SECRET=new");
	strlist_push(&env, "BARE=now");
	e = agent_exec_envp(base, &env);
	assert_string_equal(e[0], "PATH=/bin");
	assert_string_equal(e[1], "SECRETX=keep");
	assert_string_equal(e[2], "SECRET=new");
	assert_string_equal(e[3], "BARE=now");
	assert_null(e[4]);
	free(e);
	strlist_release(&env);
	strlist_init(&env);
	e = agent_exec_envp(base, &env);
	assert_string_equal(e[3], "BARE");
	assert_null(e[4]);
	free(e);
	strlist_release(&env);
}

static void t_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(agent_exec_exit_code(0), 0);
	assert_int_equal(agent_exec_exit_code(3 << 8), 3);
	assert_int_equal(agent_exec_exit_code(255 << 8), 255);
	assert_int_equal(agent_exec_exit_code(SIGTERM), 128 + SIGTERM);
	assert_int_equal(agent_exec_exit_code(SIGKILL | 0x80), 128 + SIGKILL); /* core dumped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_cmd_forms),
		cmocka_unit_test(t_envp),
		cmocka_unit_test(t_exit_codes),
		cmocka_unit_test_setup_teardown(t_starts_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(t_waits_for_env, setup, teardown),
		cmocka_unit_test_setup_teardown(t_restart_on_change, setup, teardown),
		cmocka_unit_test_setup_teardown(t_never_restarts, setup, teardown),
		cmocka_unit_test_setup_teardown(t_child_exit_code, setup, teardown),
		cmocka_unit_test_setup_teardown(t_child_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(t_forwards_usr1, setup, teardown),
		cmocka_unit_test_setup_teardown(t_forwards_term, setup, teardown),
		cmocka_unit_test_setup_teardown(t_term_without_child, setup, teardown),
		cmocka_unit_test_setup_teardown(t_stop_kills_after_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(t_restart_kills_after_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(t_command_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(t_command_not_found_later, setup, teardown),
		cmocka_unit_test_setup_teardown(t_output_files, setup, teardown),
		cmocka_unit_test_setup_teardown(t_output_file_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(t_shell_form, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
