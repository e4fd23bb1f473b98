/*
 * harness.c - starts the real supd, reads its event stream, waits with
 * deadlines, and cleans up after every test (see harness.h).
 *
 * It runs inside criterion's test process, so it may assert; it never forks
 * (posix_spawn only), because an assertion in a forked copy of a criterion
 * worker hangs the whole suite (shared/notes/platform.md section 4).
 *
 * Process layout, normal mode:
 *   test --posix_spawn--> setpriv --pdeathsig KILL [WRAPPER...] supd ...
 * and as PID 1:
 *   test --posix_spawn--> setpriv --pdeathsig KILL unshare --pid --fork
 *                         --mount-proc --kill-child [WRAPPER...] supd ...
 * setpriv execs in place, so the spawned pid is supd (or unshare). Its
 * parent-death signal means that even a test killed by criterion's timeout
 * takes supd down, and supd's workers die with it (their own parent-death
 * signal) or with its PID namespace.
 *
 * The events FIFO is opened for reading before supd starts (supd opens it
 * O_WRONLY|O_NONBLOCK, which fails without a reader) and enlarged to 1 MiB,
 * so that supd never has to drop events while a test is busy elsewhere.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "harness.h"

extern char **environ;

#define MAX_HARNESSES 8

static struct harness *active[MAX_HARNESSES];

/* ---- small utilities ---- */

uint64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static const char *
wrapper(void)
{
	const char *w = getenv("SUPD_WRAPPER");

	return w && *w ? w : NULL;
}

int
h_slow(void)
{
	return wrapper() ? 10 : 1;
}

static const char *
need_env(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v && *v, "%s is not set (run the tests through meson test)", name);
	return v;
}

const char *
h_supd_bin(void)
{
	return need_env("SUPD_BIN");
}

const char *
h_testchild(void)
{
	return need_env("TESTCHILD");
}

/* text with every @TESTCHILD@ and @DIR@ replaced; malloc'd. */
static char *
substitute(const char *text, const char *dir)
{
	const char *tc = h_testchild();
	size_t cap = strlen(text) + 1, len = 0;
	char *out;

	for (const char *p = text; (p = strchr(p, '@')); p++)
		cap += strlen(tc) + strlen(dir);
	out = malloc(cap);
	cr_assert(out);
	for (const char *p = text; *p;) {
		const char *rep = NULL;
		size_t skip = 0;

		if (strncmp(p, "@TESTCHILD@", 11) == 0)
			rep = tc, skip = 11;
		else if (strncmp(p, "@DIR@", 5) == 0)
			rep = dir, skip = 5;
		if (rep) {
			memcpy(out + len, rep, strlen(rep));
			len += strlen(rep);
			p += skip;
		} else {
			out[len++] = *p++;
		}
	}
	out[len] = '\0';
	return out;
}

const char *
h_path(struct harness *h, const char *name)
{
	static char bufs[4][512];
	static int next;
	char *b = bufs[next++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", h->dir, name);
	return b;
}

char *
h_read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap);
			cr_assert(buf);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert(f, "cannot create %s: %s", path, strerror(errno));
	cr_assert(fputs(text, f) >= 0 && fclose(f) == 0, "cannot write %s", path);
}

/* ---- diagnostics: what a failure message shows ---- */

/* The last events and the tail of supd's log, for failure messages. */
const char *
h_context(struct harness *h)
{
	static char buf[6144];
	size_t n = 0, nev = h->events ? json_array_size(h->events) : 0;
	char *log = h_read_file(h_path(h, "supd.log"));
	const char *tail = log ? log : "";
	int lines = 0;

	n += snprintf(buf + n, sizeof(buf) - n, "\n--- last events (of %zu):\n", nev);
	for (size_t i = nev > 12 ? nev - 12 : 0; i < nev && n < sizeof(buf) - 512; i++) {
		char *s = json_dumps(json_array_get(h->events, i), JSON_COMPACT);
		n += snprintf(buf + n, sizeof(buf) - n, "  [%zu] %s\n", i, s ? s : "?");
		free(s);
	}
	for (const char *p = tail + strlen(tail); p > tail; p--)
		if (p[-1] == '\n' && ++lines > 20) {
			tail = p;
			break;
		}
	if (strlen(tail) > 3000)
		tail += strlen(tail) - 3000;
	snprintf(buf + n, sizeof(buf) - n, "--- supd stderr (tail):\n%s", tail);
	free(log);
	return buf;
}

