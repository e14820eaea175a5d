/* audit_query_cmd.h — the commands `trove audit query` and `trove audit
 * consumers` (argv[0] is the subcommand's name), for the audit group's
 * dispatch (audit.c). */
#ifndef TROVE_CLI_AUDIT_QUERY_CMD_H
#define TROVE_CLI_AUDIT_QUERY_CMD_H

struct cli_command;

extern const struct cli_command audit_query_spec;
extern const struct cli_command audit_consumers_spec;
int audit_query_run(int argc, char **argv);
int audit_consumers_run(int argc, char **argv);

#endif
