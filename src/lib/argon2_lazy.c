/* argon2_lazy.c — libargon2, loaded the first time it is used
 * (argon2_lazy.h). */
#include <argon2.h>
#include <pthread.h>
#include <stddef.h>

#include "argon2_lazy.h"
#include "dl_table.h"

#include "banned.h"

struct argon2_fns {
	int (*hash_encoded)(uint32_t, uint32_t, uint32_t, const void *, size_t, const void *, size_t, size_t, char *,
	                    size_t);
	int (*verify)(const char *, const void *, size_t);
	size_t (*encodedlen)(uint32_t, uint32_t, uint32_t, uint32_t, uint32_t, argon2_type);
	const char *(*error_message)(int);
};
static struct argon2_fns lib;
static bool loaded;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void)
{
	static const struct dl_symbol syms[] = {
		{"argon2id_hash_encoded", offsetof(struct argon2_fns, hash_encoded)},
		{"argon2id_verify", offsetof(struct argon2_fns, verify)},
		{"argon2_encodedlen", offsetof(struct argon2_fns, encodedlen)},
		{"argon2_error_message", offsetof(struct argon2_fns, error_message)},
	};
	loaded = dl_table_load("libargon2.so.1", syms, sizeof(syms) / sizeof(syms[0]), &lib);
}

bool argon2_lazy_load(void)
{
	pthread_once(&load_once, load);
	return loaded;
}

int argon2id_hash_encoded(const uint32_t t_cost, const uint32_t m_cost, const uint32_t parallelism, const void *pwd,
                          const size_t pwdlen, const void *salt, const size_t saltlen, const size_t hashlen,
                          char *encoded, const size_t encodedlen)
{
	if (!argon2_lazy_load())
		return ARGON2_LAZY_NOT_LOADED;
	return lib.hash_encoded(t_cost, m_cost, parallelism, pwd, pwdlen, salt, saltlen, hashlen, encoded, encodedlen);
}

int argon2id_verify(const char *encoded, const void *pwd, const size_t pwdlen)
{
	return argon2_lazy_load() ? lib.verify(encoded, pwd, pwdlen) : ARGON2_LAZY_NOT_LOADED;
}

size_t argon2_encodedlen(uint32_t t_cost, uint32_t m_cost, uint32_t parallelism, uint32_t saltlen, uint32_t hashlen,
                         argon2_type type)
{
	return argon2_lazy_load() ? lib.encodedlen(t_cost, m_cost, parallelism, saltlen, hashlen, type) : 1;
}

const char *argon2_error_message(int error_code)
{
	return argon2_lazy_load() ? lib.error_message(error_code) : "libargon2 (libargon2.so.1) could not be loaded";
}
