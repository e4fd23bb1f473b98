/*
 * writer.c - output that never blocks the loop (see writer.h for the rules
 * per kind of descriptor).
 *
 * Owns every descriptor supd writes its own lines to, the choice of how to
 * make each one non-blocking, the flush loop (whole lines; short writes;
 * size rotation; reopening), the EPOLLOUT sources and retry timers, the
 * drop reports and the bounded drain at exit. The line discipline itself
 * (what is queued, what is dropped) is outbuf.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outbuf.h"
#include "writer.h"

/* Where the kernel offers no readiness (regular files, /dev/null), a
 * blocked writer tries again after this long. */
#define WRITER_RETRY_US (250 * 1000)

struct writer {
	int fd;          /* -1: closed or broken, lines are dropped */
	bool own_fd;     /* close it when done */
	bool socket;     /* send(MSG_DONTWAIT) */
	bool guarded;    /* shared blocking pipe: poll before each small write */
	bool pollable;   /* epoll accepts fd */
	bool trim;       /* our own regular file: cut short writes back */
	bool flushing;   /* re-entrance guard (a drop report writes a line) */
	bool rotate_off; /* rotation failed: write on until the next reopen */
	struct outbuf buf;
	char *path; /* writer_open_path() only */
	uint64_t max_size, size;
	unsigned keep;
	char *name;
	sd_event_source *io, *retry;
	TAILQ_HEAD(, writer_waiter) waiters;
	TAILQ_ENTRY(writer) link;
};

static TAILQ_HEAD(, writer) writers = TAILQ_HEAD_INITIALIZER(writers);
static sd_event *attached;
static writer_drop_hook *drop_hook;

static void wait_writable(struct writer *w);

static struct writer *
writer_alloc(const char *name, size_t cap)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fd = -1;
	w->name = strdup(name);
	if (!w->name) {
		free(w);
		return NULL;
	}
	outbuf_init(&w->buf, cap);
	TAILQ_INIT(&w->waiters);
	TAILQ_INSERT_TAIL(&writers, w, link);
	return w;
}

struct writer *
writer_for_fd(int fd, const char *name, size_t cap)
{
	struct writer *w = writer_alloc(name, cap);
	struct stat st;
	char proc[32];

	if (!w)
		return NULL;
	if (fstat(fd, &st) < 0)
		return w;
	if (S_ISSOCK(st.st_mode)) {
		w->fd = fd;
		w->socket = true;
		w->pollable = true;
	} else if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		w->own_fd = w->fd >= 0;
	} else {
		/* A description of our own: O_NONBLOCK on it leaves the
		 * workers' (shared) description blocking. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		w->fd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		w->pollable = true;
		if (w->fd < 0) {
			w->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			w->guarded = w->fd >= 0;
		}
		w->own_fd = w->fd >= 0;
	}
	return w;
}

static int
open_own(struct writer *w)
{
	struct stat st;
	int fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		      0644);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (w->io) {
		sd_event_source_disable_unref(w->io);
		w->io = NULL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->own_fd = true;
	w->trim = S_ISREG(st.st_mode);
	w->pollable = !w->trim;
	w->size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	w->rotate_off = false;
	return 0;
}

struct writer *
writer_open_path(const char *path, uint64_t max_size, unsigned keep, size_t cap, int *err)
{
	struct writer *w = writer_alloc(path, cap);
	int r;

	if (!w) {
		*err = -ENOMEM;
		return NULL;
	}
	w->path = strdup(path);
	w->max_size = max_size;
	w->keep = keep;
	r = w->path ? open_own(w) : -ENOMEM;
	if (r < 0) {
		writer_free(w);
		*err = r;
		return NULL;
	}
	return w;
}

void
writer_free(struct writer *w)
{
	struct writer_waiter *wt;

	if (!w)
		return;
	while ((wt = TAILQ_FIRST(&w->waiters))) {
		TAILQ_REMOVE(&w->waiters, wt, link);
		wt->waiting = false;
	}
	TAILQ_REMOVE(&writers, w, link);
	sd_event_source_disable_unref(w->io);
	sd_event_source_disable_unref(w->retry);
	if (w->own_fd)
		close(w->fd);
	outbuf_free(&w->buf);
	free(w->path);
	free(w->name);
	free(w);
}

const char *
writer_name(const struct writer *w)
{
	return w->name;
}

size_t
writer_room(const struct writer *w)
{
	return outbuf_room(&w->buf);
}

size_t
writer_capacity(const struct writer *w)
{
	return w->buf.cap;
}

/* PATH.1 is the newest old file; PATH.keep the oldest, overwritten. */
static int
rotate(struct writer *w)
{
	size_t len = strlen(w->path) + 16;
	char *from = malloc(len), *to = malloc(len);
	int r = 0;

	if (!from || !to) {
		r = -ENOMEM;
		goto out;
	}
	if (w->keep == 0) {
		r = ftruncate(w->fd, 0) < 0 ? -errno : 0;
		if (r == 0)
			w->size = 0;
		goto out;
	}
	for (unsigned k = w->keep; k > 1; k--) {
		snprintf(from, len, "%s.%u", w->path, k - 1);
		snprintf(to, len, "%s.%u", w->path, k);
		if (rename(from, to) < 0 && errno != ENOENT) {
			r = -errno;
			goto out;
		}
	}
	snprintf(to, len, "%s.1", w->path);
	if (rename(w->path, to) < 0) {
		r = -errno;
		goto out;
	}
	r = open_own(w);
out:
	free(from);
	free(to);
	if (r < 0)
		w->rotate_off = true;
	return r;
}

enum limit_verdict {
	LIMIT_WRITE,   /* write at most *limit bytes */
	LIMIT_ROTATED, /* a new file: decide again */
	LIMIT_BLOCKED, /* not writable now */
};

/* How much may go out in the next write: whole lines that keep the file
 * under max_size (rotating first if none does), or the first line alone if
 * it is larger than max_size. */
static enum limit_verdict
next_limit(struct writer *w, size_t *limit_out)
{
	size_t limit = SIZE_MAX;

	if (w->max_size && !w->rotate_off && !outbuf_in_line(&w->buf)) {
		uint64_t left = w->size < w->max_size ? w->max_size - w->size : 0;
		size_t whole = outbuf_whole_prefix(&w->buf, left > SIZE_MAX ? SIZE_MAX : left);

		if (whole == 0 && w->size > 0) {
			rotate(w);
			return LIMIT_ROTATED;
		}
		/* An empty file takes at least one line, however long. */
		limit = whole ? whole : outbuf_first_line(&w->buf);
	}
	if (w->guarded) {
		struct pollfd p = {.fd = w->fd, .events = POLLOUT};
		size_t small;

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT))
			return LIMIT_BLOCKED;
		small = outbuf_whole_prefix(&w->buf, PIPE_BUF);
		if (small && small < limit)
			limit = small;
	}
	*limit_out = limit;
	return LIMIT_WRITE;
}

