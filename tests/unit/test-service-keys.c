/*
 * test-service-keys.c - the load-time work of the service keys
 * (service_keys.c): env files, ${NAME} expansion, the environment a worker
 * is given, resource limit names and checks, probe addresses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "service_keys.h"

static char *
write_temp(const char *text)
{
	char *path = strdup("/tmp/supd-test-env-XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
free_env(char **env)
{
	for (char **e = env; e && *e; e++)
		free(*e);
	free(env);
}

Test(service_keys, env_file_lines_comments_quotes_and_export)
{
	char *path = write_temp("# comment\n\n  A=1\nexport B=two words\nC=\"quoted # not a "
				"comment\"\nD='single'\nE=\n");
	char **env = NULL, msg[256];
	size_t n = 0;

	cr_assert(eq(int, env_file_append(path, &env, &n, msg, sizeof(msg)), 0), "%s", msg);
	cr_assert(eq(sz, n, 5));
	cr_assert(eq(str, env[0], "A=1"));
	cr_assert(eq(str, env[1], "B=two words"));
	cr_assert(eq(str, env[2], "C=quoted # not a comment"));
	cr_assert(eq(str, env[3], "D=single"));
	cr_assert(eq(str, env[4], "E="));
	cr_assert_null(env[5]);
	free_env(env);
	unlink(path);
	free(path);
}

Test(service_keys, env_file_errors_name_the_file_and_line)
{
	char *path = write_temp("A=1\nnot an assignment\n");
	char **env = NULL, msg[256];
	size_t n = 0;

	cr_assert(eq(int, env_file_append(path, &env, &n, msg, sizeof(msg)), -1));
	cr_assert(strstr(msg, path) && strstr(msg, "line 2") != NULL, "%s", msg);
	free_env(env);
	unlink(path);
	free(path);
	env = NULL;
	n = 0;
	cr_assert(eq(int, env_file_append("/nonexistent/x.env", &env, &n, msg, sizeof(msg)), -1));
	cr_assert(strstr(msg, "No such file") != NULL, "%s", msg);
}

Test(service_keys, expansion_of_braced_names_and_double_dollars)
{
	char *out, msg[256];

	setenv("SUPD_TEST_X", "/opt/x", 1);
	unsetenv("SUPD_TEST_UNSET");
	cr_assert(eq(int, env_expand("P=${SUPD_TEST_X}/bin:$PATH:$$HOME", &out, msg, sizeof(msg)),
		     0));
	cr_assert(eq(str, out, "P=/opt/x/bin:$PATH:$HOME"));
	free(out);
	cr_assert(eq(int, env_expand("E=${SUPD_TEST_UNSET}x", &out, msg, sizeof(msg)), 0));
	cr_assert(eq(str, out, "E=x"));
	free(out);
	cr_assert(eq(int, env_expand("B=${OPEN", &out, msg, sizeof(msg)), -1));
	cr_assert(strstr(msg, "closing") != NULL, "%s", msg);
	cr_assert(eq(int, env_expand("B=${1X}", &out, msg, sizeof(msg)), -1));
}

Test(service_keys, compose_orders_user_files_env_and_keeps_one_entry_per_name)
{
	char *one = write_temp("A=file\nB=file\n"), *two = write_temp("B=two\n");
	char *files[] = {one, two};
	struct worker_spec w = {0};
	char msg[256];

	w.env = calloc(3, sizeof(char *));
	w.env[0] = strdup("A=env");
	w.env[1] = strdup("C=${SUPD_TEST_X}");
	w.envc = 2;
	setenv("SUPD_TEST_X", "x", 1);
	cr_assert(eq(int, env_compose(&w, files, 2, msg, sizeof(msg)), 0), "%s", msg);
	cr_assert(eq(sz, w.envc, 3));
	cr_assert(eq(str, w.env[0], "B=two"));
	cr_assert(eq(str, w.env[1], "A=env"));
	cr_assert(eq(str, w.env[2], "C=x"));
	free_env(w.env);
	unlink(one);
	unlink(two);
	free(one);
	free(two);
}

Test(service_keys, a_user_switch_sets_home_user_logname_shell_unless_env_does)
{
	struct worker_spec w = {.user = "0", .uid = 0, .has_uid = true};
	char msg[256];
	bool home = false, user = false, shell = false;

	w.env = calloc(2, sizeof(char *));
	w.env[0] = strdup("SHELL=/bin/false");
	w.envc = 1;
	cr_assert(eq(int, env_compose(&w, NULL, 0, msg, sizeof(msg)), 0), "%s", msg);
	for (size_t i = 0; i < w.envc; i++) {
		home = home || strncmp(w.env[i], "HOME=", 5) == 0;
		user = user || strcmp(w.env[i], "USER=root") == 0;
		shell = shell || strcmp(w.env[i], "SHELL=/bin/false") == 0;
		cr_assert(strcmp(w.env[i], "SHELL=/bin/bash") != 0 &&
			  strcmp(w.env[i], "SHELL=/bin/sh") != 0);
	}
	cr_assert(home && user && shell);
	free_env(w.env);
}

Test(service_keys, rlimit_names_and_checks)
{
	struct rlimit_spec rl = {.resource = RLIMIT_NOFILE, .soft = 2, .hard = 1};
	char msg[256];

	cr_assert(eq(int, rlimit_from_name("nofile"), RLIMIT_NOFILE));
	cr_assert(eq(int, rlimit_from_name("core"), RLIMIT_CORE));
	cr_assert(eq(int, rlimit_from_name("nofiles"), -1));
	cr_assert(eq(str, (char *)rlimit_name(RLIMIT_STACK), "stack"));
	cr_assert(eq(int, rlimit_check(&rl, msg, sizeof(msg)), -1));
	cr_assert(strstr(msg, "above the hard limit") != NULL, "%s", msg);
	rl.soft = rl.hard = 16; /* lowering is always allowed */
	cr_assert(eq(int, rlimit_check(&rl, msg, sizeof(msg)), 0), "%s", msg);
}

Test(service_keys, probe_addresses)
{
	struct probe_spec p = {0};
	char msg[256];

	p.address = "127.0.0.1:5432";
	cr_assert(eq(int, probe_resolve_address(&p, msg, sizeof(msg)), 0), "%s", msg);
	cr_assert(eq(int, ((struct sockaddr *)p.sockaddr)->sa_family, AF_INET));
	p.address = "[::1]:80";
	cr_assert(eq(int, probe_resolve_address(&p, msg, sizeof(msg)), 0), "%s", msg);
	cr_assert(eq(int, ((struct sockaddr *)p.sockaddr)->sa_family, AF_INET6));
	p.address = "/run/db.sock";
	cr_assert(eq(int, probe_resolve_address(&p, msg, sizeof(msg)), 0), "%s", msg);
	cr_assert(eq(int, ((struct sockaddr *)p.sockaddr)->sa_family, AF_UNIX));
	p.address = "no-port";
	cr_assert(eq(int, probe_resolve_address(&p, msg, sizeof(msg)), -1));
	p.address = "host:";
	cr_assert(eq(int, probe_resolve_address(&p, msg, sizeof(msg)), -1));
}
