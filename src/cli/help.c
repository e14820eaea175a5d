/* help.c — help texts and usage errors of the client commands: the
 * wrapped paragraphs, a command's usage and flag groups, and the
 * "Run 'trove X -h' for usage." errors. */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/runtime.h"

#include "banned.h"

static void wrap_paragraph(FILE *f, const char *p, size_t len, int indent, int width)
{
	size_t i = 0, col = 0;

	/* A paragraph that starts with a space is preformatted (examples). */
	if (len > 0 && p[0] == ' ') {
		while (i < len) {
			size_t e = i;

			while (e < len && p[e] != '\n')
				e++;
			fprintf(f, "%*s%.*s\n", indent, "", (int)(e - i), p + i);
			i = e + 1;
		}
		return;
	}
	while (i < len) {
		size_t w;

		while (i < len && isspace((unsigned char)p[i]))
			i++;
		if (i >= len)
			break;
		w = i;
		while (w < len && !isspace((unsigned char)p[w]))
			w++;
		if (col > 0 && col + 1 + (w - i) > (size_t)(width - indent)) {
			fputc('\n', f);
			col = 0;
		}
		if (col == 0)
			fprintf(f, "%*s", indent, "");
		else {
			fputc(' ', f);
			col++;
		}
		fwrite(p + i, 1, w - i, f);
		col += w - i;
		i = w;
	}
	if (col > 0)
		fputc('\n', f);
}

void cli_wrap(FILE *f, const char *text, int indent, int width)
{
	const char *p = text;
	bool first = true;

	while (*p) {
		const char *e = strstr(p, "\n\n");
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (!first)
			fputc('\n', f);
		wrap_paragraph(f, p, len, indent, width);
		first = false;
		if (e == NULL)
			break;
		p = e + 2;
	}
}

static void print_flag_group(FILE *f, const char *title, const struct cli_flag *flags, size_t n)
{
	static const char *const kind_arg[] = {"", "=<string>", "=<int>", "=<string>"};
	struct buf b;
	size_t i;

	if (n == 0)
		return;
	fprintf(f, "\n%s:\n", title);
	buf_init(&b, BUF_CAP_DEFAULT);
	for (i = 0; i < n; i++) {
		fprintf(f, "\n  -%s%s", flags[i].name, kind_arg[flags[i].kind]);
		if (flags[i].alias)
			fprintf(f, " (or -%s)", flags[i].alias);
		fputc('\n', f);
		buf_reset(&b);
		(void)buf_append_str(&b, flags[i].help ? flags[i].help : "");
		if (flags[i].def)
			(void)buf_printf(&b, " The default is %s.", flags[i].def);
		cli_wrap(f, b.data, 6, CLI_HELP_WIDTH);
	}
	buf_release(&b);
}

void cli_print_help(FILE *f, const struct cli_command *spec, const struct cli_flag *flags)
{
	struct cli_global_opts g;
	struct cli_flag glob[CLI_MAX_FLAGS];
	size_t n_glob, n_http, n_cmd = 0;

	memset(&g, 0, sizeof(g));
	n_glob = cli_global_flags(&g, spec->opts, glob, &n_http);
	while (flags && flags[n_cmd].name)
		n_cmd++;

	fprintf(f, "Usage: trove %s%s%s\n", spec->name, spec->args && *spec->args ? " " : "",
	        spec->args ? spec->args : "");
	if (spec->help) {
		fputc('\n', f);
		cli_wrap(f, spec->help, 2, CLI_HELP_WIDTH);
	}
	print_flag_group(f, "HTTP Options", glob, n_http);
	print_flag_group(f, "Output Options", glob + n_http, n_glob - n_http);
	print_flag_group(f, "Command Options", flags, n_cmd);
}

int cli_usage_error(const struct cli_command *spec, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n\nRun 'trove %s -h' for usage.\n", spec->name);
	return CLI_EXIT_LOCAL;
}

int cli_args_exactly(const struct cli_command *spec, int have, int want)
{
	if (have == want)
		return 0;
	return cli_usage_error(spec, "%s arguments (expected %d, got %d)", have < want ? "Not enough" : "Too many",
	                       want, have);
}

