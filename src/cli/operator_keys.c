/* operator_keys.c — `trove operator rekey` and `trove operator
 * generate-root`: the two operations that collect the current key shares
 * one at a time, with a nonce, over the sys/rekey and sys/generate-root
 * endpoints.
 *
 * Key hygiene as in operator.c: shares come from the terminal (echo off)
 * or from argv (copied, then wiped), bodies are built in wiped buffers,
 * and answers holding shares or tokens are wiped before they are freed. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "err.h"
#include "otp.h"
#include "secure.h"

#include "banned.h"

static long int_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (long)json_integer_value(v) : 0;
}

static const char *str_of(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "";
}

static const char *bool_of(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k)) ? "true" : "false";
}

/* Prints a table (or the object in -format=json|yaml) and returns an exit
 * code; t is released. */
static int print_table(const struct cli *cli, const json_t *obj, struct cli_table *t)
{
	int r;
	if (cli->format != CLI_FORMAT_TABLE) {
		cli_table_release(t);
		return cli_print_data(cli, obj);
	}
	cli_table_print(t, stdout);
	cli_table_release(t);
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
	return r;
}

/* The nonce to send: -nonce, else the one of the operation in progress
 * (read from path). Returns 0 with *out set (heap), or an exit code. */
static int current_nonce(struct cli *cli, const char *given, const char *path, const char *what, char **out)
{
	json_t *st = NULL;
	int r;

	if (given && given[0]) {
		*out = xstrdup(given);
		return 0;
	}
	if ((r = cli_api(cli, "reading the nonce", "GET", path, NULL, &st)) != 0)
		return r;
	if (!str_of(st, "nonce")[0]) {
		fprintf(stderr, "Error: no %s is in progress; start one with -init\n", what);
		json_decref(st);
		return CLI_EXIT_REMOTE;
	}
	*out = xstrdup(str_of(st, "nonce"));
	json_decref(st);
	return 0;
}

