/*
 * test-services.c - running real services (SPEC 7.2, 7.3, 7.4, 7.6) with the
 * real supd binary on real processes: every readiness kind, one-shot jobs,
 * health checks, restart backoff, environment files and expansion, resource
 * limits, umask, nice and per-worker forward_signals.
 *
 * Like test-supd.c, tests that depend on how supd runs exist as NAME and
 * NAME_pid1. A readiness test proves that supd waited by making the
 * condition true itself (a file, a listening socket) and checking that
 * child_started came after; nothing sleeps for a fixed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "harness.h"

TestSuite(services, .fini = h_cleanup_all, .timeout = 120);

#define BOTH_MODES(name) H_BOTH_MODES(services, name)

#define T 5000 /* default deadline, ms (scaled under valgrind) */

static void
stop_cleanly(struct harness *h)
{
	int status;

	h_signal(h, SIGTERM);
	status = h_wait_exit(h, T);
	H_CHECK(h, status == 0, "supd exited %d after SIGTERM", status);
}

/* Wall-clock microseconds, comparable with the events' ts. */
static int64_t
wall_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void
touch(struct harness *h, const char *name)
{
	int fd = open(h_path(h, name), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	H_CHECK(h, fd >= 0, "cannot create %s", name);
	close(fd);
}

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

/* child_started of `path` came after `before_us` and before any start of
 * `next` (when given). */
static void
check_waited(struct harness *h, const char *path, int64_t before_us, const char *next)
{
	json_t *started = h_wait_event(h, "child_started", path, T);
	size_t at = h_index(h);
	char pattern[128];

	H_CHECK(h, ev_ts_us(started) >= before_us, "%s started before it was ready", path);
	if (next) {
		snprintf(pattern, sizeof(pattern), "child_started %s", next);
		H_CHECK(h, h_find(h, 0, pattern) < 0 || h_find(h, 0, pattern) > (long)at,
			"%s started before %s was ready", next, path);
		h_wait_event(h, "child_started", next, T);
	}
}

/* ---- readiness ---- */

BOTH_MODES(ready_fd)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: n\n"
			     "    ready: {fd: 3}\n"
			     "    start: [\"/bin/sh\", \"-c\", \"while [ ! -e @DIR@/go ]; do sleep "
			     "0.02; done; echo ready >&3; exec @TESTCHILD@ sleep\"]\n"
			     "  - id: after\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			     pid1);
	int64_t go_us;

	h_wait_event(h, "supervisor_started", "/", T);
	go_us = wall_us();
	touch(h, "go");
	check_waited(h, "/n", go_us, "/after");
	stop_cleanly(h);
}

Test(services, ready_fd_closed_without_a_line_times_out)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: n\n"
			     "    ready: {fd: 4}\n"
			     "    start_timeout: 300\n"
			     "    start: [\"/bin/sh\", \"-c\", \"exec 4>&-; exec @TESTCHILD@ "
			     "sleep\"]\n",
			     false);
	json_t *failed = h_wait_event(h, "child_start_failed", "/n", T);

	H_CHECK(h, strcmp(ev_str(failed, "error"), "ready_timeout") == 0, "error %s",
		ev_str(failed, "error"));
	H_CHECK(h, h_wait_exit(h, T) == 1, "supd did not exit 1");
}

BOTH_MODES(ready_exec)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: w\n"
			     "    ready: {exec: [\"/bin/sh\", \"-c\", \"test -e @DIR@/up\"], "
			     "interval: 20}\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
			     "  - id: after\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			     pid1);
	int64_t up_us;

	h_wait_event(h, "supervisor_started", "/", T);
	up_us = wall_us();
	touch(h, "up");
	check_waited(h, "/w", up_us, "/after");
	H_CHECK(h, h_find(h, 0, "orphan_reaped") < 0, "a probe was reaped as an orphan");
	stop_cleanly(h);
}

