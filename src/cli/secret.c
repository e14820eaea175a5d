/* secret.c — what the data-plane commands (read, write, kv, token, login)
 * share: printing a response envelope the way Vault's CLI does, -field,
 * LIST output, section headers, and turning "k=v" arguments into a
 * request body.
 *
 * A response is first flattened into ordered display rows (lease, auth,
 * wrapping, then the data keys sorted); the table, and -field, both read
 * those rows, so `-field=token_accessor` finds exactly what the table
 * shows. JSON and YAML print the envelope as the server sent it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "secure.h"

#include "strconv.h"

#include "banned.h"

#define INPUT_MAX ((size_t)32 << 20) /* a value file or stdin */

void cli_human_duration(long long secs, char *out, size_t out_size)
{
	unsigned long long u = secs < 0 ? 0ULL - (unsigned long long)secs : (unsigned long long)secs;
	unsigned long long h = u / 3600, m = u % 3600 / 60, s = u % 60;
	const char *sign = secs < 0 ? "-" : "";

	if (out_size == 0)
		return;
	if (h > 0 && m == 0 && s == 0)
		snprintf(out, out_size, "%s%lluh", sign, h);
	else if (h > 0 && s == 0)
		snprintf(out, out_size, "%s%lluh%llum", sign, h, m);
	else if (h > 0 && m == 0)
		snprintf(out, out_size, "%s%lluh%llus", sign, h, s);
	else if (h > 0)
		snprintf(out, out_size, "%s%lluh%llum%llus", sign, h, m, s);
	else if (m > 0 && s == 0)
		snprintf(out, out_size, "%s%llum", sign, m);
	else if (m > 0)
		snprintf(out, out_size, "%s%llum%llus", sign, m, s);
	else
		snprintf(out, out_size, "%s%llus", sign, s);
}

static long long int_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_integer(v))
		return (long long)json_integer_value(v);
	int64_t n = 0;
	if (json_is_real(v) && strconv_double_int64(json_real_value(v), &n))
		return (long long)n;
	return 0;
}

static const char *str_of(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : "";
}

static json_t *duration_value(long long secs)
{
	char tmp[64];

	cli_human_duration(secs, tmp, sizeof(tmp));
	return json_string(tmp);
}

