/* status.c — `trove status` and the seal-status display it shares with
 * `trove operator unseal`.
 *
 * The display merges two unauthenticated endpoints: sys/seal-status (seal
 * and cluster facts) and sys/leader (HA facts). A sealed server may refuse
 * sys/leader; that is expected and only drops the HA lines. The exit code
 * of `status` carries the seal state (0 unsealed, 2 sealed, 1 error), so
 * scripts can test it without parsing output. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#include "strconv.h"

#include "banned.h"

/* Every failure of `status`, and of the seal-status display that `operator
 * unseal` shares, is 1, as with Vault: 2 means "sealed" here, not "the
 * server failed". */
#define STATUS_FAILED CLI_EXIT_LOCAL

static const struct cli_command status_spec = {
    .name = "status",
    .synopsis = "Print the seal and HA status of the server",
    .args = "[options]",
    .help = "Print whether the Trove server is initialized and sealed, its key shares and threshold, "
            "and whether it runs in high-availability mode. No token is needed.\n\n"
            "The exit code tells the seal state: 0 when unsealed, 2 when sealed, and 1 when the "
            "status could not be fetched.\n\n"
            "  $ trove status",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const char *get_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static json_int_t get_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	int64_t n = 0;
	if (json_is_real(v) && strconv_double_int64(json_real_value(v), &n))
		return (json_int_t)n;
	return 0;
}

static bool get_bool(const json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

static const char *yes_no(bool b)
{
	return b ? "true" : "false";
}

/* Fetches sys/leader into *out (NULL when a sealed server refused it).
 * Returns 0 or STATUS_FAILED after printing. */
static int fetch_leader(struct cli *cli, bool sealed, json_t **out)
{
	struct api_response resp;
	struct api_client *c;
	int r = STATUS_FAILED;

	*out = NULL;
	api_response_init(&resp);
	if ((c = cli_client(cli)) == NULL)
		goto out;
	if (api_read(c, "sys/leader", &resp) != 0 && resp.status == 0) {
		cli_print_api_error("checking leader status", &resp);
		goto out;
	}
	if (resp.status >= 400 || !json_is_object(resp.json)) {
		if (sealed) {
			r = 0;
			goto out;
		}
		cli_print_api_error("checking leader status", &resp);
		goto out;
	}
	*out = resp.json;
	resp.json = NULL;
	r = 0;
out:
	api_response_release(&resp);
	return r;
}

static bool time_is_set(const char *t)
{
	/* Go's zero time, which Vault-shaped servers send for "never". */
	return *t != '\0' && strncmp(t, "0001-01-01", 10) != 0;
}

static void add_ha_rows(struct cli_table *t, const json_t *leader, bool sealed)
{
	bool ha, self;
	const char *cluster;

	if (leader == NULL)
		return;
	ha = get_bool(leader, "ha_enabled");
	cli_table_kv(t, "HA Enabled", "%s", yes_no(ha));
	if (!ha || sealed)
		return;
	self = get_bool(leader, "is_self");
	cluster = get_str(leader, "leader_cluster_address");
	cli_table_kv(t, "HA Cluster", "%s", *cluster ? cluster : "n/a");
	cli_table_kv(t, "HA Mode", "%s", self ? "active" : "standby");
	if (self && time_is_set(get_str(leader, "active_time")))
		cli_table_kv(t, "Active Since", "%s", get_str(leader, "active_time"));
	if (!self && *get_str(leader, "leader_address"))
		cli_table_kv(t, "Active Node Address", "%s", get_str(leader, "leader_address"));
}

static int print_json(const struct cli *cli, const json_t *seal, const json_t *leader)
{
	static const char *const ha_keys[] = {"is_self", "active_time", "leader_address",
	                                      "leader_cluster_address"};
	json_t *out = json_deep_copy(seal);
	size_t i;
	int r;

	if (out == NULL)
		return STATUS_FAILED;
	if (leader) {
		json_object_set_new(out, "ha_enabled", json_boolean(get_bool(leader, "ha_enabled")));
		for (i = 0; i < sizeof(ha_keys) / sizeof(ha_keys[0]); i++) {
			json_t *v = json_object_get(leader, ha_keys[i]);

			if (v)
				json_object_set(out, ha_keys[i], v);
		}
	}
	r = cli_print_data(cli, out);
	json_decref(out);
	return r;
}

int status_print_seal(struct cli *cli, const json_t *seal)
{
	struct cli_table t;
	json_t *leader = NULL;
	bool sealed = get_bool(seal, "sealed");
	const char *s;
	int r;

	if (!json_is_object(seal)) {
		fprintf(stderr, "Error: the server's seal status is not a JSON object\n");
		return STATUS_FAILED;
	}
	if ((r = fetch_leader(cli, sealed, &leader)) != 0)
		return r;
	if (cli->format != CLI_FORMAT_TABLE) {
		r = print_json(cli, seal, leader);
		json_decref(leader);
		return r;
	}

	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	s = get_str(seal, "type");
	cli_table_kv(&t, "Seal Type", "%s", *s ? s : "shamir");
	cli_table_kv(&t, "Initialized", "%s", yes_no(get_bool(seal, "initialized")));
	cli_table_kv(&t, "Sealed", "%s", yes_no(sealed));
	cli_table_kv(&t, "Total Shares", "%" JSON_INTEGER_FORMAT, get_int(seal, "n"));
	cli_table_kv(&t, "Threshold", "%" JSON_INTEGER_FORMAT, get_int(seal, "t"));
	if (sealed) {
		cli_table_kv(&t, "Unseal Progress", "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
		             get_int(seal, "progress"), get_int(seal, "t"));
		s = get_str(seal, "nonce");
		cli_table_kv(&t, "Unseal Nonce", "%s", *s ? s : "n/a");
	}
	if (get_bool(seal, "migration"))
		cli_table_kv(&t, "Seal Migration in Progress", "true");
	cli_table_kv(&t, "Version", "%s", get_str(seal, "version"));
	s = get_str(seal, "build_date");
	if (*s == '\0')
		s = get_str(seal, "commit_date");
	if (*s)
		cli_table_kv(&t, "Build Date", "%s", s);
	if (*(s = get_str(seal, "storage_type")))
		cli_table_kv(&t, "Storage Type", "%s", s);
	if (*(s = get_str(seal, "cluster_name")))
		cli_table_kv(&t, "Cluster Name", "%s", s);
	if (*(s = get_str(seal, "cluster_id")))
		cli_table_kv(&t, "Cluster ID", "%s", s);
	add_ha_rows(&t, leader, sealed);
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	json_decref(leader);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : STATUS_FAILED;
}

int cmd_status(int argc, char **argv)
{
	struct cli cli;
	json_t *seal = NULL;
	int argi, r;

	r = cli_start(&cli, &status_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argi < argc) {
		r = cli_usage_error(&status_spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	if (cli_api(&cli, "checking seal status", "GET", "sys/seal-status", NULL, &seal) != 0) {
		r = STATUS_FAILED;
		goto out;
	}
	if (!json_is_object(seal)) {
		fprintf(stderr, "Error checking seal status: the server sent no status\n");
		r = STATUS_FAILED;
		goto out;
	}
	r = status_print_seal(&cli, seal);
	if (r == CLI_EXIT_OK && get_bool(seal, "sealed"))
		r = CLI_EXIT_STATE;
out:
	json_decref(seal);
	cli_release(&cli);
	return r;
}
