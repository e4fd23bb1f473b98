/*
 * test-spawn.c - spawn_worker() against real processes.
 *
 * Every test execs tests/helpers/testchild (or fails to exec something) and
 * checks what the worker actually got: signal state, session, descriptors,
 * environment, cwd, credentials, error reports, the pidfd and the
 * parent-death signal. The tests that matter for both ways of creating the
 * process run twice: suite spawn_clone3 and suite spawn_fork (the forced
 * fork() + pidfd_open() fallback). Waits are on pidfds and inotify with
 * deadlines; every process started is reaped; forked helpers in a test only
 * ever _exit().
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/inotify.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "spawn.h"
#include "spec.h"

#define TESTCHILD_DIR SUPD_BUILD_DIR "/tests/helpers"
#define TESTCHILD     TESTCHILD_DIR "/testchild"
#define DEADLINE_MS   10000
#define NOBODY        65534

/* ---- helpers ---- */

static struct child_spec *
make_worker(const char *const *argv)
{
	struct child_spec *spec = spec_new(NODE_WORKER);
	size_t n = 0;

	cr_assert(spec);
	while (argv[n])
		n++;
	spec->worker.argv = calloc(n + 1, sizeof(char *));
	cr_assert(spec->worker.argv);
	for (size_t i = 0; i < n; i++)
		cr_assert((spec->worker.argv[i] = strdup(argv[i])));
	spec->worker.argc = n;
	return spec;
}

static void
set_env(struct child_spec *spec, const char *const *env)
{
	size_t n = 0;

	while (env[n])
		n++;
	spec->worker.env = calloc(n + 1, sizeof(char *));
	cr_assert(spec->worker.env);
	for (size_t i = 0; i < n; i++)
		cr_assert((spec->worker.env[i] = strdup(env[i])));
	spec->worker.envc = n;
}

static struct spawn_result
spawn_ok(struct child_spec *spec, const char *notify_socket)
{
	struct spawn_options opt = {.notify_socket = notify_socket};
	struct spawn_result res = {.pid = -1, .pidfd = -1};
	char err[128] = "";
	int r = spawn_worker(spec, &opt, &res, err, sizeof(err));

	cr_assert_eq(r, 0, "spawn_worker failed: %d %s", r, err);
	cr_assert_gt(res.pid, 0);
	cr_assert_geq(res.pidfd, 0);
	return res;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to timeout_ms for the process behind pidfd (our child) to end,
 * and reaps it. Returns false on timeout. */
static bool
wait_exit(int pidfd, int timeout_ms, siginfo_t *si)
{
	struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int64_t left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			break;
		if (r == 0)
			return false;
		cr_assert_eq(errno, EINTR);
	}
	memset(si, 0, sizeof(*si));
	cr_assert_eq(waitid(P_PIDFD, (id_t)pidfd, si, WEXITED | WNOHANG), 0, "waitid: %s",
		     strerror(errno));
	cr_assert_neq(si->si_pid, 0, "pidfd readable but nothing to reap");
	return true;
}

static void
kill_and_reap(struct spawn_result *res)
{
	siginfo_t si;

	cr_assert_eq(pidfd_send_signal(res->pidfd, SIGKILL, NULL, 0), 0);
	cr_assert(wait_exit(res->pidfd, DEADLINE_MS, &si), "worker did not die on SIGKILL");
	close(res->pidfd);
	res->pidfd = -1;
}

/* No child left at all, not even a zombie. */
static void
assert_no_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	errno = 0;
	cr_assert_eq(waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT), -1,
		     "a child is left (pid %d)", (int)si.si_pid);
	cr_assert_eq(errno, ECHILD);
}