#define h_fail(h, ...)                                                                             \
	do {                                                                                       \
		char msg_[512];                                                                    \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                         \
		cr_assert(false, "%s%s", msg_, h_context(h));                                      \
	} while (0)

void
h_report(const char *fmt, ...)
{
	const char *path = getenv("SUPD_ITEST_REPORT");
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cr_log_info("%s", line);
	if (path && *path) {
		FILE *f = fopen(path, "ae");
		if (f) {
			fprintf(f, "%s\n", line);
			fclose(f);
		}
	}
}

/* ---- starting supd ---- */

struct strv {
	char **v;
	size_t n, cap;
};

static void
strv_add(struct strv *s, const char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = realloc(s->v, s->cap * sizeof(char *));
		cr_assert(s->v);
	}
	s->v[s->n] = str ? strdup(str) : NULL;
	cr_assert(!str || s->v[s->n]);
	s->n++;
	s->v[s->n] = NULL;
}

static void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Splits the wrapper command line on blanks (no quoting). */
static void
add_wrapper(struct strv *argv, const char *dir)
{
	char *w = substitute(wrapper(), dir), *save = NULL;

	for (char *tok = strtok_r(w, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
		strv_add(argv, tok);
	free(w);
}

static bool
env_overridden(const char *entry, const char *const *extra)
{
	size_t len = strcspn(entry, "=");

	for (; extra && *extra; extra++)
		if (strncmp(*extra, entry, len) == 0 && (*extra)[len] == '=')
			return true;
	return false;
}

static pid_t
spawn(char *const argv[], char *const envp[], const char *out, const char *err, const int *ignore)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	pid_t pid;
	int r;

	sigemptyset(&none);
	sigfillset(&all);
	/* posix_spawn keeps an ignored disposition for a signal outside the
	 * default set: this is how the program inherits them. */
	for (const int *sig = ignore; sig && *sig; sig++) {
		sigdelset(&all, *sig);
		signal(*sig, SIG_IGN);
	}
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, out ? out : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null",
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	r = posix_spawn(&pid, argv[0], &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	for (const int *sig = ignore; sig && *sig; sig++)
		signal(*sig, SIG_DFL);
	cr_assert(r == 0, "cannot spawn %s: %s", argv[0], strerror(r));
	return pid;
}

static void
register_harness(struct harness *h)
{
	for (size_t i = 0; i < MAX_HARNESSES; i++)
		if (!active[i]) {
			active[i] = h;
			return;
		}
	cr_assert(false, "too many supd instances in one test");
}

struct harness *
h_start_yaml(const char *yaml, bool pid1)
{
	return h_start(&(struct h_opts){.yaml = yaml, .pid1 = pid1});
}

struct harness *
h_start(const struct h_opts *o)
{
	struct harness *h = calloc(1, sizeof(*h));
	struct strv argv = {0}, envp = {0};
	const char *setpriv = "/usr/bin/setpriv";

	cr_assert(h);
	h->events_fd = h->pidfd = -1;
	h->pid1 = o->pid1;
	h->wrapped = wrapper() != NULL;
	h->events = json_array();
	snprintf(h->dir, sizeof(h->dir), "/tmp/supd-itest.XXXXXX");
	cr_assert(mkdtemp(h->dir), "mkdtemp: %s", strerror(errno));
	register_harness(h);

	snprintf(h->events_path, sizeof(h->events_path), "%s/events", h->dir);
	cr_assert(mkfifo(h->events_path, 0600) == 0, "mkfifo: %s", strerror(errno));
	h->events_fd = open(h->events_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	cr_assert(h->events_fd >= 0, "open %s: %s", h->events_path, strerror(errno));
	/* Room for thousands of events while the test looks elsewhere; a
	 * failure only makes drops (and a failing test) more likely. */
	fcntl(h->events_fd, F_SETPIPE_SZ, 1 << 20);

	if (access(setpriv, X_OK) == 0) {
		strv_add(&argv, setpriv);
		strv_add(&argv, "--pdeathsig");
		strv_add(&argv, "KILL");
	}
	if (o->pid1) {
		strv_add(&argv, "/usr/bin/unshare");
		if (geteuid() != 0)
			strv_add(&argv, "-r");
		strv_add(&argv, "--pid");
		strv_add(&argv, "--fork");
		strv_add(&argv, "--mount-proc");
		strv_add(&argv, "--kill-child");
	}
	if (h->wrapped)
		add_wrapper(&argv, h->dir);
	strv_add(&argv, h_supd_bin());
	strv_add(&argv, "--events");
	strv_add(&argv, h->events_path);
	if (o->control) {
		strv_add(&argv, "-s");
		strv_add(&argv, h_path(h, "supd.sock"));
	} else {
		strv_add(&argv, "--no-control");
	}
	for (const char *const *a = o->args; a && *a; a++) {
		char *s = substitute(*a, h->dir);
		strv_add(&argv, s);
		free(s);
	}
	/* files the config names, in place before supd reads it */
	for (const char *const *f = o->files; f && f[0] && f[1]; f += 2) {
		char *text = substitute(f[1], h->dir);
		write_file(h_path(h, f[0]), text);
		free(text);
	}
	if (o->yaml) {
		char *yaml = substitute(o->yaml, h->dir);
		write_file(h_path(h, "supd.yaml"), yaml);
		free(yaml);
		strv_add(&argv, "-c");
		strv_add(&argv, h_path(h, "supd.yaml"));
	} else {
		cr_assert(o->argv && o->argv[0], "h_start needs yaml or argv");
		strv_add(&argv, "--");
		for (const char *const *a = o->argv; *a; a++) {
			char *s = substitute(*a, h->dir);
			strv_add(&argv, s);
			free(s);
		}
	}

	for (char **e = environ; *e; e++)
		if (!env_overridden(*e, o->env))
			strv_add(&envp, *e);
	for (const char *const *e = o->env; e && *e; e++) {
		char *s = substitute(*e, h->dir);
		strv_add(&envp, s);
		free(s);
	}

	/* A worker killed by SIGSEGV on purpose needs no core file. */
	setrlimit(RLIMIT_CORE, &(struct rlimit){0, 0});
	h->started_ns = now_ns();
	h->pid = spawn(argv.v, envp.v, h_path(h, "supd.out"), h_path(h, "supd.log"), o->ignore);
	h->supd = o->pid1 ? 0 : h->pid;
	h->pidfd = pidfd_open(h->pid, 0);
	cr_assert(h->pidfd >= 0, "pidfd_open: %s", strerror(errno));
	strv_free(&argv);
	strv_free(&envp);
	return h;
}

/* ---- the event stream ---- */

static void
alive_add(struct harness *h, pid_t pid)
{
	if (h->nalive == h->alive_cap) {
		h->alive_cap = h->alive_cap ? h->alive_cap * 2 : 16;
		h->alive = realloc(h->alive, h->alive_cap * sizeof(pid_t));
		cr_assert(h->alive);
	}
	h->alive[h->nalive++] = pid;
}

static void
alive_remove(struct harness *h, pid_t pid)
{
	for (size_t i = 0; i < h->nalive; i++)
		if (h->alive[i] == pid) {
			h->alive[i] = h->alive[--h->nalive];
			return;
		}
}

static void
take_line(struct harness *h, const char *line)
{
	json_error_t err;
	json_t *ev = json_loads(line, 0, &err);
	const char *name;

	if (!ev || !json_is_object(ev))
		h_fail(h, "malformed event line: '%.300s' (%.100s)", line, err.text);
	name = ev_str(ev, "event");
	if (!name || !ev_str(ev, "ts") || !ev_str(ev, "path"))
		h_fail(h, "event without event/ts/path: '%.300s'", line);
	/* In a PID namespace the pids are not ours: nothing to kill there,
	 * the namespace dies with supd. */
	if (!h->pid1 && strcmp(name, "child_started") == 0)
		alive_add(h, (pid_t)ev_int(ev, "pid"));
	else if (!h->pid1 && strcmp(name, "child_exited") == 0)
		alive_remove(h, (pid_t)ev_int(ev, "pid"));
	json_array_append_new(h->events, ev);
}

/* Reads what the FIFO holds; returns the number of new events. */
static size_t
read_events(struct harness *h)
{
	size_t before = json_array_size(h->events);

	while (!h->events_eof) {
		ssize_t n = read(h->events_fd, h->partial + h->partial_len,
				 sizeof(h->partial) - 1 - h->partial_len);
		char *start, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			h->events_eof = true;
			break;
		}
		h->partial_len += (size_t)n;
		h->partial[h->partial_len] = '\0';
		start = h->partial;
		while ((nl = strchr(start, '\n'))) {
			*nl = '\0';
			take_line(h, start);
			start = nl + 1;
		}
		h->partial_len -= (size_t)(start - h->partial);
		memmove(h->partial, start, h->partial_len);
		if (h->partial_len == sizeof(h->partial) - 1)
			h_fail(h, "an event line longer than %zu bytes", sizeof(h->partial));
	}
	return json_array_size(h->events) - before;
}

static bool
process_gone(struct harness *h)
{
	struct pollfd p = {.fd = h->pidfd, .events = POLLIN};

	return h->reaped || (h->pidfd >= 0 && poll(&p, 1, 0) == 1);
}

/* Waits until new events arrive, the stream ends or the deadline passes.
 * Returns false when nothing more can come. */
static bool
pump(struct harness *h, uint64_t deadline_ms)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = h->events_eof ? -1 : h->events_fd, .events = POLLIN},
				      {.fd = h->reaped ? -1 : h->pidfd, .events = POLLIN}};
		uint64_t now = h_now_ms();
		int r;

		if (h->events_eof)
			return false;
		if (now >= deadline_ms)
			return true;
		r = poll(p, 2, (int)(deadline_ms - now));
		if (r < 0 && errno != EINTR)
			h_fail(h, "poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		if (p[0].revents && read_events(h) > 0)
			return true;
		if (p[1].revents || h->reaped) {
			/* supd (or unshare) is gone: whatever is in the
			 * FIFO now is all there will be. */
			read_events(h);
			h->events_eof = true;
			return false;
		}
	}
}