/* A policy list as Vault's tables show it: ["a" "b"]. */
static json_t *policy_list_value(const json_t *arr)
{
	struct buf b;
	json_t *out;
	size_t i;

	buf_init(&b, BUF_CAP_DEFAULT);
	(void)buf_append_byte(&b, '[');
	for (i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
		const json_t *e = json_array_get(arr, i);

		(void)buf_printf(&b, "%s\"%s\"", i ? " " : "", json_is_string(e) ? json_string_value(e) : "");
	}
	(void)buf_append_byte(&b, ']');
	out = json_string(b.data);
	buf_release(&b);
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends obj's members to rows in key order, keys prefixed by prefix. */
static void add_sorted(json_t *rows, const json_t *obj, const char *prefix)
{
	const char **keys;
	const char *k;
	json_t *v;
	struct buf name;
	size_t i = 0, n;

	if (!json_is_object(obj))
		return;
	n = json_object_size(obj);
	keys = xcalloc(n ? n : 1, sizeof(*keys));
	json_object_foreach((json_t *)obj, k, v)
	{
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	buf_init(&name, BUF_CAP_DEFAULT);
	for (i = 0; i < n; i++) {
		buf_reset(&name);
		(void)buf_printf(&name, "%s%s", prefix, keys[i]);
		/* Copied: rows are wiped when freed, the response may be used on. */
		json_object_set_new(rows, name.data, json_deep_copy(json_object_get(obj, keys[i])));
	}
	buf_release(&name);
	free(keys);
}

static void add_auth_rows(json_t *rows, const json_t *auth)
{
	const json_t *tp = json_object_get(auth, "token_policies");
	const json_t *ip = json_object_get(auth, "identity_policies");
	const json_t *p = json_object_get(auth, "policies");
	long long dur = int_of(auth, "lease_duration");

	json_object_set_new(rows, "token", json_string(str_of(auth, "client_token")));
	json_object_set_new(rows, "token_accessor", json_string(str_of(auth, "accessor")));
	json_object_set_new(rows, "token_duration", dur == 0 ? json_string("∞") : duration_value(dur));
	json_object_set_new(rows, "token_renewable", json_boolean(json_is_true(json_object_get(auth, "renewable"))));
	json_object_set_new(rows, "token_policies", policy_list_value(json_is_array(tp) ? tp : p));
	json_object_set_new(rows, "identity_policies", policy_list_value(ip));
	json_object_set_new(rows, "policies", policy_list_value(p));
	add_sorted(rows, json_object_get(auth, "metadata"), "token_meta_");
}

/* Vault names these rows with a trailing colon; -field takes either. */
static void add_wrap_rows(json_t *rows, const json_t *w)
{
	json_object_set_new(rows, "wrapping_token:", json_string(str_of(w, "token")));
	json_object_set_new(rows, "wrapping_accessor:", json_string(str_of(w, "accessor")));
	json_object_set_new(rows, "wrapping_token_ttl:", duration_value(int_of(w, "ttl")));
	json_object_set_new(rows, "wrapping_token_creation_time:", json_string(str_of(w, "creation_time")));
	json_object_set_new(rows, "wrapping_token_creation_path:", json_string(str_of(w, "creation_path")));
	if (*str_of(w, "wrapped_accessor"))
		json_object_set_new(rows, "wrapped_accessor:", json_string(str_of(w, "wrapped_accessor")));
}

/* The display rows of an envelope (resp) or of a bare data object. */
static json_t *secret_rows(const json_t *resp, const json_t *data)
{
	json_t *rows = json_object();
	const json_t *auth, *wrap;
	long long lease;

	if (resp) {
		lease = int_of(resp, "lease_duration");
		if (lease > 0) {
			if (*str_of(resp, "lease_id")) {
				json_object_set_new(rows, "lease_id", json_string(str_of(resp, "lease_id")));
				json_object_set_new(rows, "lease_duration", duration_value(lease));
				json_object_set_new(rows, "lease_renewable",
				                    json_boolean(json_is_true(json_object_get(resp, "renewable"))));
			} else {
				json_object_set_new(rows, "refresh_interval", duration_value(lease));
			}
		}
		if (json_is_object(auth = json_object_get(resp, "auth")))
			add_auth_rows(rows, auth);
		if (json_is_object(wrap = json_object_get(resp, "wrap_info")))
			add_wrap_rows(rows, wrap);
		data = json_object_get(resp, "data");
	}
	add_sorted(rows, data, "");
	return rows;
}

int cli_print_raw(const struct cli *cli, const json_t *v)
{
	struct buf b;
	int r = CLI_EXIT_OK;

	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, v);
	buf_init_secret(&b, INPUT_MAX);
	cli_format_value(&b, v);
	fwrite(b.data, 1, b.len, stdout);
	if (isatty(STDOUT_FILENO))
		fputc('\n', stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "Error: could not write the output: %s\n", strerror(errno));
		r = CLI_EXIT_LOCAL;
	}
	buf_release_secret(&b);
	return r;
}

void cli_print_warnings(const json_t *resp)
{
	const json_t *w = json_object_get(resp, "warnings");
	size_t i;

	if (!json_is_array(w) || json_array_size(w) == 0)
		return;
	fprintf(stderr, "WARNING! The following warnings were returned from Trove:\n\n");
	for (i = 0; i < json_array_size(w); i++) {
		const json_t *e = json_array_get(w, i);

		if (json_is_string(e))
			fprintf(stderr, "  * %s\n", json_string_value(e));
	}
	fputc('\n', stderr);
}

bool cli_secret_empty(const json_t *resp)
{
	return resp == NULL || (!json_is_object(json_object_get(resp, "data")) &&
	                        !json_is_object(json_object_get(resp, "auth")) &&
	                        !json_is_object(json_object_get(resp, "wrap_info")));
}

static void print_rows_table(const json_t *rows)
{
	struct cli_table t;
	struct buf val;
	const char *k;
	json_t *v;

	cli_table_init(&t, 2);
	cli_table_header(&t, "Key", "Value");
	buf_init_secret(&val, INPUT_MAX);
	json_object_foreach((json_t *)rows, k, v)
	{
		buf_reset(&val);
		cli_format_value(&val, v);
		cli_table_row(&t, k, val.len ? val.data : "n/a");
	}
	if (json_object_size(rows) > 0)
		cli_table_print(&t, stdout);
	buf_release_secret(&val);
	cli_table_release(&t);
}