static char *
make_tmpdir(void)
{
	static const char prefix[] = "/tmp/supd-test-spawn-";
	char *dir = calloc(1, sizeof(prefix) + 6);

	cr_assert(dir);
	memcpy(dir, prefix, sizeof(prefix) - 1);
	memset(dir + sizeof(prefix) - 1, 'X', 6); /* the part mkdtemp() replaces */
	cr_assert(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	return dir;
}

static void
remove_tmpdir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	cr_assert(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	cr_assert_eq(rmdir(dir), 0, "rmdir %s: %s", dir, strerror(errno));
	free(dir);
}

/* Waits until dir/name exists (the helper renames it into place), failing
 * early if the worker behind pidfd dies first. */
static bool
wait_for_file(const char *dir, const char *name, int pidfd)
{
	int64_t deadline = now_ms() + DEADLINE_MS;
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	char buf[4096], path[PATH_MAX];
	bool found = false;

	cr_assert_geq(in, 0);
	cr_assert_geq(inotify_add_watch(in, dir, IN_MOVED_TO | IN_CLOSE_WRITE), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (;;) {
		struct pollfd p[2] = {{.fd = in, .events = POLLIN},
				      {.fd = pidfd, .events = POLLIN}};
		int64_t left;

		if (access(path, F_OK) == 0) {
			found = true;
			break;
		}
		left = deadline - now_ms();
		if (left <= 0)
			break;
		if (poll(p, 2, (int)left) < 0)
			cr_assert_eq(errno, EINTR);
		if (p[1].revents & POLLIN) {
			found = access(path, F_OK) == 0;
			break;
		}
		while (read(in, buf, sizeof(buf)) > 0)
			;
	}
	close(in);
	return found;
}

static char *
read_text(const char *dir, const char *name)
{
	char path[PATH_MAX];
	FILE *f;
	char *text;
	long len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "re");
	cr_assert(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	cr_assert(text);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

/* The value of the line "key: value" (or "Key:\tvalue") in text, without
 * the newline; NULL when absent. Returns a static buffer. */
static const char *
line_value(const char *text, const char *key)
{
	static char value[1024];
	size_t klen = strlen(key);

	for (const char *line = text; line && *line;) {
		const char *end = strchrnul(line, '\n');

		if ((size_t)(end - line) > klen && strncmp(line, key, klen) == 0 &&
		    line[klen] == ':') {
			const char *v = line + klen + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(value, sizeof(value), "%.*s", (int)(end - v), v);
			return value;
		}
		line = *end ? end + 1 : NULL;
	}
	return NULL;
}

static bool
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static int
count_name(const char *text, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *p = text; (p = strstr(p, name)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '=')
			count++;
	return count;
}

static void
expect_failure(struct child_spec *spec, int expected, const char *expected_err)
{
	struct spawn_options opt = {0};
	struct spawn_result res = {.pid = -1, .pidfd = -1};
	char err[128] = "";
	int r = spawn_worker(spec, &opt, &res, err, sizeof(err));

	cr_assert_eq(r, expected, "got %d (%s), expected %d", r, err, expected);
	cr_expect_str_eq(err, expected_err);
	cr_expect_eq(res.pid, -1, "result filled on failure");
	assert_no_children();
}

/* Runs a test body once per way of creating the child. */
#define BOTH_PATHS(name)                                                                           \
	static void name(void);                                                                    \
	Test(spawn_vfork, name)                                                                    \
	{                                                                                          \
		spawn_set_method(SPAWN_VFORK);                                                     \
		if (spawn_method() != SPAWN_VFORK)                                                 \
			cr_skip_test("the vfork-style clone is not used in this build (ASan)");    \
		name();                                                                            \
	}                                                                                          \
	Test(spawn_clone3, name)                                                                   \
	{                                                                                          \
		spawn_set_method(SPAWN_CLONE3);                                                    \
		name();                                                                            \
	}                                                                                          \
	Test(spawn_fork, name)                                                                     \
	{                                                                                          \
		spawn_set_method(SPAWN_FORK);                                                      \
		cr_assert_eq(spawn_method(), SPAWN_FORK);                                          \
		name();                                                                            \
	}                                                                                          \
	static void name(void)

/* ---- the clone3 path is really taken where the kernel has it ---- */

Test(spawn, clone3_used_when_available)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});
	struct spawn_result res;

	/* A zero size is rejected with EINVAL by a kernel that has clone3. */
	errno = 0;
	cr_assert_eq(syscall(SYS_clone3, NULL, 0), -1);
	if (errno != EINVAL)
		cr_skip_test("clone3 unavailable here (%s)", strerror(errno));
	spawn_set_method(SPAWN_CLONE3);
	cr_assert_eq(spawn_method(), SPAWN_CLONE3);
	res = spawn_ok(spec, NULL);
	cr_expect_eq(spawn_method(), SPAWN_CLONE3, "clone3 failed and the fallback took over");
	kill_and_reap(&res);
	spec_free(spec);
}

