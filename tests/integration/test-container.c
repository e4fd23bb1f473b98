/*
 * test-container.c - supd as PID 1 of a container (SPEC 4 and 7.7).
 *
 * supd runs as PID 1 of a new PID namespace (unshare --pid --fork
 * --mount-proc), and the test stops it the way a container runtime does:
 * SIGTERM, a grace period, then SIGKILL if it is still there. Workers leave
 * daemons behind that escaped their process group (setsid): one stops on
 * SIGTERM, one ignores it. Once the tree is down supd must SIGTERM what is
 * left, wait up to 2 s, SIGKILL the rest, and exit within the grace period
 * with its status; afterwards no process of the test remains.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

TestSuite(container, .fini = h_cleanup_all, .timeout = 120);

#define T             5000  /* default deadline, ms (scaled under valgrind) */
#define RUNTIME_GRACE 10000 /* what a runtime gives PID 1 after SIGTERM (docker: 10 s) */

/* Two daemons that left their worker's process group and session: "polite"
 * writes DIR/polite-term and exits on SIGTERM, "deaf" ignores SIGTERM. Both
 * say they are up in DIR/polite-up and DIR/deaf-up. */
#define DAEMONS                                                                                    \
	"setsid /bin/sh -c 'trap \"echo > @DIR@/polite-term; exit 0\" TERM; "                      \
	": > @DIR@/polite-up; while :; do sleep 0.05; done' & "                                    \
	"setsid /bin/sh -c 'trap \"\" TERM; : > @DIR@/deaf-up; "                                   \
	"while :; do sleep 0.05; done' & "

/* The number of processes whose command line mentions the test's directory
 * (the daemons and their sleeps do, through their script). */
static int
count_processes_of(const char *dir)
{
	DIR *proc = opendir("/proc");
	struct dirent *d;
	int n = 0;

	cr_assert(proc, "cannot open /proc");
	while ((d = readdir(proc))) {
		char path[300], cmd[4096];
		FILE *f;
		size_t len;

		if (d->d_name[0] < '0' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[len] = '\0';
		if (strstr(cmd, dir) && (pid_t)atoi(d->d_name) != getpid())
			n++;
	}
	closedir(proc);
	return n;
}

/* A runtime's stop: SIGTERM, then SIGKILL if PID 1 outlives the grace
 * period. Returns the exit status as a shell shows it. */
static int
runtime_stop(struct harness *h)
{
	h_signal(h, SIGTERM);
	return h_wait_exit(h, RUNTIME_GRACE);
}

static void
check_teardown(struct harness *h)
{
	long polite_at, deaf_at, exiting_at;

	/* The polite daemon was asked (SIGTERM), not killed. */
	H_CHECK(h, access(h_path(h, "polite-term"), F_OK) == 0,
		"the daemon that stops on SIGTERM never got it");
	/* Both were reaped by supd, the deaf one by SIGKILL, before it exited. */
	polite_at = h_find(h, 0, "orphan_reaped");
	deaf_at = -1;
	for (size_t i = 0; i < h_nevents(h); i++) {
		json_t *ev = h_event(h, i);
		if (strcmp(ev_str(ev, "event"), "orphan_reaped") == 0 &&
		    ev_status_signal(ev, "SIGKILL"))
			deaf_at = (long)i;
	}
	exiting_at = h_find(h, 0, "supd_exiting");
	H_CHECK(h, polite_at >= 0, "no orphan_reaped event");
	H_CHECK(h, deaf_at >= 0 && deaf_at < exiting_at,
		"the daemon that ignores SIGTERM was not SIGKILLed before supd_exiting");
	H_CHECK(h, count_processes_of(h->dir) == 0, "%d processes of the test are left",
		count_processes_of(h->dir));
}

/* A tree of workers; one of them started the daemons. */
Test(container, tree_leftovers_stopped)
{
	struct harness *h =
		h_start(&(struct h_opts){.pid1 = true,
					 .yaml = "children:\n"
						 "  - id: web\n"
						 "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
						 "  - id: spawner\n"
						 "    start:\n"
						 "      - /bin/sh\n"
						 "      - -c\n"
						 "      - |\n"
						 "        " DAEMONS "exec @TESTCHILD@ sleep\n"});
	int status;

	h_wait_event(h, "child_started", "/spawner", T);
	h_wait_file(h, "polite-up", 2 * T);
	h_wait_file(h, "deaf-up", 2 * T);
	status = runtime_stop(h);
	H_CHECK(h, status == 0, "supd exited %d after SIGTERM, expected 0", status);
	H_ASSERT_ORDER(h, "child_exited /spawner shutdown", "child_exited /web shutdown",
		       "supervisor_stopped /", "orphan_reaped", "supd_exiting /");
	check_teardown(h);
}

/* `supd -- PROGRAM` as a container's entry point: PROGRAM's status, and
 * the daemons it left are stopped the same way. */
Test(container, dashdash_leftovers_stopped)
{
	/* PROGRAM exits only once both daemons are up: else the teardown's
	 * SIGTERM could reach the polite one before it wrote its file. */
	static const char *const argv[] = {"/bin/sh", "-c",
					   DAEMONS "while [ ! -e @DIR@/deaf-up ] || [ ! -e "
						   "@DIR@/polite-up ]; do sleep 0.01; done; exit 3",
					   NULL};
	struct harness *h = h_start(&(struct h_opts){.pid1 = true, .argv = argv});
	int status;

	h_wait_file(h, "polite-up", 2 * T);
	status = h_wait_exit(h, RUNTIME_GRACE);
	H_CHECK(h, status == 3, "supd exited %d, expected PROGRAM's 3", status);
	check_teardown(h);
}

/* SIGTERM from the runtime in `--` mode: PROGRAM gets it, supd exits 143. */
Test(container, dashdash_runtime_stop)
{
	static const char *const argv[] = {"/bin/sh", "-c", DAEMONS "exec @TESTCHILD@ sleep", NULL};
	struct harness *h = h_start(&(struct h_opts){.pid1 = true, .argv = argv});
	int status;

	h_wait_file(h, "polite-up", 2 * T);
	h_wait_file(h, "deaf-up", 2 * T);
	status = runtime_stop(h);
	H_CHECK(h, status == 128 + SIGTERM, "supd exited %d, expected 143", status);
	check_teardown(h);
}

/* Replaces every occurrence of from in s (malloc'd result). */
static char *
replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, lf = strlen(from), lt = strlen(to);
	const char *p;
	char *out, *o;

	for (p = strstr(s, from); p; p = strstr(p + lf, from))
		n++;
	out = malloc(strlen(s) + n * lt + 1);
	cr_assert(out, "out of memory");
	for (o = out; (p = strstr(s, from)); s = p + lf) {
		memcpy(o, s, (size_t)(p - s));
		o += p - s;
		memcpy(o, to, lt);
		o += lt;
	}
	strcpy(o, s);
	return out;
}