static ssize_t
write_some(struct writer *w, struct iovec *iov, int cnt)
{
	if (w->socket) {
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)cnt};
		return sendmsg(w->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	return writev(w->fd, iov, cnt);
}

/* A short write to a file of our own: cut it back to the last whole line,
 * so that the file never holds half a line. */
static size_t
trim_short_write(struct writer *w, size_t n)
{
	size_t whole = outbuf_whole_prefix(&w->buf, n);
	off_t end;

	if (whole == n || outbuf_in_line(&w->buf))
		return n;
	end = lseek(w->fd, 0, SEEK_END);
	if (end >= (off_t)(n - whole) && ftruncate(w->fd, end - (off_t)(n - whole)) == 0)
		return whole;
	return n; /* could not cut: the rest follows when space returns */
}

static void
wake_waiters(struct writer *w)
{
	struct writer_waiter *wt;

	while (outbuf_room(&w->buf) >= w->buf.cap / 2 && (wt = TAILQ_FIRST(&w->waiters))) {
		TAILQ_REMOVE(&w->waiters, wt, link);
		wt->waiting = false;
		wt->fn(wt);
	}
}

/* Returns true when everything queued went out. */
static bool
flush_now(struct writer *w)
{
	bool wrote = false;

	while (outbuf_pending(&w->buf) > 0) {
		struct iovec iov[2];
		enum limit_verdict verdict;
		size_t total, limit = 0;
		ssize_t n;
		int cnt;

		if (w->fd < 0) {
			outbuf_drop_all(&w->buf);
			break;
		}
		verdict = next_limit(w, &limit);
		if (verdict == LIMIT_ROTATED)
			continue;
		if (verdict == LIMIT_BLOCKED) {
			wait_writable(w);
			break;
		}
		cnt = outbuf_peek(&w->buf, limit, iov, &total);
		n = write_some(w, iov, cnt);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EAGAIN || errno == ENOSPC || errno == EDQUOT || errno == EFBIG)) {
			wait_writable(w);
			break;
		}
		if (n < 0) {
			/* No reader any more, or an I/O error: what is queued
			 * is lost (and counted); later lines try again. */
			outbuf_drop_all(&w->buf);
			break;
		}
		wrote = wrote || n > 0;
		if (w->trim && (size_t)n < total)
			n = (ssize_t)trim_short_write(w, (size_t)n);
		w->size += (uint64_t)n;
		outbuf_consume(&w->buf, (size_t)n);
		if ((size_t)n < total) {
			wait_writable(w);
			break;
		}
	}
	if (outbuf_pending(&w->buf) == 0) {
		if (w->io)
			sd_event_source_set_enabled(w->io, SD_EVENT_OFF);
		if (w->retry)
			sd_event_source_set_enabled(w->retry, SD_EVENT_OFF);
	}
	return wrote && outbuf_pending(&w->buf) == 0;
}