Test(spawn, method_switch)
{
	spawn_set_method(SPAWN_FORK);
	cr_assert_eq(spawn_method(), SPAWN_FORK);
	spawn_set_method(SPAWN_VFORK);
#if !defined(__SANITIZE_ADDRESS__)
	cr_assert_eq(spawn_method(), SPAWN_VFORK, "the vfork-style clone is the default");
#else
	cr_assert_eq(spawn_method(), SPAWN_CLONE3, "ASan builds never use the vfork-style clone");
#endif
}

/* Runs fn in a forked helper and returns its exit code. */
static int
run_in_child(void (*fn)(void))
{
	pid_t pid;
	int pidfd;
	siginfo_t si;

	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		fn();
		_exit(99);
	}
	pidfd = pidfd_open(pid, 0);
	cr_assert_geq(pidfd, 0);
	cr_assert(wait_exit(pidfd, DEADLINE_MS, &si), "helper process hung");
	close(pidfd);
	cr_assert_eq(si.si_code, CLD_EXITED, "helper died of signal %d", si.si_status);
	return si.si_status;
}

/* In a forked helper: a seccomp filter makes clone3 fail with `errnum`, as
 * some container runtimes do. Spawning must fall back to fork() by itself,
 * and stop trying clone3. Exit 0 on success. */
static int seccomp_errno;

static void
spawn_under_seccomp(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)seccomp_errno),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {.len = sizeof(filter) / sizeof(filter[0]), .filter = filter};
	struct child_spec *spec = spec_new(NODE_WORKER);
	char *argv[] = {(char *)TESTCHILD, (char *)"exit", (char *)"5", NULL};
	struct spawn_result res;
	char err[64];
	siginfo_t si;

	if (!spec || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
		_exit(10);
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != seccomp_errno)
		_exit(11);
	spec->worker.argv = argv;
	spec->worker.argc = 3;
	spawn_set_method(SPAWN_CLONE3);
	for (int i = 0; i < 2; i++) {
		if (spawn_worker(spec, NULL, &res, err, sizeof(err)) != 0)
			_exit(12);
		if (spawn_method() != SPAWN_FORK)
			_exit(13);
		if (waitid(P_PIDFD, (id_t)res.pidfd, &si, WEXITED) != 0 || si.si_pid != res.pid ||
		    si.si_code != CLD_EXITED || si.si_status != 5)
			_exit(14);
		close(res.pidfd);
	}
	_exit(0);
}

Test(spawn, falls_back_when_clone3_is_enosys)
{
	seccomp_errno = ENOSYS;
	cr_expect_eq(run_in_child(spawn_under_seccomp), 0, "see spawn_under_seccomp for the code");
}

Test(spawn, falls_back_when_clone3_is_eperm)
{
	seccomp_errno = EPERM;
	cr_expect_eq(run_in_child(spawn_under_seccomp), 0, "see spawn_under_seccomp for the code");
}

/* ---- what the worker gets ---- */

