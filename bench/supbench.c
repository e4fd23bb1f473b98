/*
 * supbench.c - the timing driver of the benchmark suite.
 *
 * Each subcommand does one timed job and prints plain numbers on stdout for
 * the harness (bench/harness.py) to aggregate; diagnostics go to stderr and
 * a failed measurement exits non-zero. Start times come from the children's
 * own stamp records (stamp.h); the driver only takes the times of the events
 * it causes itself (a kill, a request) or observes directly (a pidfd becoming
 * readable). It speaks supd's control protocol (SPEC section 6, JSON lines)
 * and works the same against every supervisor for the rest. It only signals
 * processes named by a stamp record or on its command line.
 *
 *   supbench restart FILE COUNT MIN_UPTIME_MS GAP_MS
 *   supbench spawn SOCKET SUP FILE N CLIENTS
 *   supbench ctl SOCKET CLIENTS REQUESTS JSON
 *   supbench killtimeout FILE REPS MS raw PID
 *   supbench killtimeout FILE REPS MS supd SOCKET SUP ID
 *   supbench orphans FILE N COUNTER      (COUNTER: a pids.current, or -)
 *   supbench waitsock SOCKET TIMEOUT_MS
 */
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "proc.h"
#include "stamp.h"

#define NS_PER_MS 1000000LL

/* ---- stamp files ------------------------------------------------------ */

struct stampfile {
	int fd;
	int ino;
	off_t off;
};