void
writer_flush(struct writer *w)
{
	bool resumed;
	uint64_t lost;

	if (w->flushing)
		return;
	w->flushing = true;
	resumed = flush_now(w);
	w->flushing = false;
	if (resumed && w->buf.dropped && drop_hook) {
		lost = outbuf_take_dropped(&w->buf);
		drop_hook(w, lost);
	}
	wake_waiters(w);
}

static int
on_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	writer_flush(userdata);
	return 0;
}

static int
on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	writer_flush(userdata);
	return 0;
}

static void
wait_writable(struct writer *w)
{
	if (!attached)
		return;
	if (w->pollable && !w->io &&
	    sd_event_add_io(attached, &w->io, w->fd, EPOLLOUT, on_writable, w) < 0)
		w->pollable = false; /* epoll refuses it (EPERM): use the timer */
	if (w->pollable && w->io) {
		sd_event_source_set_enabled(w->io, SD_EVENT_ON);
		return;
	}
	if (!w->retry) {
		if (sd_event_add_time_relative(attached, &w->retry, CLOCK_MONOTONIC,
					       WRITER_RETRY_US, 1000, on_retry, w) < 0)
			return;
	} else {
		sd_event_source_set_time_relative(w->retry, WRITER_RETRY_US);
	}
	sd_event_source_set_enabled(w->retry, SD_EVENT_ONESHOT);
}

void
writer_append(struct writer *w, const char *line, size_t n)
{
	if (outbuf_push(&w->buf, line, n) < 0)
		w->buf.dropped++;
}

void
writer_line(struct writer *w, const char *line, size_t n)
{
	writer_append(w, line, n);
	writer_flush(w);
}

void
writer_wait_room(struct writer *w, struct writer_waiter *wt)
{
	if (wt->waiting)
		return;
	wt->waiting = true;
	TAILQ_INSERT_TAIL(&w->waiters, wt, link);
}

void
writer_cancel_wait(struct writer *w, struct writer_waiter *wt)
{
	if (!wt->waiting)
		return;
	TAILQ_REMOVE(&w->waiters, wt, link);
	wt->waiting = false;
}

int
writer_reopen(struct writer *w)
{
	int r;

	if (!w->path)
		return 0;
	r = open_own(w);
	if (r == 0 && outbuf_pending(&w->buf))
		writer_flush(w);
	return r;
}

int
writer_reopen_all(void)
{
	struct writer *w;
	int first = 0;

	TAILQ_FOREACH(w, &writers, link)
	{
		int r = writer_reopen(w);
		if (r < 0 && first == 0)
			first = r;
	}
	return first;
}

void
writer_attach_all(sd_event *e)
{
	struct writer *w;

	TAILQ_FOREACH(w, &writers, link)
	{
		sd_event_source_disable_unref(w->io);
		sd_event_source_disable_unref(w->retry);
		w->io = w->retry = NULL;
	}
	attached = e;
	TAILQ_FOREACH(w, &writers, link)
	if (outbuf_pending(&w->buf))
		writer_flush(w);
}

void
writer_set_drop_hook(writer_drop_hook *hook)
{
	drop_hook = hook;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
writer_drain_all(int timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	struct writer *w;

	TAILQ_FOREACH(w, &writers, link)
	{
		while (outbuf_pending(&w->buf) > 0 && w->fd >= 0) {
			struct pollfd p = {.fd = w->fd, .events = POLLOUT};
			int64_t left = deadline - mono_ms();
			size_t before = outbuf_pending(&w->buf);

			writer_flush(w);
			if (outbuf_pending(&w->buf) == 0 || left <= 0)
				break;
			if (!w->pollable && !w->guarded && !w->socket) {
				/* A file: no readiness to wait for. */
				if (outbuf_pending(&w->buf) == before)
					break;
				continue;
			}
			if (poll(&p, 1, (int)left) <= 0)
				break;
		}
	}
}