BOTH_PATHS(clean_process_state)
{
	char *dir = make_tmpdir();
	struct child_spec *spec =
		make_worker((const char *[]){"testchild", "sigstate", "state", NULL});
	struct sigaction ign = {.sa_handler = SIG_IGN};
	sigset_t block, before, after;
	struct spawn_result res;
	char *text, expect[64], real_dir[PATH_MAX];
	int extra_fd;

	/* What supd does to itself (and worse): blocked and ignored signals,
	 * and a descriptor without close-on-exec. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGHUP);
	cr_assert_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
	cr_assert_eq(sigaction(SIGPIPE, &ign, NULL), 0);
	cr_assert_eq(sigaction(SIGUSR2, &ign, NULL), 0);
	cr_assert_eq(sigaction(SIGINT, &ign, NULL), 0);
	extra_fd = open("/dev/null", O_RDONLY);
	cr_assert_geq(extra_fd, 3);
	pthread_sigmask(SIG_SETMASK, NULL, &before);

	/* argv[0] is found through the worker's PATH; the relative file name
	 * lands in the worker's cwd. */
	set_env(spec, (const char *[]){"PATH=/nonexistent:" TESTCHILD_DIR, NULL});
	spec->worker.cwd = strdup(dir);
	res = spawn_ok(spec, NULL);

	pthread_sigmask(SIG_SETMASK, NULL, &after);
	for (int sig = 1; sig < NSIG; sig++)
		cr_assert_eq(sigismember(&before, sig), sigismember(&after, sig),
			     "caller's mask changed for signal %d", sig);

	cr_assert(wait_for_file(dir, "state", res.pidfd), "no state file from the worker");
	text = read_text(dir, "state");
	cr_expect_str_eq(line_value(text, "SigBlk"), "0000000000000000", "%s", text);
	cr_expect_str_eq(line_value(text, "SigIgn"), "0000000000000000", "%s", text);
	cr_expect_str_eq(line_value(text, "fds"), "0 1 2", "%s", text);
	snprintf(expect, sizeof(expect), "%d", (int)res.pid);
	cr_expect_str_eq(line_value(text, "pid"), expect);
	cr_expect_str_eq(line_value(text, "sid"), expect, "not a session leader");
	cr_expect_str_eq(line_value(text, "pgid"), expect, "not a group leader");
	snprintf(expect, sizeof(expect), "%d", (int)getpid());
	cr_expect_str_eq(line_value(text, "ppid"), expect);
	cr_assert(realpath(dir, real_dir));
	cr_expect_str_eq(line_value(text, "cwd"), real_dir);

	free(text);
	kill_and_reap(&res);
	close(extra_fd);
	spec_free(spec);
	remove_tmpdir(dir);
}

BOTH_PATHS(environment)
{
	char *dir = make_tmpdir();
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "env", "env", NULL});
	struct spawn_result res;
	char **cache;
	char *text, path[PATH_MAX];

	setenv("NOTIFY_SOCKET", "/run/supd-parent.sock", 1);
	setenv("LISTEN_PID", "1", 1);
	setenv("LISTEN_FDS", "2", 1);
	setenv("LISTEN_FDNAMES", "a:b", 1);
	setenv("WATCHDOG_PID", "1", 1);
	setenv("WATCHDOG_USEC", "1000", 1);
	setenv("SUPD_TEST_KEEP", "kept", 1);
	setenv("SUPD_TEST_OVERRIDE", "old", 1);
	setenv("LISTEN_FDS_NOT", "similar-name", 1);
	set_env(spec, (const char *[]){"SUPD_TEST_OVERRIDE=first", "SUPD_TEST_ADD=added",
				       "SUPD_TEST_OVERRIDE=new", NULL});
	spec->worker.cwd = strdup(dir);
	res = spawn_ok(spec, "/run/unused.sock");

	cr_assert(wait_for_file(dir, "env", res.pidfd), "no env file from the worker");
	text = read_text(dir, "env");
	cr_expect_eq(count_name(text, "NOTIFY_SOCKET"), 0, "%s", text);
	cr_expect_eq(count_name(text, "LISTEN_PID"), 0);
	cr_expect_eq(count_name(text, "LISTEN_FDS"), 0);
	cr_expect_eq(count_name(text, "LISTEN_FDNAMES"), 0);
	cr_expect_eq(count_name(text, "WATCHDOG_PID"), 0);
	cr_expect_eq(count_name(text, "WATCHDOG_USEC"), 0);
	cr_expect(has_line(text, "LISTEN_FDS_NOT=similar-name"), "%s", text);
	cr_expect(has_line(text, "SUPD_TEST_KEEP=kept"));
	cr_expect(has_line(text, "SUPD_TEST_ADD=added"));
	cr_expect(has_line(text, "SUPD_TEST_OVERRIDE=new"), "%s", text);
	cr_expect_eq(count_name(text, "SUPD_TEST_OVERRIDE"), 1, "%s", text);
	free(text);
	kill_and_reap(&res);

	/* A restart reuses the block built by the first start, even if
	 * supd's environment changed since. */
	cache = spec->worker.envp_cache;
	cr_assert(cache);
	setenv("SUPD_TEST_LATE", "late", 1);
	snprintf(path, sizeof(path), "%s/env", dir);
	cr_assert_eq(unlink(path), 0);
	res = spawn_ok(spec, NULL);
	cr_expect_eq(spec->worker.envp_cache, cache, "the environment was rebuilt");
	cr_assert(wait_for_file(dir, "env", res.pidfd));
	text = read_text(dir, "env");
	cr_expect_eq(count_name(text, "SUPD_TEST_LATE"), 0);
	cr_expect(has_line(text, "SUPD_TEST_OVERRIDE=new"));
	free(text);
	kill_and_reap(&res);

	spawn_forget_env(&spec->worker);
	cr_expect_null(spec->worker.envp_cache);
	spec_free(spec);
	remove_tmpdir(dir);
}

