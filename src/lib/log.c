/* log.c — structured log lines, hclog-style standard text or JSON.
 *
 * Each line is built in a heap buffer and handed to one write(2) on stderr,
 * so lines from different threads never interleave. Level and format are
 * process-wide atomics set at startup; the request id is thread-local.
 * Untrusted bytes can reach messages and fields (paths, error detail), so
 * both formats escape them: the standard format escapes control characters
 * and quotes values that need it (a line can never be split or forged), and
 * JSON escapes per RFC 8259 and replaces invalid UTF-8 with U+FFFD. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "buf.h"
#include "encoding.h"
#include "err.h"
#include "banned.h"

#define LOG_LINE_CAP ((size_t)256 << 10)
#define LOG_REQUEST_ID_MAX 128

static _Atomic int log_level_cur = LOG_INFO;
static _Atomic int log_format_cur = LOG_FORMAT_STANDARD;
static _Thread_local char log_request_id[LOG_REQUEST_ID_MAX];

static const char *const level_names[] = {"trace", "debug", "info", "warn", "error", "off"};
/* hclog pads the bracketed level to a fixed width. */
static const char *const level_tags[] = {"[TRACE]", "[DEBUG]", "[INFO] ", "[WARN] ", "[ERROR]", "[OFF]  "};

void log_configure(enum log_level level, enum log_format format)
{
	atomic_store(&log_level_cur, (int)level);
	atomic_store(&log_format_cur, (int)format);
}

int log_level_parse(const char *s, enum log_level *out)
{
	int i;

	if (s == NULL)
		return TROVE_ERR_INVALID;
	for (i = LOG_TRACE; i <= LOG_OFF; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_WARN;
		return 0;
	}
	return TROVE_ERR_INVALID;
}

int log_format_parse(const char *s, enum log_format *out)
{
	if (s == NULL)
		return TROVE_ERR_INVALID;
	if (strcasecmp(s, "standard") == 0) {
		*out = LOG_FORMAT_STANDARD;
		return 0;
	}
	if (strcasecmp(s, "json") == 0) {
		*out = LOG_FORMAT_JSON;
		return 0;
	}
	return TROVE_ERR_INVALID;
}

int log_enabled(enum log_level level)
{
	return level < LOG_OFF && (int)level >= atomic_load(&log_level_cur);
}

void log_set_request_id(const char *id)
{
	size_t n;

	if (id == NULL) {
		log_request_id[0] = '\0';
		return;
	}
	n = strnlen(id, sizeof(log_request_id) - 1);
	memcpy(log_request_id, id, n);
	log_request_id[n] = '\0';
}

static int append_timestamp(struct buf *b)
{
	struct timespec ts;
	struct tm tm;
	char tmp[32];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return TROVE_ERR_INTERNAL;
	return buf_printf(b, "%s.%03ldZ", tmp, (long)(ts.tv_nsec / 1000000));
}

static int append_json_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, l;
	int r;

	if ((r = buf_append_byte(b, '"')) != 0)
		return r;
	while (i < n) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			r = buf_append(b, esc, 2);
			l = 1;
		} else if (c == '\n') {
			r = buf_append_str(b, "\\n");
			l = 1;
		} else if (c == '\r') {
			r = buf_append_str(b, "\\r");
			l = 1;
		} else if (c == '\t') {
			r = buf_append_str(b, "\\t");
			l = 1;
		} else if (c < 0x20 || c == 0x7f) {
			r = buf_printf(b, "\\u%04x", c);
			l = 1;
		} else if ((l = utf8_seq_len(p + i, n - i)) == 0) {
			r = buf_append_str(b, "\\ufffd");
			l = 1;
		} else {
			r = buf_append(b, p + i, l);
		}
		if (r != 0)
			return r;
		i += l;
	}
	return buf_append_byte(b, '"');
}