static bool
matches(json_t *ev, const char *pattern)
{
	char buf[256], *save = NULL;
	const char *want[3] = {NULL, NULL, NULL};
	const char *keys[3] = {"event", "path", "reason"};
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", pattern);
	for (char *t = strtok_r(buf, " ", &save); t && n < 3; t = strtok_r(NULL, " ", &save))
		want[n++] = t;
	for (int i = 0; i < n; i++) {
		const char *got = ev_str(ev, keys[i]);
		if (!got || strcmp(got, want[i]) != 0)
			return false;
	}
	return true;
}

static bool
matches_name_path(json_t *ev, const char *event, const char *path)
{
	const char *e = ev_str(ev, "event"), *p = ev_str(ev, "path");

	return e && strcmp(e, event) == 0 && (!path || (p && strcmp(p, path) == 0));
}

json_t *
h_wait_event(struct harness *h, const char *event, const char *path, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();
	size_t i = h->cursor;

	for (;;) {
		for (; i < json_array_size(h->events); i++) {
			json_t *ev = json_array_get(h->events, i);
			if (matches_name_path(ev, event, path)) {
				h->last = i;
				h->cursor = i + 1;
				return ev;
			}
		}
		if (!pump(h, deadline) && i == json_array_size(h->events))
			h_fail(h, "the event stream ended before %s %s", event, path ? path : "");
		if (h_now_ms() >= deadline && i == json_array_size(h->events))
			h_fail(h, "no %s %s within %d ms", event, path ? path : "",
			       timeout_ms * h_slow());
	}
}

