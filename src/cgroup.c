/*
 * cgroup.c - containment with cgroup v2 (SPEC 7.7): where supd's subtree
 * is, supd's own leaf, one cgroup per worker with its limits, cgroup.kill
 * when a worker stops or exits, and the removal of a worker's cgroup once
 * its last process is gone.
 *
 * The layout and the naming are described in cgroup.h. The parsers at the
 * top are pure (tests/unit/test-cgroup.c); the rest reads and writes the
 * cgroup file system, and only once `cgroup: true` set it up: with the key
 * off, supd makes no cgroup system call at all. Removal never blocks the
 * loop: a cgroup whose killed processes are still on their way out is
 * retried on a timer (10 ms, doubling up to 1 s) until it is empty, or
 * until the worker starts again in it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cgroup.h"
#include "log.h"
#include "spec.h"

/* ---- pure ---- */

int
cgroup_parse_self(const char *text, char *path, size_t len)
{
	const char *line = text;

	while (line && *line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);

		if (n >= 3 && strncmp(line, "0::", 3) == 0) {
			if (n - 3 >= len)
				return -ENAMETOOLONG;
			memcpy(path, line + 3, n - 3);
			path[n - 3] = '\0';
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

/* One space-separated field of a mountinfo line, with \ooo undone. */
static const char *
mountinfo_field(const char *p, char *out, size_t len, int *err)
{
	size_t n = 0;

	while (*p == ' ')
		p++;
	if (!*p || *p == '\n') {
		*err = -EINVAL;
		return p;
	}
	while (*p && *p != ' ' && *p != '\n') {
		char ch = *p++;

		if (ch == '\\' && p[0] >= '0' && p[0] <= '3' && p[1] >= '0' && p[1] <= '7' &&
		    p[2] >= '0' && p[2] <= '7') {
			ch = (char)((p[0] - '0') * 64 + (p[1] - '0') * 8 + (p[2] - '0'));
			p += 3;
		}
		if (out) {
			if (n + 1 >= len) {
				*err = -ENAMETOOLONG;
				return p;
			}
			out[n++] = ch;
		}
	}
	if (out)
		out[n] = '\0';
	return p;
}

int
cgroup_parse_mountinfo_line(const char *line, char *mount_point, size_t mlen, char *root,
			    size_t rlen)
{
	/* ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
	char fstype[64];
	const char *p = line, *sep;
	int err = 0;

	p = mountinfo_field(p, NULL, 0, &err);
	p = mountinfo_field(p, NULL, 0, &err);
	p = mountinfo_field(p, NULL, 0, &err);
	p = mountinfo_field(p, root, rlen, &err);
	p = mountinfo_field(p, mount_point, mlen, &err);
	if (err)
		return err;
	sep = strstr(p, " - ");
	if (!sep)
		return -EINVAL;
	mountinfo_field(sep + 3, fstype, sizeof(fstype), &err);
	if (err == -ENAMETOOLONG)
		return 0; /* no type that long is cgroup2 */
	if (err)
		return err;
	return strcmp(fstype, "cgroup2") == 0;
}

int
cgroup_join_dir(const char *mount_point, const char *root, const char *own, char *dir, size_t len)
{
	size_t rl = strlen(root);
	const char *rest;
	int n;

	/* The mount shows the tree from `root` down: own must be root or
	 * below it. */
	if (strcmp(root, "/") == 0) {
		rest = own;
	} else if (strncmp(own, root, rl) == 0 && (own[rl] == '\0' || own[rl] == '/')) {
		rest = own + rl;
	} else {
		return -ENOENT;
	}
	if (strcmp(rest, "/") == 0 || rest[0] == '\0')
		n = snprintf(dir, len, "%s", mount_point);
	else
		n = snprintf(dir, len, "%s%s", strcmp(mount_point, "/") == 0 ? "" : mount_point,
			     rest);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

void
cgroup_name_for_path(const char *child_path, char *name, size_t len)
{
	enum {
		KEEP = CGROUP_NAME_MAX - 1 - 17 /* "~" and 16 hex digits */
	};
	size_t n = strlen(child_path);
	uint64_t h = 1469598103934665603ull;

	if (len == 0)
		return;
	if (n < len && n < CGROUP_NAME_MAX) {
		for (size_t i = 0; i <= n; i++)
			name[i] = child_path[i] == '/' ? ':' : child_path[i];
		return;
	}
	/* Too long for one directory name: a prefix that a reader can still
	 * recognise, and a hash of the whole path. */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)child_path[i]) * 1099511628211ull;
	for (size_t i = 0; i < KEEP && i + 1 < len; i++)
		name[i] = child_path[i] == '/' ? ':' : child_path[i];
	if (len > KEEP)
		snprintf(name + KEEP, len - KEEP, "~%016" PRIx64, h);
	else
		name[len - 1] = '\0';
}

int
cgroup_parse_size(const char *text, uint64_t *out)
{
	uint64_t v = 0, unit = 1;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
	case 'k':
		unit = 1ull << 10;
		break;
	case 'M':
	case 'm':
		unit = 1ull << 20;
		break;
	case 'G':
	case 'g':
		unit = 1ull << 30;
		break;
	case 'T':
	case 't':
		unit = 1ull << 40;
		break;
	default:
		return -EINVAL;
	}
	if (*p && p[1] != '\0')
		return -EINVAL;
	if (v > INT64_MAX / unit)
		return -ERANGE;
	*out = v * unit;
	return 0;
}

