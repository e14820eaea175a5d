/* login_oidc.c — `trove login -method=oidc`: a person signs in at the OIDC
 * provider in a browser, as with Vault's CLI.
 *
 *   1. a listener on listenaddress:port (localhost:8250) is opened;
 *   2. auth/<mount>/oidc/auth_url is asked for the provider's URL, with
 *      redirect_uri <callbackmethod>://<callbackhost>:<callbackport>/oidc/callback
 *      and a random client_nonce;
 *   3. the browser is opened on that URL ($BROWSER, else xdg-open), or with
 *      skip_browser=true the URL is only printed;
 *   4. the listener waits (two minutes; Ctrl-C aborts) for the provider's
 *      redirect: GET /oidc/callback?state&code, or a form_post POST with
 *      state, code and id_token;
 *   5. those values and the client_nonce go to auth/<mount>/oidc/callback,
 *      whose answer is the login; the browser is told the outcome.
 *
 * The listener is no relay: one connection at a time, a bounded request
 * (login_oidc_http.h) read within a few seconds, only /oidc/callback, and
 * only a callback carrying the state of this login is passed on. Anything
 * else is answered with an error page and the wait goes on, so a stray or
 * forged request cannot end (or hijack) the login. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/login_methods.h"
#include "cli/login_oidc_http.h"
#include "form.h"
#include "rand.h"
#include "secure.h"
#include "strconv.h"

#include "banned.h"

#define WAIT_SECONDS 120
#define REQUEST_SECONDS 5
#define CLIENT_NONCE_LEN 20

static const struct cli_command login_ref = {.name = "login"};

struct oidc_opts {
	const char *role, *listenaddress, *port, *callbackmethod, *callbackhost, *callbackport;
	bool skip_browser, abort_on_error;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Fills o from key=value arguments (Vault's names). */
static int parse_opts(const struct login_args *a, struct oidc_opts *o)
{
	struct {
		const char *name;
		const char **dst;
	} strs[] = {{"role", &o->role},
	            {"listenaddress", &o->listenaddress},
	            {"port", &o->port},
	            {"callbackmethod", &o->callbackmethod},
	            {"callbackhost", &o->callbackhost},
	            {"callbackport", &o->callbackport}};

	*o = (struct oidc_opts){"", "localhost", "8250", "http", "localhost", NULL, false, false};
	for (int i = 0; i < a->argc; i++) {
		const char *arg = a->argv[i], *eq = strchr(arg, '=');
		size_t kl = eq ? (size_t)(eq - arg) : 0, k;
		bool done = false;

		if (!eq || kl == 0)
			return cli_usage_error(&login_ref, "Argument %d is not of the form key=value", i + 1);
		for (k = 0; k < sizeof(strs) / sizeof(strs[0]) && !done; k++)
			if (strlen(strs[k].name) == kl && strncmp(arg, strs[k].name, kl) == 0) {
				*strs[k].dst = eq + 1;
				done = true;
			}
		if (!done && (kl == 12 || kl == 14) &&
		    (strncmp(arg, "skip_browser", kl) == 0 || strncmp(arg, "abort_on_error", kl) == 0)) {
			bool *dst = arg[0] == 's' ? &o->skip_browser : &o->abort_on_error;
			if (!strconv_bool(eq + 1, dst))
				return cli_usage_error(&login_ref, "%.*s must be true or false", (int)kl,
				                       arg);
			done = true;
		}
		if (!done)
			return cli_usage_error(
			    &login_ref,
			    "Unknown key \"%.*s\" for the oidc method (it takes role, "
			    "listenaddress, port, callbackmethod, callbackhost, callbackport, "
			    "skip_browser, abort_on_error)",
			    (int)kl, arg);
	}
	if (!o->callbackport)
		o->callbackport = o->port;
	if (strcmp(o->callbackmethod, "http") != 0 && strcmp(o->callbackmethod, "https") != 0)
		return cli_usage_error(&login_ref, "callbackmethod must be http or https");
	return 0;
}

