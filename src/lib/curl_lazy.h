/* curl_lazy.h — libcurl is loaded on first use, not at start-up.
 *
 * The binary does not link libcurl: curl_lazy.c defines the libcurl
 * functions Trove calls (curl_easy_init, curl_easy_setopt, ...) and loads
 * libcurl.so.4 the first time one of them runs, so a server that never
 * calls out never maps libcurl and its dependencies. Code includes
 * <curl/curl.h> and calls libcurl as usual; a libcurl function not yet
 * defined in curl_lazy.c fails the link, and is added there. */
#ifndef TROVE_CURL_LAZY_H
#define TROVE_CURL_LAZY_H

#include <stdbool.h>

/* Loads libcurl once (thread-safe). Returns whether it is loaded; when not,
 * the libcurl functions fail as curl_lazy.c describes. */
bool curl_lazy_load(void);

#endif