void
h_wait_count(struct harness *h, size_t n, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();

	while (json_array_size(h->events) < n) {
		bool more = pump(h, deadline);
		if (json_array_size(h->events) >= n)
			break;
		if (!more)
			h_fail(h, "the event stream ended after %zu events, expected %zu",
			       json_array_size(h->events), n);
		if (h_now_ms() >= deadline)
			h_fail(h, "only %zu events within %d ms, expected %zu",
			       json_array_size(h->events), timeout_ms * h_slow(), n);
	}
}

size_t
h_index(const struct harness *h)
{
	return h->last;
}

json_t *
h_event(const struct harness *h, size_t i)
{
	return json_array_get(h->events, i);
}

size_t
h_nevents(const struct harness *h)
{
	return json_array_size(h->events);
}

long
h_find(const struct harness *h, size_t from, const char *pattern)
{
	for (size_t i = from; i < json_array_size(h->events); i++)
		if (matches(json_array_get(h->events, i), pattern))
			return (long)i;
	return -1;
}

void
h_assert_next(struct harness *h, size_t from, const char *const *expected, size_t n)
{
	h_wait_count(h, from + n, 5000);
	for (size_t i = 0; i < n; i++)
		if (!matches(json_array_get(h->events, from + i), expected[i]))
			h_fail(h, "event [%zu] is not '%s'", from + i, expected[i]);
}

