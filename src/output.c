/*
 * output.c - captured workers: their pipes, the relay of their lines to
 * supd's stdout/stderr or to a file, and the ring behind `supctl logs`.
 *
 * Owns, per captured worker (struct capture, hung on the node by node_set_output()): the two
 * pipes of the running incarnation, their sd-event sources, the bytes read
 * and not yet cut into lines (relay.c), the ring of the last lines and the
 * live followers; and, for all workers, the shared file writers (one per
 * path) and supd's stdout writer.
 *
 * Flow control: a line is handed to its writer only if the writer has room
 * for it; otherwise the pipe's source is disabled until the writer drains
 * (a writer_waiter). The worker then blocks in write(2) on a full pipe:
 * it is slowed, supd and every other worker are not. Only when the worker
 * exits is what is left in its pipes forced out (the writer may then drop
 * its oldest lines, and says so).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "outbuf.h"
#include "output.h"
#include "spec.h"
#include "supervisor.h"
#include "writer.h"

/* Lines kept per captured worker for `supctl logs` (allocated on its first
 * line). */
#define OUTPUT_RING_BYTES (64 * 1024)
/* Buffer of the stdout writer and of each output file. */
#define OUTPUT_WRITER_BYTES (256 * 1024)
/* Reads per wakeup of one pipe: then the loop serves everyone else. */
#define OUTPUT_READS_PER_WAKEUP 2

struct capture;

struct cstream {
	struct capture *cap;
	enum relay_stream which;
	int fd;        /* our read end, -1 when closed */
	int child_end; /* the write end, between prepare and started */
	sd_event_source *source;
	struct relay_input in;
	struct writer_waiter wait;
};

struct file_out {
	char *path;
	struct writer *writer;
	unsigned refs;
	LIST_ENTRY(file_out) link;
};

struct capture {
	struct child *child;
	struct file_out *file;
	struct cstream s[2];
	struct outbuf ring;
	TAILQ_HEAD(, output_follower) followers;
};

static sd_event *output_event;
static struct writer *stdout_writer;
static LIST_HEAD(, file_out) files = LIST_HEAD_INITIALIZER(files);
static char *scratch;
static size_t scratch_size;

void
output_init(sd_event *e)
{
	output_event = e;
}

void
output_shutdown(void)
{
	output_event = NULL;
}

const struct output_spec *
output_effective(const struct child *c)
{
	static const struct output_spec inherit = {.mode = OUTPUT_INHERIT};

	for (; c; c = node_parent(c))
		if (node_spec(c) && node_spec(c)->output.mode != OUTPUT_UNSET)
			return &node_spec(c)->output;
	return &inherit;
}

static struct file_out *
file_get(const struct output_spec *spec, int *err)
{
	struct file_out *f;

	LIST_FOREACH(f, &files, link)
	if (strcmp(f->path, spec->file) == 0) {
		f->refs++;
		return f;
	}
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(spec->file))) {
		free(f);
		*err = -ENOMEM;
		return NULL;
	}
	f->writer =
		writer_open_path(spec->file, spec->max_size, spec->keep, OUTPUT_WRITER_BYTES, err);
	if (!f->writer) {
		free(f->path);
		free(f);
		return NULL;
	}
	f->refs = 1;
	LIST_INSERT_HEAD(&files, f, link);
	return f;
}

static void
file_put(struct file_out *f)
{
	if (!f || --f->refs > 0)
		return;
	LIST_REMOVE(f, link);
	writer_flush(f->writer);
	writer_free(f->writer);
	free(f->path);
	free(f);
}

static struct writer *
destination(struct cstream *st)
{
	if (st->cap->file)
		return st->cap->file->writer;
	if (st->which == RELAY_ERR)
		return log_stderr_writer();
	if (!stdout_writer)
		stdout_writer = writer_for_fd(STDOUT_FILENO, "stdout", OUTPUT_WRITER_BYTES);
	return stdout_writer;
}

static void stream_pump(struct cstream *st);

