/*
 * exec_path.h - where exec finds a program: the one copy of the PATH rules.
 *
 * spawn.c follows them in the child to exec a worker; spec_host.c follows
 * them when a config is loaded, to say "not found" before anything runs.
 */
#ifndef SUPD_EXEC_PATH_H
#define SUPD_EXEC_PATH_H

/* Used when the worker's own environment has no PATH (supd started as PID 1
 * by a kernel that passes none, for example). */
#define EXEC_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* The PATH of an environment block (its first PATH= entry), or the default. */
const char *exec_search_path(char *const *envp);

/* execvpe()'s rules for a name without a '/': tries dir/name for each
 * directory of `path` in order (an empty element is the current
 * directory), skipping those where the file is missing, and calls
 * attempt(candidate, ctx), which returns 0 when it is the one (an exec
 * that works does not return at all) or an errno. Returns 0, or the errno
 * of the search: EACCES if some candidate existed but could not be run,
 * ENOENT if none existed, or the first other errno. Allocates nothing and
 * calls nothing but attempt(), so it may run between fork and exec. */
int exec_search(const char *name, const char *path, int (*attempt)(const char *file, void *ctx),
		void *ctx);

#endif
