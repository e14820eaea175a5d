/* prompt.c — secrets from the user: a hidden prompt on the terminal (or a
 * line of stdin), and secrets taken off the command line. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define SECRET_LINE_MAX 4096

char *cli_take_secret_arg(char **argv, int i)
{
	char *s = xstrdup(argv[i]);

	secure_wipe(argv[i], strlen(argv[i]));
	return s;
}

static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static struct termios saved_tio;
static volatile sig_atomic_t tty_restore_fd = -1;

/* Puts echo back before the signal does its default thing. */
static void on_prompt_signal(int sig)
{
	int fd = tty_restore_fd;

	if (fd >= 0)
		tcsetattr(fd, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Reads bytes one at a time (no stdio buffer keeps a copy) up to '\n'. */
static int read_line_fd(int fd, struct buf *line)
{
	char ch;
	ssize_t got;

	for (;;) {
		got = read(fd, &ch, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return line->len > 0 ? 0 : TROVE_ERR_IO;
		if (ch == '\n')
			return 0;
		if (buf_append_byte(line, ch) != 0)
			return TROVE_ERR_TOO_LARGE;
	}
}

int cli_read_secret(const char *prompt, char **out)
{
	struct sigaction sa, old[sizeof(prompt_signals) / sizeof(prompt_signals[0])];
	struct termios tio;
	struct buf line;
	bool echo_off = false;
	size_t i, start;
	int fd = STDIN_FILENO, tty = -1, r = CLI_EXIT_LOCAL, rr;

	*out = NULL;
	buf_init_secret(&line, SECRET_LINE_MAX);
	if (isatty(STDIN_FILENO)) {
		tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (tty >= 0)
			fd = tty;
		/* Echo goes off before the prompt shows: whatever is typed once
		 * the prompt is visible is read, never echoed or flushed. */
		if (tcgetattr(fd, &saved_tio) == 0) {
			tio = saved_tio;
			tio.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			tty_restore_fd = fd;
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_prompt_signal;
			sigemptyset(&sa.sa_mask);
			for (i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
				sigaction(prompt_signals[i], &sa, &old[i]);
			echo_off = tcsetattr(fd, TCSAFLUSH, &tio) == 0;
		}
		if (write(fd, prompt, strlen(prompt)) < 0) {
			/* nothing useful to do: the read below still works */
		}
	}
	rr = read_line_fd(fd, &line);
	if (tty_restore_fd >= 0) {
		if (echo_off)
			tcsetattr(fd, TCSANOW, &saved_tio);
		tty_restore_fd = -1;
		for (i = 0; i < sizeof(prompt_signals) / sizeof(prompt_signals[0]); i++)
			sigaction(prompt_signals[i], &old[i], NULL);
	}
	if (isatty(fd) && write(fd, "\n", 1) < 0) {
		/* cosmetic only */
	}
	if (rr == TROVE_ERR_TOO_LARGE) {
		fprintf(stderr, "Error: the value entered is longer than %d bytes\n", SECRET_LINE_MAX);
		goto out;
	}
	if (rr != 0) {
		fprintf(stderr, "Error: no value was entered (end of input)\n");
		goto out;
	}
	start = 0;
	while (start < line.len && isspace((unsigned char)line.data[start]))
		start++;
	while (line.len > start && isspace((unsigned char)line.data[line.len - 1]))
		line.len--;
	if (line.len == start) {
		fprintf(stderr, "Error: no value was entered\n");
		goto out;
	}
	*out = xstrndup(line.data + start, line.len - start);
	r = 0;
out:
	if (tty >= 0)
		close(tty);
	buf_release_secret(&line);
	return r;
}