void
h_assert_order(struct harness *h, const char *const *expected, size_t n)
{
	size_t from = 0;

	for (size_t i = 0; i < n; i++) {
		long at = h_find(h, from, expected[i]);
		if (at < 0)
			h_fail(h, "'%s' does not follow '%s' in the events", expected[i],
			       i ? expected[i - 1] : "the start");
		from = (size_t)at + 1;
	}
}

const char *
ev_str(json_t *ev, const char *key)
{
	return json_string_value(json_object_get(ev, key));
}

long long
ev_int(json_t *ev, const char *key)
{
	return json_integer_value(json_object_get(ev, key));
}

int64_t
ev_ts_us(json_t *ev)
{
	const char *ts = ev_str(ev, "ts");
	struct tm tm = {0};
	long usec = 0;
	int n = 0;

	cr_assert(ts, "event without ts");
	cr_assert(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%6ldZ%n", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &usec, &n) == 7 &&
			  n == 27 && ts[n] == '\0',
		  "malformed ts '%s'", ts);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm) * 1000000 + usec;
}

bool
ev_status_code(json_t *ev, int code)
{
	json_t *st = json_object_get(ev, "status");
	json_t *c = json_object_get(st, "code");

	return json_is_object(st) && json_object_size(st) == 1 && json_is_integer(c) &&
	       json_integer_value(c) == code;
}

bool
ev_status_signal(json_t *ev, const char *name)
{
	json_t *st = json_object_get(ev, "status");
	const char *s = json_string_value(json_object_get(st, "signal"));

	return json_is_object(st) && json_object_size(st) == 1 && s && strcmp(s, name) == 0;
}

/* ---- supd's process ---- */

/* The child of unshare: supd itself, in our PID namespace. */
static pid_t
find_pid1(struct harness *h)
{
	uint64_t deadline = h_now_ms() + 5000 * (uint64_t)h_slow();
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", h->pid, h->pid);
	while (h_now_ms() < deadline && !process_gone(h)) {
		char *text = h_read_file(path);
		int pid = text ? atoi(text) : 0;
		struct pollfd p = {.fd = h->pidfd, .events = POLLIN};

		free(text);
		if (pid > 0)
			return pid;
		/* unshare has not forked yet: a bounded wait for it to
		 * exit or fork, re-checked every millisecond. */
		poll(&p, 1, 1);
	}
	h_fail(h, "unshare (pid %d) has no child", h->pid);
	return -1;
}

static pid_t
supd_pid(struct harness *h)
{
	if (!h->supd)
		h->supd = find_pid1(h);
	return h->supd;
}

void
h_signal(struct harness *h, int sig)
{
	pid_t pid = supd_pid(h);

	if (kill(pid, sig) < 0)
		h_fail(h, "kill(%d, %d): %s", pid, sig, strerror(errno));
}

pid_t
h_supd_pid(struct harness *h)
{
	return supd_pid(h);
}

static int
shell_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

static bool
reap(struct harness *h, uint64_t deadline)
{
	while (!h->reaped) {
		struct pollfd p = {.fd = h->pidfd, .events = POLLIN};
		uint64_t now = h_now_ms();
		int r;

		if (now >= deadline)
			return false;
		r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			return false;
		if (r == 1 && waitpid(h->pid, &h->wstatus, WNOHANG) == h->pid)
			h->reaped = true;
	}
	return true;
}

/* Under valgrind: every log file that has a summary must be clean. */
static void
check_valgrind(struct harness *h)
{
	DIR *d = opendir(h->dir);
	struct dirent *e;
	int summaries = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		char *log;
		const char *dl;

		if (strncmp(e->d_name, "vg.", 3) != 0)
			continue;
		log = h_read_file(h_path(h, e->d_name));
		cr_assert(log);
		if (strstr(log, "ERROR SUMMARY:")) {
			summaries++;
			cr_assert(strstr(log, "ERROR SUMMARY: 0 errors"),
				  "valgrind errors in %s:\n%s", e->d_name, log);
		}
		cr_assert(!strstr(log, "Invalid "), "valgrind: invalid access in %s:\n%s",
			  e->d_name, log);
		dl = strstr(log, "definitely lost:");
		cr_assert(!dl || strncmp(dl, "definitely lost: 0 bytes", 24) == 0,
			  "valgrind: definite leak in %s:\n%s", e->d_name, log);
		free(log);
	}
	closedir(d);
	cr_assert(summaries > 0, "no valgrind report in %s", h->dir);
}

