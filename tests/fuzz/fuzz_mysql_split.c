/* libFuzzer target: the MySQL plugins' statement splitter
 * (mysql_split_next) and password scrubbing. The input is the text of a
 * role's statements. Nothing crashes or reads past the string; every
 * statement lies within the text, after the previous one, and starts with
 * no blank (nor ends with one, but for an unterminated quote); the splitter always reaches the end; a
 * scrubbed message never holds a password literal found in the text. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engines/database/mysql_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct lits {
	const char *p[16];
	size_t len[16];
	size_t n;
};

static void add(void *arg, const char *p, size_t len)
{
	struct lits *l = arg;

	if (l->n < 16 && len > 0) {
		l->p[l->n] = p;
		l->len[l->n++] = len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, start, len, prev_end = 0, n;
	struct lits l = {0};
	char *text, *out;

	if (size > 4096)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	n = strlen(text);
	while (mysql_split_next(text, &pos, &start, &len)) {
		if (len == 0 || start < prev_end || start + len > n || pos > n || pos < start + len)
			abort();
		/* Only an unterminated quote, which runs to the end, may end in
		 * a blank. */
		if (isspace((unsigned char)text[start]) ||
		    (isspace((unsigned char)text[start + len - 1]) && start + len != n))
			abort();
		prev_end = start + len;
	}
	if (pos != n)
		abort();
	mysql_password_literals(text, n, add, &l);
	for (size_t i = 0; i < l.n; i++)
		if (l.p[i] < text || l.p[i] + l.len[i] > text + n)
			abort();
	out = mysql_scrub(text, l.p, l.len, l.n);
	if (out != NULL) {
		for (size_t i = 0; i < l.n; i++) {
			/* A literal of stars can reappear as the replacement. */
			if (memchr(l.p[i], '*', l.len[i]) == NULL &&
			    memmem(out, strlen(out), l.p[i], l.len[i]) != NULL)
				abort();
		}
		free(out);
	}
	free(text);
	return 0;
}