BOTH_PATHS(notify_socket_for_ready_notify)
{
	char *dir = make_tmpdir();
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "env", "env", NULL});
	struct spawn_result res;
	char *text;

	setenv("NOTIFY_SOCKET", "/run/supd-parent.sock", 1);
	/* The spec cannot take readiness away from supd. */
	set_env(spec, (const char *[]){"NOTIFY_SOCKET=/elsewhere", NULL});
	spec->worker.ready = READY_NOTIFY;
	spec->worker.cwd = strdup(dir);
	res = spawn_ok(spec, "/run/supd-test/notify.sock");
	cr_assert(wait_for_file(dir, "env", res.pidfd));
	text = read_text(dir, "env");
	cr_expect(has_line(text, "NOTIFY_SOCKET=/run/supd-test/notify.sock"), "%s", text);
	cr_expect_eq(count_name(text, "NOTIFY_SOCKET"), 1, "%s", text);
	free(text);
	kill_and_reap(&res);
	spec_free(spec);
	remove_tmpdir(dir);
}

BOTH_PATHS(spec_env_kept_without_ready_notify)
{
	char *dir = make_tmpdir();
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "env", "env", NULL});
	struct spawn_result res;
	char *text;

	set_env(spec, (const char *[]){"NOTIFY_SOCKET=/elsewhere", NULL});
	spec->worker.cwd = strdup(dir);
	res = spawn_ok(spec, "/run/supd-test/notify.sock");
	cr_assert(wait_for_file(dir, "env", res.pidfd));
	text = read_text(dir, "env");
	cr_expect(has_line(text, "NOTIFY_SOCKET=/elsewhere"), "%s", text);
	cr_expect_eq(count_name(text, "NOTIFY_SOCKET"), 1, "%s", text);
	free(text);
	kill_and_reap(&res);
	spec_free(spec);
	remove_tmpdir(dir);
}

BOTH_PATHS(exit_status_and_pidfd)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "exit", "7", NULL});
	struct spawn_result res = spawn_ok(spec, NULL);
	siginfo_t si;
	int flags = fcntl(res.pidfd, F_GETFD);

	cr_expect(flags >= 0 && (flags & FD_CLOEXEC), "pidfd without close-on-exec");
	cr_assert(wait_exit(res.pidfd, DEADLINE_MS, &si), "exit 7 did not exit");
	cr_expect_eq(si.si_pid, res.pid);
	cr_expect_eq(si.si_code, CLD_EXITED);
	cr_expect_eq(si.si_status, 7);
	close(res.pidfd);
	assert_no_children();
	spec_free(spec);
}