Test(services, ready_exec_probe_that_hangs_is_killed_at_the_deadline)
{
	struct harness *h = h_start_yaml(
		"children:\n"
		"  - id: w\n"
		"    ready: {exec: [\"/bin/sh\", \"-c\", \"echo $$ > @DIR@/probe; exec "
		"sleep 1000\"]}\n"
		"    start_timeout: 400\n"
		"    start: [\"@TESTCHILD@\", \"sleep\"]\n",
		false);
	char *pid_text;

	h_wait_event(h, "child_start_failed", "/w", T);
	H_CHECK(h, h_wait_exit(h, T) == 1, "supd did not exit 1");
	pid_text = h_read_file(h_path(h, "probe"));
	H_CHECK(h, pid_text && atoi(pid_text) > 0, "the probe did not run");
	H_CHECK(h, kill(atoi(pid_text), 0) < 0 && errno == ESRCH, "the probe %d still runs",
		atoi(pid_text));
	free(pid_text);
}

/* A probe runs with supd's environment, but not with what describes supd
 * itself: under systemd a check that calls sd_notify would otherwise speak
 * for supd. */
Test(services, ready_exec_probe_does_not_get_supds_notify_socket)
{
	static const char *const env[] = {"NOTIFY_SOCKET=/nonexistent/supd-notify",
					  "WATCHDOG_USEC=1000000000", "SUPD_TEST_KEPT=yes", NULL};
	struct harness *h = h_start(&(struct h_opts){
		.yaml = "children:\n"
			"  - id: w\n"
			"    ready: {exec: [\"/bin/sh\", \"-c\", \"env > @DIR@/probe-env\"]}\n"
			"    start: [\"@TESTCHILD@\", \"sleep\"]\n",
		.env = env});
	char *text;

	h_wait_event(h, "child_started", "/w", T);
	text = h_read_file(h_path(h, "probe-env"));
	H_CHECK(h, text != NULL, "the probe did not run");
	H_CHECK(h, strstr(text, "SUPD_TEST_KEPT=yes\n") != NULL,
		"the probe lost supd's environment: %s", text);
	H_CHECK(h, strstr(text, "NOTIFY_SOCKET=") == NULL && strstr(text, "WATCHDOG_USEC=") == NULL,
		"the probe got supd's own notification variables: %s", text);
	free(text);
	stop_cleanly(h);
}

static int
listen_unix(struct harness *h, const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_path(h, name));
	H_CHECK(h,
		fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 8) == 0,
		"cannot listen on %s", sa.sun_path);
	return fd;
}

BOTH_MODES(ready_tcp_unix_socket)
{
	struct harness *h = h_start_yaml("children:\n"
					 "  - id: db\n"
					 "    ready: {tcp: \"@DIR@/db.sock\"}\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
					 "  - id: app\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
					 pid1);
	int64_t up_us;
	int fd;

	h_wait_event(h, "supervisor_started", "/", T);
	up_us = wall_us();
	fd = listen_unix(h, "db.sock");
	check_waited(h, "/db", up_us, "/app");
	close(fd);
	stop_cleanly(h);
}

Test(services, ready_tcp_host_port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char yaml[512];
	struct harness *h;
	int64_t up_us;

	/* bound, not listening: connects are refused until listen() */
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(yaml, sizeof(yaml),
		 "children:\n"
		 "  - id: db\n"
		 "    ready: {tcp: \"127.0.0.1:%d\"}\n"
		 "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
		 ntohs(sa.sin_port));
	h = h_start_yaml(yaml, false);
	h_wait_event(h, "supervisor_started", "/", T);
	up_us = wall_us();
	cr_assert(listen(fd, 8) == 0);
	check_waited(h, "/db", up_us, NULL);
	close(fd);
	stop_cleanly(h);
}

BOTH_MODES(ready_exit_job_gates_the_next_child)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: db\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
			     "  - id: migrate\n"
			     "    restart: transient\n"
			     "    ready: exit\n"
			     "    start: [\"/bin/sh\", \"-c\", \"while [ ! -e @DIR@/go ]; do "
			     "sleep 0.02; done\"]\n"
			     "  - id: app\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			     pid1);
	int64_t go_us;

	h_wait_event(h, "child_started", "/db", T);
	go_us = wall_us();
	touch(h, "go");
	h_wait_event(h, "child_exited", "/migrate", T);
	H_CHECK(h, strcmp(ev_str(h_event(h, h_index(h)), "reason"), "normal") == 0,
		"the job's exit is not normal");
	check_waited(h, "/app", go_us, NULL);
	H_CHECK(h, h_find(h, 0, "child_started /migrate") < 0, "the job got a child_started");
	H_ASSERT_ORDER(h, "child_started /db", "child_exited /migrate normal",
		       "child_started /app");
	stop_cleanly(h);
}

