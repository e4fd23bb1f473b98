/*
 * spec_host.c - what the machine says about a spec, asked at load: the
 * struct spec_host that the grammar (grammar.h) is given by the config
 * loader and by start_child.
 *
 * Users and groups (credentials.c), the program (found as exec will find
 * it: exec_path.c, relative to the worker's cwd), and the directories that
 * must exist (cwd, and those that will hold the control socket and the
 * events file), and for `cgroup: true` supd's cgroup v2 subtree and its
 * controllers (cgroup.c). It reads the file system and the user and group
 * databases, and changes nothing.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "credentials.h"
#include "exec_path.h"
#include "grammar.h"
#include "service_keys.h"

extern char **environ;

struct program_probe {
	const char *cwd; /* NULL: supd's */
	char file[PATH_MAX];
};

/* 0 when `file` is a regular file we may execute; else the errno exec
 * would give. A relative file is taken from the worker's cwd. */
static int
probe_program(const char *file, void *ctx)
{
	struct program_probe *probe = ctx;
	struct stat st;
	int n;

	if (file[0] != '/' && probe->cwd)
		n = snprintf(probe->file, sizeof(probe->file), "%s/%s", probe->cwd, file);
	else
		n = snprintf(probe->file, sizeof(probe->file), "%s", file);
	if (n < 0 || (size_t)n >= sizeof(probe->file))
		return ENAMETOOLONG;
	if (stat(probe->file, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode) || access(probe->file, X_OK) < 0)
		return EACCES;
	return 0;
}

/* The PATH the worker will search: its env's (the last PATH= entry wins,
 * as in spawn.c's environment block), else supd's, else the default. */
static const char *
worker_search_path(const struct worker_spec *w)
{
	for (size_t i = w->envc; i-- > 0;)
		if (strncmp(w->env[i], "PATH=", 5) == 0)
			return w->env[i] + 5;
	return exec_search_path(environ);
}

static int
find_program(const struct worker_spec *w, char *msg, size_t len)
{
	struct program_probe probe = {.cwd = w->cwd};
	const char *name = w->argv[0], *path = NULL;
	int err;

	if (strchr(name, '/')) {
		err = probe_program(name, &probe);
	} else {
		path = worker_search_path(w);
		err = exec_search(name, path, probe_program, &probe);
	}
	if (err == 0)
		return 0;
	if (err == EACCES)
		snprintf(msg, len, "program '%.80s' is not executable", name);
	else if (path)
		snprintf(msg, len, "program '%.80s' not found in PATH (%.200s)", name, path);
	else
		snprintf(msg, len, "program '%.80s' not found (%s)", name, strerror(err));
	return -1;
}

static int
check_directory(const char *what, const char *path, bool parent_of, char *msg, size_t len)
{
	char dir[PATH_MAX];
	const char *slash, *reason;
	struct stat st;

	if (!parent_of) {
		snprintf(dir, sizeof(dir), "%s", path);
	} else {
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(dir, sizeof(dir), ".");
		else if (slash == path)
			snprintf(dir, sizeof(dir), "/");
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	}
	if (stat(dir, &st) < 0)
		reason = errno == ENOENT || errno == ENOTDIR ? "does not exist" : strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		reason = "is not a directory";
	else
		return 0;
	if (parent_of)
		snprintf(msg, len, "%s '%.80s': directory '%.80s' %s", what, path, dir, reason);
	else
		snprintf(msg, len, "%s '%.80s' %s", what, path, reason);
	return -1;
}

static int
check_cgroup(const char *controller, char *msg, size_t len)
{
	char dir[PATH_MAX];

	if (!controller)
		return cgroup_locate(dir, sizeof(dir), msg, len);
	return cgroup_check_controller(controller, msg, len);
}

const struct spec_host spec_host_system = {
	.resolve_credentials = credentials_resolve,
	.lookup_group = credentials_lookup_group,
	.find_program = find_program,
	.check_directory = check_directory,
	.prepare_worker = service_prepare_worker,
	.check_cgroup = check_cgroup,
	.cgroup_enabled = cgroup_active,
};
