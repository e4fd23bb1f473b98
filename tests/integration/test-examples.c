/*
 * test-examples.c - every shipped example config passes `supd -n`.
 *
 * Looks for *.yaml in $EXAMPLES_DIR and its direct subdirectories (such as
 * examples/kv/kv.yaml) and runs `supd -n -c FILE` on each: exit 0 and
 * "FILE: configuration OK" on stdout. Finding no example at all fails, so
 * that a moved directory cannot make this test pass vacuously.
 *
 * `supd -n` checks what the machine can tell too, so the test provides
 * what the examples expect of it, as their comments say: the KV programs
 * in PATH ($KV_BIN_DIR) and the directory /tmp/kv.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

static bool
is_yaml(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

static int
check_file(const char *path, const char *tmpdir)
{
	char out[512], err[512];
	char *argv[] = {(char *)h_supd_bin(), "-n", "-c", (char *)path, NULL};
	char *text, want[1100];
	int status;

	snprintf(out, sizeof(out), "%s/out", tmpdir);
	snprintf(err, sizeof(err), "%s/err", tmpdir);
	unlink(out);
	unlink(err);
	status = h_run(argv, out, err, 5000);
	text = h_read_file(status == 0 ? out : err);
	snprintf(want, sizeof(want), "%s: configuration OK\n", path);
	cr_expect(status == 0, "supd -n %s exited %d: %s", path, status, text ? text : "");
	cr_expect(status != 0 || (text && strcmp(text, want) == 0),
		  "supd -n %s printed '%s', expected '%s'", path, text ? text : "", want);
	free(text);
	return 1;
}

static int
scan(const char *dir, int depth, const char *tmpdir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	cr_assert(d, "cannot open %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		char path[1024];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth == 0)
			found += scan(path, 1, tmpdir);
		else if (S_ISREG(st.st_mode) && is_yaml(e->d_name))
			found += check_file(path, tmpdir);
	}
	closedir(d);
	return found;
}

Test(examples, check_every_example, .timeout = 120)
{
	const char *dir = getenv("EXAMPLES_DIR");
	char tmpdir[] = "/tmp/supd-examples.XXXXXX";
	char out[600], err[600];
	bool made_kv_dir;
	int found;

	cr_assert(dir && *dir, "EXAMPLES_DIR is not set (run through meson test)");
	cr_assert(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	if (getenv("KV_BIN_DIR")) {
		char path[4096];

		snprintf(path, sizeof(path), "%s:%s", getenv("KV_BIN_DIR"),
			 getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
		setenv("PATH", path, 1);
	}
	made_kv_dir = mkdir("/tmp/kv", 0700) == 0;
	found = scan(dir, 0, tmpdir);
	if (made_kv_dir)
		rmdir("/tmp/kv");
	snprintf(out, sizeof(out), "%s/out", tmpdir);
	snprintf(err, sizeof(err), "%s/err", tmpdir);
	unlink(out);
	unlink(err);
	rmdir(tmpdir);
	cr_assert(found > 0, "no *.yaml example in %s", dir);
	h_report("examples: %d files checked with supd -n", found);
}