BOTH_PATHS(pidfd_signals_the_worker)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});
	sigset_t block;
	struct spawn_result res;
	siginfo_t si;

	/* Blocked here, default in the worker: SIGTERM must kill it. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	res = spawn_ok(spec, NULL);
	cr_assert_eq(pidfd_send_signal(res.pidfd, SIGTERM, NULL, 0), 0, "%s", strerror(errno));
	cr_assert(wait_exit(res.pidfd, DEADLINE_MS, &si), "SIGTERM did not end the worker");
	cr_expect_eq(si.si_pid, res.pid);
	cr_expect_eq(si.si_code, CLD_KILLED);
	cr_expect_eq(si.si_status, SIGTERM);
	close(res.pidfd);
	spec_free(spec);
}

/* ---- failures between fork and exec ---- */

BOTH_PATHS(exec_enoent)
{
	struct child_spec *spec = make_worker((const char *[]){"/nonexistent/program", NULL});

	expect_failure(spec, -ENOENT, "exec:ENOENT");
	/* The same again: nothing about the first failure sticks. */
	expect_failure(spec, -ENOENT, "exec:ENOENT");
	spec_free(spec);
}

BOTH_PATHS(exec_enoent_in_path)
{
	struct child_spec *spec =
		make_worker((const char *[]){"supd-test-no-such-program", "x", NULL});

	set_env(spec, (const char *[]){"PATH=/nonexistent:" TESTCHILD_DIR ":", NULL});
	expect_failure(spec, -ENOENT, "exec:ENOENT");
	spec_free(spec);
}

BOTH_PATHS(exec_eacces)
{
	char *dir = make_tmpdir();
	char path[PATH_MAX], path_env[PATH_MAX + 8];
	struct child_spec *spec, *searched;
	int fd;

	snprintf(path, sizeof(path), "%s/not-executable", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);

	spec = make_worker((const char *[]){path, NULL});
	expect_failure(spec, -EACCES, "exec:EACCES");

	/* Through PATH: a later ENOENT does not hide the EACCES. */
	snprintf(path_env, sizeof(path_env), "PATH=%s:/nonexistent", dir);
	searched = make_worker((const char *[]){"not-executable", NULL});
	set_env(searched, (const char *[]){path_env, NULL});
	expect_failure(searched, -EACCES, "exec:EACCES");

	spec_free(searched);
	spec_free(spec);
	remove_tmpdir(dir);
}

/* cgroup: true: the child's first step writes "0" to the descriptor of
 * its cgroup.procs (here a pipe, so the test reads what it wrote). */
BOTH_PATHS(cgroup_entry_written_first)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});
	struct spawn_result res;
	char err[128] = "", got[8] = "";
	int fds[2];

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	struct spawn_options opt = {.join_cgroup = true, .cgroup_procs_fd = fds[1]};
	cr_assert_eq(spawn_worker(spec, &opt, &res, err, sizeof(err)), 0, "%s", err);
	close(fds[1]);
	cr_assert_eq(read(fds[0], got, sizeof(got) - 1), 1);
	cr_assert_str_eq(got, "0");
	close(fds[0]);
	kill_and_reap(&res);
	spec_free(spec);
}

/* A child that cannot enter its cgroup never runs outside it: a start
 * failure "cgroup:ERRNAME". */
BOTH_PATHS(cgroup_entry_failure)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});
	struct spawn_result res = {.pid = -1, .pidfd = -1};
	char err[128] = "";
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	struct spawn_options opt = {.join_cgroup = true, .cgroup_procs_fd = fd};

	cr_assert_geq(fd, 0);
	cr_assert_eq(spawn_worker(spec, &opt, &res, err, sizeof(err)), -EBADF, "%s", err);
	cr_assert_str_eq(err, "cgroup:EBADF");
	close(fd);
	assert_no_children();
	spec_free(spec);
}

BOTH_PATHS(chdir_failure)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});

	spec->worker.cwd = strdup("/nonexistent/dir");
	expect_failure(spec, -ENOENT, "chdir:ENOENT");
	spec_free(spec);
}

/* In a forked helper (as uid nobody, when we are root): spawning with an
 * uid we may not take fails in the child, at setuid. Exit 0 on success. */
