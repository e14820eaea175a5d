/* Unit tests for the agent's config loader (agent.hcl). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/agent_config.h"
#include "err.h"

struct fx {
	struct agent_config cfg;
	struct buf err;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	agent_config_init(&f->cfg);
	buf_init(&f->err, 4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	agent_config_release(&f->cfg);
	buf_release(&f->err);
	free(f);
	return 0;
}

static int load(struct fx *f, const char *text, bool json)
{
	return agent_config_load_text(&f->cfg, "agent.hcl", text, strlen(text), json, &f->err);
}

static const char full[] =
	"pid_file = \"/run/agent.pid\"\n"
	"exit_after_auth = false\n"
	"vault {\n"
	"  address = \"https://trove:8200\"\n"
	"  ca_cert = \"/ca.pem\"\n"
	"  retry { num_retries = 5 }\n"
	"}\n"
	"auto_auth {\n"
	"  method \"approle\" {\n"
	"    mount_path = \"auth/apps\"\n"
	"    min_backoff = \"2s\"\n"
	"    max_backoff = \"1m\"\n"
	"    exit_on_err = true\n"
	"    config = {\n"
	"      role_id_file_path = \"/etc/role\"\n"
	"      remove_secret_id_file_after_reading = false\n"
	"    }\n"
	"  }\n"
	"  sink \"file\" {\n"
	"    dh_type = \"curve25519\"\n"
	"    dh_path = \"/dh.json\"\n"
	"    config = { path = \"/sink\" mode = 0600 }\n"
	"  }\n"
	"  sink { type = \"file\" config = { path = \"/sink2\" } }\n"
	"}\n"
	"template {\n"
	"  contents = \"{{ with secret \\\"kv/data/x\\\" }}{{ .Data.data.a }}{{ end }}\"\n"
	"  destination = \"/out\"\n"
	"  perms = \"0600\"\n"
	"  command = \"systemctl reload app\"\n"
	"  wait { min = \"2s\" max = \"10s\" }\n"
	"}\n"
	"template {\n"
	"  source = \"/t.tmpl\"\n"
	"  destination = \"/out2\"\n"
	"  perms = 0640\n"
	"  exec { command = [\"kill\", \"-HUP\", \"1\"] timeout = \"5s\" }\n"
	"}\n"
	"template_config { static_secret_render_interval = \"10s\" lease_renewal_threshold = 0.8 }\n"
	"exec { command = [\"/app\", \"-x\"] restart_on_secret_changes = \"never\" restart_stop_signal = \"SIGINT\" }\n"
	"env_template \"DB_PASSWORD\" { contents = \"x\" }\n"
	"listener \"tcp\" {\n"
	"  address = \"127.0.0.1:8100\"\n"
	"  tls_disable = true\n"
	"  require_request_header = true\n"
	"  agent_api { enable_quit = true }\n"
	"}\n"
	"listener \"unix\" { address = \"/run/agent.sock\" socket_mode = \"0660\" }\n"
	"api_proxy { use_auto_auth_token = \"force\" }\n"
	"cache {}\n";

static void test_full(void **state)
{
	struct fx *f = *state;
	const struct agent_config *c = &f->cfg;

	assert_int_equal(load(f, full, false), 0);
	assert_int_equal(agent_config_validate(c, &f->err), 0);
	assert_string_equal(c->pid_file, "/run/agent.pid");
	assert_string_equal(c->vault.address, "https://trove:8200");
	assert_int_equal(c->vault.num_retries, 5);
	assert_true(c->auto_auth.present);
	assert_string_equal(c->auto_auth.method.type, "approle");
	assert_string_equal(c->auto_auth.method.mount_path, "auth/apps");
	assert_int_equal(c->auto_auth.method.wrap_ttl, 0);
	assert_int_equal(c->auto_auth.method.min_backoff, 2);
	assert_int_equal(c->auto_auth.method.max_backoff, 60);
	assert_true(c->auto_auth.method.exit_on_err);
	assert_string_equal(c->auto_auth.method.where, "agent.hcl:9");
	{
		struct agent_config w;

		agent_config_init(&w);
		const char *t = "auto_auth { method \"approle\" { wrap_ttl = \"1m\" } }";

		assert_int_equal(agent_config_load_text(&w, "w.hcl", t, strlen(t), false, &f->err), 0);
		assert_int_equal(w.auto_auth.method.wrap_ttl, 60);
		agent_config_release(&w);
	}
	assert_string_equal(agent_kv_find(&c->auto_auth.method.config, "role_id_file_path")->value, "/etc/role");
	assert_string_equal(agent_kv_find(&c->auto_auth.method.config, "remove_secret_id_file_after_reading")->value,
			    "false");
	assert_null(agent_kv_find(&c->auto_auth.method.config, "nope"));
	assert_int_equal(c->auto_auth.nsinks, 2);
	assert_string_equal(c->auto_auth.sinks[0].type, "file");
	assert_string_equal(c->auto_auth.sinks[0].dh_type, "curve25519");
	assert_string_equal(agent_kv_find(&c->auto_auth.sinks[0].config, "mode")->value, "384"); /* 0600 */
	assert_string_equal(c->auto_auth.sinks[1].type, "file");
	assert_int_equal(c->ntemplates, 3);
	assert_int_equal(c->templates[0].perms, 0600);
	assert_true(c->templates[0].command_shell);
	assert_int_equal(c->templates[0].ncommand, 1);
	assert_int_equal(c->templates[0].wait_min, 2);
	assert_int_equal(c->templates[0].wait_max, 10);
	assert_true(c->templates[0].create_dest_dirs);
	assert_true(c->templates[0].backup); /* as Vault Agent */
	assert_int_equal(c->templates[2].perms, AGENT_PERMS_UNSET);
	assert_int_equal(c->templates[0].command_timeout, 30);
	assert_int_equal(c->templates[1].perms, 0640);
	assert_false(c->templates[1].command_shell); /* a list: no shell */
	assert_int_equal(c->templates[1].ncommand, 3);
	assert_string_equal(c->templates[1].command[2], "1");
	assert_int_equal(c->templates[1].command_timeout, 5);
	assert_string_equal(c->templates[2].env_name, "DB_PASSWORD");
	assert_int_equal(c->template_config.static_secret_render_interval, 10);
	assert_true(c->template_config.lease_renewal_threshold > 0.79 && c->template_config.lease_renewal_threshold < 0.81);
	assert_true(c->exec.present);
	assert_int_equal(c->exec.ncommand, 2);
	assert_int_equal(c->exec.restart_on_secret_changes, AGENT_RESTART_NEVER);
	assert_int_equal(c->exec.restart_stop_signal, SIGINT);
	assert_int_equal(c->nlisteners, 2);
	assert_true(c->listeners[0].enable_quit);
	assert_true(c->listeners[0].require_request_header);
	assert_string_equal(c->listeners[1].type, "unix");
	assert_int_equal(c->api_proxy.use_auto_auth_token, AGENT_TOKEN_FORCE);
	assert_true(c->cache.present);
}