/* A listening socket on address:port, or -1 after printing why. */
static int listen_on(const char *address, const char *port)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL, *ai;
	int fd = -1, one = 1, e, err = 0, pass = 0;

	if ((e = getaddrinfo(address, port, &hints, &res)) != 0) {
		fprintf(stderr, "Error: cannot listen on %s:%s: %s\n", address, port, gai_strerror(e));
		return -1;
	}
	/* IPv4 first, as Go's listener (Vault's CLI) takes "localhost". */
	for (pass = 0; pass < 2 && fd < 0; pass++)
		for (ai = res; ai && fd < 0; ai = ai->ai_next) {
			if ((pass == 0) != (ai->ai_family == AF_INET))
				continue;
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			            ai->ai_protocol);
			if (fd < 0)
				continue;
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 8) != 0) {
				err = errno;
				close(fd);
				fd = -1;
			}
		}
	freeaddrinfo(res);
	if (fd < 0)
		fprintf(stderr, "Error: cannot listen on %s:%s for the OIDC callback: %s\n", address, port,
		        strerror(err ? err : EADDRNOTAVAIL));
	return fd;
}

/* The value of the state parameter in the provider's URL, or NULL. */
static char *state_of(const char *url)
{
	const char *q = strchr(url, '?'), *why = NULL, *frag;
	json_t *pairs = json_object(), *v;
	char *s = NULL;

	if (q) {
		frag = strchr(q, '#');
		if (form_parse(q + 1, frag ? (size_t)(frag - q - 1) : strlen(q + 1), pairs, false, 64,
		               &why) == 0 &&
		    json_is_string(v = json_object_get(pairs, "state")) && json_string_length(v) > 0)
			s = xstrdup(json_string_value(v));
	}
	json_decref(pairs);
	return s;
}

/* Starts $BROWSER (else xdg-open) on url without waiting for it. Returns
 * its pid, or -1 with *why set when it could not be started. */
static pid_t open_browser(const char *url, int *why)
{
	const char *browser = getenv("BROWSER");
	int p[2], err = 0;
	pid_t pid;

	if (!browser || !*browser)
		browser = "xdg-open";
	if (pipe2(p, O_CLOEXEC) != 0) {
		*why = errno;
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		execlp(browser, browser, url, (char *)NULL);
		err = errno;
		(void)!write(p[1], &err, sizeof(err));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		*why = errno;
		close(p[0]);
		return -1;
	}
	if (read(p[0], &err, sizeof(err)) == (ssize_t)sizeof(err)) {
		close(p[0]);
		waitpid(pid, NULL, 0);
		*why = err;
		return -1;
	}
	close(p[0]);
	return pid;
}

