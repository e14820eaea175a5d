/* thread_role.c — see thread_role.h. */
#include "thread_role.h"

#include "banned.h"

static _Thread_local bool on_loop;

void thread_role_set_loop(bool on)
{
	on_loop = on;
}

bool thread_role_on_loop(void)
{
	return on_loop;
}