static void test_defaults(void **state)
{
	struct fx *f = *state;
	const struct agent_config *c = &f->cfg;

	assert_int_equal(load(f,
			      "auto_auth { method \"token_file\" { config = { token_file_path = \"/t\" } }\n"
			      "  sink \"file\" { config = { path = \"/s\" } } }",
			      false),
			 0);
	assert_int_equal(agent_config_validate(c, &f->err), 0);
	assert_int_equal(c->auto_auth.method.min_backoff, 1);
	assert_int_equal(c->auto_auth.method.max_backoff, 300);
	assert_int_equal(c->template_config.static_secret_render_interval, 300);
	assert_int_equal(c->vault.num_retries, 0);
	assert_int_equal(c->api_proxy.use_auto_auth_token, AGENT_TOKEN_NO);
}

static void test_json(void **state)
{
	struct fx *f = *state;
	const char *text = "{\"auto_auth\": {\"method\": [{\"type\": \"approle\", \"config\": {\"a\": 1}}],"
			   " \"sink\": [{\"file\": {\"config\": {\"path\": \"/p\"}}}]},"
			   " \"template\": [{\"contents\": \"x\", \"destination\": \"/d\"},"
			   "                {\"contents\": \"y\", \"destination\": \"/e\"}],"
			   " \"listener\": {\"tcp\": {\"address\": \"127.0.0.1:1\"}}}";

	assert_int_equal(load(f, text, true), 0);
	assert_int_equal(agent_config_validate(&f->cfg, &f->err), 0);
	assert_string_equal(f->cfg.auto_auth.method.type, "approle");
	assert_string_equal(agent_kv_find(&f->cfg.auto_auth.method.config, "a")->value, "1");
	assert_string_equal(f->cfg.auto_auth.sinks[0].type, "file");
	assert_int_equal(f->cfg.ntemplates, 2);
	assert_int_equal(f->cfg.nlisteners, 1);
}