Test(services, ready_exit_job_that_fails_fails_the_start)
{
	struct harness *h = h_start_yaml("children:\n"
					 "  - id: migrate\n"
					 "    restart: temporary\n"
					 "    ready: exit\n"
					 "    start: [\"@TESTCHILD@\", \"exit\", \"3\"]\n"
					 "  - id: app\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
					 false);
	json_t *failed = h_wait_event(h, "child_start_failed", "/migrate", T);

	H_CHECK(h, strcmp(ev_str(failed, "error"), "exit:3") == 0, "error %s",
		ev_str(failed, "error"));
	H_CHECK(h, h_wait_exit(h, T) == 1, "supd did not exit 1");
	H_CHECK(h, h_find(h, 0, "child_started /app") < 0, "the app started");
}

Test(services, notify_access_all_takes_ready_from_the_process_group)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: script\n"
			     "    ready: notify\n"
			     "    notify_access: all\n"
			     "    start: [\"/bin/sh\", \"-c\", \"@TESTCHILD@ notify & wait\"]\n",
			     false);

	h_wait_event(h, "child_started", "/script", T);
	stop_cleanly(h);
}

Test(services, notify_access_main_refuses_another_process_and_says_so)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: script\n"
			     "    ready: notify\n"
			     "    start_timeout: 500\n"
			     "    start: [\"/bin/sh\", \"-c\", \"@TESTCHILD@ notify & wait\"]\n",
			     false);
	char *log;

	h_wait_event(h, "child_start_failed", "/script", T);
	h_wait_exit(h, T);
	log = h_read_file(h_path(h, "supd.log"));
	H_CHECK(h, log && strstr(log, "refused"), "no log line for the refused READY=1: %s",
		log ? log : "");
	free(log);
}

/* ---- health checks ---- */

BOTH_MODES(health_check_failure_kills_and_restarts)
{
	struct harness *h =
		h_start_yaml("children:\n"
			     "  - id: web\n"
			     "    health: {exec: [\"/bin/sh\", \"-c\", \"if [ -e @DIR@/sick "
			     "]; then echo not answering; exit 1; fi\"], interval: 50, "
			     "timeout: 2000, retries: 2}\n"
			     "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			     pid1);
	long long first = ev_int(h_wait_event(h, "child_started", "/web", T), "pid"), second;
	json_t *ev;

	touch(h, "sick");
	ev = h_wait_event(h, "child_unhealthy", "/web", T);
	H_CHECK(h, ev_int(ev, "pid") == first, "unhealthy pid %lld, started %lld",
		ev_int(ev, "pid"), first);
	H_CHECK(h, ev_str(ev, "output") && strstr(ev_str(ev, "output"), "not answering"),
		"output: %s", ev_str(ev, "output") ? ev_str(ev, "output") : "(none)");
	unlink(h_path(h, "sick"));
	ev = h_wait_event(h, "child_exited", "/web", T);
	H_CHECK(h, strcmp(ev_str(ev, "reason"), "unhealthy") == 0, "reason %s",
		ev_str(ev, "reason"));
	H_CHECK(h, ev_status_signal(ev, "SIGKILL"), "not killed by SIGKILL");
	second = ev_int(h_wait_event(h, "child_started", "/web", T), "pid");
	H_CHECK(h, second != first, "same pid after the restart");
	H_CHECK(h, h_find(h, 0, "orphan_reaped") < 0, "a probe was reaped as an orphan");
	stop_cleanly(h);
}

Test(services, health_check_timeout_and_tcp_failure)
{
	struct harness *h = h_start_yaml("max_restarts: 100\n"
					 "children:\n"
					 "  - id: hang\n"
					 "    restart: temporary\n"
					 "    health: {exec: [\"sleep\", \"1000\"], interval: 20, "
					 "timeout: 200, retries: 1}\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
					 "  - id: refused\n"
					 "    restart: temporary\n"
					 "    health: {tcp: \"@DIR@/nobody.sock\", interval: 20, "
					 "retries: 3}\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
					 false);
	json_t *ev;
	long at;

	/* in either order */
	h_wait_event(h, "child_unhealthy", NULL, T);
	h_wait_event(h, "child_unhealthy", NULL, T);
	at = h_find(h, 0, "child_unhealthy /hang");
	H_CHECK(h, at >= 0, "no child_unhealthy /hang");
	ev = h_event(h, (size_t)at);
	H_CHECK(h, strstr(ev_str(ev, "output"), "timed out"), "output: %s", ev_str(ev, "output"));
	at = h_find(h, 0, "child_unhealthy /refused");
	H_CHECK(h, at >= 0, "no child_unhealthy /refused");
	ev = h_event(h, (size_t)at);
	H_CHECK(h, strstr(ev_str(ev, "output"), "ENOENT"), "output: %s", ev_str(ev, "output"));
	stop_cleanly(h);
}

/* ---- backoff ---- */

BOTH_MODES(backoff_doubles_the_delay)
{
	struct harness *h = h_start_yaml("max_restarts: 100\n"
					 "children:\n"
					 "  - id: flap\n"
					 "    backoff: {min: 100, max: 300}\n"
					 "    start: [\"@TESTCHILD@\", \"exit\", \"1\"]\n",
					 pid1);
	static const long long expected[] = {100, 200, 300, 300};

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		json_t *delayed = h_wait_event(h, "restart_delayed", "/flap", T);
		json_t *started;
		H_CHECK(h, ev_int(delayed, "delay_ms") == expected[i], "delay %lld, expected %lld",
			ev_int(delayed, "delay_ms"), expected[i]);
		started = h_wait_event(h, "child_started", "/flap", T);
		H_CHECK(h, ev_ts_us(started) - ev_ts_us(delayed) >= expected[i] * 1000,
			"started %lld us after restart_delayed",
			(long long)(ev_ts_us(started) - ev_ts_us(delayed)));
	}
	stop_cleanly(h);
}

