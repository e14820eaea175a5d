/* yaml.c — `-format=yaml`: a small YAML emitter for JSON values.
 *
 * Block style with two-space indentation; sequences under a mapping key
 * start at the key's column ("key:\n- a"), the layout most YAML tools
 * print. Empty containers are written inline ({} and []). A string is
 * written plain only when a YAML 1.1 or 1.2 reader would read it back as
 * the same string: anything that looks like a number, a boolean, null, a
 * timestamp-free indicator or carries special characters is double-quoted
 * with JSON-style escapes, which YAML accepts in double-quoted scalars. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"

#include "banned.h"

static bool looks_numeric(const char *s)
{
	const char *p = s;
	bool digit = false;

	if (*p == '+' || *p == '-')
		p++;
	if (strcasecmp(p, ".inf") == 0 || strcasecmp(p, ".nan") == 0)
		return true;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'o' || p[1] == 'b'))
		return true;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p))
			digit = true;
		else if (!strchr("._eE+-:", *p))
			return false;
	}
	return digit;
}

static bool reserved_word(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y",
	                                    "n",    "null",  "~",   ""};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i]) == 0)
			return true;
	return false;
}

static bool plain_safe(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || strlen(s) != len || reserved_word(s) || looks_numeric(s))
		return false;
	/* Dates and times ("2024-05-01T10:00:00Z") read back as timestamps. */
	if (isdigit((unsigned char)s[0]) && strpbrk(s, "-:") != NULL)
		return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@`= ", s[0]) || s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c == ':' && (i + 1 == len || s[i + 1] == ' '))
			return false;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return false;
	}
	return true;
}

static void emit_string(FILE *f, const char *s, size_t len)
{
	size_t i;

	if (plain_safe(s, len)) {
		fwrite(s, 1, len, f);
		return;
	}
	fputc('"', f);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\x%02x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

static void emit_scalar(FILE *f, const json_t *v)
{
	struct buf b;

	switch (json_typeof(v)) {
	case JSON_STRING:
		emit_string(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_NULL:
		fputs("null", f);
		break;
	case JSON_OBJECT:
		fputs("{}", f);
		break;
	case JSON_ARRAY:
		fputs("[]", f);
		break;
	default:
		buf_init(&b, BUF_CAP_DEFAULT);
		cli_format_value(&b, v);
		fputs(b.data, f);
		buf_release(&b);
	}
}

static bool is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v) > 0) || (json_is_array(v) && json_array_size(v) > 0);
}

static void emit_sequence(FILE *f, const json_t *arr, int indent, bool inline_first);

/* Writes a non-empty mapping. With inline_first the first key continues
 * the current line (after "- "). */
static void emit_mapping(FILE *f, const json_t *obj, int indent, bool inline_first)
{
	const char *k;
	json_t *v;
	bool first = true;

	json_object_foreach((json_t *)obj, k, v)
	{
		if (!(first && inline_first))
			fprintf(f, "%*s", indent, "");
		first = false;
		emit_string(f, k, strlen(k));
		if (json_is_object(v) && is_block(v)) {
			fputs(":\n", f);
			emit_mapping(f, v, indent + 2, false);
		} else if (is_block(v)) {
			fputs(":\n", f);
			emit_sequence(f, v, indent, false);
		} else {
			fputs(": ", f);
			emit_scalar(f, v);
			fputc('\n', f);
		}
	}
}

static void emit_sequence(FILE *f, const json_t *arr, int indent, bool inline_first)
{
	const json_t *v;
	size_t i;

	for (i = 0; i < json_array_size(arr); i++) {
		v = json_array_get(arr, i);
		if (!(i == 0 && inline_first))
			fprintf(f, "%*s", indent, "");
		fputs("- ", f);
		if (json_is_object(v) && is_block(v))
			emit_mapping(f, v, indent + 2, true);
		else if (is_block(v))
			emit_sequence(f, v, indent + 2, true);
		else {
			emit_scalar(f, v);
			fputc('\n', f);
		}
	}
}

int cli_print_yaml(const json_t *j)
{
	if (json_is_object(j) && is_block(j))
		emit_mapping(stdout, j, 0, false);
	else if (is_block(j))
		emit_sequence(stdout, j, 0, false);
	else {
		emit_scalar(stdout, j);
		fputc('\n', stdout);
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "Error: could not write the output: %s\n", strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}