/* Each case: the text, and what the error must hold (file:line, key). */
static void test_refusals(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "vault { adress = \"x\" }", "agent.hcl:1: vault: unknown key \"adress\"" },
		{ "bogus = 1", "agent.hcl:1: unknown key \"bogus\"" },
		{ "auto_auth {\n method \"approle\" {}\n sink \"file\" { bogus = 1 } }", "agent.hcl:3: auto_auth.sink: unknown key \"bogus\"" },
		{ "auto_auth { method \"a\" {} \n method \"b\" {} }", "agent.hcl:2: auto_auth: method is already given at agent.hcl:1" },
		{ "auto_auth { method { mount_path = \"x\" } }", "auto_auth.method: " },
		{ "auto_auth { method \"approle\" { type = \"jwt\" } }", "type is given twice" },
		{ "auto_auth { method \"approle\" { min_backoff = \"soon\" } }", "min_backoff: expected a duration" },
		{ "auto_auth { method \"approle\" { config = \"x\" } }", "config: expected a map" },
		{ "auto_auth { method \"approle\" { config = { a = [1] } } }", "config: a: expected a string, number or boolean" },
		{ "template { destination = \"/x\" perms = \"0999\" }", "perms: expected an octal file mode" },
		{ "template { destination = \"/x\" command = 5 }", "command: expected a list of strings" },
		{ "template { destination = \"/x\" wait { min = \"1s\" often = 2 } }", "template.wait: unknown key \"often\"" },
		{ "template \"x\" { destination = \"/x\" }", "template: takes no label" },
		{ "env_template \"BAD-NAME\" { contents = \"x\" }", "environment variable name" },
		{ "exec { restart_on_secret_changes = \"sometimes\" }", "expected \"always\" or \"never\"" },
		{ "exec { restart_stop_signal = \"SIGFOO\" }", "expected a signal name" },
		{ "listener \"udp\" { address = \"x\" }", "unsupported listener type" },
		{ "listener \"tcp\" { tls_disable = true }", "address is required" },
		{ "listener \"tcp\" { address = \"x\" role = \"admin\" }", "role: expected" },
		{ "listener \"tcp\" { address = \"x\" agent_api { enable_exit = true } }", "listener.agent_api: unknown key" },
		{ "api_proxy { use_auto_auth_token = \"sometimes\" }", "expected true, false or \"force\"" },
		{ "template_config { lease_renewal_threshold = 1.5 }", "expected a fraction" },
		{ "vault { retry { num_retries = -2 } }", "num_retries: out of range" },
		{ "vault { }\nvault { }", "agent.hcl:2: vault is already given at agent.hcl:1" },
		{ "telemetry { }", "telemetry: unsupported" },
		{ "pid_file = \"a\"\npid_file = \"b\"", "" }, /* later keys replace earlier ones at the top */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_config c;
		struct buf err;
		int r;

		agent_config_init(&c);
		buf_init(&err, 4096);
		r = agent_config_load_text(&c, "agent.hcl", cases[i].text, strlen(cases[i].text), false, &err);
		if (cases[i].want[0] == '\0') {
			assert_int_equal(r, 0);
		} else {
			if (r == 0 || strstr(err.data, cases[i].want) == NULL)
				fail_msg("case %zu: %s\n  got %d \"%s\"", i, cases[i].text, r, err.data);
		}
		agent_config_release(&c);
		buf_release(&err);
	}
}

