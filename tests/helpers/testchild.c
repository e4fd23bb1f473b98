/*
 * testchild.c - a worker with scripted behaviour, for the tests.
 *
 * The unit and integration tests supervise this program instead of real
 * services: each mode is one behaviour a supervisor must handle. It prints
 * nothing unless a mode or option says so, and flushes what it prints. It
 * never touches its signal dispositions or mask unless the mode says so,
 * so "wait forever" modes die on SIGTERM exactly when their spawner gave
 * them default dispositions, and it never sets a parent-death signal of its
 * own (dying with supd is supd's job).
 *
 *   exit CODE [--after MS]      exit with CODE, after MS ms if given
 *   kill SIGNAME [--after MS]   reset SIGNAME to SIG_DFL, unblock it and raise
 *                               it (exit 1 if the process survives)
 *   sleep                       wait forever
 *   ignore-term                 ignore SIGTERM, wait forever
 *   term-exit CODE              exit with CODE on SIGTERM, wait forever
 *   orphans N [--code C] [--exit] [--print]
 *                               create N orphans: each of N children forks a
 *                               grandchild (in a session of its own, as a
 *                               daemon) and exits at once; a grandchild
 *                               waits until its parent is gone (it has been
 *                               reparented to the nearest subreaper or PID 1)
 *                               and exits with C (default 42). --print writes
 *                               "orphans PID1 PID2 ...\n" (the grandchildren)
 *                               on stdout; then wait forever, or exit 0 with
 *                               --exit
 *   sigstate FILE               write FILE (FILE.tmp, then rename) with the
 *                               SigBlk, SigIgn and SigCgt lines of
 *                               /proc/self/status, "fds: 0 1 2" (the open
 *                               descriptors), "sid: N", "pgid: N", "pid: N",
 *                               "ppid: N", "uid: N", "gid: N", "groups: G..."
 *                               and "cwd: PATH"; then wait forever
 *   notify [--delay MS] [--never] [--status TEXT] [--when FILE]
 *          [--from-child]       send READY=1 (and STATUS=TEXT) to
 *                               $NOTIFY_SOCKET after MS ms (exit 1 if it
 *                               cannot), then wait forever; with --never,
 *                               send no READY=1 (only STATUS, if given);
 *                               --when: only once FILE exists (checked
 *                               every 10 ms); --from-child: a child forked
 *                               for it sends the message (not the worker's
 *                               own pid), then both wait forever
 *   stamp FILE                  append "<pid> <CLOCK_MONOTONIC ns>\n" to FILE
 *                               in one O_APPEND write, then wait forever
 *   env FILE                    write the environment, one entry per line,
 *                               to FILE (FILE.tmp, then rename), then wait
 *                               forever
 *
 * Relative FILE names are relative to the working directory the child was
 * given. Usage errors exit 64, other failures exit 1, with a message on
 * stderr.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#define EXIT_USAGE 64

static const char usage_text[] =
	"usage: testchild MODE [ARGS...]\n"
	"  exit CODE [--after MS]       exit with CODE (after MS ms)\n"
	"  kill SIGNAME [--after MS]    raise SIGNAME with its default disposition\n"
	"  sleep                        wait forever\n"
	"  ignore-term                  ignore SIGTERM, wait forever\n"
	"  term-exit CODE               exit with CODE on SIGTERM\n"
	"  orphans N [--code C] [--exit] [--print]\n"
	"                               leave N grandchildren that exit with C (42)\n"
	"                               once reparented; --print their pids\n"
	"  sigstate FILE                write signal state, fds, ids and cwd to FILE\n"
	"  notify [--delay MS] [--never] [--status TEXT] [--when FILE] [--from-child]\n"
	"                               send READY=1 to $NOTIFY_SOCKET\n"
	"  stamp FILE                   append \"<pid> <monotonic ns>\" to FILE\n"
	"  env FILE                     write the environment to FILE\n"
	"Every mode that waits forever keeps the signal dispositions it was given.\n";

extern char **environ;

static _Noreturn void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("testchild: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	fputs(usage_text, stderr);
	exit(EXIT_USAGE);
}

static _Noreturn void
die(const char *what)
{
	fprintf(stderr, "testchild: %s: %s\n", what, strerror(errno));
	exit(1);
}

static long
parse_number(const char *text, const char *what, long max)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < 0 || value > max)
		usage_error("invalid %s: '%s'", what, text);
	return value;
}

static int
parse_signal(const char *text)
{
	const char *name = text;

	if (text[0] >= '0' && text[0] <= '9')
		return (int)parse_number(text, "signal", NSIG - 1);
	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (int sig = 1; sig < NSIG; sig++) {
		const char *abbrev = sigabbrev_np(sig);
		if (abbrev && strcmp(abbrev, name) == 0)
			return sig;
	}
	usage_error("unknown signal '%s'", text);
}

/* A program's own delay, measured against a monotonic deadline so that a
 * signal cannot stretch it. */