int
h_wait_exit(struct harness *h, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();

	/* Keep reading events meanwhile: a full FIFO would cost events. */
	while (!h->events_eof && !process_gone(h) && h_now_ms() < deadline)
		pump(h, deadline);
	if (!reap(h, deadline)) {
		kill(h->pid, SIGKILL);
		reap(h, h_now_ms() + 5000);
		h_fail(h, "supd did not exit within %d ms (killed)", timeout_ms * h_slow());
	}
	read_events(h);
	h->events_eof = true;
	if (h->partial_len)
		h_fail(h, "the event stream ends with an incomplete line");
	if (h->wrapped)
		check_valgrind(h);
	return shell_status(h->wstatus);
}

/* ---- the control socket ---- */

int
h_connect(struct harness *h)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	h_wait_file(h, "supd.sock", 5000);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h_path(h, "supd.sock"));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	H_CHECK(h, fd >= 0, "socket: %s", strerror(errno));
	H_CHECK(h, connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %s",
		sa.sun_path, strerror(errno));
	return fd;
}

void
h_send(struct harness *h, int fd, const char *json)
{
	size_t len = strlen(json);

	H_CHECK(h, write(fd, json, len) == (ssize_t)len && write(fd, "\n", 1) == 1,
		"cannot send %s: %s", json, strerror(errno));
}

json_t *
h_recv(struct harness *h, int fd, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();
	char line[65536];
	size_t n = 0;
	json_error_t err;
	json_t *reply;

	/* One byte at a time: nothing after the line is consumed. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = h_now_ms();
		ssize_t r;

		H_CHECK(h, now < deadline, "no reply within %d ms", timeout_ms * h_slow());
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		r = read(fd, line + n, 1);
		H_CHECK(h, r == 1, "the connection ended before a reply");
		if (line[n] == '\n')
			break;
		H_CHECK(h, ++n < sizeof(line), "reply too long");
	}
	line[n] = '\0';
	reply = json_loads(line, 0, &err);
	H_CHECK(h, reply != NULL, "malformed reply '%.300s': %s", line, err.text);
	return reply;
}

json_t *
h_request(struct harness *h, const char *json, int timeout_ms)
{
	int fd = h_connect(h);
	json_t *reply;

	h_send(h, fd, json);
	reply = h_recv(h, fd, timeout_ms);
	close(fd);
	return reply;
}

void
h_wait_consumed(struct harness *h, int fd, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();
	int unread = 0;

	/* SIOCOUTQ on a Unix stream socket: bytes the peer has not read yet.
	 * Nothing signals the moment it drops to 0, so look again briefly. */
	for (;;) {
		H_CHECK(h, ioctl(fd, SIOCOUTQ, &unread) == 0, "SIOCOUTQ: %s", strerror(errno));
		if (unread == 0)
			return;
		H_CHECK(h, h_now_ms() < deadline, "supd did not read the request within %d ms",
			timeout_ms * h_slow());
		poll(NULL, 0, 1);
	}
}

void
h_wait_log(struct harness *h, const char *needle, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	cr_assert(fd >= 0, "inotify_init1: %s", strerror(errno));
	cr_assert(inotify_add_watch(fd, h->dir, IN_MODIFY | IN_CREATE) >= 0);
	for (;;) {
		char *text = h_read_file(h_path(h, "supd.log"));
		bool found = text && strstr(text, needle);
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[4096];
		uint64_t now = h_now_ms();

		free(text);
		if (found)
			break;
		if (now >= deadline) {
			close(fd);
			h_fail(h, "supd's log did not say '%s' within %d ms", needle,
			       timeout_ms * h_slow());
		}
		if (poll(&p, 1, (int)(deadline - now)) > 0)
			while (read(fd, buf, sizeof(buf)) > 0)
				;
	}
	close(fd);
}

/* ---- files and /proc ---- */