static char *
supctl(struct harness *h, const char *const *args)
{
	char sock[300], out[300];
	const char *argv[16] = {getenv("SUPCTL_BIN"), "-s", sock, "--json"};
	size_t n = 4;

	/* h_path's buffers rotate: keep our own copies */
	snprintf(sock, sizeof(sock), "%s", h_path(h, "supd.sock"));
	snprintf(out, sizeof(out), "%s", h_path(h, "supctl.out"));
	unlink(out); /* h_run appends */
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	H_CHECK(h, h_run((char *const *)argv, out, NULL, T) == 0, "supctl %s failed", argv[4]);
	return h_read_file(out);
}

Test(services, backoff_wait_shows_in_tree_and_terminate_child_cancels_it)
{
	struct harness *h =
		h_start(&(struct h_opts){.yaml = "children:\n"
						 "  - id: slow\n"
						 "    backoff: {min: 60000}\n"
						 "    start: [\"@TESTCHILD@\", \"exit\", \"1\"]\n",
					 .control = true});
	static const char *const tree[] = {"tree", NULL};
	static const char *const terminate[] = {"terminate-child", "/", "slow", NULL};
	json_t *reply, *child;
	char *out, *term;
	size_t delayed;

	h_wait_event(h, "restart_delayed", "/slow", T);
	delayed = h_index(h);
	out = supctl(h, tree);
	reply = json_loads(out, 0, NULL);
	free(out);
	H_CHECK(h, reply, "tree reply is not JSON");
	child = json_array_get(json_object_get(json_object_get(reply, "tree"), "children"), 0);
	H_CHECK(h,
		child && strcmp(json_string_value(json_object_get(child, "state")), "restarting") ==
				 0,
		"state is not restarting");
	H_CHECK(h,
		json_integer_value(json_object_get(child, "next_start_in_ms")) > 0 &&
			json_integer_value(json_object_get(child, "next_start_in_ms")) <= 60000,
		"next_start_in_ms missing or out of range");
	json_decref(reply);
	term = supctl(h, terminate);
	out = supctl(h, tree);
	H_CHECK(h, strstr(out, "\"stopped\"") && !strstr(out, "next_start_in_ms"),
		"still waiting after terminate-child (%s): %s", term, out);
	free(term);
	free(out);
	stop_cleanly(h);
	H_CHECK(h, h_find(h, delayed, "child_started /slow") < 0, "the cancelled start happened");
}