/* Sends one key share with its nonce to path; *out as operator_send_secret. */
static int send_share(struct cli *cli, char **argv, int argi, int argc, const char *prompt, const char *nonce,
                      const char *doing, const char *path, json_t **out)
{
	struct buf body;
	char *key = NULL;
	int r;

	*out = NULL;
	buf_init(&body, BUF_CAP_DEFAULT);
	if ((r = operator_take_key(argv, argi, argc, prompt, &key)) != 0)
		goto out;
	if (operator_key_body(&body, key, nonce) != 0) {
		fprintf(stderr, "Error %s: the key is too long\n", doing);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	r = operator_send_secret(cli, doing, "PUT", path, body.data, out);
out:
	secure_free_str(key);
	buf_release_secret(&body);
	return r;
}

/* ---- rekey ------------------------------------------------------------ */

const struct cli_command operator_rekey_spec = {
    .name = "operator rekey",
    .synopsis = "Change the key shares",
    .args = "[options] [KEY]",
    .help = "Replace the unseal key with a new one, split into a new number of key shares with a new "
            "threshold. The data and the root key stay as they are; the old key shares stop working "
            "once the rekey completes.\n\n"
            "Start with -init, then give the threshold of CURRENT key shares, one per run (each run "
            "may come from a different holder). The last one prints the new key shares, once. With "
            "-verify at -init the new shares only take effect once the threshold of them has been "
            "given back with -verify, so a share lost in transit is noticed while the old ones "
            "still work.\n\n"
            "Without KEY the key is asked for on the terminal and not echoed; when standard input is "
            "not a terminal one line is read from it.\n\n"
            "  $ trove operator rekey -init -key-shares=7 -key-threshold=4\n"
            "  $ trove operator rekey\n"
            "  $ trove operator rekey -verify\n"
            "  $ trove operator rekey -status\n"
            "  $ trove operator rekey -cancel",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int rekey_print_status(const struct cli *cli, const json_t *st)
{
	struct cli_table t;
	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	cli_table_kv(&t, "Nonce", "%s", str_of(st, "nonce"));
	cli_table_kv(&t, "Started", "%s", bool_of(st, "started"));
	cli_table_kv(&t, "Rekey Progress", "%ld/%ld", int_of(st, "progress"), int_of(st, "required"));
	cli_table_kv(&t, "New Shares", "%ld", int_of(st, "n"));
	cli_table_kv(&t, "New Threshold", "%ld", int_of(st, "t"));
	cli_table_kv(&t, "Verification Required", "%s", bool_of(st, "verification_required"));
	if (str_of(st, "verification_nonce")[0])
		cli_table_kv(&t, "Verification Nonce", "%s", str_of(st, "verification_nonce"));
	return print_table(cli, st, &t);
}

static int rekey_print_verify_status(const struct cli *cli, const json_t *st)
{
	struct cli_table t;
	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	cli_table_kv(&t, "Started", "%s", bool_of(st, "started"));
	cli_table_kv(&t, "New Shares", "%ld", int_of(st, "n"));
	cli_table_kv(&t, "New Threshold", "%ld", int_of(st, "t"));
	cli_table_kv(&t, "Verification Nonce", "%s", str_of(st, "nonce"));
	cli_table_kv(&t, "Verification Progress", "%ld/%ld", int_of(st, "progress"), int_of(st, "t"));
	return print_table(cli, st, &t);
}

static int rekey_print_keys(const struct cli *cli, const json_t *res)
{
	const json_t *keys = json_object_get(res, "keys_base64");
	size_t i, n = json_array_size(keys);
	struct buf note;

	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, res);
	for (i = 0; i < n; i++)
		printf("Key %zu: %s\n", i + 1, json_string_value(json_array_get(keys, i)));
	printf("\nOperation nonce: %s\n\n", str_of(res, "nonce"));
	buf_init(&note, BUF_CAP_DEFAULT);
	if (json_is_true(json_object_get(res, "verification_required"))) {
		(void)buf_printf(
		    &note,
		    "Trove has made %zu new key shares. They are NOT in effect yet: the current key "
		    "shares keep working until the threshold of these new ones has been given back "
		    "with 'trove operator rekey -verify' (verification nonce %s).",
		    n, str_of(res, "verification_nonce"));
	} else {
		(void)buf_printf(
		    &note,
		    "Trove is rekeyed with %zu key shares. The previous key shares no longer work. "
		    "Keep each new key share in a separate safe place, held by a different person.",
		    n);
	}
	cli_wrap(stdout, note.data, 0, 78);
	buf_release(&note);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

int cmd_rekey(int argc, char **argv)
{
	struct cli cli;
	long shares = 5, threshold = 3;
	bool init = false, cancel = false, status = false, verify = false;
	const char *nonce_flag = NULL;
	const struct cli_flag flags[] = {
	    {"init", NULL, CLI_FLAG_BOOL, &init, 0, 0, NULL, "Start a rekey. Cancel one in progress first."},
	    {"cancel", NULL, CLI_FLAG_BOOL, &cancel, 0, 0, NULL,
	     "Cancel the rekey in progress (with -verify: restart only its verification)."},
	    {"status", NULL, CLI_FLAG_BOOL, &status, 0, 0, NULL,
	     "Print the progress of the rekey (with -verify: of its verification)."},
	    {"key-shares", "n", CLI_FLAG_INT, &shares, 1, 255, "5", "With -init: number of new key shares."},
	    {"key-threshold", "t", CLI_FLAG_INT, &threshold, 1, 255, "3",
	     "With -init: number of new key shares needed to unseal."},
	    {"nonce", NULL, CLI_FLAG_STRING, &nonce_flag, 0, 0, NULL,
	     "Nonce of the operation; read from the server when not given."},
	    {"verify", NULL, CLI_FLAG_BOOL, &verify, 0, 0, NULL,
	     "With -init: require the new shares to be given back before they take effect. Otherwise: act "
	     "on the verification step (give a NEW key share)."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *nonce = NULL;
	int argi, r;

	r = cli_start(&cli, &operator_rekey_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((init + cancel + status) > 1) {
		r = cli_usage_error(&operator_rekey_spec, "-init, -cancel and -status exclude one another");
		goto out;
	}
	if ((init || cancel || status) && argi < argc) {
		r = cli_usage_error(&operator_rekey_spec, "Too many arguments (expected 0, got %d)",
		                    argc - argi);
		goto out;
	}
	if (argc - argi > 1) {
		r = cli_usage_error(&operator_rekey_spec, "Too many arguments (expected 1, got %d)",
		                    argc - argi);
		goto out;
	}
	if (init) {
		if (threshold > shares) {
			r = cli_usage_error(&operator_rekey_spec,
			                    "-key-threshold (%ld) must not exceed -key-shares (%ld)",
			                    threshold, shares);
			goto out;
		}
		body = json_pack("{s:I, s:I, s:b}", "secret_shares", (json_int_t)shares, "secret_threshold",
		                 (json_int_t)threshold, "require_verification", verify);
		if ((r = cli_api(&cli, "starting rekey", "PUT", "sys/rekey/init", body, &resp)) == 0)
			r = rekey_print_status(&cli, resp);
	} else if (cancel) {
		const char *path = verify ? "sys/rekey/verify" : "sys/rekey/init";
		if ((r = cli_api(&cli, "cancelling rekey", "DELETE", path, NULL, &resp)) != 0)
			goto out;
		if (verify && resp)
			r = rekey_print_verify_status(&cli, resp);
		else
			printf("Success! Canceled rekeying (if it was started)\n");
	} else if (status) {
		if (verify) {
			if ((r = cli_api(&cli, "reading rekey verification", "GET", "sys/rekey/verify", NULL,
			                 &resp)) == 0)
				r = rekey_print_verify_status(&cli, resp);
		} else if ((r = cli_api(&cli, "reading rekey status", "GET", "sys/rekey/init", NULL,
		                        &resp)) == 0) {
			r = rekey_print_status(&cli, resp);
		}
	} else if (verify) {
		if ((r = current_nonce(&cli, nonce_flag, "sys/rekey/verify", "rekey verification", &nonce)) !=
		    0)
			goto out;
		r = send_share(&cli, argv, argi, argc, "New Key (will be hidden): ", nonce, "verifying rekey",
		               "sys/rekey/verify", &resp);
		if (r != 0)
			goto out;
		if (json_is_true(json_object_get(resp, "complete"))) {
			if (cli.format != CLI_FORMAT_TABLE)
				r = cli_print_data(&cli, resp);
			else
				printf("Success! Rekey verified: the new key shares are now in effect and "
				       "the previous "
				       "ones no longer work.\n");
		} else {
			r = rekey_print_verify_status(&cli, resp);
		}
	} else {
		if ((r = current_nonce(&cli, nonce_flag, "sys/rekey/init", "rekey", &nonce)) != 0)
			goto out;
		r = send_share(&cli, argv, argi, argc, "Key (will be hidden): ", nonce, "rekeying",
		               "sys/rekey/update", &resp);
		if (r != 0)
			goto out;
		if (json_is_true(json_object_get(resp, "complete")))
			r = rekey_print_keys(&cli, resp);
		else
			r = rekey_print_status(&cli, resp);
	}
out:
	free(nonce);
	api_json_free_secret(resp);
	json_decref(body);
	cli_release(&cli);
	return r;
}

/* ---- generate-root ---------------------------------------------------- */

const struct cli_command operator_generate_root_spec = {
    .name = "operator generate-root",
    .synopsis = "Generate a new root token",
    .args = "[options] [KEY]",
    .help = "Create a new root token from the threshold of key shares, for when no root token is left. "
            "The token is handed out encoded with a one-time pad (OTP); only whoever holds the OTP can "
            "decode it.\n\n"
            "Start with -init (the server makes the OTP and prints it once, or give your own with "
            "-otp), then give the threshold of key shares, one per run. The last one prints the "
            "encoded token; decode it with -decode and -otp. The token has the root policy, no "
            "parent and no expiry: revoke it once done.\n\n"
            "Without KEY the key is asked for on the terminal and not echoed; when standard input is "
            "not a terminal one line is read from it.\n\n"
            "  $ trove operator generate-root -init\n"
            "  $ trove operator generate-root\n"
            "  $ trove operator generate-root -decode=ENCODED -otp=OTP\n"
            "  $ trove operator generate-root -status\n"
            "  $ trove operator generate-root -cancel",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int genroot_print_status(const struct cli *cli, const json_t *st)
{
	struct cli_table t;
	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	cli_table_kv(&t, "Nonce", "%s", str_of(st, "nonce"));
	cli_table_kv(&t, "Started", "%s", bool_of(st, "started"));
	cli_table_kv(&t, "Progress", "%ld/%ld", int_of(st, "progress"), int_of(st, "required"));
	cli_table_kv(&t, "Complete", "%s", bool_of(st, "complete"));
	if (str_of(st, "encoded_token")[0])
		cli_table_kv(&t, "Encoded Token", "%s", str_of(st, "encoded_token"));
	if (str_of(st, "otp")[0])
		cli_table_kv(&t, "OTP", "%s", str_of(st, "otp"));
	cli_table_kv(&t, "OTP Length", "%ld", int_of(st, "otp_length"));
	return print_table(cli, st, &t);
}

static int genroot_decode(const struct cli *cli, const char *encoded, const char *otp)
{
	char *token = NULL;
	json_t *out;
	int r;

	if (otp_decode(encoded, strlen(encoded), otp, &token) != 0) {
		fprintf(stderr,
		        "Error decoding: the encoded token is not base64 of a token as long as the OTP\n");
		return CLI_EXIT_LOCAL;
	}
	if (cli->format == CLI_FORMAT_TABLE) {
		printf("%s\n", token);
		r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
	} else {
		out = json_pack("{s:s}", "token", token);
		r = cli_print_data(cli, out);
		api_json_free_secret(out);
	}
	secure_free_str(token);
	return r;
}

/* Wipes the argument of argv holding a flag's value (value points into it). */
static void wipe_flag_arg(char **argv, int argc, const char *value)
{
	for (int i = 1; value && i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (value >= argv[i] && value <= argv[i] + n) {
			secure_wipe(argv[i], n);
			return;
		}
	}
}

int cmd_generate_root(int argc, char **argv)
{
	struct cli cli;
	bool init = false, cancel = false, status = false;
	const char *nonce_flag = NULL, *otp = NULL, *decode = NULL;
	const struct cli_flag flags[] = {
	    {"init", NULL, CLI_FLAG_BOOL, &init, 0, 0, NULL,
	     "Start a root token generation. Cancel one in progress first."},
	    {"cancel", NULL, CLI_FLAG_BOOL, &cancel, 0, 0, NULL,
	     "Cancel the root token generation in progress."},
	    {"status", NULL, CLI_FLAG_BOOL, &status, 0, 0, NULL,
	     "Print the progress of the root token generation."},
	    {"otp", NULL, CLI_FLAG_STRING, &otp, 0, 0, NULL,
	     "With -init: the one-time pad to encode the token with (as long as a token: see OTP Length); "
	     "the server makes one when absent. With -decode: the OTP to decode with."},
	    {"decode", NULL, CLI_FLAG_STRING, &decode, 0, 0, NULL,
	     "Decode this encoded token with -otp, locally, and print the token."},
	    {"nonce", NULL, CLI_FLAG_STRING, &nonce_flag, 0, 0, NULL,
	     "Nonce of the operation; read from the server when not given."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	char *nonce = NULL;
	int argi, r;

	r = cli_start(&cli, &operator_generate_root_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((init + cancel + status + (decode != NULL)) > 1) {
		r = cli_usage_error(&operator_generate_root_spec,
		                    "-init, -cancel, -status and -decode exclude one another");
		goto out;
	}
	if ((init || cancel || status || decode) && argi < argc) {
		r = cli_usage_error(&operator_generate_root_spec, "Too many arguments (expected 0, got %d)",
		                    argc - argi);
		goto out;
	}
	if (argc - argi > 1) {
		r = cli_usage_error(&operator_generate_root_spec, "Too many arguments (expected 1, got %d)",
		                    argc - argi);
		goto out;
	}
	if (decode) {
		if (!otp || !otp[0]) {
			r = cli_usage_error(&operator_generate_root_spec, "-decode needs -otp");
			goto out;
		}
		r = genroot_decode(&cli, decode, otp);
		/* The OTP and the encoded token leave /proc/<pid>/cmdline. */
		wipe_flag_arg(argv, argc, otp);
		wipe_flag_arg(argv, argc, decode);
	} else if (init) {
		body = (otp && otp[0]) ? json_pack("{s:s}", "otp", otp) : json_object();
		if ((r = cli_api(&cli, "starting root token generation", "PUT", "sys/generate-root/attempt",
		                 body, &resp)) == 0)
			r = genroot_print_status(&cli, resp);
	} else if (cancel) {
		if ((r = cli_api(&cli, "cancelling root token generation", "DELETE",
		                 "sys/generate-root/attempt", NULL, NULL)) == 0)
			printf("Success! Root token generation canceled (if it was started)\n");
	} else if (status) {
		if ((r = cli_api(&cli, "reading root token generation status", "GET",
		                 "sys/generate-root/attempt", NULL, &resp)) == 0)
			r = genroot_print_status(&cli, resp);
	} else {
		if ((r = current_nonce(&cli, nonce_flag, "sys/generate-root/attempt", "root token generation",
		                       &nonce)) != 0)
			goto out;
		r = send_share(&cli, argv, argi, argc, "Unseal Key (will be hidden): ", nonce,
		               "generating root token", "sys/generate-root/update", &resp);
		if (r == 0)
			r = genroot_print_status(&cli, resp);
	}
out:
	free(nonce);
	api_json_free_secret(resp);
	api_json_free_secret(body);
	cli_release(&cli);
	return r;
}
