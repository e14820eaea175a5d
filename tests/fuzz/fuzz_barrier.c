/* fuzz_barrier.c — libFuzzer target for barrier records read from storage.
 *
 * Storage is untrusted, so every byte string must come back from the record
 * parser as either plaintext or an error, never a crash or an over-read.
 * Once per process: an inmem storage and a barrier initialised and unsealed
 * with a fixed root key. Each input then goes through the header parser,
 * the keyring-backed decode that barrier_storage()'s get uses, and a
 * decrypt under a fixed key (the seed corpus holds records valid under
 * that key, so the success path is fuzzed too). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/barrier.h"
#include "secure.h"
#include "storage/storage.h"

#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seed generator used these: 32 bytes 0x00..0x1f, path "fuzz/path". */
#define FUZZ_PATH "fuzz/path"

static struct barrier *fuzz_barrier(const unsigned char *key)
{
	static struct barrier *b;
	if (b == NULL) {
		struct storage *phys = storage_inmem_new();
		b = barrier_new(phys);
		if (barrier_initialize(b, key) != 0 || barrier_unseal(b, key) != 0)
			abort();
	}
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[BARRIER_KEY_LEN];
	unsigned char *out = NULL;
	size_t out_len = 0;
	uint32_t term;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	struct barrier *b = fuzz_barrier(key);

	(void)barrier_record_term(data, size, &term);

	if (barrier_decode(b, FUZZ_PATH, data, size, &out, &out_len) == 0) {
		secure_wipe(out, out_len);
		free(out);
	}
	out = NULL;
	if (barrier_record_decrypt(key, FUZZ_PATH, data, size, &out, &out_len) == 0) {
		/* touch every byte so ASan checks the length */
		volatile unsigned char sink = 0;
		for (size_t i = 0; i < out_len; i++)
			sink ^= out[i];
		(void)sink;
		free(out);
	}
	return 0;
}