static int print_field(const struct cli *cli, const json_t *rows, const char *field)
{
	struct buf alt;
	const json_t *v = json_object_get(rows, field);

	if (v == NULL) {
		buf_init(&alt, BUF_CAP_DEFAULT);
		(void)buf_printf(&alt, "%s:", field);
		v = json_object_get(rows, alt.data);
		buf_release(&alt);
	}
	if (v == NULL) {
		fprintf(stderr, "Error: no field \"%s\" in the response\n", field);
		return CLI_EXIT_LOCAL;
	}
	return cli_print_raw(cli, v);
}

static int print_secret(const struct cli *cli, const json_t *resp, const json_t *data, const char *field)
{
	json_t *rows = secret_rows(resp, data);
	int r = CLI_EXIT_OK;

	if (field && *field)
		r = print_field(cli, rows, field);
	else if (cli->format != CLI_FORMAT_TABLE)
		r = cli_print_data(cli, resp ? resp : data);
	else {
		if (resp)
			cli_print_warnings(resp);
		print_rows_table(rows);
		if (fflush(stdout) != 0)
			r = CLI_EXIT_LOCAL;
	}
	api_json_free_secret(rows);
	return r;
}

int cli_print_secret(const struct cli *cli, const json_t *resp, const char *field)
{
	return print_secret(cli, resp, NULL, field);
}

int cli_print_secret_data(const struct cli *cli, const json_t *data, const char *field)
{
	return print_secret(cli, NULL, data, field);
}

int cli_print_list(const struct cli *cli, const json_t *resp, const char *path)
{
	const json_t *keys = json_object_get(json_object_get(resp, "data"), "keys");
	struct cli_table t;
	size_t i;

	if (!json_is_array(keys)) {
		fprintf(stderr, "No value found at %s\n", path);
		return CLI_EXIT_REMOTE;
	}
	if (cli->format != CLI_FORMAT_TABLE)
		return cli_print_data(cli, keys);
	cli_print_warnings(resp);
	cli_table_init(&t, 1);
	cli_table_header(&t, "Keys");
	for (i = 0; i < json_array_size(keys); i++) {
		const json_t *k = json_array_get(keys, i);

		cli_table_row(&t, json_is_string(k) ? json_string_value(k) : "");
	}
	cli_table_print(&t, stdout);
	cli_table_release(&t);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_LOCAL;
}

int cli_list(struct cli *cli, const char *path)
{
	json_t *resp = NULL;
	bool found;
	int r;

	if ((r = cli_request(cli, "listing", "LIST", path, NULL, NULL, &resp, &found)) == 0)
		r = cli_print_list(cli, found ? resp : NULL, path);
	json_decref(resp);
	return r;
}

int cli_print_data_done(const json_t *resp, const char *path, bool deleted)
{
	cli_print_warnings(resp);
	if (deleted)
		printf("Success! Data deleted (if it existed) at: %s\n", path);
	else
		printf("Success! Data written to: %s\n", path);
	return CLI_EXIT_OK;
}

size_t cli_section_width(const json_t *obj)
{
	const char *k;
	json_t *v;
	size_t w = 0;

	json_object_foreach((json_t *)obj, k, v)
	{
		if (strlen(k) > w)
			w = strlen(k);
	}
	return w + 4 + strlen("Value");
}

void cli_print_section(const char *title, size_t width)
{
	long pad = (long)width - (long)strlen(title) - 2;
	long i;

	if (pad < 4)
		pad = 4;
	if (pad % 2)
		pad++;
	for (i = 0; i < pad / 2; i++)
		fputc('=', stdout);
	printf(" %s ", title);
	for (i = 0; i < pad / 2; i++)
		fputc('=', stdout);
	fputc('\n', stdout);
}

/* ---- input ------------------------------------------------------------ */

