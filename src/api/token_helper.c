/* token_helper.c — the token file that Vault's default token helper keeps
 * and that `trove login` writes. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/config.h"
#include "api/token_helper.h"
#include "err.h"
#include "secure.h"

#include "banned.h"

#define TOKEN_FILE_MAX 8192

int api_token_helper_path(struct buf *out)
{
	const char *path = api_config_env("TOKEN_PATH");
	const char *home;

	buf_reset(out);
	if (path)
		return buf_append_str(out, path) == 0 ? 0 : TROVE_ERR_NOT_FOUND;
	home = getenv("HOME");
	if (home == NULL || *home == '\0' || buf_printf(out, "%s/.vault-token", home) != 0)
		return TROVE_ERR_NOT_FOUND;
	return 0;
}

char *api_token_helper_get(void)
{
	struct buf p, tok;
	char chunk[512];
	char *out = NULL;
	ssize_t got;
	int fd;

	buf_init(&p, PATH_MAX);
	buf_init_secret(&tok, TOKEN_FILE_MAX);
	if (api_token_helper_path(&p) != 0)
		goto out;
	fd = open(p.data, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&tok, chunk, (size_t)got) != 0)
			break;
	close(fd);
	secure_wipe(chunk, sizeof(chunk));
	while (tok.len > 0 && isspace((unsigned char)tok.data[tok.len - 1]))
		tok.data[--tok.len] = '\0';
	if (tok.len > 0 && !isspace((unsigned char)tok.data[0]))
		out = xstrdup(tok.data);
out:
	buf_release(&p);
	buf_release_secret(&tok);
	return out;
}

static int store_fail(char **detail, const char *where, int err)
{
	if (detail) {
		struct buf b;

		buf_init(&b, BUF_CAP_DEFAULT);
		(void)buf_printf(&b, "%s: %s", where, strerror(err));
		*detail = buf_take(&b);
		buf_release(&b);
	}
	return TROVE_ERR_IO;
}

int api_token_helper_store(const char *token, char **detail)
{
	struct buf path, tmp;
	size_t off = 0, len = strlen(token);
	ssize_t n;
	int fd = -1, r;

	if (detail)
		*detail = NULL;
	buf_init(&path, BUF_CAP_DEFAULT);
	buf_init(&tmp, BUF_CAP_DEFAULT);
	if ((r = api_token_helper_path(&path)) != 0)
		goto out;
	(void)buf_printf(&tmp, "%s.tmp-XXXXXX", path.data);
	/* mkstemp creates the file 0600 and exclusively. */
	if ((fd = mkstemp(tmp.data)) < 0) {
		tmp.len = 0; /* nothing to unlink */
		r = store_fail(detail, path.data, errno);
		goto out;
	}
	while (off < len) {
		n = write(fd, token + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off != len || fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
		r = store_fail(detail, tmp.data, off != len && errno == 0 ? EIO : errno);
		goto out;
	}
	r = close(fd);
	fd = -1;
	if (r != 0) {
		r = store_fail(detail, tmp.data, errno);
		goto out;
	}
	if (rename(tmp.data, path.data) != 0) {
		r = store_fail(detail, path.data, errno);
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (r != 0 && tmp.len > 0)
		unlink(tmp.data);
	buf_release(&path);
	buf_release(&tmp);
	return r;
}
