/* server.h — the `trove server` subcommand. */
#ifndef TROVE_SERVER_H
#define TROVE_SERVER_H

/* Runs the server (argv[0] is "server"). Parses -config/-dev/-check flags,
 * prints help for -h. Returns a process exit code: 0 after a clean
 * shutdown (SIGINT/SIGTERM) or a passing -check, 1 on a config or startup
 * error (message printed to stderr), 2 on bad usage. */
int server_main(int argc, char **argv);

#endif
