/* fuzz_agent_config.c — libFuzzer target: arbitrary bytes as an agent.hcl
 * (the first byte picks the HCL or the JSON form) through the agent's
 * loader and its whole-config checks. Loading or a clean error are both
 * fine; a crash, a leak or an error without "file:" is not. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_config cfg;
	struct buf err;
	bool json;
	int r;

	if (size == 0)
		return 0;
	json = (data[0] & 1) != 0;
	agent_config_init(&cfg);
	buf_init(&err, 4096);
	r = agent_config_load_text(&cfg, "fuzz.hcl", (const char *)data + 1, size - 1, json, &err);
	if (r != 0 && strncmp(err.data, "fuzz.hcl", 8) != 0)
		abort(); /* every load error names the file */
	if (r == 0)
		(void)agent_config_validate(&cfg, &err);
	agent_config_release(&cfg);
	buf_release(&err);
	return 0;
}