void
h_wait_file(struct harness *h, const char *name, int timeout_ms)
{
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	const char *path = h_path(h, name);
	struct stat st;

	cr_assert(fd >= 0, "inotify_init1: %s", strerror(errno));
	cr_assert(inotify_add_watch(fd, h->dir, IN_CREATE | IN_MOVED_TO) >= 0);
	while (stat(path, &st) < 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		char buf[4096];
		uint64_t now = h_now_ms();

		if (now >= deadline) {
			close(fd);
			h_fail(h, "%s did not appear within %d ms", path, timeout_ms * h_slow());
		}
		if (poll(&p, 1, (int)(deadline - now)) > 0)
			while (read(fd, buf, sizeof(buf)) > 0)
				;
	}
	close(fd);
}

int
h_count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
h_count_zombie_children(pid_t ppid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d))) {
		char path[300], *text, *rp;
		char state = 0;
		int parent = 0;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		text = h_read_file(path);
		if (!text)
			continue; /* gone meanwhile */
		/* "pid (comm) S ppid ...": comm may hold anything, so
		 * parse after the last ')'. */
		rp = strrchr(text, ')');
		if (rp && sscanf(rp + 1, " %c %d", &state, &parent) == 2 && state == 'Z' &&
		    parent == ppid)
			n++;
		free(text);
	}
	closedir(d);
	return n;
}

int
h_run(char *const argv[], const char *out_path, const char *err_path, int timeout_ms)
{
	struct harness tmp = {.pidfd = -1};
	uint64_t deadline = h_now_ms() + (uint64_t)timeout_ms * (uint64_t)h_slow();

	tmp.pid = spawn(argv, environ, out_path, err_path, NULL);
	tmp.pidfd = pidfd_open(tmp.pid, 0);
	cr_assert(tmp.pidfd >= 0, "pidfd_open: %s", strerror(errno));
	if (!reap(&tmp, deadline)) {
		kill(tmp.pid, SIGKILL);
		reap(&tmp, h_now_ms() + 5000);
		close(tmp.pidfd);
		cr_assert(false, "%s did not finish within %d ms", argv[0], timeout_ms * h_slow());
	}
	close(tmp.pidfd);
	return shell_status(tmp.wstatus);
}

/* ---- cleanup ---- */

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* SIGKILL to the process (and its process group, which every worker
 * leads) behind a pidfd, if it still exists. */
static void
kill_pidfd(int fd, pid_t pid)
{
	if (fd >= 0 && pidfd_send_signal(fd, SIGKILL, NULL, 0) == 0)
		kill(-pid, SIGKILL);
}

static void
cleanup(struct harness *h)
{
	int fds[256];
	pid_t pids[256];
	size_t n = 0;

	if (!h->reaped && !h->pid1 && !process_gone(h)) {
		/* Workers have SIGKILL as parent-death signal; this is for a
		 * supd that failed to give it: hold on to its children
		 * (pidfds, while they cannot have been recycled) first. */
		char path[64], *text, *p, *end;

		snprintf(path, sizeof(path), "/proc/%d/task/%d/children", h->pid, h->pid);
		text = h_read_file(path);
		for (p = text; p && n < 256; p = end) {
			long pid = strtol(p, &end, 10);
			if (end == p)
				break;
			pids[n] = (pid_t)pid;
			fds[n++] = pidfd_open((pid_t)pid, 0);
		}
		free(text);
	}
	if (!h->reaped) {
		/* supd, or unshare whose --kill-child takes supd and its
		 * namespace down; supd's process group for any straggler. */
		kill(h->pid, SIGKILL);
		kill(-h->pid, SIGKILL);
		if (h->pid1 && h->supd > 0)
			kill(h->supd, SIGKILL);
		reap(h, h_now_ms() + 5000);
	}
	for (size_t i = 0; i < n; i++) {
		kill_pidfd(fds[i], pids[i]);
		if (fds[i] >= 0)
			close(fds[i]);
	}
	/* Workers the events named and did not see exit, in case supd had
	 * exited already. */
	for (size_t i = 0; i < h->nalive; i++) {
		int fd = pidfd_open(h->alive[i], 0);
		kill_pidfd(fd, h->alive[i]);
		if (fd >= 0)
			close(fd);
	}
	if (h->events_fd >= 0)
		close(h->events_fd);
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (!getenv("SUPD_ITEST_KEEP"))
		nftw(h->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	json_decref(h->events);
	free(h->alive);
	free(h);
}

void
h_cleanup_all(void)
{
	for (size_t i = 0; i < MAX_HARNESSES; i++) {
		if (active[i])
			cleanup(active[i]);
		active[i] = NULL;
	}
}
