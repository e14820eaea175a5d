/* tmpl_fn_sprig_path.c — sprig's path functions in the sprig dialect: base,
 * dir, clean, ext, isAbs as Go's path package gives them, and their os*
 * forms (Go's path/filepath, the same on Linux). Purely lexical. */
#include <stdlib.h>
#include <string.h>

#include "agent/tmpl_int.h"
#include "err.h"
#include "banned.h"

/* path.Clean of s[0..n) into out (n + 2 bytes); its length. */
static size_t clean(const char *s, size_t n, char *out)
{
	size_t w = 0, r = 0, dotdot = 0;
	bool rooted = n > 0 && s[0] == '/';
	if (n == 0) {
		out[0] = '.';
		return 1;
	}
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (s[r] == '/') {
			r++;
		} else if (s[r] == '.' && (r + 1 == n || s[r + 1] == '/')) {
			r++;
		} else if (s[r] == '.' && s[r + 1] == '.' && (r + 2 == n || s[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			for (; r < n && s[r] != '/'; r++)
				out[w++] = s[r];
		}
	}
	if (w == 0)
		out[w++] = '.';
	return w;
}

enum pfn { P_BASE, P_DIR, P_CLEAN, P_EXT, P_ABS };

static int path_fn(struct texec *e, struct tpos pos, const char *fn, json_t **argv, enum pfn how,
                   json_t **out)
{
	const char *s;
	size_t n;
	int r = tsprig_str_arg(e, pos, fn, argv, 0, &s, &n);
	if (r)
		return r;
	switch (how) {
	case P_BASE:
		while (n > 0 && s[n - 1] == '/')
			n--;
		for (size_t i = n; i-- > 0;)
			if (s[i] == '/') {
				s += i + 1, n -= i + 1;
				break;
			}
		*out = n ? tval_str(s, n) : tval_str(argv[0] && json_string_length(argv[0]) ? "/" : ".", 1);
		return 0;
	case P_DIR:
	case P_CLEAN: {
		if (how == P_DIR) { /* everything up to the last slash */
			size_t k = n;
			while (k > 0 && s[k - 1] != '/')
				k--;
			n = k;
		}
		char *t = xmalloc(n + 2);
		size_t len = clean(s, n, t);
		*out = tval_str(t, len);
		free(t);
		return 0;
	}
	case P_EXT:
		for (size_t i = n; i-- > 0 && s[i] != '/';)
			if (s[i] == '.') {
				*out = tval_str(s + i, n - i);
				return 0;
			}
		*out = tval_str("", 0);
		return 0;
	default:
		*out = json_boolean(n > 0 && s[0] == '/');
		return 0;
	}
}

#define PATH_FN(name, sname, how)                                                                            \
	static int name(struct texec *e, struct tpos pos, json_t **argv, size_t argc, json_t **out)          \
	{                                                                                                    \
		(void)argc;                                                                                  \
		return path_fn(e, pos, sname, argv, how, out);                                               \
	}
PATH_FN(fn_base, "base", P_BASE)
PATH_FN(fn_dir, "dir", P_DIR)
PATH_FN(fn_clean, "clean", P_CLEAN)
PATH_FN(fn_ext, "ext", P_EXT)
PATH_FN(fn_is_abs, "isAbs", P_ABS)
PATH_FN(fn_os_base, "osBase", P_BASE)
PATH_FN(fn_os_dir, "osDir", P_DIR)
PATH_FN(fn_os_clean, "osClean", P_CLEAN)
PATH_FN(fn_os_ext, "osExt", P_EXT)
PATH_FN(fn_os_is_abs, "osIsAbs", P_ABS)

const struct tfunc tfunc_sprig_path[] = {
    {"base", 1, 1, fn_base},         {"dir", 1, 1, fn_dir},          {"clean", 1, 1, fn_clean},
    {"ext", 1, 1, fn_ext},           {"isAbs", 1, 1, fn_is_abs},     {"osBase", 1, 1, fn_os_base},
    {"osDir", 1, 1, fn_os_dir},      {"osClean", 1, 1, fn_os_clean}, {"osExt", 1, 1, fn_os_ext},
    {"osIsAbs", 1, 1, fn_os_is_abs},
};
const size_t tfunc_sprig_path_count = sizeof(tfunc_sprig_path) / sizeof(tfunc_sprig_path[0]);