static void
child_expect_setuid_eperm(void)
{
	struct child_spec *spec = spec_new(NODE_WORKER);
	struct spawn_result res;
	char err[64] = "";
	char *argv[] = {(char *)TESTCHILD, (char *)"sleep", NULL};
	int r;

	if (!spec)
		_exit(10);
	spec->worker.argv = argv;
	spec->worker.argc = 2;
	spec->worker.has_uid = true;
	spec->worker.uid = 0;
	spec->worker.has_gid = true;
	spec->worker.gid = getgid();
	r = spawn_worker(spec, NULL, &res, err, sizeof(err));
	if (r != -EPERM)
		_exit(r == 0 ? 11 : 12);
	if (strcmp(err, "setuid:EPERM") != 0)
		_exit(13);
	if (waitpid(-1, NULL, WNOHANG) != -1 || errno != ECHILD)
		_exit(14);
	_exit(0);
}

static void
drop_to_nobody_or_exit(void)
{
	gid_t gid = NOBODY;

	if (geteuid() != 0)
		return;
	if (setgroups(1, &gid) < 0 || setgid(NOBODY) < 0 || setuid(NOBODY) < 0)
		_exit(20);
}

static void
setuid_eperm_as_nobody(void)
{
	drop_to_nobody_or_exit();
	child_expect_setuid_eperm();
}

BOTH_PATHS(setuid_failure)
{
	cr_expect_eq(run_in_child(setuid_eperm_as_nobody), 0,
		     "see child_expect_setuid_eperm for the code");
	assert_no_children();
}

static void
fork_eagain_without_nproc(void)
{
	struct rlimit none = {0, 0};
	struct child_spec *spec = spec_new(NODE_WORKER);
	struct spawn_result res;
	char err[64] = "";
	char *argv[] = {(char *)TESTCHILD, (char *)"sleep", NULL};
	int r;

	/* RLIMIT_NPROC does not bind root; nobody has a process (us). */
	drop_to_nobody_or_exit();
	if (!spec || setrlimit(RLIMIT_NPROC, &none) < 0)
		_exit(10);
	spec->worker.argv = argv;
	spec->worker.argc = 2;
	r = spawn_worker(spec, NULL, &res, err, sizeof(err));
	if (r != -EAGAIN)
		_exit(r == 0 ? 11 : 12);
	if (strcmp(err, "fork:EAGAIN") != 0)
		_exit(13);
	_exit(0);
}

BOTH_PATHS(fork_failure)
{
	cr_expect_eq(run_in_child(fork_eagain_without_nproc), 0,
		     "see fork_eagain_without_nproc for the code");
}

/* ---- credentials ---- */

BOTH_PATHS(user_and_group)
{
	char *dir;
	struct child_spec *spec;
	struct spawn_result res;
	char *text;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	dir = make_tmpdir();
	cr_assert_eq(chmod(dir, 0777), 0);
	spec = make_worker((const char *[]){TESTCHILD, "sigstate", "state", NULL});
	spec->worker.cwd = strdup(dir);
	spec->worker.has_uid = true;
	spec->worker.uid = NOBODY;
	spec->worker.has_gid = true;
	spec->worker.gid = NOBODY;
	res = spawn_ok(spec, NULL);
	cr_assert(wait_for_file(dir, "state", res.pidfd), "no state file from the worker");
	text = read_text(dir, "state");
	cr_expect_str_eq(line_value(text, "uid"), "65534", "%s", text);
	cr_expect_str_eq(line_value(text, "gid"), "65534", "%s", text);
	/* root's supplementary groups are gone */
	cr_expect_str_eq(line_value(text, "groups"), "65534", "%s", text);
	free(text);
	kill_and_reap(&res);
	spec_free(spec);
	remove_tmpdir(dir);
}

BOTH_PATHS(unknown_uid_without_group)
{
	struct child_spec *spec = make_worker((const char *[]){TESTCHILD, "sleep", NULL});

	/* No passwd entry, so no primary group to give the worker. */
	spec->worker.has_uid = true;
	spec->worker.uid = 54321;
	expect_failure(spec, -ENOENT, "user:ENOENT");
	spec_free(spec);
}