bool
cgroup_list_has(const char *list, const char *controller)
{
	size_t n = strlen(controller);
	const char *p = list;

	while (*p) {
		size_t word;

		while (*p == ' ' || *p == '\n')
			p++;
		word = strcspn(p, " \n");
		if (word == n && strncmp(p, controller, n) == 0)
			return true;
		p += word;
	}
	return false;
}

/* ---- the machine ---- */

/* The controllers limits use, in cgroup.subtree_control's words. */
static const char *const limit_controllers[] = {"memory", "pids", "cpu"};

/* A removal that waits for the last killed process to leave. */
struct pending {
	struct pending *next;
	char name[CGROUP_NAME_MAX];
};

static struct {
	bool active;
	char dir[PATH_MAX]; /* D: the cgroup supd was started in */
	struct pending *pending;
	sd_event *event;
	sd_event_source *timer;
	uint64_t retry_ms;
} cg;

#define RETRY_FIRST_MS 10
#define RETRY_MAX_MS   1000

bool
cgroup_active(void)
{
	return cg.active;
}

/* A small file into buf (NUL-terminated). 0 or a negative errno. */
static int
read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	close(fd);
	buf[n] = '\0';
	return 0;
}

static int
write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	do
		n = write(fd, text, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	close(fd);
	return r;
}

/* dir/file into out; false when it does not fit. */
static bool
join(char *out, size_t len, const char *dir, const char *file)
{
	int n = snprintf(out, len, "%s/%s", dir, file);

	return n >= 0 && (size_t)n < len;
}

static int
find_cgroup2_mount(const char *own, char *dir, size_t len, char *msg, size_t msglen)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mount_point[PATH_MAX], root[PATH_MAX];
	size_t cap = 0;
	bool seen = false;
	int found = -1;

	if (!f) {
		snprintf(msg, msglen, "cannot read /proc/self/mountinfo: %s", strerror(errno));
		return -1;
	}
	while (found < 0 && getline(&line, &cap, f) > 0) {
		if (cgroup_parse_mountinfo_line(line, mount_point, sizeof(mount_point), root,
						sizeof(root)) != 1)
			continue;
		seen = true;
		if (cgroup_join_dir(mount_point, root, own, dir, len) == 0)
			found = 0;
	}
	free(line);
	fclose(f);
	if (found == 0)
		return 0;
	if (seen)
		snprintf(msg, msglen,
			 "no cgroup2 mount shows supd's cgroup %.200s (/proc/self/mountinfo)", own);
	else
		snprintf(msg, msglen,
			 "no cgroup v2 file system is mounted (no cgroup2 line in "
			 "/proc/self/mountinfo)");
	return -1;
}

