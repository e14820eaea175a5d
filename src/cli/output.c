/* output.c — what the client commands print: column-aligned tables, JSON
 * and YAML, values the way Vault's tables show them, and times. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#include "banned.h"

void cli_table_init(struct cli_table *t, size_t ncols)
{
	t->ncols = ncols;
	strlist_init(&t->head);
	strlist_init(&t->cells);
}

void cli_table_release(struct cli_table *t)
{
	strlist_release(&t->head);
	strlist_release(&t->cells);
}

static void push_cell(struct strlist *l, const char *s)
{
	if (strlist_push(l, s ? s : "") != 0)
		abort(); /* small fixed allocation: out of memory */
}

void cli_table_header(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	strlist_release(&t->head);
	strlist_init(&t->head);
	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		push_cell(&t->head, va_arg(ap, const char *));
	va_end(ap);
}

void cli_table_row(struct cli_table *t, ...)
{
	va_list ap;
	size_t i;

	va_start(ap, t);
	for (i = 0; i < t->ncols; i++)
		push_cell(&t->cells, va_arg(ap, const char *));
	va_end(ap);
}

void cli_table_kv(struct cli_table *t, const char *key, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	size_t i;

	buf_init(&b, BUF_CAP_DEFAULT);
	va_start(ap, fmt);
	(void)buf_vprintf(&b, fmt, ap);
	va_end(ap);
	push_cell(&t->cells, key);
	push_cell(&t->cells, b.data);
	for (i = 2; i < t->ncols; i++)
		push_cell(&t->cells, "");
	buf_release(&b);
}

/* Display width: UTF-8 code points (continuation bytes do not count). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

static void print_row(FILE *f, char *const *cells, const size_t *width, size_t ncols, bool dashes)
{
	size_t c, k, pad = 0;

	for (c = 0; c < ncols; c++) {
		const char *s = cells[c];
		size_t w = text_width(s);

		if (c > 0)
			pad += 4;
		if (dashes || *s) {
			fprintf(f, "%*s", (int)pad, "");
			pad = 0;
		}
		if (dashes)
			for (k = 0; k < w; k++)
				fputc('-', f);
		else
			fputs(s, f);
		pad += width[c] - w;
	}
	fputc('\n', f);
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t width[16], c, r, rows;

	if (t->ncols == 0 || t->ncols > sizeof(width) / sizeof(width[0]))
		return;
	memset(width, 0, sizeof(width));
	rows = t->cells.len / t->ncols;
	for (c = 0; c < t->ncols; c++) {
		if (t->head.len == t->ncols)
			width[c] = text_width(t->head.items[c]);
		for (r = 0; r < rows; r++) {
			size_t w = text_width(t->cells.items[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	}
	if (t->head.len == t->ncols) {
		print_row(f, t->head.items, width, t->ncols, false);
		print_row(f, t->head.items, width, t->ncols, true);
	}
	for (r = 0; r < rows; r++)
		print_row(f, t->cells.items + r * t->ncols, width, t->ncols, false);
}

int cli_print_json(const json_t *j)
{
	int r = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	fputc('\n', stdout);
	if (r != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "Error: could not write the output: %s\n", strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	return CLI_EXIT_OK;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void format_real(struct buf *out, double d)
{
	char tmp[64];
	int prec;

	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	(void)buf_append_str(out, tmp);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void cli_format_value(struct buf *out, const json_t *v)
{
	const json_t *e;
	const char *k;
	const char **keys;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_STRING:
		(void)buf_append(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		(void)buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		format_real(out, json_real_value(v));
		break;
	case JSON_TRUE:
		(void)buf_append_str(out, "true");
		break;
	case JSON_FALSE:
		(void)buf_append_str(out, "false");
		break;
	case JSON_NULL:
		(void)buf_append_str(out, "n/a");
		break;
	case JSON_ARRAY:
		(void)buf_append_byte(out, '[');
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				(void)buf_append_byte(out, ' ');
			cli_format_value(out, json_array_get(v, i));
		}
		(void)buf_append_byte(out, ']');
		break;
	case JSON_OBJECT:
		n = json_object_size(v);
		keys = xcalloc(n ? n : 1, sizeof(*keys));
		i = 0;
		json_object_foreach((json_t *)v, k, e)
		{
			keys[i++] = k;
		}
		qsort(keys, n, sizeof(*keys), cmp_str);
		(void)buf_append_str(out, "map[");
		for (i = 0; i < n; i++) {
			if (i > 0)
				(void)buf_append_byte(out, ' ');
			(void)buf_printf(out, "%s:", keys[i]);
			cli_format_value(out, json_object_get(v, keys[i]));
		}
		(void)buf_append_byte(out, ']');
		free(keys);
		break;
	}
}

int cli_print_data(const struct cli *cli, const json_t *j)
{
	return cli->format == CLI_FORMAT_YAML ? cli_print_yaml(j) : cli_print_json(j);
}

int cli_print_object(const struct cli *cli, const json_t *obj)
{
	struct cli_table t;
	struct buf val;
	const char **keys;
	const char *k;
	json_t *e;
	size_t i, n;

	if (cli->format != CLI_FORMAT_TABLE || !json_is_object(obj))
		return cli_print_data(cli, obj);
	n = json_object_size(obj);
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	i = 0;
	json_object_foreach((json_t *)obj, k, e)
	{
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	buf_init_secret(&val, API_MAX_BODY);
	for (i = 0; i < n; i++) {
		buf_reset(&val);
		cli_format_value(&val, json_object_get(obj, keys[i]));
		cli_table_row(&t, keys[i], val.data);
	}
	cli_table_print(&t, stdout);
	buf_release(&val);
	cli_table_release(&t);
	free(keys);
	return CLI_EXIT_OK;
}

/* ---- time ------------------------------------------------------------- */

static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

bool cli_parse_rfc3339(const char *s, time_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	time_t t;

	if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return false;
	p = s + 19;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
			return false;
		p += 6;
	} else {
		return false;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = t - sign * (time_t)(oh * 3600 + om * 60);
	return true;
}

void cli_format_time_rfc822(const char *s, char *out, size_t out_size)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t t;

	if (out_size == 0)
		return;
	/* RFC 822 as Go spells it: two-digit year, minutes, zone name. */
	if (cli_parse_rfc3339(s, &t) && gmtime_r(&t, &tm) != NULL && tm.tm_mon >= 0 && tm.tm_mon < 12)
		snprintf(out, out_size, "%02d %s %02d %02d:%02d UTC", tm.tm_mday, months[tm.tm_mon],
		         (tm.tm_year + 1900) % 100, tm.tm_hour, tm.tm_min);
	else
		snprintf(out, out_size, "%s", s);
}