static void answer(int fd, int status, const char *title, const char *text)
{
	struct buf b;
	char head[256];
	const char *reason = status == 200   ? "OK"
	                     : status == 404 ? "Not Found"
	                     : status == 405 ? "Method Not Allowed"
	                     : status == 411 ? "Length Required"
	                     : status == 413 ? "Content Too Large"
	                     : status == 415 ? "Unsupported Media Type"
	                                     : "Bad Request";
	size_t off = 0;

	buf_init(&b, 1024);
	buf_printf(&b,
	           "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Trove: %s</title></head>\n"
	           "<body style=\"font-family:sans-serif;margin:4em\"><h1>%s</h1><p>%s</p></body></html>\n",
	           title, title, text);
	snprintf(head, sizeof(head),
	         "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
	         "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	         status, reason, b.len);
	while (off < strlen(head)) {
		ssize_t w = send(fd, head + off, strlen(head) - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	for (off = 0; off < b.len;) {
		ssize_t w = send(fd, b.data + off, b.len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_release(&b);
}

/* Reads one request from fd within REQUEST_SECONDS. Returns
 * oidc_http_parse's status (408 on a timeout or a closed connection). */
static int read_request(int fd, struct oidc_callback *cb)
{
	struct buf in;
	time_t deadline = time(NULL) + REQUEST_SECONDS;
	int r = 0;

	buf_init_secret(&in, 4096);
	while (r == 0) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char chunk[4096];
		ssize_t got;
		int left = (int)(deadline - time(NULL));

		if (left <= 0 || interrupted || poll(&pfd, 1, left * 1000) <= 0) {
			r = 408;
			break;
		}
		got = recv(fd, chunk, sizeof(chunk), 0);
		if (got <= 0) {
			r = 408;
			break;
		}
		if (in.len + (size_t)got > OIDC_HTTP_MAX_REQUEST)
			got = (ssize_t)(OIDC_HTTP_MAX_REQUEST + 1 - in.len);
		buf_append(&in, chunk, (size_t)got);
		secure_wipe(chunk, sizeof(chunk));
		r = oidc_http_parse(in.data, in.len, cb);
	}
	buf_release_secret(&in);
	return r;
}

/* Waits for the callback carrying state; 0 with *cb filled and the
 * browser's connection in *conn (to be answered), else an exit code. */
static int wait_callback(int lfd, const char *state, struct oidc_callback *cb, int *conn)
{
	time_t deadline = time(NULL) + WAIT_SECONDS;

	*conn = -1;
	while (!interrupted) {
		struct pollfd pfd = {.fd = lfd, .events = POLLIN};
		int left = (int)(deadline - time(NULL)), fd, st;

		if (left <= 0) {
			fprintf(stderr, "Error: timed out waiting for the response from the OIDC provider\n");
			return CLI_EXIT_LOCAL;
		}
		if (poll(&pfd, 1, left > 1 ? 1000 : left * 1000) <= 0)
			continue;
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		st = read_request(fd, cb);
		if (st == 200 && cb->state && secure_str_eq(state, cb->state)) {
			*conn = fd;
			return 0;
		}
		if (st == 200) {
			oidc_callback_release(cb);
			answer(fd, 400, "Login refused",
			       "This callback does not belong to the login in progress (its state differs). "
			       "The terminal is still waiting.");
		} else if (st == 404) {
			answer(fd, 404, "Not found", "Only /oidc/callback is served here.");
		} else if (st != 408) {
			answer(fd, st == 405 || st == 411 || st == 413 || st == 415 ? st : 400, "Bad request",
			       "The request is not an OIDC callback.");
		}
		close(fd);
	}
	fprintf(stderr, "Error: interrupted\n");
	return CLI_EXIT_LOCAL;
}

/* Asks for the provider's URL; 0 with *url (heap) or an exit code. */
static int fetch_auth_url(struct cli *cli, const char *mount, const struct oidc_opts *o, const char *nonce,
                          char **url)
{
	struct buf path, redirect;
	json_t *body, *resp = NULL;
	const char *u;
	int r;

	buf_init(&path, 256);
	buf_init(&redirect, 256);
	buf_printf(&path, "auth/%s/oidc/auth_url", mount);
	buf_printf(&redirect, "%s://%s:%s/oidc/callback", o->callbackmethod, o->callbackhost,
	           o->callbackport);
	body =
	    json_pack("{s:s,s:s,s:s}", "role", o->role, "redirect_uri", redirect.data, "client_nonce", nonce);
	api_client_set_token(cli->client, NULL);
	if ((r = cli_api(cli, "requesting the OIDC authorization URL", "POST", path.data, body, &resp)) != 0)
		goto out;
	u = json_string_value(json_object_get(json_object_get(resp, "data"), "auth_url"));
	if (!u || !*u) {
		fprintf(stderr,
		        "Error: unable to authorize role \"%s\" with redirect_uri \"%s\"; check the server's "
		        "logs\n",
		        o->role, redirect.data);
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	*url = xstrdup(u);
out:
	json_decref(body);
	api_json_free_secret(resp);
	buf_release(&path);
	buf_release(&redirect);
	return r;
}

/* Hands the callback to the server; 0 with *out or an exit code. */
static int finish(struct cli *cli, const char *mount, const struct oidc_callback *cb, const char *nonce,
                  json_t **out)
{
	struct buf path;
	json_t *body = json_pack("{s:s,s:s}", "state", cb->state, "client_nonce", nonce);
	int r;

	buf_init(&path, 256);
	buf_printf(&path, "auth/%s/oidc/callback", mount);
	if (cb->code)
		json_object_set_new(body, "code", json_string(cb->code));
	if (cb->id_token)
		json_object_set_new(body, "id_token", json_string(cb->id_token));
	if (cb->error)
		json_object_set_new(body, "error", json_string(cb->error));
	if (cb->error_description)
		json_object_set_new(body, "error_description", json_string(cb->error_description));
	r = cli_api(cli, "completing the OIDC login", "POST", path.data, body, out);
	api_json_free_secret(body);
	buf_release(&path);
	return r;
}

int login_oidc(struct cli *cli, const struct login_args *a, json_t **out)
{
	struct oidc_opts o;
	struct oidc_callback cb = {0};
	struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
	char nonce[CLIENT_NONCE_LEN + 1], *mount = NULL, *url = NULL, *state = NULL;
	int r, lfd = -1, conn = -1, why = 0;
	pid_t browser = -1;

	*out = NULL;
	interrupted = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if ((r = parse_opts(a, &o)) != 0)
		goto out;
	mount = cli_trim_slashes(a->path ? a->path : "oidc");
	if (!mount[0]) {
		r = cli_usage_error(&login_ref, "-path must name the auth method's mount");
		goto out;
	}
	if (rand_base62(nonce, CLIENT_NONCE_LEN) != 0) {
		fprintf(stderr, "Error: no randomness for the client nonce\n");
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	nonce[CLIENT_NONCE_LEN] = '\0';
	r = CLI_EXIT_REMOTE;
	if (cli_client(cli) == NULL)
		goto out;
	r = CLI_EXIT_LOCAL;
	if ((lfd = listen_on(o.listenaddress, o.port)) < 0)
		goto out;
	if ((r = fetch_auth_url(cli, mount, &o, nonce, &url)) != 0)
		goto out;
	if (!(state = state_of(url))) {
		fprintf(stderr, "Error: the server's authorization URL carries no state\n");
		r = CLI_EXIT_REMOTE;
		goto out;
	}
	if (o.skip_browser) {
		fprintf(stderr,
		        "Complete the login via your OIDC provider. Open the following link in your "
		        "browser:\n\n    %s\n\n\n",
		        url);
	} else {
		fprintf(stderr,
		        "Complete the login via your OIDC provider. Launching browser to:\n\n    %s\n\n\n",
		        url);
		if ((browser = open_browser(url, &why)) < 0) {
			if (o.abort_on_error) {
				fprintf(stderr,
				        "Error: failed to launch the browser (abort_on_error=true): %s\n",
				        strerror(why));
				r = CLI_EXIT_LOCAL;
				goto out;
			}
			fprintf(stderr,
			        "Error attempting to automatically open browser: %s.\nPlease visit the "
			        "authorization URL manually.\n",
			        strerror(why));
		}
	}
	fprintf(stderr, "Waiting for OIDC authentication to complete...\n");
	if ((r = wait_callback(lfd, state, &cb, &conn)) != 0)
		goto out;
	r = finish(cli, mount, &cb, nonce, out);
	if (r == 0)
		answer(conn, 200, "Signed in",
		       "The login is complete and the terminal has the token. You may close this window.");
	else
		answer(conn, 400, "Login failed", "The server refused the login; the terminal shows why.");
out:
	if (conn >= 0)
		close(conn);
	if (lfd >= 0)
		close(lfd);
	if (browser > 0)
		waitpid(browser, NULL, WNOHANG);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	oidc_callback_release(&cb);
	secure_wipe(nonce, sizeof(nonce));
	free(state);
	free(url);
	free(mount);
	return r;
}
