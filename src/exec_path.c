/*
 * exec_path.c - the PATH search of exec_path.h. Async-signal-safe: the
 * child of spawn.c runs it between fork and exec.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "exec_path.h"

const char *
exec_search_path(char *const *envp)
{
	for (char *const *e = envp; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			return *e + 5;
	return EXEC_DEFAULT_PATH;
}

int
exec_search(const char *name, const char *path, int (*attempt)(const char *file, void *ctx),
	    void *ctx)
{
	size_t name_len = strlen(name);
	bool seen_eacces = false;
	char candidate[PATH_MAX];
	const char *dir = path;

	for (;;) {
		const char *end = strchrnul(dir, ':');
		size_t dir_len = (size_t)(end - dir);

		/* An empty element means the current directory. */
		if (dir_len + 1 + name_len < sizeof(candidate)) {
			char *p = candidate;
			int err;

			if (dir_len) {
				memcpy(p, dir, dir_len);
				p += dir_len;
				*p++ = '/';
			}
			memcpy(p, name, name_len + 1);
			err = attempt(candidate, ctx);
			switch (err) {
			case 0:
				return 0;
			case EACCES:
				seen_eacces = true;
				break;
			case ENOENT:
			case ENOTDIR:
			case ESTALE:
			case ENODEV:
			case ETIMEDOUT:
			case ENAMETOOLONG:
				break;
			default:
				return err;
			}
		}
		if (!*end)
			break;
		dir = end + 1;
	}
	return seen_eacces ? EACCES : ENOENT;
}