static void
on_room(struct writer_waiter *wt)
{
	struct cstream *st = (struct cstream *)((char *)wt - offsetof(struct cstream, wait));

	if (st->source)
		sd_event_source_set_enabled(st->source, SD_EVENT_ON);
	stream_pump(st);
}

static struct capture *
capture_get(struct child *c)
{
	struct capture *cap = node_output(c);

	if (cap)
		return cap;
	cap = calloc(1, sizeof(*cap));
	if (!cap)
		return NULL;
	cap->child = c;
	outbuf_init(&cap->ring, OUTPUT_RING_BYTES);
	TAILQ_INIT(&cap->followers);
	for (int i = 0; i < 2; i++) {
		cap->s[i].cap = cap;
		cap->s[i].which = i == 0 ? RELAY_OUT : RELAY_ERR;
		cap->s[i].fd = cap->s[i].child_end = -1;
		cap->s[i].wait.fn = on_room;
	}
	node_set_output(c, cap);
	return cap;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int
output_prepare(struct child *c, int *out_fd, int *err_fd, char *err, size_t errlen)
{
	const struct output_spec *spec = output_effective(c);
	struct capture *cap;
	int r = 0;

	*out_fd = *err_fd = -1;
	if (spec->mode != OUTPUT_PREFIX && spec->mode != OUTPUT_FILE)
		return 0;
	cap = capture_get(c);
	if (!cap) {
		snprintf(err, errlen, "output:ENOMEM");
		return -ENOMEM;
	}
	if (spec->mode == OUTPUT_FILE && !cap->file) {
		cap->file = file_get(spec, &r);
		if (!cap->file) {
			snprintf(err, errlen, "output:%s", strerrorname_np(-r));
			return r;
		}
	}
	for (int i = 0; i < 2; i++) {
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0) {
			r = -errno;
			output_abort(c);
			snprintf(err, errlen, "pipe:%s", strerrorname_np(-r));
			return r;
		}
		/* Our end never blocks; the worker's end does (its own). */
		fcntl(p[0], F_SETFL, O_NONBLOCK);
		cap->s[i].fd = p[0];
		cap->s[i].child_end = p[1];
	}
	*out_fd = cap->s[0].child_end;
	*err_fd = cap->s[1].child_end;
	return 0;
}

static int
on_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s;
	(void)fd;
	(void)revents;
	stream_pump(userdata);
	return 0;
}

void
output_started(struct child *c)
{
	struct capture *cap = node_output(c);

	if (!cap)
		return;
	for (int i = 0; i < 2; i++) {
		struct cstream *st = &cap->s[i];

		close_fd(&st->child_end);
		if (st->fd < 0 || !output_event)
			continue;
		if (sd_event_add_io(output_event, &st->source, st->fd, EPOLLIN, on_readable, st) <
		    0) {
			/* Unread, the worker would block on its first full
			 * pipe: close it (the worker gets EPIPE) and say so. */
			log_warnx("%s: cannot watch its output; it is discarded", node_path(c));
			close_fd(&st->fd);
		}
		/* Supervision first: a flood of output is relayed when no exit,
		 * signal, deadline or client is waiting. */
		if (st->source)
			sd_event_source_set_priority(st->source, SD_EVENT_PRIORITY_IDLE);
	}
}

static void
stream_close(struct cstream *st)
{
	if (st->wait.waiting)
		writer_cancel_wait(destination(st), &st->wait);
	st->source = sd_event_source_disable_unref(st->source);
	close_fd(&st->fd);
	close_fd(&st->child_end);
	relay_input_free(&st->in);
}

void
output_abort(struct child *c)
{
	struct capture *cap = node_output(c);

	if (!cap)
		return;
	for (int i = 0; i < 2; i++)
		stream_close(&cap->s[i]);
}

static char *
scratch_for(size_t need)
{
	if (need > scratch_size) {
		char *p = realloc(scratch, need);
		if (!p)
			return NULL;
		scratch = p;
		scratch_size = need;
	}
	return scratch;
}

