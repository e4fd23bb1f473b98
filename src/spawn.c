/*
 * spawn.c - placeholder until the module lands.
 */
#include <stdlib.h>

#include "spawn.h"

void
spawn_forget_env(struct worker_spec *w)
{
	if (!w->envp_cache)
		return;
	free(w->envp_cache);
	w->envp_cache = NULL;
}