/* ---- environment and limits ---- */

BOTH_MODES(env_files_and_expansion)
{
	static const char *const env[] = {"ITEST_BASE=/opt/base", NULL};
	struct harness *h;
	char *vars;

	h = h_start(&(struct h_opts){
		.yaml = "children:\n"
			"  - id: e\n"
			"    env_file: [\"@DIR@/one.env\", \"@DIR@/two.env\"]\n"
			"    env: [\"EXPANDED=${ITEST_BASE}/bin\", \"LITERAL=$$HOME\", "
			"\"EMPTY=${ITEST_UNSET_NAME}x\", \"OVERRIDDEN=from env\"]\n"
			"    start: [\"@TESTCHILD@\", \"env\", \"@DIR@/env\"]\n",
		.pid1 = pid1,
		.env = env,
		.files = (const char *const[]){
			"one.env",
			"# a comment\n\nFROM_FILE=one\nQUOTED=\"a b\"\nOVERRIDDEN=file\n",
			"two.env", "FROM_FILE=two\n", NULL}});
	h_wait_file(h, "env", T);
	vars = h_read_file(h_path(h, "env"));
	H_CHECK(h, vars, "no env report");
	H_CHECK(h, has_line(vars, "EXPANDED=/opt/base/bin"), "EXPANDED");
	H_CHECK(h, has_line(vars, "LITERAL=$HOME"), "LITERAL");
	H_CHECK(h, has_line(vars, "EMPTY=x"), "EMPTY");
	H_CHECK(h, has_line(vars, "FROM_FILE=two"), "FROM_FILE (the later file wins)");
	H_CHECK(h, has_line(vars, "QUOTED=a b"), "QUOTED");
	H_CHECK(h, has_line(vars, "OVERRIDDEN=from env"), "env wins over the files");
	free(vars);
	stop_cleanly(h);
}

Test(services, user_switch_sets_home_user_logname_shell)
{
	char yaml[512], path[64];
	struct harness *h;
	char *vars;

	if (geteuid() != 0)
		cr_skip_test("needs root to switch users");
	/* somewhere nobody may write: the test's directory is root's */
	snprintf(path, sizeof(path), "/tmp/supd-itest-env-%d", (int)getpid());
	unlink(path);
	snprintf(yaml, sizeof(yaml),
		 "children:\n"
		 "  - id: e\n"
		 "    user: nobody\n"
		 "    env: [\"SHELL=/bin/false\"]\n"
		 "    start: [\"@TESTCHILD@\", \"env\", \"%s\"]\n",
		 path);
	h = h_start_yaml(yaml, false);
	h_wait_event(h, "child_started", "/e", T);
	for (int i = 0; i < 500 && access(path, F_OK) < 0; i++)
		usleep(10000); /* the worker writes it right after exec */
	vars = h_read_file(path);
	unlink(path);
	H_CHECK(h, vars, "no env report");
	H_CHECK(h, has_line(vars, "USER=nobody") && has_line(vars, "LOGNAME=nobody"), "USER: %s",
		vars);
	H_CHECK(h, has_line(vars, "HOME=/nonexistent"), "HOME: %s", vars);
	H_CHECK(h, has_line(vars, "SHELL=/bin/false"), "env does not win over SHELL: %s", vars);
	free(vars);
	stop_cleanly(h);
}