static void
sleep_ms(long ms)
{
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
		;
}

static _Noreturn void
wait_forever(void)
{
	for (;;)
		pause();
}

static void
write_all(int fd, const char *buf, size_t len, const char *what)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(what);
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Readers wait for FILE to appear: it appears complete or not at all. */
static void
write_file_atomically(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		usage_error("file name too long: '%s'", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die(tmp);
	write_all(fd, buf, len, tmp);
	if (close(fd) < 0)
		die(tmp);
	if (rename(tmp, path) < 0)
		die(path);
}

/* Parses "--after MS" (or another option with a millisecond value) as the
 * only optional argument of a mode. */
static long
parse_after(int argc, char **argv, int first)
{
	long ms = 0;

	for (int i = first; i < argc; i++) {
		if (strcmp(argv[i], "--after") == 0 && i + 1 < argc)
			ms = parse_number(argv[++i], "milliseconds", INT_MAX);
		else
			usage_error("unexpected argument '%s'", argv[i]);
	}
	return ms;
}

static int
mode_exit(int argc, char **argv)
{
	int code;

	if (argc < 3)
		usage_error("exit needs a CODE");
	code = (int)parse_number(argv[2], "exit code", 255);
	sleep_ms(parse_after(argc, argv, 3));
	return code;
}

static int
mode_kill(int argc, char **argv)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t set;
	int sig;

	if (argc < 3)
		usage_error("kill needs a SIGNAME");
	sig = parse_signal(argv[2]);
	sleep_ms(parse_after(argc, argv, 3));
	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	fprintf(stderr, "testchild: survived %s\n", argv[2]);
	return 1;
}

static int term_exit_code;

static void
on_term_exit(int sig)
{
	(void)sig;
	_exit(term_exit_code);
}

static int
mode_term_exit(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_term_exit};
	sigset_t set;

	if (argc != 3)
		usage_error("term-exit needs a CODE");
	term_exit_code = (int)parse_number(argv[2], "exit code", 255);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0)
		die("sigaction");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	wait_forever();
}

static int
mode_ignore_term(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		usage_error("ignore-term takes no arguments");
	if (signal(SIGTERM, SIG_IGN) == SIG_ERR)
		die("signal");
	wait_forever();
}

/* In a grandchild: exits with code once `parent` is no longer our parent,
 * i.e. once we have been reparented. Waits on a pidfd, not by polling. */
static _Noreturn void
orphan_wait(pid_t parent, int code)
{
	int pidfd = -1;

	for (;;) {
		struct pollfd pfd;

		if (getppid() != parent)
			_exit(code);
		if (pidfd < 0) {
			/* Checked again above: if getppid() still names
			 * `parent` after this, the pidfd is our parent's. */
			pidfd = pidfd_open(parent, 0);
			if (pidfd < 0 && errno != ESRCH)
				_exit(1);
			continue;
		}
		pfd.fd = pidfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			_exit(1);
	}
}