int
cgroup_locate(char *dir, size_t len, char *msg, size_t msglen)
{
	char text[4096], own[PATH_MAX], procs[PATH_MAX];
	int r;

	if (cg.active) {
		snprintf(dir, len, "%s", cg.dir);
		return 0;
	}
	r = read_small("/proc/self/cgroup", text, sizeof(text));
	if (r < 0) {
		snprintf(msg, msglen, "cannot read /proc/self/cgroup: %s", strerror(-r));
		return -1;
	}
	if (cgroup_parse_self(text, own, sizeof(own)) < 0) {
		snprintf(msg, msglen,
			 "supd is in no cgroup v2 hierarchy (no 0:: line in /proc/self/cgroup)");
		return -1;
	}
	if (find_cgroup2_mount(own, dir, len, msg, msglen) < 0)
		return -1;
	if (!join(procs, sizeof(procs), dir, "cgroup.procs") || access(procs, W_OK) < 0 ||
	    access(dir, W_OK) < 0) {
		snprintf(msg, msglen, "supd's cgroup %.200s is not writable: %s", dir,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int
cgroup_check_controller(const char *controller, char *msg, size_t len)
{
	char dir[PATH_MAX], file[PATH_MAX], list[1024];
	const char *which = cg.active ? "cgroup.subtree_control" : "cgroup.controllers";
	int r;

	if (cgroup_locate(dir, sizeof(dir), msg, len) < 0)
		return -1;
	if (!join(file, sizeof(file), dir, which)) {
		snprintf(msg, len, "cgroup path too long: %.200s", dir);
		return -1;
	}
	r = read_small(file, list, sizeof(list));
	if (r < 0) {
		snprintf(msg, len, "cannot read %.200s: %s", file, strerror(-r));
		return -1;
	}
	if (cgroup_list_has(list, controller))
		return 0;
	list[strcspn(list, "\n")] = '\0';
	snprintf(msg, len, "cgroup v2 %s controller not enabled in %.200s (its %s lists: %s)",
		 controller, dir, which, list[0] ? list : "none");
	return -1;
}

/* Bit i: limit_controllers[i] is used by a worker or template of the tree. */
static unsigned
controllers_used(const struct child_spec *spec)
{
	unsigned used = 0;

	if (!spec)
		return 0;
	if (spec->type == NODE_WORKER) {
		const struct worker_spec *w = &spec->worker;

		return (w->memory_max ? 1u : 0) | (w->pids_max ? 2u : 0) | (w->cpu_weight ? 4u : 0);
	}
	for (size_t i = 0; i < spec->sup.nchildren; i++)
		used |= controllers_used(spec->sup.children[i]);
	return used | controllers_used(spec->sup.template_spec);
}

int
cgroup_setup(const struct child_spec *root, char *msg, size_t len)
{
	char dir[PATH_MAX], leaf[PATH_MAX], file[PATH_MAX], text[1024];
	unsigned used = controllers_used(root);
	int r;

	if (cgroup_locate(dir, sizeof(dir), msg, len) < 0)
		return -1;
	if (!join(leaf, sizeof(leaf), dir, "supd") ||
	    !join(file, sizeof(file), leaf, "cgroup.procs")) {
		snprintf(msg, len, "cgroup path too long: %.200s", dir);
		return -1;
	}
	if (mkdir(leaf, 0755) < 0 && errno != EEXIST) {
		snprintf(msg, len, "cannot create %.200s: %s", leaf, strerror(errno));
		return -1;
	}
	/* A leaf that holds processes belongs to another supd started in the
	 * same cgroup: sharing it would mix up their workers' cgroups. */
	r = read_small(file, text, sizeof(text));
	if (r == 0 && text[0]) {
		snprintf(msg, len,
			 "%.200s already holds processes (another supd with cgroup: true?)", leaf);
		return -1;
	}
	r = write_text(file, "0");
	if (r < 0) {
		snprintf(msg, len, "cannot move supd into %.200s: %s", leaf, strerror(-r));
		return -1;
	}
	/* Controllers for the workers' limits, where D offers them. One at a
	 * time: a refusal of one leaves the others. */
	if (join(file, sizeof(file), dir, "cgroup.controllers") &&
	    read_small(file, text, sizeof(text)) == 0 &&
	    join(file, sizeof(file), dir, "cgroup.subtree_control")) {
		for (size_t i = 0; i < sizeof(limit_controllers) / sizeof(limit_controllers[0]);
		     i++) {
			char word[32];

			if (!cgroup_list_has(text, limit_controllers[i]))
				continue;
			snprintf(word, sizeof(word), "+%s", limit_controllers[i]);
			r = write_text(file, word);
			if (r < 0 && (used & (1u << i))) {
				snprintf(msg, len, "cannot enable the %s controller in %.200s: %s",
					 limit_controllers[i], file, strerror(-r));
				return -1;
			}
			if (r < 0)
				log_warnx("cgroup: cannot enable the %s controller in %s: %s",
					  limit_controllers[i], file, strerror(-r));
		}
	}
	snprintf(cg.dir, sizeof(cg.dir), "%s", dir);
	cg.active = true;
	return 0;
}

static void
set_error(char *err, size_t errlen, int errnum)
{
	const char *name = strerrorname_np(errnum);

	if (name)
		snprintf(err, errlen, "cgroup:%s", name);
	else
		snprintf(err, errlen, "cgroup:E%d", errnum);
}

/* dir/name/file */
static bool
worker_file(char *out, size_t len, const char *name, const char *file)
{
	int n = snprintf(out, len, "%s/%s%s%s", cg.dir, name, file ? "/" : "", file ? file : "");

	return n >= 0 && (size_t)n < len;
}

static void
pending_cancel(const char *name)
{
	for (struct pending **p = &cg.pending; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			struct pending *gone = *p;

			*p = gone->next;
			free(gone);
			return;
		}
	}
}

/* One limit: the spec's value, or the default when unset (a cgroup that
 * was not yet removed may carry an older incarnation's). A controller that
 * is not enabled has no file: fine for a limit that is unset. */
static int
write_limit(const char *name, const char *file, int64_t value, const char *unset)
{
	char path[PATH_MAX], text[32];
	int r;

	if (!worker_file(path, sizeof(path), name, file))
		return -ENAMETOOLONG;
	if (value == 0)
		snprintf(text, sizeof(text), "%s", unset);
	else if (value == SPEC_CGROUP_MAX)
		snprintf(text, sizeof(text), "max");
	else
		snprintf(text, sizeof(text), "%" PRId64, value);
	r = write_text(path, text);
	if (r == -ENOENT && value == 0)
		return 0;
	return r;
}

int
cgroup_prepare(const char *child_path, const struct worker_spec *w, int *procs_fd, char *err,
	       size_t errlen)
{
	char name[CGROUP_NAME_MAX], path[PATH_MAX];
	int r;

	*procs_fd = -1;
	cgroup_name_for_path(child_path, name, sizeof(name));
	pending_cancel(name);
	if (!worker_file(path, sizeof(path), name, NULL)) {
		set_error(err, errlen, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		set_error(err, errlen, -r);
		return r;
	}
	r = write_limit(name, "memory.max", w->memory_max, "max");
	if (r == 0)
		r = write_limit(name, "pids.max", w->pids_max, "max");
	if (r == 0)
		r = write_limit(name, "cpu.weight", w->cpu_weight, "100");
	if (r < 0) {
		set_error(err, errlen, -r);
		return r;
	}
	if (!worker_file(path, sizeof(path), name, "cgroup.procs")) {
		set_error(err, errlen, ENAMETOOLONG);
		return -ENAMETOOLONG;
	}
	*procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (*procs_fd < 0) {
		r = -errno;
		set_error(err, errlen, -r);
		return r;
	}
	return 0;
}

/* Kernels before 5.14 have no cgroup.kill: each process listed gets
 * SIGKILL, as many rounds as it takes for a list without new members (a
 * fork that raced the last round). */
static void
kill_listed(const char *name)
{
	char path[PATH_MAX];

	if (!worker_file(path, sizeof(path), name, "cgroup.procs"))
		return;
	for (int round = 0; round < 16; round++) {
		FILE *f = fopen(path, "re");
		bool any = false;
		long pid;

		if (!f)
			return;
		while (fscanf(f, "%ld", &pid) == 1) {
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				any = true;
		}
		fclose(f);
		if (!any)
			return;
	}
}

static void
kill_name(const char *name)
{
	char path[PATH_MAX];
	int r;

	if (!worker_file(path, sizeof(path), name, "cgroup.kill"))
		return;
	r = write_text(path, "1");
	if (r == -ENOENT) {
		/* the cgroup is gone, or the kernel has no cgroup.kill */
		kill_listed(name);
	} else if (r < 0) {
		errno = -r;
		log_warn("cgroup: cannot write %s", path);
		kill_listed(name);
	}
}

void
cgroup_kill(const char *child_path)
{
	char name[CGROUP_NAME_MAX];

	if (!cg.active)
		return;
	cgroup_name_for_path(child_path, name, sizeof(name));
	kill_name(name);
}

/* 1 removed (or already gone), 0 still populated, -1 another error. */
static int
try_remove(const char *name)
{
	char path[PATH_MAX];

	if (!worker_file(path, sizeof(path), name, NULL))
		return -1;
	if (rmdir(path) == 0 || errno == ENOENT)
		return 1;
	if (errno == EBUSY)
		return 0;
	log_warn("cgroup: cannot remove %s", path);
	return -1;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata);

static void
arm_retry(void)
{
	int r;

	if (!cg.event && sd_event_default(&cg.event) < 0)
		return;
	if (!cg.timer) {
		r = sd_event_add_time_relative(cg.event, &cg.timer, CLOCK_MONOTONIC,
					       cg.retry_ms * 1000, 1000, on_retry, NULL);
	} else {
		r = sd_event_source_set_time_relative(cg.timer, cg.retry_ms * 1000);
		if (r >= 0)
			r = sd_event_source_set_enabled(cg.timer, SD_EVENT_ONESHOT);
	}
	if (r < 0) {
		errno = -r;
		log_warn("cgroup: cannot arm the removal timer; empty cgroups may stay");
	}
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	(void)userdata;
	for (struct pending **p = &cg.pending; *p;) {
		struct pending *e = *p;

		if (try_remove(e->name) != 0) {
			*p = e->next;
			free(e);
		} else {
			/* a process that was not yet dying (a race with a
			 * fork) gets its signal now */
			kill_name(e->name);
			p = &e->next;
		}
	}
	if (cg.pending) {
		cg.retry_ms = cg.retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : cg.retry_ms * 2;
		arm_retry();
	}
	return 0;
}

void
cgroup_worker_gone(const char *child_path)
{
	char name[CGROUP_NAME_MAX];
	struct pending *e;

	if (!cg.active)
		return;
	cgroup_name_for_path(child_path, name, sizeof(name));
	kill_name(name);
	if (try_remove(name) != 0)
		return;
	/* Killed processes still leaving: the only allocation here, and
	 * only when the worker left processes behind. Without memory the
	 * empty directory stays, and the next start reuses it. */
	pending_cancel(name);
	e = calloc(1, sizeof(*e));
	if (!e) {
		log_warnx("cgroup: out of memory: %s/%s stays after it empties", cg.dir, name);
		return;
	}
	memcpy(e->name, name, sizeof(e->name));
	e->next = cg.pending;
	cg.pending = e;
	cg.retry_ms = RETRY_FIRST_MS;
	arm_retry();
}

void
cgroup_shutdown(void)
{
	while (cg.pending) {
		struct pending *e = cg.pending;

		cg.pending = e->next;
		try_remove(e->name);
		free(e);
	}
	cg.timer = sd_event_source_disable_unref(cg.timer);
	cg.event = sd_event_unref(cg.event);
}