/* Standard format: control characters become escapes so one call is one line. */
static int append_text(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int r = 0;

	for (; *p != '\0' && r == 0; p++) {
		if (*p == '\n')
			r = buf_append_str(b, "\\n");
		else if (*p == '\r')
			r = buf_append_str(b, "\\r");
		else if (*p == '\t')
			r = buf_append_str(b, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			r = buf_printf(b, "\\x%02x", *p);
		else
			r = buf_append_byte(b, (char)*p);
	}
	return r;
}

static bool needs_quotes(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0')
		return true;
	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f)
			return true;
	return false;
}

static int append_value(struct buf *b, const char *v)
{
	int r;

	if (!needs_quotes(v))
		return buf_append_str(b, v);
	/* A JSON string is a valid Go-style quoted string for these purposes. */
	if ((r = append_json_string(b, v)) != 0)
		return r;
	return 0;
}

static int format_line(struct buf *b, enum log_level level, const char *msg, va_list ap)
{
	enum log_format fmt = (enum log_format)atomic_load(&log_format_cur);
	const char *k, *v;
	bool first = true;
	int r = TROVE_ERR_INTERNAL;

	if (fmt == LOG_FORMAT_JSON) {
		if ((r = buf_append_str(b, "{\"@timestamp\":\"")) != 0 || (r = append_timestamp(b)) != 0 ||
		    (r = buf_printf(b, "\",\"@level\":\"%s\",\"@message\":", level_names[level])) != 0 ||
		    (r = append_json_string(b, msg)) != 0)
			goto out;
		while ((k = va_arg(ap, const char *)) != NULL) {
			v = va_arg(ap, const char *);
			if ((r = buf_append_byte(b, ',')) != 0 || (r = append_json_string(b, k)) != 0 ||
			    (r = buf_append_byte(b, ':')) != 0 ||
			    (r = append_json_string(b, v ? v : "")) != 0)
				goto out;
			if (v == NULL)
				break;
		}
		if (log_request_id[0] != '\0') {
			if ((r = buf_append_str(b, ",\"request_id\":")) != 0 ||
			    (r = append_json_string(b, log_request_id)) != 0)
				goto out;
		}
		if ((r = buf_append_str(b, "}\n")) != 0)
			goto out;
	} else {
		if ((r = append_timestamp(b)) != 0 || (r = buf_printf(b, " %s ", level_tags[level])) != 0 ||
		    (r = append_text(b, msg)) != 0)
			goto out;
		while ((k = va_arg(ap, const char *)) != NULL) {
			v = va_arg(ap, const char *);
			if ((r = buf_append_str(b, first ? ": " : " ")) != 0 ||
			    (r = append_text(b, k)) != 0 || (r = buf_append_byte(b, '=')) != 0 ||
			    (r = append_value(b, v ? v : "")) != 0)
				goto out;
			first = false;
			if (v == NULL)
				break;
		}
		if (log_request_id[0] != '\0') {
			if ((r = buf_append_str(b, first ? ": request_id=" : " request_id=")) != 0 ||
			    (r = append_value(b, log_request_id)) != 0)
				goto out;
		}
		if ((r = buf_append_byte(b, '\n')) != 0)
			goto out;
	}
	r = 0;
out:
	return r;
}

static void write_all(const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(STDERR_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void log_msg(enum log_level level, const char *msg, ...)
{
	struct buf b;
	va_list ap;
	int r;

	if ((int)level < LOG_TRACE || !log_enabled(level))
		return;
	buf_init(&b, LOG_LINE_CAP);
	va_start(ap, msg);
	r = format_line(&b, level, msg ? msg : "", ap);
	va_end(ap);
	if (r != 0) {
		/* Too long (or no memory): say so rather than emit half a line. */
		static _Thread_local bool in_fallback;
		char note[64];

		buf_release(&b);
		if (in_fallback)
			return;
		snprintf(note, sizeof(note), "log line dropped (%s)", err_name(r));
		in_fallback = true;
		log_msg(level, note, NULL);
		in_fallback = false;
		return;
	}
	write_all(b.data, b.len);
	buf_release(&b);
}
