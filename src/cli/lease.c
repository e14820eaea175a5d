/* lease.c — `trove lease ...`: look up, renew and revoke leases.
 *
 * A lease is the server's record of something it handed out with a limited
 * life (a token, a dynamic credential); its id names where it came from,
 * e.g. auth/userpass/login/ann/<locator>. These commands speak to the
 * sys/leases endpoints as Vault's CLI does:
 *
 *	lookup ID               PUT sys/leases/lookup {lease_id}
 *	renew  [-increment] ID  PUT sys/leases/renew {lease_id, increment}
 *	revoke ID               PUT sys/leases/revoke {lease_id, sync}
 *	revoke -prefix ID       PUT sys/leases/revoke-prefix/ID {sync}
 *	revoke -prefix -force   PUT sys/leases/revoke-force/ID
 *
 * Lease ids are not secrets (they carry no token), so they stay in argv
 * and in messages. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "duration.h"

#include "banned.h"

#define FIELD_HELP                                                                                           \
	"Print only the field with the given name, with no trailing newline unless the output is a "         \
	"terminal. Takes precedence over -format."

/* Exactly one positional argument, the lease id (or prefix). */
static int one_lease_arg(const struct cli_command *spec, int have)
{
	if (have < 1)
		return cli_usage_error(spec, "Missing ID: give the lease id (expected 1 argument, got 0)");
	if (have > 1)
		return cli_usage_error(spec, "Too many arguments (expected 1, got %d)", have);
	return 0;
}

/* ---- lookup ----------------------------------------------------------- */