static void
ring_keep(struct capture *cap, enum relay_stream which, const char *line, size_t len)
{
	struct output_follower *f, *next;

	/* The ring keeps the last lines; what it pushes out is history. */
	outbuf_push_text(&cap->ring, line, len);
	outbuf_take_dropped(&cap->ring);
	for (f = TAILQ_FIRST(&cap->followers); f; f = next) {
		next = TAILQ_NEXT(f, link);
		f->fn(f, which, line, len);
	}
}

/* Hands complete lines on while the writer has room (all of them when
 * forced). Returns false when it stopped for lack of room. */
static bool
emit_lines(struct cstream *st, bool at_end, bool force)
{
	struct capture *cap = st->cap;
	struct writer *w = destination(st);
	const char *line;
	size_t len, used, n;
	struct timespec ts;
	char *buf;

	if (!w)
		return true;
	buf = scratch_for(relay_format_max(node_path(cap->child)));
	if (!buf)
		return true;
	if (cap->file)
		clock_gettime(CLOCK_REALTIME, &ts);
	while (relay_input_next(&st->in, at_end, &line, &len, &used)) {
		if (cap->file)
			n = relay_format_file(buf, scratch_size, &ts, st->which, line, len);
		else
			n = relay_format_prefix(buf, scratch_size, node_path(cap->child), line,
						len);
		if (n > writer_room(w) && !force && n <= writer_capacity(w))
			return false;
		writer_append(w, buf, n);
		ring_keep(cap, st->which, line, len);
		relay_input_done(&st->in, used);
	}
	return true;
}