static int
mode_orphans(int argc, char **argv)
{
	bool print = false, exit_after = false;
	int code = 42, pipefd[2];
	long n;
	pid_t *orphans;

	if (argc < 3)
		usage_error("orphans needs N");
	n = parse_number(argv[2], "count", 10000);
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--code") == 0 && i + 1 < argc)
			code = (int)parse_number(argv[++i], "exit code", 255);
		else if (strcmp(argv[i], "--exit") == 0)
			exit_after = true;
		else if (strcmp(argv[i], "--print") == 0)
			print = true;
		else
			usage_error("unexpected argument '%s'", argv[i]);
	}
	orphans = calloc((size_t)n + 1, sizeof(*orphans));
	if (!orphans)
		die("calloc");
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		die("pipe2");
	fflush(NULL);

	for (long i = 0; i < n; i++) {
		pid_t middle = fork();

		if (middle < 0)
			die("fork");
		if (middle == 0) {
			pid_t self = getpid();
			pid_t grandchild = fork();

			if (grandchild == 0) {
				/* Its own session, as a daemon's: it must not go
				 * with the worker's process group. It reports its
				 * pid only once it is there, so the worker exits
				 * after every orphan has left its group. */
				pid_t me = getpid();

				if (setsid() < 0 || write(pipefd[1], &me, sizeof(me)) != sizeof(me))
					_exit(1);
				close(pipefd[0]);
				close(pipefd[1]);
				orphan_wait(self, code);
			}
			_exit(grandchild < 0 ? 1 : 0);
		}
	}
	close(pipefd[1]);
	for (long i = 0; i < n; i++) {
		ssize_t got;

		do
			got = read(pipefd[0], &orphans[i], sizeof(orphans[i]));
		while (got < 0 && errno == EINTR);
		if (got != sizeof(orphans[i])) {
			fprintf(stderr, "testchild: an intermediate child failed\n");
			return 1;
		}
	}
	close(pipefd[0]);
	/* The intermediate children are ours to reap; only the grandchildren
	 * are meant to be orphans. */
	for (long i = 0; i < n; i++) {
		int status;

		if (wait(&status) < 0)
			die("wait");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "testchild: an intermediate child failed\n");
			return 1;
		}
	}
	if (print) {
		printf("orphans");
		for (long i = 0; i < n; i++)
			printf(" %d", (int)orphans[i]);
		printf("\n");
		fflush(stdout);
	}
	free(orphans);
	if (exit_after)
		return 0;
	wait_forever();
}

struct text {
	char buf[16384];
	size_t len;
};

static void __attribute__((format(printf, 2, 3))) text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, sizeof(t->buf) - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(t->buf) - t->len) {
		fprintf(stderr, "testchild: report too long\n");
		exit(1);
	}
	t->len += (size_t)n;
}

static int
mode_sigstate(int argc, char **argv)
{
	static struct text t;
	char line[512], cwd[PATH_MAX];
	gid_t groups[256];
	struct dirent *entry;
	FILE *status;
	DIR *dir;
	int ngroups;

	if (argc != 3)
		usage_error("sigstate needs a FILE");
	status = fopen("/proc/self/status", "re");
	if (!status)
		die("/proc/self/status");
	while (fgets(line, sizeof(line), status))
		if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0 ||
		    strncmp(line, "SigCgt:", 7) == 0)
			text_add(&t, "%s", line);
	fclose(status);

	dir = opendir("/proc/self/fd");
	if (!dir)
		die("/proc/self/fd");
	text_add(&t, "fds:");
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		if (atoi(entry->d_name) == dirfd(dir))
			continue;
		text_add(&t, " %s", entry->d_name);
	}
	closedir(dir);
	text_add(&t, "\n");

	text_add(&t, "sid: %d\npgid: %d\npid: %d\nppid: %d\n", (int)getsid(0), (int)getpgrp(),
		 (int)getpid(), (int)getppid());
	text_add(&t, "uid: %u\ngid: %u\ngroups:", (unsigned)getuid(), (unsigned)getgid());
	ngroups = getgroups((int)(sizeof(groups) / sizeof(groups[0])), groups);
	if (ngroups < 0)
		die("getgroups");
	for (int i = 0; i < ngroups; i++)
		text_add(&t, " %u", (unsigned)groups[i]);
	if (!getcwd(cwd, sizeof(cwd)))
		die("getcwd");
	text_add(&t, "\ncwd: %s\n", cwd);

	write_file_atomically(argv[2], t.buf, t.len);
	wait_forever();
}