BOTH_MODES(limits_umask_and_nice)
{
	struct harness *h = h_start_yaml(
		"children:\n"
		"  - id: l\n"
		"    umask: \"0027\"\n"
		"    nice: 5\n"
		"    rlimits: {nofile: 1000, core: 0, fsize: {soft: 1048576, hard: 2097152}}\n"
		"    start: [\"/bin/sh\", \"-c\", \"cat /proc/$$/limits > @DIR@/limits; grep "
		"Umask /proc/$$/status > @DIR@/umask; cut -d' ' -f19 /proc/$$/stat > @DIR@/nice; "
		"touch @DIR@/done; exec @TESTCHILD@ sleep\"]\n",
		pid1);
	char *limits, *umask_line, *nice;

	h_wait_file(h, "done", T);
	limits = h_read_file(h_path(h, "limits"));
	umask_line = h_read_file(h_path(h, "umask"));
	nice = h_read_file(h_path(h, "nice"));
	H_CHECK(h, limits && umask_line && nice, "no reports");
	H_CHECK(h, strstr(limits, "Max open files            1000                 1000"),
		"nofile: %s", limits);
	H_CHECK(h, strstr(limits, "Max core file size        0                    0"), "core: %s",
		limits);
	H_CHECK(h, strstr(limits, "Max file size             1048576              2097152"),
		"fsize: %s", limits);
	H_CHECK(h, strstr(umask_line, "0027"), "umask: %s", umask_line);
	H_CHECK(h, atoi(nice) == 5, "nice: %s", nice);
	free(limits);
	free(umask_line);
	free(nice);
	stop_cleanly(h);
}

Test(services, worker_forward_signals_override_the_top_level_list)
{
	struct harness *h = h_start_yaml("children:\n"
					 "  - id: listens\n"
					 "    restart: temporary\n"
					 "    forward_signals: [SIGUSR1]\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n"
					 "  - id: other\n"
					 "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
					 false);
	json_t *ev;

	h_wait_event(h, "child_started", "/other", T);
	h_signal(h, SIGUSR1);
	ev = h_wait_event(h, "child_exited", "/listens", T);
	H_CHECK(h, ev_status_signal(ev, "SIGUSR1"), "not ended by SIGUSR1");
	H_CHECK(h, h_find(h, 0, "child_exited /other") < 0, "the other worker got it too");
	stop_cleanly(h);
}

/* ---- load-time errors ---- */

static void
check_config_error(const char *yaml, const char *needle, int line)
{
	struct harness *h = h_start_yaml(yaml, false);
	int status = h_wait_exit(h, T), l = 0, c = 0;
	char *err = h_read_file(h_path(h, "supd.log"));
	const char *file = h_path(h, "supd.yaml");

	H_CHECK(h, status == 78, "supd exited %d, expected 78", status);
	H_CHECK(h, err && strncmp(err, file, strlen(file)) == 0, "no FILE: %s", err ? err : "");
	H_CHECK(h, sscanf(err + strlen(file), ":%d:%d:", &l, &c) == 2 && l == line && c >= 1,
		"not at line %d: %s", line, err);
	H_CHECK(h, strstr(err, needle), "no '%s' in: %s", needle, err);
	free(err);
}

Test(services, missing_env_file_is_a_load_error)
{
	check_config_error("children:\n"
			   "  - id: w\n"
			   "    env_file: /nonexistent/supd-itest.env\n"
			   "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			   "/nonexistent/supd-itest.env", 3);
}

Test(services, bad_rlimit_name_is_a_load_error)
{
	check_config_error("children:\n"
			   "  - id: w\n"
			   "    rlimits: {nofiles: 10}\n"
			   "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			   "nofile", 3);
}

Test(services, permanent_job_is_a_load_error)
{
	check_config_error("children:\n"
			   "  - id: w\n"
			   "    ready: exit\n"
			   "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			   "transient", 3);
}

/* Whether this process has CAP_SYS_RESOURCE (as supd, its child, will). */
static bool
may_raise_limits(void)
{
	char *status = h_read_file("/proc/self/status"), *eff;
	unsigned long long caps = 0;

	eff = status ? strstr(status, "CapEff:") : NULL;
	if (eff)
		caps = strtoull(eff + 7, NULL, 16);
	free(status);
	return (caps >> 24) & 1; /* CAP_SYS_RESOURCE */
}

Test(services, rlimit_above_the_hard_limit_is_a_load_error_without_cap_sys_resource)
{
	struct rlimit rl;

	if (may_raise_limits() || getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		cr_skip_test("CAP_SYS_RESOURCE, or no hard limit to exceed");
	check_config_error("children:\n"
			   "  - id: w\n"
			   "    rlimits: {nofile: unlimited}\n"
			   "    start: [\"@TESTCHILD@\", \"sleep\"]\n",
			   "hard limit", 3);
}
