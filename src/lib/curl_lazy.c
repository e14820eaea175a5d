/* curl_lazy.c — libcurl, loaded the first time it is used.
 *
 * Trove is one binary: the CLI talks to a server through libcurl, and the
 * server makes outbound calls through it only when an engine needs one.
 * Linking libcurl would load it, and everything it links (GnuTLS, LDAP,
 * Kerberos, SSH, ...: some 4 MiB of resident pages and their start-up
 * constructors), into every server, including one that never calls out.
 * So the binary does not link it: this file defines the libcurl functions
 * Trove calls, and each one loads libcurl.so.4 with dlopen on first use
 * (once, thread-safe) and forwards to it. Call sites use <curl/curl.h> as
 * usual.
 *
 * If the library cannot be loaded, the functions fail the way libcurl
 * reports failure: curl_easy_init and curl_slist_append return NULL,
 * the functions returning CURLcode return CURLE_FAILED_INIT, and
 * curl_easy_strerror says that libcurl could not be loaded. */
/* The functions are defined here, so not through curl.h's type-checking
 * macros of the same names. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "curl_lazy.h"
#include "dl_table.h"

#include "banned.h"

struct curl_fns {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_reset)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
};
static struct curl_fns lib;
static bool loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const struct dl_symbol syms[] = {
		{"curl_global_init", offsetof(struct curl_fns, global_init)},
		{"curl_easy_init", offsetof(struct curl_fns, easy_init)},
		{"curl_easy_setopt", offsetof(struct curl_fns, easy_setopt)},
		{"curl_easy_perform", offsetof(struct curl_fns, easy_perform)},
		{"curl_easy_getinfo", offsetof(struct curl_fns, easy_getinfo)},
		{"curl_easy_reset", offsetof(struct curl_fns, easy_reset)},
		{"curl_easy_cleanup", offsetof(struct curl_fns, easy_cleanup)},
		{"curl_easy_strerror", offsetof(struct curl_fns, easy_strerror)},
		{"curl_slist_append", offsetof(struct curl_fns, slist_append)},
		{"curl_slist_free_all", offsetof(struct curl_fns, slist_free_all)},
	};
	if (!dl_table_load("libcurl.so.4", syms, sizeof(syms) / sizeof(syms[0]), &lib))
		return;
	loaded = true;
}

bool curl_lazy_load(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

CURLcode curl_global_init(long flags)
{
	return curl_lazy_load() ? lib.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return curl_lazy_load() ? lib.easy_init() : NULL;
}

/* libcurl reads the one argument after the option by the option's type
 * (its number's range): forward it with the same type. */
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (!curl_lazy_load())
		return rc;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		rc = lib.easy_setopt(h, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		rc = lib.easy_setopt(h, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		rc = lib.easy_setopt(h, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		rc = lib.easy_setopt(h, opt, va_arg(ap, curl_off_t));
	else
		rc = lib.easy_setopt(h, opt, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_perform(CURL *h)
{
	return curl_lazy_load() ? lib.easy_perform(h) : CURLE_FAILED_INIT;
}

/* Every CURLINFO takes one pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	CURLcode rc = CURLE_FAILED_INIT;
	va_list ap;

	if (!curl_lazy_load())
		return rc;
	va_start(ap, info);
	rc = lib.easy_getinfo(h, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

void curl_easy_reset(CURL *h)
{
	if (curl_lazy_load())
		lib.easy_reset(h);
}

void curl_easy_cleanup(CURL *h)
{
	if (curl_lazy_load())
		lib.easy_cleanup(h);
}

const char *curl_easy_strerror(CURLcode rc)
{
	return curl_lazy_load() ? lib.easy_strerror(rc) : "libcurl (libcurl.so.4) could not be loaded";
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
	return curl_lazy_load() ? lib.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
	if (curl_lazy_load())
		lib.slist_free_all(l);
}
