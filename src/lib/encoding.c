/* encoding.c — hex and base64 codecs.
 *
 * Decoders validate the whole input before checking the output size, so a
 * bad string is always TROVE_ERR_INVALID whatever the buffer. base64_decode
 * accepts padded input (length a multiple of 4, at most two '=' at the end)
 * or unpadded input (length % 4 of 2 or 3); '=' anywhere else, whitespace and
 * other characters are rejected. Like Go's StdEncoding (non-strict), unused
 * trailing bits of the last quantum are ignored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "strconv.h"
#include "buf.h"
#include "err.h"
#include "banned.h"

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hex_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

int hex_decode(const char *in, size_t len, unsigned char *out, size_t out_cap, size_t *out_len)
{
	size_t i;
	int hi, lo;

	if (len % 2 != 0)
		return TROVE_ERR_INVALID;
	for (i = 0; i < len; i++)
		if (strconv_hex_digit((unsigned char)in[i]) < 0)
			return TROVE_ERR_INVALID;
	if (len / 2 > out_cap)
		return TROVE_ERR_TOO_LARGE;
	for (i = 0; i < len / 2; i++) {
		hi = strconv_hex_digit((unsigned char)in[2 * i]);
		lo = strconv_hex_digit((unsigned char)in[2 * i + 1]);
		out[i] = (unsigned char)((hi << 4) | lo);
	}
	if (out_len != NULL)
		*out_len = len / 2;
	return 0;
}

size_t base64_encoded_size(size_t n)
{
	return (n + 2) / 3 * 4 + 1;
}

void base64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = b64_alphabet[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64_alphabet[(v >> 18) & 63];
		out[o++] = b64_alphabet[(v >> 12) & 63];
		out[o++] = b64_alphabet[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t len, unsigned char *out, size_t out_cap, size_t *out_len)
{
	size_t data_len = len, need, i, o = 0;
	uint32_t v = 0;
	int bits = 0;

	/* Strip padding: only valid when the padded length is a multiple of 4. */
	if (len % 4 == 0 && len >= 4) {
		if (in[len - 1] == '=')
			data_len--;
		if (in[len - 2] == '=') {
			if (data_len != len - 1)
				return TROVE_ERR_INVALID;
			data_len--;
		}
	}
	if (data_len % 4 == 1)
		return TROVE_ERR_INVALID;
	for (i = 0; i < data_len; i++)
		if (b64_value((unsigned char)in[i]) < 0)
			return TROVE_ERR_INVALID;
	need = data_len / 4 * 3 + (data_len % 4 ? data_len % 4 - 1 : 0);
	if (need > out_cap)
		return TROVE_ERR_TOO_LARGE;
	for (i = 0; i < data_len; i++) {
		v = (v << 6) | (uint32_t)b64_value((unsigned char)in[i]);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	if (out_len != NULL)
		*out_len = o;
	return 0;
}

size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *base64url_encode(const unsigned char *in, size_t n)
{
	char *s = xmalloc(base64_encoded_size(n));
	size_t len;
	base64_encode(in, n, s);
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	}
	return s;
}

int base64url_decode(const char *in, size_t n, unsigned char **out, size_t *out_len)
{
	size_t padded = (n + 3) / 4 * 4;
	char *tmp;
	int r;
	if (n % 4 == 1)
		return TROVE_ERR_INVALID;
	tmp = xmalloc(padded + 1);
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '+' || c == '/' || c == '=') {
			free(tmp);
			return TROVE_ERR_INVALID;
		}
		tmp[i] = c == '-' ? '+' : c == '_' ? '/' : c;
	}
	for (size_t i = n; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	*out = xmalloc(padded / 4 * 3 + 1);
	r = base64_decode(tmp, padded, *out, padded / 4 * 3 + 1, out_len);
	free(tmp);
	if (r != 0) {
		free(*out);
		*out = NULL;
	}
	return r;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *rune)
{
	size_t k = n ? utf8_seq_len(s, n) : 0;
	*rune = 0xfffd;
	if (k == 1)
		*rune = s[0];
	else if (k == 2)
		*rune = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
	else if (k == 3)
		*rune = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) | (s[2] & 0x3fu);
	else if (k == 4)
		*rune = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) | ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
	return k;
}
