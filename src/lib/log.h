/* log.h — structured logging, standard or JSON lines, to stderr.
 *
 * Each line carries a timestamp, level, message and key=value fields.
 * The request id of the current thread (log_set_request_id) is added to
 * every line logged while it is set. Never pass a secret value as a field:
 * log keys and names, not values. Thread-safe (one write(2) per line). */
#ifndef TROVE_LOG_H
#define TROVE_LOG_H

enum log_level { LOG_TRACE, LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF };
enum log_format { LOG_FORMAT_STANDARD, LOG_FORMAT_JSON };

void log_configure(enum log_level level, enum log_format format);
/* Parses "trace|debug|info|warn|warning|error|off" (case-insensitive).
 * Returns 0 or TROVE_ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);
int log_format_parse(const char *s, enum log_format *out);
int log_enabled(enum log_level level);

/* Sets (or clears with NULL) the request id attached to this thread's lines.
 * The string is copied. */
void log_set_request_id(const char *id);

/* log_msg(LOG_INFO, "listener started", "address", addr, "tls", "on", NULL)
 * Fields are NULL-terminated key/value string pairs. */
void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__, NULL)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__, NULL)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__, NULL)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__, NULL)

#endif