static void test_validate(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "template { contents = \"x\" }", "destination is required" },
		{ "template { destination = \"/x\" }", "exactly one of source and contents" },
		{ "template { destination = \"/x\" source = \"a\" contents = \"b\" }", "exactly one of source and contents" },
		{ "template { destination = \"/x\" contents = \"b\" wait { min = \"5s\" max = \"1s\" } }", "min is above max" },
		{ "template { destination = \"/x\" contents = \"b\" left_delimiter = \"\" }", "delimiter may not be empty" },
		{ "env_template \"A\" { contents = \"x\" }", "env_template needs an exec block" },
		{ "exec { }", "exec: command is required" },
		{ "exec { command = [\"a\"] }\nenv_template \"A\" { contents = \"x\" }\nenv_template \"A\" { contents = \"y\" }", "given twice" },
		{ "auto_auth { sink \"file\" { config = { path = \"/x\" } } }", "a method block is required" },
		{ "auto_auth { method \"approle\" { min_backoff = \"10s\" max_backoff = \"5s\" } }", "above max_backoff" },
		{ "auto_auth { method \"approle\" {}\n sink \"syslog\" {} }", "unsupported sink type" },
		{ "listener \"tcp\" { address = \"x\" }\napi_proxy { use_auto_auth_token = true }", "needs auto_auth" },
		{ "exit_after_auth = true\nlistener \"tcp\" { address = \"x\" }", "exit_after_auth needs" },
		{ "pid_file = \"/x\"", "nothing to do" },
		{ "template { destination = \"/x\" contents = \"b\" }\nlistener \"tcp\" { address = \"x\" }", "give an auto_auth block" },
		{ "auto_auth { method \"approle\" { wrap_ttl = \"1m\" } }\ntemplate { destination = \"/x\" contents = \"b\" }", "cannot use a wrapped token" },
		{ "auto_auth { method \"approle\" { wrap_ttl = \"1m\" } }\nlistener \"tcp\" { address = \"x\" }\napi_proxy { use_auto_auth_token = \"force\" }", "cannot use a wrapped token" },
		{ "auto_auth { method \"approle\" {} }", "needs a sink, a template" },
		{ "auto_auth { method \"approle\" {}\n sink \"file\" { config = { path = \"/s\" } } }\ncache {}", "need a listener block" },
		{ "auto_auth { method \"approle\" {}\n sink \"file\" { config = { path = \"/s\" } } }\napi_proxy { use_auto_auth_token = true }", "need a listener block" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct agent_config c;
		struct buf err;
		int r;

		agent_config_init(&c);
		buf_init(&err, 4096);
		r = agent_config_load_text(&c, "agent.hcl", cases[i].text, strlen(cases[i].text), false, &err);
		if (r != 0)
			fail_msg("case %zu loads: %s", i, err.data);
		r = agent_config_validate(&c, &err);
		if (r == 0 || strstr(err.data, cases[i].want) == NULL)
			fail_msg("case %zu: %s\n  got %d \"%s\"", i, cases[i].text, r, err.data);
		agent_config_release(&c);
		buf_release(&err);
	}
}

static void test_merge_files(void **state)
{
	struct fx *f = *state;

	assert_int_equal(load(f, "template { contents = \"a\" destination = \"/a\" }\n"
				 "auto_auth { method \"token_file\" { config = { token_file_path = \"/t\" } } }",
			      false),
			 0);
	assert_int_equal(load(f, "template { contents = \"b\" destination = \"/b\" }\nvault { address = \"http://x:1\" }",
			      false),
			 0);
	assert_int_equal(f->cfg.ntemplates, 2);
	assert_int_equal(agent_config_validate(&f->cfg, &f->err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json, setup, teardown),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_validate),
		cmocka_unit_test_setup_teardown(test_merge_files, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