static int
mode_notify(int argc, char **argv)
{
	const char *status = NULL, *when = NULL;
	bool never = false, from_child = false;
	long delay = 0;
	char message[4096];
	int r;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc)
			delay = parse_number(argv[++i], "milliseconds", INT_MAX);
		else if (strcmp(argv[i], "--never") == 0)
			never = true;
		else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc)
			status = argv[++i];
		else if (strcmp(argv[i], "--when") == 0 && i + 1 < argc)
			when = argv[++i];
		else if (strcmp(argv[i], "--from-child") == 0)
			from_child = true;
		else
			usage_error("unexpected argument '%s'", argv[i]);
	}
	if (never && !status)
		wait_forever();
	sleep_ms(delay);
	while (when && access(when, F_OK) < 0)
		sleep_ms(10);
	if (from_child) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid > 0)
			wait_forever();
	}
	snprintf(message, sizeof(message), "%s%s%s", never ? "" : "READY=1\n",
		 status ? "STATUS=" : "", status ? status : "");
	r = sd_notify(0, message);
	if (r < 0) {
		errno = -r;
		die("sd_notify");
	}
	if (r == 0) {
		fprintf(stderr, "testchild: NOTIFY_SOCKET is not set\n");
		return 1;
	}
	wait_forever();
}

static int
mode_stamp(int argc, char **argv)
{
	struct timespec now;
	char line[64];
	int fd, len;

	if (argc != 3)
		usage_error("stamp needs a FILE");
	clock_gettime(CLOCK_MONOTONIC, &now);
	len = snprintf(line, sizeof(line), "%d %lld\n", (int)getpid(),
		       (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
	fd = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die(argv[2]);
	/* One write, so that concurrent writers never interleave a line. */
	if (write(fd, line, (size_t)len) != len)
		die(argv[2]);
	close(fd);
	wait_forever();
}

static int
mode_env(int argc, char **argv)
{
	size_t len = 0;
	char *buf, *p;

	if (argc != 3)
		usage_error("env needs a FILE");
	for (char **e = environ; *e; e++)
		len += strlen(*e) + 1;
	buf = malloc(len + 1);
	if (!buf)
		die("malloc");
	p = buf;
	for (char **e = environ; *e; e++) {
		p = stpcpy(p, *e);
		*p++ = '\n';
	}
	write_file_atomically(argv[2], buf, len);
	free(buf);
	wait_forever();
}

static int
mode_sleep(int argc, char **argv)
{
	(void)argv;
	if (argc != 2)
		usage_error("sleep takes no arguments");
	wait_forever();
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} modes[] = {
		{"exit", mode_exit},           {"kill", mode_kill},
		{"sleep", mode_sleep},         {"ignore-term", mode_ignore_term},
		{"term-exit", mode_term_exit}, {"orphans", mode_orphans},
		{"sigstate", mode_sigstate},   {"notify", mode_notify},
		{"stamp", mode_stamp},         {"env", mode_env},
	};

	if (argc < 2)
		usage_error("a MODE is needed");
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, stdout);
		fflush(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[1], modes[i].name) == 0)
			return modes[i].run(argc, argv);
	usage_error("unknown mode '%s'", argv[1]);
}