/* examples/container as its Dockerfile runs it: the app is ready only
 * after READY=1 and the worker starts after it; `supctl status` answers the
 * probes of kubernetes.yml; the runtime's SIGTERM stops the tree in
 * reverse order and supd exits 0 within the grace period. */
Test(container, example_tree)
{
	const char *dir = getenv("EXAMPLES_DIR");
	char path[512], app[512], *yaml, *text;
	char *status_app[] = {(char *)getenv("SUPCTL_BIN"), "-s", NULL, "status", "/app", NULL};
	char *status_none[] = {(char *)getenv("SUPCTL_BIN"), "-s", NULL, "status", "/nope", NULL};
	struct harness *h;
	int status;

	cr_assert(dir && *dir && status_app[0], "EXAMPLES_DIR or SUPCTL_BIN is not set");
	snprintf(path, sizeof(path), "%s/container/supd.yaml", dir);
	snprintf(app, sizeof(app), "%s/container/app.py", dir);
	text = h_read_file(path);
	cr_assert(text, "cannot read %s", path);
	/* The image's paths, here: the app from the source tree, a free port. */
	yaml = replace_all(text, "/app/app.py", app);
	free(text);
	text = replace_all(yaml, "PORT=8080", "PORT=0");
	free(yaml);
	h = h_start(&(struct h_opts){.pid1 = true, .control = true, .yaml = text});
	free(text);
	status_app[2] = status_none[2] = (char *)h_path(h, "supd.sock");

	h_wait_event(h, "child_started", "/worker", 3 * T);
	H_ASSERT_ORDER(h, "child_started /app", "child_started /worker");
	status = h_run(status_app, NULL, NULL, T);
	H_CHECK(h, status == 0, "supctl status /app exited %d, expected 0", status);
	status = h_run(status_none, NULL, NULL, T);
	H_CHECK(h, status == 3, "supctl status /nope exited %d, expected 3", status);
	status = runtime_stop(h);
	H_CHECK(h, status == 0, "supd exited %d after SIGTERM, expected 0", status);
	H_ASSERT_ORDER(h, "child_exited /worker shutdown", "child_exited /app", "supd_exiting /");
	H_CHECK(h, count_processes_of(h->dir) == 0, "processes of the test are left");
}