/* ---- the worker cannot outlive the process that spawned it ---- */

static int death_pipe[2], go_pipe[2];
static bool death_as_nobody;

static void
spawn_then_die(void)
{
	struct child_spec *spec = spec_new(NODE_WORKER);
	struct spawn_result res;
	char err[64];
	char *argv[] = {(char *)TESTCHILD, (char *)"sleep", NULL};
	char go;

	if (!spec)
		_exit(10);
	spec->worker.argv = argv;
	spec->worker.argc = 2;
	if (death_as_nobody) {
		spec->worker.has_uid = spec->worker.has_gid = true;
		spec->worker.uid = spec->worker.gid = NOBODY;
	}
	if (spawn_worker(spec, NULL, &res, err, sizeof(err)) < 0)
		_exit(11);
	if (write(death_pipe[1], &res.pid, sizeof(res.pid)) != sizeof(res.pid))
		_exit(12);
	/* Stay alive until the test holds a pidfd for the worker. */
	if (read(go_pipe[0], &go, 1) != 1)
		_exit(13);
	_exit(0);
}

static void
check_parent_death(bool as_nobody)
{
	struct pollfd pfd;
	siginfo_t si;
	pid_t worker;
	int worker_fd, middle_status;
	bool died;

	/* Orphans come back to us, so the worker can be reaped here. */
	cr_assert_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	cr_assert_eq(pipe2(death_pipe, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go_pipe, O_CLOEXEC), 0);
	death_as_nobody = as_nobody;

	fflush(NULL);
	pid_t middle = fork();
	cr_assert_geq(middle, 0);
	if (middle == 0)
		spawn_then_die();
	int middle_fd = pidfd_open(middle, 0);
	cr_assert_geq(middle_fd, 0);

	pfd = (struct pollfd){.fd = death_pipe[0], .events = POLLIN};
	cr_assert_eq(poll(&pfd, 1, DEADLINE_MS), 1, "no pid from the intermediate process");
	cr_assert_eq(read(death_pipe[0], &worker, sizeof(worker)), (ssize_t)sizeof(worker),
		     "intermediate failed");
	worker_fd = pidfd_open(worker, 0);
	cr_assert_geq(worker_fd, 0, "worker %d already gone: %s", (int)worker, strerror(errno));
	cr_assert_eq(write(go_pipe[1], "g", 1), 1);

	cr_assert(wait_exit(middle_fd, DEADLINE_MS, &si), "intermediate did not exit");
	middle_status = si.si_status;
	cr_assert_eq(si.si_code, CLD_EXITED);
	cr_assert_eq(middle_status, 0);

	died = wait_exit(worker_fd, DEADLINE_MS, &si);
	if (!died) {
		/* Do not leave it behind (it holds the test runner's pipes). */
		pidfd_send_signal(worker_fd, SIGKILL, NULL, 0);
		wait_exit(worker_fd, DEADLINE_MS, &si);
	}
	cr_assert(died, "worker survived its parent");
	cr_expect_eq(si.si_pid, worker);
	cr_expect_eq(si.si_code, CLD_KILLED);
	cr_expect_eq(si.si_status, SIGKILL);
	close(worker_fd);
	close(middle_fd);
	assert_no_children();
}

BOTH_PATHS(dies_with_its_parent)
{
	check_parent_death(false);
}

/* The kernel clears the parent-death signal on a uid change: it must be set
 * after setuid. */
BOTH_PATHS(dies_with_its_parent_after_setuid)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	check_parent_death(true);
}

/* ---- misuse ---- */

Test(spawn, rejects_non_worker)
{
	struct child_spec *spec = spec_new(NODE_SUPERVISOR);
	struct spawn_result res;
	char err[64] = "";

	cr_assert(spec);
	cr_expect_eq(spawn_worker(spec, NULL, &res, err, sizeof(err)), -EINVAL);
	cr_expect_str_eq(err, "spawn:EINVAL");
	spec_free(spec);
}