static const struct cli_command lookup_spec = {
    .name = "lease lookup",
    .synopsis = "Show when a lease was issued and when it expires",
    .args = "[options] ID",
    .help = "Show the lease with the given ID: when it was issued, last renewed and will expire, "
            "whether it may be renewed and the time it has left (ttl).\n\n"
            "  $ trove lease lookup auth/userpass/login/ann/00000000000001a2.6f1c...\n"
            "  $ trove lease lookup -format=json auth/token/create/00000000000001a3.9e0b...",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

/* The lookup answer as its table shows it: data.ttl as a duration. JSON
 * and YAML (and -field) keep the number the server sent. */
static json_t *lookup_for_table(const json_t *resp)
{
	json_t *copy = json_deep_copy(resp), *data = json_object_get(copy, "data");
	const json_t *ttl = json_object_get(data, "ttl");
	char tmp[64];

	if (json_is_integer(ttl)) {
		cli_human_duration((long long)json_integer_value(ttl), tmp, sizeof(tmp));
		json_object_set_new(data, "ttl", json_string(tmp));
	}
	return copy;
}

static int lease_lookup(int argc, char **argv)
{
	struct cli cli;
	const char *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL, *shown = NULL;
	int argi, r;

	r = cli_start(&cli, &lookup_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if ((r = one_lease_arg(&lookup_spec, argc - argi)) != 0)
		goto out;
	body = json_pack("{s:s}", "lease_id", argv[argi]);
	if ((r = cli_api(&cli, "looking up lease", "PUT", "sys/leases/lookup", body, &resp)) != 0)
		goto out;
	if (!json_is_object(json_object_get(resp, "data"))) {
		fprintf(stderr, "Error looking up lease: the server's answer holds no lease\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (cli.format == CLI_FORMAT_TABLE && !(field && *field))
		shown = lookup_for_table(resp);
	r = cli_print_secret(&cli, shown ? shown : resp, field);
out:
	json_decref(shown);
	json_decref(body);
	json_decref(resp);
	cli_release(&cli);
	return r;
}

/* ---- renew ------------------------------------------------------------ */

static const struct cli_command renew_spec = {
    .name = "lease renew",
    .synopsis = "Extend the life of a lease",
    .args = "[options] ID",
    .help = "Renew the lease with the given ID, pushing back its expiry. The secret it covers does "
            "not change. The server decides the new TTL: it may give less than -increment asks for, "
            "and never more than the lease's maximum TTL.\n\n"
            "Token leases are not renewed here: use `trove token renew`.\n\n"
            "  $ trove lease renew database/creds/readonly/Yq3bN0sLr8TzK1mPw4xHc7Ud\n"
            "  $ trove lease renew -increment=1h database/creds/readonly/Yq3bN0sLr8TzK1mPw4xHc7Ud",
    .opts = CLI_OPT_HTTP | CLI_OPT_OUTPUT,
};

static int lease_renew(int argc, char **argv)
{
	struct cli cli;
	const char *increment = NULL, *field = NULL;
	const struct cli_flag flags[] = {
	    {"field", NULL, CLI_FLAG_STRING, &field, 0, 0, NULL, FIELD_HELP},
	    {"increment", "i", CLI_FLAG_STRING, &increment, 0, 0, NULL,
	     "Ask for this much time from now, a duration such as \"30m\" or a number of seconds. The "
	     "server may give less. By default the lease's own TTL."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL, *resp = NULL;
	int64_t secs = 0;
	int argi, r;

	r = cli_start(&cli, &renew_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		return r;
	if (increment && duration_parse_seconds(increment, strlen(increment), &secs) != 0) {
		r = cli_usage_error(&renew_spec, "Invalid -increment \"%s\": want a duration such as \"30m\"",
		                    increment);
		goto out;
	}
	if ((r = one_lease_arg(&renew_spec, argc - argi)) != 0)
		goto out;
	body = json_pack("{s:s,s:I}", "lease_id", argv[argi], "increment", (json_int_t)secs);
	if ((r = cli_api(&cli, "renewing lease", "PUT", "sys/leases/renew", body, &resp)) != 0)
		goto out;
	if (resp == NULL) {
		fprintf(stderr, "Error renewing lease: the server's answer holds no lease\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	r = cli_print_secret(&cli, resp, field);
out:
	json_decref(body);
	api_json_free_secret(resp);
	cli_release(&cli);
	return r;
}

/* ---- revoke ----------------------------------------------------------- */

static const struct cli_command revoke_spec = {
    .name = "lease revoke",
    .synopsis = "Revoke a lease, or every lease under a prefix",
    .args = "[options] ID",
    .help = "Revoke the lease with the given ID, and with it the secret it covers: a token lease's "
            "token (and its children) stops working.\n\n"
            "With -prefix, ID is a prefix and every lease under it is revoked, for instance all the "
            "tokens issued by one auth mount. -force (with -prefix) forgets the leases even when "
            "revoking the secret behind them fails; it is meant for recovery, when the secret was "
            "already removed by hand, and may leave Trove out of step with the engine.\n\n"
            "By default the server may finish revoking in the background; -sync waits until it "
            "has.\n\n"
            "  $ trove lease revoke auth/userpass/login/ann/00000000000001a2.6f1c...\n"
            "  $ trove lease revoke -prefix auth/userpass/\n"
            "  $ trove lease revoke -prefix -force database/creds/",
    .opts = CLI_OPT_HTTP,
};

static int lease_revoke(int argc, char **argv)
{
	struct cli cli;
	bool prefix = false, force = false, sync = false;
	const struct cli_flag flags[] = {
	    {"force", "f", CLI_FLAG_BOOL, &force, 0, 0, "false",
	     "Remove the leases even when the engine fails to revoke their secrets. Needs -prefix."},
	    {"prefix", NULL, CLI_FLAG_BOOL, &prefix, 0, 0, "false",
	     "Treat ID as a prefix and revoke every lease under it."},
	    {"sync", NULL, CLI_FLAG_BOOL, &sync, 0, 0, "false",
	     "Wait until the revocation is done instead of letting the server queue it."},
	    CLI_FLAG_END,
	};
	json_t *body = NULL;
	struct buf path;
	char *trimmed = NULL;
	const char *doing;
	int argi, r;

	buf_init(&path, BUF_CAP_DEFAULT);
	r = cli_start(&cli, &revoke_spec, flags, argc, argv, &argi);
	if (r != CLI_PROCEED)
		goto done;
	if (force && !prefix) {
		r = cli_usage_error(&revoke_spec, "-force requires -prefix");
		goto out;
	}
	if ((r = one_lease_arg(&revoke_spec, argc - argi)) != 0)
		goto out;
	if (prefix) {
		/* The prefix goes into the path: no leading '/' (it would make
		 * "//"); a trailing one is kept, it is part of the prefix. */
		const char *id = argv[argi];

		while (*id == '/')
			id++;
		trimmed = cli_trim_slashes(id);
		if (*trimmed == '\0') {
			r = cli_usage_error(&revoke_spec,
			                    "Missing ID: an empty prefix would revoke every lease");
			goto out;
		}
		(void)buf_printf(&path, "sys/leases/%s/%s", force ? "revoke-force" : "revoke-prefix", id);
	} else {
		(void)buf_append_str(&path, "sys/leases/revoke");
	}
	if (force) {
		fprintf(stderr, "Warning! Force-removing leases can leave Trove out of step with the "
		                "secrets engines that issued them.\n\n");
		doing = "force-revoking leases";
	} else if (prefix) {
		body = json_pack("{s:b}", "sync", sync);
		doing = "revoking leases by prefix";
	} else {
		body = json_pack("{s:s,s:b}", "lease_id", argv[argi], "sync", sync);
		doing = "revoking lease";
	}
	if ((r = cli_api(&cli, doing, "PUT", path.data, body, NULL)) != 0)
		goto out;
	if (force)
		printf("Success! Force revoked any leases with prefix: %s\n", argv[argi]);
	else if (!sync)
		printf("All revocation operations queued successfully!\n");
	else if (prefix)
		printf("Success! Revoked any leases with prefix: %s\n", argv[argi]);
	else
		printf("Success! Revoked lease: %s\n", argv[argi]);
	r = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
out:
	free(trimmed);
	json_decref(body);
	cli_release(&cli);
done:
	buf_release(&path);
	return r;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct cli_subcommand lease_cmds[] = {
    {&lookup_spec, lease_lookup},
    {&renew_spec, lease_renew},
    {&revoke_spec, lease_revoke},
};

static const struct cli_group lease_group = {
    "lease",
    "Look up, renew and revoke leases. Every service token, and every dynamic secret, comes with "
    "a lease that the server revokes when it expires; its id names the path that issued it.\n\n"
    "  $ trove lease lookup auth/token/create/00000000000001a3.9e0b...\n"
    "  $ trove lease revoke -prefix auth/userpass/",
    lease_cmds,
    sizeof(lease_cmds) / sizeof(lease_cmds[0]),
};

int cmd_lease(int argc, char **argv)
{
	return cli_dispatch(&lease_group, argc, argv);
}