static void
stream_pump(struct cstream *st)
{
	struct writer *w = destination(st);

	for (int reads = 0; st->fd >= 0; reads++) {
		ssize_t n;
		char *tail;

		if (!emit_lines(st, false, false)) {
			sd_event_source_set_enabled(st->source, SD_EVENT_OFF);
			writer_wait_room(w, &st->wait);
			break;
		}
		if (reads == OUTPUT_READS_PER_WAKEUP)
			break;
		tail = relay_input_tail(&st->in);
		if (!tail)
			break;
		n = read(st->fd, tail, relay_input_room(&st->in));
		if (n > 0) {
			relay_input_added(&st->in, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			if (relay_input_pending(&st->in) == 0)
				relay_input_free(&st->in);
			break;
		}
		/* The worker closed this stream (or the pipe broke): its
		 * last partial line goes out. */
		emit_lines(st, true, true);
		stream_close(st);
	}
	if (w)
		writer_flush(w);
}

void
output_exited(struct child *c)
{
	struct capture *cap = node_output(c);

	if (!cap)
		return;
	for (int i = 0; i < 2; i++) {
		struct cstream *st = &cap->s[i];
		struct writer *w = destination(st);

		/* What the worker wrote before it died, up to what the pipe
		 * holds; a descendant still writing is cut off here. */
		while (st->fd >= 0) {
			char *tail;
			ssize_t n;

			emit_lines(st, false, true);
			tail = relay_input_tail(&st->in);
			if (!tail)
				break;
			n = read(st->fd, tail, relay_input_room(&st->in));
			if (n > 0)
				relay_input_added(&st->in, (size_t)n);
			else if (!(n < 0 && errno == EINTR))
				break;
		}
		emit_lines(st, true, true);
		stream_close(st);
		if (w)
			writer_flush(w);
	}
}

void
output_child_freed(struct child *c)
{
	struct capture *cap = node_output(c);
	struct output_follower *f;

	if (!cap)
		return;
	output_abort(c);
	while ((f = TAILQ_FIRST(&cap->followers))) {
		TAILQ_REMOVE(&cap->followers, f, link);
		f->child = NULL;
		if (f->gone)
			f->gone(f);
	}
	file_put(cap->file);
	outbuf_free(&cap->ring);
	free(cap);
	node_set_output(c, NULL);
}

bool
output_captured(const struct child *c)
{
	const struct output_spec *spec;

	if (!c || node_is_supervisor(c))
		return false;
	spec = output_effective(c);
	return spec->mode == OUTPUT_PREFIX || spec->mode == OUTPUT_FILE;
}

void
output_last_lines(const struct child *c, size_t n,
		  void (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
	const struct capture *cap = node_output(c);
	struct iovec iov[2];
	size_t total, start;
	char *copy;
	int cnt;

	if (!cap || n == 0)
		return;
	cnt = outbuf_peek(&cap->ring, SIZE_MAX, iov, &total);
	if (total == 0)
		return;
	copy = malloc(total);
	if (!copy)
		return;
	memcpy(copy, iov[0].iov_base, iov[0].iov_len);
	if (cnt == 2)
		memcpy(copy + iov[0].iov_len, iov[1].iov_base, iov[1].iov_len);
	/* Back from the end over n line ends (the last byte is one). */
	start = total - 1;
	for (size_t seen = 0; start > 0; start--)
		if (copy[start - 1] == '\n' && ++seen == n)
			break;
	for (size_t i = start, from = start; i < total; i++)
		if (copy[i] == '\n') {
			fn(ctx, copy + from, i - from);
			from = i + 1;
		}
	free(copy);
}

void
output_follow(struct child *c, struct output_follower *f)
{
	struct capture *cap = capture_get(c);

	f->child = NULL;
	if (!cap)
		return;
	f->child = c;
	TAILQ_INSERT_TAIL(&cap->followers, f, link);
}

void
output_unfollow(struct output_follower *f)
{
	struct capture *cap;

	if (!f->child)
		return;
	cap = node_output(f->child);
	if (cap)
		TAILQ_REMOVE(&cap->followers, f, link);
	f->child = NULL;
}

/* Bytes as a JSON string: valid UTF-8 sequences are kept, anything else
 * becomes U+FFFD (jansson refuses invalid UTF-8). */
static json_t *
utf8_string(const char *s, size_t len)
{
	char *buf = malloc(len * 3 + 1);
	size_t n = 0;
	json_t *j;

	if (!buf)
		return NULL;
	for (size_t i = 0; i < len;) {
		unsigned char ch = (unsigned char)s[i];
		size_t need = ch < 0x80         ? 1
			      : (ch >> 5) == 6  ? 2
			      : (ch >> 4) == 14 ? 3
			      : (ch >> 3) == 30 ? 4
						: 0;
		bool ok = need > 0 && i + need <= len && ch != 0;

		for (size_t k = 1; ok && k < need; k++)
			ok = ((unsigned char)s[i + k] >> 6) == 2;
		if (ok && need > 1) {
			/* refuse overlong forms and surrogates, as jansson does */
			json_t *probe = json_stringn(s + i, need);
			ok = probe != NULL;
			json_decref(probe);
		}
		if (ok) {
			memcpy(buf + n, s + i, need);
			n += need;
			i += need;
		} else {
			memcpy(buf + n, "\xef\xbf\xbd", 3);
			n += 3;
			i++;
		}
	}
	j = json_stringn(buf, n);
	free(buf);
	return j;
}

struct lines_ctx {
	json_t *array;
	bool failed;
};

static void
add_line(void *ctx, const char *line, size_t len)
{
	struct lines_ctx *lc = ctx;

	if (json_array_append_new(lc->array, utf8_string(line, len)) < 0)
		lc->failed = true;
}

json_t *
output_lines_json(const struct child *c, size_t n)
{
	struct lines_ctx lc = {.array = json_array()};

	if (!lc.array)
		return NULL;
	output_last_lines(c, n, add_line, &lc);
	if (lc.failed) {
		json_decref(lc.array);
		return NULL;
	}
	return lc.array;
}

json_t *
output_line_message(const char *path, enum relay_stream s, const char *line, size_t len)
{
	return json_pack("{s:{s:s, s:s, s:o}}", "log", "path", path, "stream",
			 s == RELAY_OUT ? "out" : "err", "line", utf8_string(line, len));
}
