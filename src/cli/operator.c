/* operator.c — `trove operator ...`: init, unseal, seal, key-status,
 * rotate (rekey and generate-root are in operator_keys.c).
 *
 * Key hygiene is the theme of this file. Unseal keys are read from the
 * terminal with echo off rather than from argv when possible; a key given
 * as an argument is copied and then wiped from argv (so it leaves
 * /proc/<pid>/cmdline); the request body carrying it is built in a buffer
 * we wipe, instead of going through jansson's unwipeable allocations; and
 * the init response, which holds every key share and the root token, is
 * wiped string by string before it is freed. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

/* ---- init ------------------------------------------------------------- */

static const struct cli_command init_spec = {
    .name = "operator init",
    .synopsis = "Initialize a server",
    .args = "[options]",
    .help = "Initialize a new Trove server: generate the root key, split it into key shares with "
            "Shamir's secret sharing, and create the initial root token. A server is initialized "
            "once; its storage then holds the encrypted keyring for every node sharing it.\n\n"
            "The key shares and the root token are printed once and never again. Hand the shares "
            "to different people; any -key-threshold of them unseal the server.\n\n"
            "  $ trove operator init\n"
            "  $ trove operator init -key-shares=3 -key-threshold=2\n"
            "  $ trove operator init -status",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

#define INIT_NOTE                                                                                            \
	"Trove is initialized with %ld key shares and a key threshold of %ld. Keep each key share "          \
	"above in a separate safe place, held by a different person. Whenever the server starts, "           \
	"restarts or is sealed, %ld of these key shares must be entered again before it serves "             \
	"requests.\n\n"                                                                                      \
	"Trove keeps no copy of the root key. If fewer than %ld key shares survive, the root key "           \
	"cannot be rebuilt and the data stays sealed for good.\n\n"                                          \
	"The initial root token can do anything. Use it to set up authentication methods and "               \
	"policies, then revoke it."

#define INIT_RECOVERY_NOTE                                                                                   \
	"Trove is initialized with %ld recovery key shares and a recovery key threshold of %ld. The "        \
	"server unseals itself through its seal; the recovery keys authorise generate-root, the rekey of "   \
	"the recovery keys and an unseal after a manual seal. They cannot open the data without the "        \
	"seal. Keep each in a separate safe place.\n\n"                                                      \
	"The initial root token can do anything. Use it to set up authentication methods and "               \
	"policies, then revoke it."

static int init_status(struct cli *cli)
{
	json_t *resp = NULL;
	int r;

	/* 2 means "not initialized" here, so a failure is 1, as with Vault. */
	if (cli_api(cli, "checking init status", "GET", "sys/init", NULL, &resp) != 0)
		return CLI_EXIT_LOCAL;
	if (json_is_true(json_object_get(resp, "initialized"))) {
		printf("Trove is initialized\n");
		r = CLI_EXIT_OK;
	} else {
		printf("Trove is not initialized\n");
		r = CLI_EXIT_STATE;
	}
	json_decref(resp);
	return r;
}

static json_t *array_or_empty(json_t *v)
{
	return json_is_array(v) ? json_incref(v) : json_array();
}

/* rshares/rthreshold: the recovery shares asked for (auto seal), or 0. */
static int init_print(const struct cli *cli, json_t *resp, long shares, long threshold, long rshares,
                      long rthreshold)
{
	json_t *b64 = json_object_get(resp, "keys_base64");
	json_t *hex = json_object_get(resp, "keys");
	json_t *token = json_object_get(resp, "root_token");
	json_t *out;
	struct buf note;
	size_t i;
	int r;

	if (!json_is_array(b64) && !json_is_array(hex)) {
		fprintf(stderr, "Error initializing: the server's answer holds no key shares\n");
		return CLI_EXIT_REMOTE;
	}
	if (cli->format != CLI_FORMAT_TABLE) {
		out = json_object();
		json_object_set_new(out, "unseal_keys_b64", array_or_empty(b64));
		json_object_set_new(out, "unseal_keys_hex", array_or_empty(hex));
		json_object_set_new(out, "unseal_shares", json_integer(shares));
		json_object_set_new(out, "unseal_threshold", json_integer(threshold));
		json_object_set_new(out, "recovery_keys_b64",
		                    array_or_empty(json_object_get(resp, "recovery_keys_base64")));
		json_object_set_new(out, "recovery_keys_hex",
		                    array_or_empty(json_object_get(resp, "recovery_keys")));
		json_object_set_new(out, "recovery_keys_shares", json_integer(rshares));
		json_object_set_new(out, "recovery_keys_threshold", json_integer(rthreshold));
		json_object_set_new(out, "root_token",
		                    json_is_string(token) ? json_incref(token) : json_string(""));
		r = cli_print_data(cli, out);
		json_decref(out); /* the secret strings are shared with resp, wiped there */
		return r;
	}

	const char *label = "Unseal Key";
	if (rshares) {
		b64 = json_object_get(resp, "recovery_keys_base64");
		label = "Recovery Key";
	} else if (!json_is_array(b64)) {
		b64 = hex;
	}
	for (i = 0; i < json_array_size(b64); i++) {
		const json_t *k = json_array_get(b64, i);

		printf("%s %zu: %s\n", label, i + 1, json_is_string(k) ? json_string_value(k) : "?");
	}
	printf("\nInitial Root Token: %s\n\n", json_is_string(token) ? json_string_value(token) : "");
	buf_init(&note, BUF_CAP_DEFAULT);
	if (rshares)
		(void)buf_printf(&note, INIT_RECOVERY_NOTE, rshares, rthreshold);
	else
		(void)buf_printf(&note, INIT_NOTE, shares, threshold, threshold, threshold);
	cli_wrap(stdout, note.data, 0, 78);
	buf_release(&note);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

/* Whether the server reports an auto seal (recovery_seal) before init. */
static bool init_autoseal(struct cli *cli)
{
	json_t *st = NULL;
	bool autoseal = false;
	if (cli_api(cli, "reading seal status", "GET", "sys/seal-status", NULL, &st) == 0)
		autoseal = json_is_true(json_object_get(st, "recovery_seal"));
	json_decref(st);
	return autoseal;
}

static int cmd_init(int argc, char **argv)
{
	struct cli cli;
	long shares = 5, threshold = 3, rshares = 5, rthreshold = 3;
	bool status = false;
	const struct cli_flag flags[] = {
	    {"key-shares", "n", CLI_FLAG_INT, &shares, 1, 255, "5",
	     "Number of key shares (unseal keys) the root key is split into."},
	    {"key-threshold", "t", CLI_FLAG_INT, &threshold, 1, 255, "3",
	     "Number of key shares needed to rebuild the root key and unseal. At most -key-shares."},
	    {"recovery-shares", NULL, CLI_FLAG_INT, &rshares, 1, 255, "5",
	     "With an auto seal: number of recovery key shares."},
	    {"recovery-threshold", NULL, CLI_FLAG_INT, &rthreshold, 1, 255, "3",
	     "With an auto seal: number of recovery key shares needed. At most -recovery-shares."},
	    {"status", NULL, CLI_FLAG_BOOL, &status, 0, 0, NULL,
	     "Only report whether the server is initialized: exit code 0 when it is, 2 when it is "
	     "not, 1 on error."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	int argi, r;

	r = cli_start(&cli, &init_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argi < argc) {
		r = cli_usage_error(&init_spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	if (status) {
		r = init_status(&cli);
		goto out;
	}
	if (threshold > shares) {
		r = cli_usage_error(&init_spec, "-key-threshold (%ld) must not exceed -key-shares (%ld)",
		                    threshold, shares);
		goto out;
	}
	/* A Shamir server refuses recovery shares, so they are sent only to
	 * a server whose seal status says it has an auto seal. */
	body = json_pack("{s:I, s:I}", "secret_shares", (json_int_t)shares, "secret_threshold",
	                 (json_int_t)threshold);
	bool autoseal = init_autoseal(&cli);
	if (autoseal) {
		if (rthreshold > rshares) {
			r = cli_usage_error(&init_spec, "-recovery-threshold (%ld) must not exceed -recovery-shares (%ld)",
			                    rthreshold, rshares);
			goto out;
		}
		json_object_set_new(body, "recovery_shares", json_integer(rshares));
		json_object_set_new(body, "recovery_threshold", json_integer(rthreshold));
	}
	if ((r = cli_api(&cli, "initializing", "PUT", "sys/init", body, &resp)) != 0)
		goto out;
	r = init_print(&cli, resp, shares, threshold, autoseal ? rshares : 0, autoseal ? rthreshold : 0);
out:
	api_json_free_secret(resp);
	json_decref(body);
	cli_release(&cli);
	return r;
}

/* ---- unseal ----------------------------------------------------------- */

static const struct cli_command unseal_spec = {
    .name = "operator unseal",
    .synopsis = "Provide a key share to unseal the server",
    .args = "[options] [KEY]",
    .help = "Give the server one key share (unseal key). Once as many shares as the key threshold "
            "have been given, the server rebuilds the root key and unseals. The seal status is "
            "printed after each share.\n\n"
            "Without KEY the key is asked for on the terminal and not echoed, which keeps it out of "
            "the shell history; when standard input is not a terminal one line is read from it.\n\n"
            "  $ trove operator unseal\n"
            "  $ trove operator unseal -reset",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* Appends s as a JSON string literal (quotes included). */
static int append_json_string(struct buf *b, const char *s)
{
	const unsigned char *p;
	int r = buf_append_byte(b, '"');

	for (p = (const unsigned char *)s; *p && r == 0; p++) {
		if (*p == '"' || *p == '\\')
			r = buf_printf(b, "\\%c", *p);
		else if (*p < 0x20)
			r = buf_printf(b, "\\u%04x", *p);
		else
			r = buf_append_byte(b, (char)*p);
	}
	if (r == 0)
		r = buf_append_byte(b, '"');
	return r;
}

int operator_key_body(struct buf *b, const char *key, const char *nonce)
{
	int r = buf_append_str(b, "{\"key\":");
	if (r == 0)
		r = append_json_string(b, key);
	if (r == 0 && nonce) {
		r = buf_append_str(b, ",\"nonce\":");
		if (r == 0)
			r = append_json_string(b, nonce);
	}
	if (r == 0)
		r = buf_append_byte(b, '}');
	return r;
}

int operator_take_key(char **argv, int argi, int argc, const char *prompt, char **key)
{
	if (argi < argc) {
		*key = cli_take_secret_arg(argv, argi);
		return 0;
	}
	return cli_read_secret(prompt, key);
}

int operator_send_secret(struct cli *cli, const char *doing, const char *method, const char *path,
                         const char *body, json_t **out)
{
	struct api_response resp;
	struct api_client *c;
	int r = CLI_EXIT_REMOTE;

	*out = NULL;
	api_response_init(&resp);
	if ((c = cli_client(cli)) == NULL)
		goto out;
	if (api_send(c, method, path, NULL, body, body ? strlen(body) : 0, &resp) != 0) {
		cli_print_api_error(doing, &resp);
		goto out;
	}
	if (!json_is_object(resp.json)) {
		fprintf(stderr, "Error %s: the server's answer is not a JSON object\n", doing);
		goto out;
	}
	*out = resp.json;
	resp.json = NULL;
	r = 0;
out:
	api_response_release(&resp);
	return r;
}

static int unseal_send(struct cli *cli, const char *doing, const char *body)
{
	json_t *st = NULL;
	int r = operator_send_secret(cli, doing, "PUT", "sys/unseal", body, &st);

	if (r == 0)
		r = status_print_seal(cli, st);
	json_decref(st);
	return r;
}

static int cmd_unseal(int argc, char **argv)
{
	struct cli cli;
	bool reset = false, migrate = false;
	const struct cli_flag flags[] = {
	    {"reset", NULL, CLI_FLAG_BOOL, &reset, 0, 0, NULL,
	     "Forget the key shares entered so far and start the unseal over."},
	    {"migrate", NULL, CLI_FLAG_BOOL, &migrate, 0, 0, NULL,
	     "Complete a pending seal migration with this key share: unseal keys when moving from Shamir to "
	     "an auto seal, recovery keys when moving back (docs/seal.md)."},
	    CLI_FLAG_END,
	};
	struct buf body;
	char *key = NULL;
	int argi, r;

	r = cli_start(&cli, &unseal_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	buf_init_secret(&body, BUF_CAP_DEFAULT);
	if (argc - argi > 1 || (reset && argc - argi > 0)) {
		r = cli_usage_error(&unseal_spec, "Too many arguments (expected %d, got %d)", reset ? 0 : 1,
		                    argc - argi);
		goto out;
	}
	if (reset) {
		r = unseal_send(&cli, "resetting unseal", "{\"reset\":true}");
		goto out;
	}
	if ((r = operator_take_key(argv, argi, argc, "Unseal Key (will be hidden): ", &key)) != 0)
		goto out;
	r = operator_key_body(&body, key, NULL);
	if (r == 0 && migrate) {
		body.len--; /* the closing brace: the flag goes inside */
		r = buf_append_str(&body, ",\"migrate\":true}");
	}
	if (r != 0) {
		fprintf(stderr, "Error unsealing: the key is too long\n");
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	r = unseal_send(&cli, "unsealing", body.data);
out:
	secure_free_str(key);
	buf_release_secret(&body);
	cli_release(&cli);
	return r;
}

/* ---- seal ------------------------------------------------------------- */

static const struct cli_command seal_spec = {
    .name = "operator seal",
    .synopsis = "Seal the server",
    .args = "[options]",
    .help = "Seal the Trove server: it drops the root key and the keyring from memory and answers "
            "nothing but status requests until it is unsealed again with the key threshold of key "
            "shares. An unseal in progress is discarded. Sealing a sealed server does nothing.\n\n"
            "Needs a token allowed to update sys/seal.\n\n"
            "  $ trove operator seal",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int cmd_seal(int argc, char **argv)
{
	struct cli cli;
	int argi, r;

	r = cli_start(&cli, &seal_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argi < argc) {
		r = cli_usage_error(&seal_spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	if ((r = cli_api(&cli, "sealing", "PUT", "sys/seal", NULL, NULL)) != 0)
		goto out;
	printf("Success! Trove is sealed.\n");
	r = CLI_EXIT_OK;
out:
	cli_release(&cli);
	return r;
}

/* ---- key-status and rotate --------------------------------------------- */

static const struct cli_command key_status_spec = {
    .name = "operator key-status",
    .synopsis = "Show the active encryption key",
    .args = "[options]",
    .help = "Show the term of the barrier's active encryption key, when it was installed and about "
            "how many encryptions it has made.\n\n"
            "  $ trove operator key-status",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static const struct cli_command rotate_spec = {
    .name = "operator rotate",
    .synopsis = "Rotate the encryption key",
    .args = "[options]",
    .help = "Install a new encryption key in the barrier's keyring. New writes use the new key; data "
            "written earlier stays readable with the older keys, which remain in the keyring. The "
            "server keeps serving during the rotation.\n\n"
            "  $ trove operator rotate",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int print_key_status(const struct cli *cli, const json_t *st)
{
	const json_t *data = json_object_get(st, "data");
	json_t *term, *enc, *it, *out;
	struct cli_table t;
	char when[64];
	int r;

	/* Servers may send the fields at the top, under "data", or both. */
	if (json_is_object(data) && json_object_get(data, "term") != NULL)
		st = data;
	term = json_object_get(st, "term");
	it = json_object_get(st, "install_time");
	enc = json_object_get(st, "encryptions");
	if (!json_is_integer(term)) {
		fprintf(stderr, "Error reading key status: the server sent no key term\n");
		return CLI_EXIT_REMOTE;
	}
	if (cli->format != CLI_FORMAT_TABLE) {
		out = json_object();
		json_object_set(out, "term", term);
		json_object_set_new(out, "install_time",
		                    json_is_string(it) ? json_incref(it) : json_string(""));
		if (enc)
			json_object_set(out, "encryptions", enc);
		r = cli_print_data(cli, out);
		json_decref(out);
		return r;
	}

	cli_format_time_rfc822(json_is_string(it) ? json_string_value(it) : "", when, sizeof(when));
	cli_table_init(&t, 2);
	cli_table_kv(&t, "Key Term", "%" JSON_INTEGER_FORMAT, json_integer_value(term));
	cli_table_kv(&t, "Install Time", "%s", when);
	if (json_is_integer(enc))
		cli_table_kv(&t, "Encryption Count", "%" JSON_INTEGER_FORMAT, json_integer_value(enc));
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

static int cmd_key_status(int argc, char **argv)
{
	struct cli cli;
	json_t *st = NULL;
	int argi, r;

	r = cli_start(&cli, &key_status_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argi < argc) {
		r = cli_usage_error(&key_status_spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	if ((r = cli_api(&cli, "reading key status", "GET", "sys/key-status", NULL, &st)) != 0)
		goto out;
	r = print_key_status(&cli, st);
out:
	json_decref(st);
	cli_release(&cli);
	return r;
}

static int cmd_rotate(int argc, char **argv)
{
	struct cli cli;
	json_t *st = NULL;
	int argi, r;

	r = cli_start(&cli, &rotate_spec, NULL, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (argi < argc) {
		r = cli_usage_error(&rotate_spec, "Too many arguments (expected 0, got %d)", argc - argi);
		goto out;
	}
	if ((r = cli_api(&cli, "rotating key", "PUT", "sys/rotate", NULL, NULL)) != 0)
		goto out;
	if ((r = cli_api(&cli, "reading key status", "GET", "sys/key-status", NULL, &st)) != 0)
		goto out;
	if (cli.format == CLI_FORMAT_TABLE)
		printf("Success! Rotated key\n\n");
	r = print_key_status(&cli, st);
out:
	json_decref(st);
	cli_release(&cli);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand operator_cmds[] = {
    {&operator_generate_root_spec, cmd_generate_root},
    {&init_spec, cmd_init},
    {&key_status_spec, cmd_key_status},
    {&operator_rekey_spec, cmd_rekey},
    {&rotate_spec, cmd_rotate},
    {&seal_spec, cmd_seal},
    {&unseal_spec, cmd_unseal},
};

static const struct cli_group operator_group = {
    "operator",
    "Tasks for the people who run a Trove server: initialize it, unseal and seal it, change its key "
    "shares, generate a root token, and manage its encryption key.",
    operator_cmds,
    sizeof(operator_cmds) / sizeof(operator_cmds[0]),
};

int cmd_operator(int argc, char **argv)
{
	return cli_dispatch(&operator_group, argc, argv);
}