int cli_read_input(const char *path, struct buf *out)
{
	char chunk[4096];
	ssize_t got;
	int fd, r = 0;
	bool is_stdin = strcmp(path, "-") == 0;

	fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "Error reading %s: %s\n", path, strerror(errno));
		return CLI_EXIT_LOCAL;
	}
	for (;;) {
		got = read(fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "Error reading %s: %s\n", is_stdin ? "stdin" : path, strerror(errno));
			r = CLI_EXIT_LOCAL;
			break;
		}
		if (got == 0)
			break;
		if (buf_append(out, chunk, (size_t)got) != 0) {
			fprintf(stderr, "Error reading %s: more than %zu bytes\n", is_stdin ? "stdin" : path,
			        out->cap);
			r = CLI_EXIT_LOCAL;
			break;
		}
	}
	secure_wipe(chunk, sizeof(chunk));
	if (!is_stdin)
		close(fd);
	return r;
}

/* Adds key=value; a repeated key collects its values in an array. */
static void add_value(json_t *obj, const char *key, json_t *val)
{
	json_t *old = json_object_get(obj, key);

	if (old == NULL) {
		json_object_set_new(obj, key, val);
	} else if (json_is_array(old)) {
		json_array_append_new(old, val);
	} else {
		json_t *arr = json_array();

		json_array_append(arr, old);
		json_array_append_new(arr, val);
		json_object_set_new(obj, key, arr);
	}
}

/* Reads a JSON object from a file or stdin and merges it into obj. */
static int merge_json_input(json_t *obj, const char *path)
{
	struct buf in;
	json_error_t jerr;
	json_t *j = NULL;
	int r;

	buf_init_secret(&in, INPUT_MAX);
	if ((r = cli_read_input(path, &in)) != 0)
		goto out;
	j = json_loadb(in.data, in.len, 0, &jerr);
	if (!json_is_object(j)) {
		fprintf(stderr, "Error parsing JSON from %s: %s\n", strcmp(path, "-") == 0 ? "stdin" : path,
		        j ? "want a JSON object" : jerr.text);
		r = CLI_EXIT_LOCAL;
		goto out;
	}
	json_object_update(obj, j);
	r = 0;
out:
	json_decref(j);
	buf_release_secret(&in);
	return r;
}

int cli_parse_kv_args(int argc, char **argv, json_t **out)
{
	json_t *obj = json_object(), *val;
	struct buf in;
	bool stdin_used = false;
	char *key = NULL;
	const char *a, *eq, *src;
	int i, r = 0;

	*out = NULL;
	buf_init_secret(&in, INPUT_MAX);
	for (i = 0; i < argc && r == 0; i++) {
		a = argv[i];
		if (strcmp(a, "-") == 0 || a[0] == '@') {
			if (strcmp(a, "-") == 0 && stdin_used) {
				fprintf(stderr, "Error: stdin (\"-\") can be read only once\n");
				r = CLI_EXIT_LOCAL;
				break;
			}
			stdin_used = stdin_used || strcmp(a, "-") == 0;
			r = merge_json_input(obj, a[0] == '@' ? a + 1 : a);
			continue;
		}
		eq = strchr(a, '=');
		if (eq == NULL || eq == a) {
			fprintf(stderr, "Error: invalid argument \"%s\": want key=value, key=@file, key=- or "
			                "@file.json\n",
			        eq ? "=..." : a);
			r = CLI_EXIT_LOCAL;
			break;
		}
		key = xstrndup(a, (size_t)(eq - a));
		src = eq + 1;
		buf_reset(&in);
		if (strcmp(src, "-") == 0 || src[0] == '@') {
			if (strcmp(src, "-") == 0 && stdin_used) {
				fprintf(stderr, "Error: stdin (\"-\") can be read only once\n");
				r = CLI_EXIT_LOCAL;
				break;
			}
			stdin_used = stdin_used || strcmp(src, "-") == 0;
			if ((r = cli_read_input(src[0] == '@' ? src + 1 : src, &in)) != 0)
				break;
			val = json_stringn(in.data, in.len);
		} else {
			val = json_string(src);
		}
		if (val == NULL) {
			fprintf(stderr, "Error: the value of \"%s\" is not valid UTF-8 text\n", key);
			r = CLI_EXIT_LOCAL;
			break;
		}
		add_value(obj, key, val);
		free(key);
		key = NULL;
	}
	free(key);
	buf_release_secret(&in);
	if (r != 0) {
		api_json_free_secret(obj);
		return r;
	}
	*out = obj;
	return 0;
}
