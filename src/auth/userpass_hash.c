/* userpass_hash.c — argon2id hashing and verification for auth/userpass
 * (parameters and the reasons for them in userpass_hash.h).
 *
 * libargon2 wipes its working memory before freeing it; the password is
 * the caller's (a request body string, wiped by the JSON allocator). */
#include <argon2.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userpass_hash.h"

#include "buf.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "secure.h"

#include "banned.h"

/* --- the concurrency limit ------------------------------------------- */

static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slots_free = PTHREAD_COND_INITIALIZER;
static long slots_used;
static long slots_max;

static void slot_take(void)
{
	pthread_mutex_lock(&slots_lock);
	if (slots_max == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		slots_max = n < 2 ? 2 : n;
	}
	while (slots_used >= slots_max)
		pthread_cond_wait(&slots_free, &slots_lock);
	slots_used++;
	pthread_mutex_unlock(&slots_lock);
}

static void slot_give(void)
{
	pthread_mutex_lock(&slots_lock);
	slots_used--;
	pthread_cond_signal(&slots_free);
	pthread_mutex_unlock(&slots_lock);
}

/* --- hashing ---------------------------------------------------------- */

static int map_argon2(int ar)
{
	switch (ar) {
	case ARGON2_OK:
		return 0;
	case ARGON2_VERIFY_MISMATCH:
		return TROVE_ERR_PERMISSION;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		log_error("argon2 could not allocate its memory (check RLIMIT_MEMLOCK when memory is locked)",
		          "argon2_error", argon2_error_message(ar));
		return TROVE_ERR_NOMEM;
	case ARGON2_DECODING_FAIL:
	case ARGON2_DECODING_LENGTH_FAIL:
	case ARGON2_INCORRECT_TYPE:
	case ARGON2_SALT_TOO_SHORT:
	case ARGON2_OUTPUT_TOO_SHORT:
		return TROVE_ERR_INTEGRITY;
	default:
		log_error("argon2 failed", "argon2_error", argon2_error_message(ar));
		return TROVE_ERR_INTERNAL;
	}
}

int userpass_hash(const char *password, size_t len, char **out)
{
	unsigned char salt[USERPASS_SALT_LEN];
	size_t enclen = argon2_encodedlen(USERPASS_ARGON2_T, USERPASS_ARGON2_M_KIB, USERPASS_ARGON2_P,
	                                  USERPASS_SALT_LEN, USERPASS_TAG_LEN, Argon2_id);
	char *enc;
	int r;

	*out = NULL;
	if (len == 0)
		return TROVE_ERR_INVALID;
	if (len > ARGON2_MAX_PWD_LENGTH)
		return TROVE_ERR_INVALID;
	if ((r = rand_bytes(salt, sizeof(salt))) != 0)
		return r;
	enc = xmalloc(enclen);
	slot_take();
	r = map_argon2(argon2id_hash_encoded(USERPASS_ARGON2_T, USERPASS_ARGON2_M_KIB, USERPASS_ARGON2_P,
	                                     password, len, salt, sizeof(salt), USERPASS_TAG_LEN, enc,
	                                     enclen));
	slot_give();
	secure_wipe(salt, sizeof(salt));
	if (r != 0) {
		secure_free(enc, enclen);
		return r == TROVE_ERR_INTEGRITY ? TROVE_ERR_INTERNAL : r;
	}
	*out = enc;
	return 0;
}

int userpass_verify(const char *encoded, const char *password, size_t len)
{
	int r;
	if (!encoded || strnlen(encoded, USERPASS_ENCODED_MAX + 1) > USERPASS_ENCODED_MAX ||
	    strncmp(encoded, "$argon2id$", 10) != 0)
		return TROVE_ERR_INTEGRITY;
	if (len > ARGON2_MAX_PWD_LENGTH)
		return TROVE_ERR_PERMISSION;
	slot_take();
	r = map_argon2(argon2id_verify(encoded, password, len));
	slot_give();
	return r;
}

/* --- the dummy hash ---------------------------------------------------- */

static pthread_mutex_t dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char *dummy_hash; /* set once, never freed; read under dummy_lock */

int userpass_hash_init(void)
{
	unsigned char pw[32];
	int r = 0;

	pthread_mutex_lock(&dummy_lock);
	if (!dummy_hash) {
		if ((r = rand_bytes(pw, sizeof(pw))) == 0)
			r = userpass_hash((const char *)pw, sizeof(pw), &dummy_hash);
		secure_wipe(pw, sizeof(pw));
		if (r != 0)
			log_error("userpass: cannot make the dummy password hash", "error", err_name(r));
	}
	pthread_mutex_unlock(&dummy_lock);
	return r;
}

int userpass_verify_dummy(const char *password, size_t len)
{
	char *fresh = NULL;
	int r;

	if (userpass_hash_init() == 0) {
		pthread_mutex_lock(&dummy_lock);
		const char *dummy = dummy_hash;
		pthread_mutex_unlock(&dummy_lock);
		r = userpass_verify(dummy, password, len);
	} else {
		/* No dummy (argon2 could not run): hashing the password costs
		 * the same as a verification, so the answer still does not
		 * tell an unknown user from a wrong password. */
		r = userpass_hash(password, len ? len : 1, &fresh);
		secure_free_str(fresh);
	}
	/* Nobody knows the dummy's password; refuse even if it matched. */
	return r == 0 ? TROVE_ERR_PERMISSION : r;
}