static int
sf_open(struct stampfile *sf, const char *path)
{
	sf->fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	sf->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	sf->off = 0;
	if (sf->fd < 0 || sf->ino < 0 || inotify_add_watch(sf->ino, path, IN_MODIFY) < 0) {
		fprintf(stderr, "supbench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The next record, waiting until the deadline. Returns 1, or 0 on timeout.
 * The inotify wake-up is backed by a short poll timeout because a record
 * seen half-written has already spent its event. */
static int
sf_next(struct stampfile *sf, struct stamp_rec *rec, int64_t deadline)
{
	char drain[4096];

	for (;;) {
		ssize_t got = pread(sf->fd, rec, sizeof *rec, sf->off);
		int64_t left;

		if (got == (ssize_t)sizeof *rec) {
			sf->off += (off_t)sizeof *rec;
			return 1;
		}
		left = deadline - stamp_now();
		if (left <= 0)
			return 0;
		poll(&(struct pollfd){.fd = sf->ino, .events = POLLIN}, 1,
		     left > 2 * NS_PER_MS ? 2 : 1);
		while (read(sf->ino, drain, sizeof drain) > 0)
			;
	}
}

/* The next record of the given kind (and pid, unless pid is 0). */
static int
sf_next_kind(struct stampfile *sf, struct stamp_rec *rec, int kind, pid_t pid, int64_t deadline)
{
	while (sf_next(sf, rec, deadline))
		if (rec->kind == kind && (pid == 0 || rec->pid == pid))
			return 1;
	return 0;
}

static void
sleep_until(int64_t when)
{
	struct timespec ts = {.tv_sec = when / 1000000000, .tv_nsec = when % 1000000000};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* ---- control socket client ------------------------------------------- */

struct conn {
	int fd;
	char *buf;
	size_t len, cap;
};

static int
conn_open(struct conn *c, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(c, 0, sizeof *c);
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = -errno;

		close(c->fd);
		c->fd = -1;
		return e;
	}
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
}

/* Pops one complete line from the buffer into *line (NUL-terminated, valid
 * until the next call). Returns 1 or 0 when none is complete yet. */
static int
conn_pop_line(struct conn *c, char **line, size_t *consumed)
{
	char *nl = c->buf ? memchr(c->buf + *consumed, '\n', c->len - *consumed) : NULL;

	if (!nl)
		return 0;
	*nl = '\0';
	*line = c->buf + *consumed;
	*consumed = (size_t)(nl - c->buf) + 1;
	return 1;
}

static void
conn_compact(struct conn *c, size_t consumed)
{
	memmove(c->buf, c->buf + consumed, c->len - consumed);
	c->len -= consumed;
}

/* Reads what is available into the buffer. Returns bytes read, 0 on EOF,
 * -EAGAIN when a non-blocking socket has nothing, or -errno. */
static ssize_t
conn_fill(struct conn *c)
{
	ssize_t got;

	if (c->cap - c->len < 65536) {
		size_t cap = c->cap ? c->cap * 2 : 131072;
		char *nb = realloc(c->buf, cap);

		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = cap;
	}
	got = read(c->fd, c->buf + c->len, c->cap - c->len - 1);
	if (got < 0)
		return -errno;
	c->len += (size_t)got;
	return got;
}

/* Blocking: one request line, one reply line. Returns the parsed reply or
 * NULL (connection lost or unparsable). */
static json_t *
conn_call(struct conn *c, const char *req)
{
	size_t n = strlen(req), done = 0, consumed = 0;
	char *line;

	while (done < n) {
		ssize_t w = write(c->fd, req + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return NULL;
		done += (size_t)w;
	}
	while (!conn_pop_line(c, &line, &consumed))
		if (conn_fill(c) <= 0)
			return NULL;
	{
		json_t *reply = json_loads(line, 0, NULL);

		conn_compact(c, consumed);
		return reply;
	}
}

static bool
reply_ok(const json_t *reply)
{
	return reply && json_is_true(json_object_get(reply, "ok"));
}

static const char *
reply_error(const json_t *reply)
{
	const char *e = json_string_value(json_object_get(reply, "error"));

	return e ? e : "unparsable reply";
}

/* ---- restart ---------------------------------------------------------- */

static int
cmd_restart(int argc, char **argv)
{
	struct stampfile sf;
	struct stamp_rec cur, rec;
	unsigned count;
	int64_t min_uptime, gap;

	if (argc != 6)
		return 64;
	count = (unsigned)strtoul(argv[3], NULL, 10);
	min_uptime = strtoll(argv[4], NULL, 10) * NS_PER_MS;
	gap = strtoll(argv[5], NULL, 10) * NS_PER_MS;
	if (sf_open(&sf, argv[2]) < 0)
		return 1;
	if (!sf_next_kind(&sf, &cur, STAMP_START, 0, stamp_now() + 15000 * NS_PER_MS)) {
		fputs("supbench restart: the first child never started\n", stderr);
		return 2;
	}
	srand((unsigned)getpid());
	for (unsigned i = 0; i < count; i++) {
		/* Jitter decorrelates the kills from any periodic work. */
		int64_t jitter = gap ? (int64_t)(rand() % 1000) * gap / 1000 : 0;
		int64_t when = stamp_now() + gap + jitter, t_kill;

		if (when < cur.ns + min_uptime)
			when = cur.ns + min_uptime + jitter;
		sleep_until(when);
		t_kill = stamp_now();
		if (kill(cur.pid, SIGKILL) < 0) {
			fprintf(stderr, "supbench restart: kill %d: %s\n", cur.pid,
				strerror(errno));
			return 2;
		}
		do {
			if (!sf_next_kind(&sf, &rec, STAMP_START, 0, t_kill + 10000 * NS_PER_MS)) {
				fprintf(stderr,
					"supbench restart: no replacement within 10 s (kill %u)\n",
					i + 1);
				return 2;
			}
		} while (rec.pid == cur.pid);
		printf("%lld\n", (long long)(rec.ns - t_kill));
		cur = rec;
	}
	return 0;
}

/* ---- spawn ------------------------------------------------------------ */

struct spawner {
	pthread_t thread;
	pthread_barrier_t *go;
	const char *sock, *sup;
	unsigned first, n;
	unsigned ok, errors;
	int64_t last_reply;
	char error[128];
};

/* Writes all requests while reading replies, so neither side's buffers can
 * fill up and stall the other. */
static void *
spawner_run(void *arg)
{
	struct spawner *s = arg;
	size_t outlen = 0, outcap = (size_t)s->n * 96 + 1, sent = 0;
	char *out = malloc(outcap);
	struct conn c;
	int r = conn_open(&c, s->sock);

	if (r < 0 || !out) {
		snprintf(s->error, sizeof s->error, "connect: %s", strerror(r < 0 ? -r : ENOMEM));
		s->errors = s->n;
		pthread_barrier_wait(s->go);
		free(out);
		return NULL;
	}
	for (unsigned i = 0; i < s->n; i++)
		outlen += (size_t)snprintf(
			out + outlen, outcap - outlen,
			"{\"op\":\"start_child\",\"sup\":\"%s\",\"args\":[\"%u\"]}\n", s->sup,
			(s->first + i) % 65536);
	fcntl(c.fd, F_SETFL, O_NONBLOCK);
	pthread_barrier_wait(s->go);
	while (s->ok + s->errors < s->n) {
		struct pollfd pfd = {.fd = c.fd, .events = POLLIN | (sent < outlen ? POLLOUT : 0)};
		size_t consumed = 0;
		char *line;

		if (poll(&pfd, 1, 30000) <= 0) {
			snprintf(s->error, sizeof s->error, "no reply for 30 s");
			break;
		}
		if (pfd.revents & POLLOUT) {
			ssize_t w = write(c.fd, out + sent, outlen - sent);

			if (w > 0)
				sent += (size_t)w;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = conn_fill(&c);

			if (got == 0 || (got < 0 && got != -EAGAIN)) {
				snprintf(s->error, sizeof s->error, "connection closed");
				break;
			}
		}
		while (conn_pop_line(&c, &line, &consumed)) {
			json_t *reply = json_loads(line, 0, NULL);

			if (reply_ok(reply)) {
				s->ok++;
			} else {
				if (!s->errors)
					snprintf(s->error, sizeof s->error, "%s",
						 reply_error(reply));
				s->errors++;
			}
			json_decref(reply);
		}
		conn_compact(&c, consumed);
	}
	s->last_reply = stamp_now();
	conn_close(&c);
	free(out);
	return NULL;
}

static int
cmd_spawn(int argc, char **argv)
{
	unsigned n, clients, ok = 0, errors = 0, seen = 0;
	struct spawner *sp;
	pthread_barrier_t go;
	struct stampfile sf;
	struct stamp_rec rec;
	int64_t t0, last_reply = 0, last_start = 0, deadline;

	if (argc != 7)
		return 64;
	n = (unsigned)strtoul(argv[5], NULL, 10);
	clients = (unsigned)strtoul(argv[6], NULL, 10);
	if (n == 0 || clients == 0 || clients > n)
		return 64;
	if (sf_open(&sf, argv[4]) < 0)
		return 1;
	sp = calloc(clients, sizeof *sp);
	if (!sp)
		return 70;
	pthread_barrier_init(&go, NULL, clients + 1);
	for (unsigned i = 0, first = 1; i < clients; i++) {
		sp[i] = (struct spawner){.go = &go,
					 .sock = argv[2],
					 .sup = argv[3],
					 .first = first,
					 .n = n / clients + (i < n % clients)};
		first += sp[i].n;
		pthread_create(&sp[i].thread, NULL, spawner_run, &sp[i]);
	}
	t0 = stamp_now();
	pthread_barrier_wait(&go);
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(sp[i].thread, NULL);
		ok += sp[i].ok;
		errors += sp[i].errors;
		if (sp[i].last_reply > last_reply)
			last_reply = sp[i].last_reply;
		if (sp[i].errors)
			fprintf(stderr, "supbench spawn: client %u: %u errors (%s)\n", i,
				sp[i].errors, sp[i].error);
	}
	deadline = stamp_now() + 30000 * NS_PER_MS;
	while (seen < ok && sf_next_kind(&sf, &rec, STAMP_START, 0, deadline)) {
		seen++;
		if (rec.ns > last_start)
			last_start = rec.ns;
	}
	printf("%lld %lld %u %u %u\n", (long long)(last_start - t0), (long long)(last_reply - t0),
	       ok, errors, seen);
	return ok == n && seen == n ? 0 : 2;
}

/* ---- ctl -------------------------------------------------------------- */

struct caller {
	pthread_t thread;
	pthread_barrier_t *go;
	const char *sock, *req;
	unsigned n, done, errors;
	int64_t *lat;
};

static void *
caller_run(void *arg)
{
	struct caller *k = arg;
	struct conn c;
	int r = conn_open(&c, k->sock);

	pthread_barrier_wait(k->go);
	if (r < 0) {
		k->errors = k->n;
		return NULL;
	}
	for (unsigned i = 0; i < k->n; i++) {
		int64_t t = stamp_now();
		json_t *reply = conn_call(&c, k->req);

		k->lat[k->done++] = stamp_now() - t;
		if (!reply_ok(reply))
			k->errors++;
		json_decref(reply);
		if (!reply)
			break;
	}
	conn_close(&c);
	return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int64_t
percentile(const int64_t *sorted, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);

	return n ? sorted[i < n ? i : n - 1] : 0;
}

static int
cmd_ctl(int argc, char **argv)
{
	unsigned clients, per, errors = 0;
	size_t total = 0, reqlen;
	struct caller *ks;
	pthread_barrier_t go;
	int64_t *all;
	char *req;

	if (argc != 6)
		return 64;
	clients = (unsigned)strtoul(argv[3], NULL, 10);
	per = (unsigned)strtoul(argv[4], NULL, 10);
	reqlen = strlen(argv[5]);
	req = malloc(reqlen + 2);
	ks = calloc(clients, sizeof *ks);
	all = calloc((size_t)clients * per + 1, sizeof *all);
	if (!req || !ks || !all || clients == 0 || per == 0)
		return 70;
	memcpy(req, argv[5], reqlen);
	memcpy(req + reqlen, "\n", 2);
	pthread_barrier_init(&go, NULL, clients);
	for (unsigned i = 0; i < clients; i++) {
		ks[i] = (struct caller){.go = &go,
					.sock = argv[2],
					.req = req,
					.n = per,
					.lat = all + (size_t)i * per};
		pthread_create(&ks[i].thread, NULL, caller_run, &ks[i]);
	}
	for (unsigned i = 0; i < clients; i++) {
		pthread_join(ks[i].thread, NULL);
		errors += ks[i].errors;
		/* Compact the samples of clients that stopped early. */
		memmove(all + total, ks[i].lat, ks[i].done * sizeof *all);
		total += ks[i].done;
	}
	qsort(all, total, sizeof *all, cmp_i64);
	printf("%lld %lld %lld %lld %zu %u\n", (long long)percentile(all, total, 0.50),
	       (long long)percentile(all, total, 0.90), (long long)percentile(all, total, 0.99),
	       (long long)(total ? all[total - 1] : 0), total, errors);
	return errors == 0 && total == (size_t)clients * per ? 0 : 2;
}

/* ---- killtimeout ------------------------------------------------------ */

static int
supd_simple(struct conn *c, const char *op, const char *sup, const char *id)
{
	char req[512];
	json_t *reply;
	int ok;

	snprintf(req, sizeof req, "{\"op\":\"%s\",\"sup\":\"%s\",\"id\":\"%s\"}\n", op, sup, id);
	reply = conn_call(c, req);
	ok = reply_ok(reply);
	if (!ok)
		fprintf(stderr, "supbench killtimeout: %s: %s\n", op, reply_error(reply));
	json_decref(reply);
	return ok ? 0 : -1;
}

static int
cmd_killtimeout(int argc, char **argv)
{
	bool raw = argc == 7 && strcmp(argv[5], "raw") == 0;
	struct stampfile sf;
	struct stamp_rec start, term;
	struct conn c = {.fd = -1};
	unsigned reps;
	int64_t ms;
	pid_t raw_pid = 0;

	if (!raw && !(argc == 9 && strcmp(argv[5], "supd") == 0))
		return 64;
	reps = (unsigned)strtoul(argv[3], NULL, 10);
	ms = strtoll(argv[4], NULL, 10);
	if (sf_open(&sf, argv[2]) < 0)
		return 1;
	if (raw) {
		raw_pid = (pid_t)strtol(argv[6], NULL, 10);
	} else if (conn_open(&c, argv[6]) < 0) {
		fprintf(stderr, "supbench killtimeout: cannot connect to %s\n", argv[6]);
		return 2;
	}
	for (unsigned i = 0; i < reps; i++) {
		int64_t deadline = stamp_now() + (ms + 10000) * NS_PER_MS, t_dead;
		int pidfd;

		if (!sf_next_kind(&sf, &start, STAMP_START, 0, deadline)) {
			fputs("supbench killtimeout: the child did not start\n", stderr);
			return 2;
		}
		pidfd = proc_pidfd_open(start.pid);
		if (pidfd < 0)
			return 2;
		sleep_until(stamp_now() + 20 * NS_PER_MS);
		if (raw)
			kill(raw_pid, SIGUSR1);
		else if (dprintf(c.fd,
				 "{\"op\":\"terminate_child\",\"sup\":\"%s\",\"id\":\"%s\"}\n",
				 argv[7], argv[8]) < 0)
			return 2;
		if (!sf_next_kind(&sf, &term, STAMP_TERM, start.pid, deadline)) {
			fputs("supbench killtimeout: the child never got its stop signal\n",
			      stderr);
			return 2;
		}
		if (poll(&(struct pollfd){.fd = pidfd, .events = POLLIN}, 1, (int)ms + 10000) <=
		    0) {
			fputs("supbench killtimeout: the child was not killed\n", stderr);
			return 2;
		}
		t_dead = stamp_now();
		close(pidfd);
		printf("%lld\n", (long long)(t_dead - term.ns - ms * NS_PER_MS));
		fflush(stdout);
		if (!raw) {
			size_t consumed = 0;
			char *line;

			/* The terminate_child reply, then start it again. */
			while (!conn_pop_line(&c, &line, &consumed))
				if (conn_fill(&c) <= 0)
					return 2;
			conn_compact(&c, consumed);
			if (i + 1 < reps && supd_simple(&c, "restart_child", argv[7], argv[8]) < 0)
				return 2;
		}
	}
	conn_close(&c);
	return 0;
}

/* ---- orphans ---------------------------------------------------------- */

/* pids.current of a cgroup, or with "-" the kernel's count of tasks from
 * /proc/loadavg: both count a zombie until it is reaped. */
static long
read_counter(const char *path)
{
	char buf[128];
	long v = -1;
	int fd = open(strcmp(path, "-") ? path : "/proc/loadavg", O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = '\0';
	if (strcmp(path, "-") == 0) {
		char *slash = strchr(buf, '/');

		if (slash)
			v = strtol(slash + 1, NULL, 10);
	} else {
		v = strtol(buf, NULL, 10);
	}
	return v;
}

/* pidfds of every process of the cgroup the counter belongs to, in one
 * epoll set: the orphans are the ones that exit after the release. */
static int
watch_cgroup(const char *counter, int *watched)
{
	char path[4096];
	const char *slash = strrchr(counter, '/');
	FILE *f;
	int ep, pid;

	*watched = 0;
	if (!slash || (size_t)(slash - counter) + 20 > sizeof path)
		return -1;
	snprintf(path, sizeof path, "%.*s/cgroup.procs", (int)(slash - counter), counter);
	f = fopen(path, "re");
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!f || ep < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	while (fscanf(f, "%d", &pid) == 1) {
		int fd = proc_pidfd_open(pid);

		if (fd >= 0 &&
		    epoll_ctl(ep, EPOLL_CTL_ADD, fd,
			      &(struct epoll_event){.events = EPOLLIN, .data.fd = fd}) == 0)
			(*watched)++;
	}
	fclose(f);
	return ep;
}

static int
cmd_orphans(int argc, char **argv)
{
	struct timespec tick = {.tv_nsec = 100000};
	struct stampfile sf;
	struct stamp_rec armed, release;
	long n, before, target, now_count = -1, exited = 0;
	int64_t deadline, t_end = 0, t_exited = 0;
	int ep = -1, watched = 0;

	if (argc != 5)
		return 64;
	n = strtol(argv[3], NULL, 10);
	if (sf_open(&sf, argv[2]) < 0)
		return 1;
	if (!sf_next_kind(&sf, &armed, STAMP_ARMED, 0, stamp_now() + 60000 * NS_PER_MS)) {
		fputs("supbench orphans: the orphans were never armed\n", stderr);
		return 2;
	}
	before = read_counter(argv[4]);
	target = before - n;
	if (strcmp(argv[4], "-") != 0)
		ep = watch_cgroup(argv[4], &watched);
	if (!sf_next_kind(&sf, &release, STAMP_RELEASE, 0, stamp_now() + 5000 * NS_PER_MS))
		return 2;
	deadline = stamp_now() + 60000 * NS_PER_MS;
	while (stamp_now() < deadline) {
		struct epoll_event evs[512];
		int k = ep >= 0 ? epoll_wait(ep, evs, 512, 0) : 0;

		for (int i = 0; i < k; i++) {
			close(evs[i].data.fd);
			exited++;
		}
		if (!t_exited && exited >= n)
			t_exited = stamp_now();
		now_count = read_counter(argv[4]);
		if (now_count >= 0 && now_count <= target) {
			t_end = stamp_now();
			break;
		}
		nanosleep(&tick, NULL);
	}
	if (!t_end) {
		fprintf(stderr, "supbench orphans: %ld of %ld orphans still unreaped\n",
			now_count - target, n);
		return 2;
	}
	/* The last column: how long reaping lagged behind the last exit. */
	printf("%lld %ld %ld %lld\n", (long long)(t_end - release.ns), before, now_count,
	       t_exited ? (long long)(t_end - t_exited) : -1LL);
	return 0;
}

/* ---- waitsock --------------------------------------------------------- */

/* Waits until a ping on the socket gets an ok reply. */
static int
cmd_waitsock(int argc, char **argv)
{
	struct timespec tick = {.tv_nsec = 5000000};
	int64_t deadline;

	if (argc != 4)
		return 64;
	deadline = stamp_now() + strtoll(argv[3], NULL, 10) * NS_PER_MS;
	while (stamp_now() < deadline) {
		struct conn c;

		if (conn_open(&c, argv[2]) == 0) {
			json_t *reply = conn_call(&c, "{\"op\":\"ping\"}\n");
			int ok = reply_ok(reply);

			json_decref(reply);
			conn_close(&c);
			if (ok)
				return 0;
		}
		nanosleep(&tick, NULL);
	}
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = {
		{"restart", cmd_restart}, {"spawn", cmd_spawn},
		{"ctl", cmd_ctl},         {"killtimeout", cmd_killtimeout},
		{"orphans", cmd_orphans}, {"waitsock", cmd_waitsock},
	};

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; argc > 1 && i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(argv[1], cmds[i].name) == 0) {
			int r = cmds[i].run(argc, argv);

			if (r == 64)
				fprintf(stderr, "supbench %s: wrong arguments\n", argv[1]);
			return r;
		}
	fputs("usage: supbench restart|spawn|ctl|killtimeout|orphans|waitsock ...\n", stderr);
	return 64;
}
