/*
 * jsonl.c - JSON lines over Unix stream sockets, for the KV example.
 *
 * Owns the buffering of one connection: it reads, splits lines, parses
 * them, queues replies and writes them without ever blocking the loop. A
 * connection is freed only from its own event callbacks (never from inside
 * a caller's jsonl_send/pause/close), so a handler may act on any connection
 * without pulling it from under another callback. It knows nothing of what
 * the messages mean.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "jsonl.h"

struct buf {
	char *data;
	size_t len, cap;
};

struct jsonl {
	int fd;
	sd_event_source *io;
	/* Runs the connection's state machine on the next loop iteration,
	 * after any change made from outside its own callbacks. */
	sd_event_source *defer;
	struct buf in, out;
	bool paused, closing, eof, failed;
	jsonl_message_fn on_message;
	jsonl_close_fn on_close;
	void *userdata;
};

static int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + len)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static void
buf_consume(struct buf *b, size_t len)
{
	memmove(b->data, b->data + len, b->len - len);
	b->len -= len;
}

static void
kick(struct jsonl *conn)
{
	sd_event_source_set_enabled(conn->defer, SD_EVENT_ONESHOT);
}

/* One read per wakeup: a peer that writes without pause cannot keep the
 * loop here, and the buffer stays near one line. */
static void
read_some(struct jsonl *conn)
{
	char chunk[4096];
	ssize_t n = read(conn->fd, chunk, sizeof(chunk));

	if (n > 0) {
		if (buf_append(&conn->in, chunk, n) < 0)
			conn->failed = true;
	} else if (n == 0) {
		conn->eof = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		conn->failed = true;
	}
}

static void
deliver_lines(struct jsonl *conn)
{
	char *nl;

	while (!conn->paused && !conn->closing && !conn->failed && conn->in.len > 0 &&
	       (nl = memchr(conn->in.data, '\n', conn->in.len))) {
		size_t len = nl - conn->in.data;
		json_t *msg = NULL;

		if (len > 0) {
			msg = json_loadb(conn->in.data, len, 0, NULL);
			if (msg && !json_is_object(msg)) {
				json_decref(msg);
				msg = NULL;
			}
		}
		buf_consume(&conn->in, len + 1);
		if (len > 0)
			conn->on_message(conn, msg, conn->userdata);
		json_decref(msg);
	}
	if (conn->in.len > JSONL_MAX_LINE)
		conn->failed = true;
}

static void
flush(struct jsonl *conn)
{
	while (conn->out.len > 0 && !conn->failed) {
		ssize_t n =
			send(conn->fd, conn->out.data, conn->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n > 0)
			buf_consume(&conn->out, n);
		else if (errno == EAGAIN)
			break;
		else if (errno != EINTR)
			conn->failed = true;
	}
}

static void
process(struct jsonl *conn)
{
	uint32_t events = 0;

	deliver_lines(conn);
	flush(conn);
	if (conn->failed ||
	    (conn->out.len == 0 && (conn->closing || (conn->eof && !conn->paused)))) {
		conn->on_close(conn, conn->userdata);
		jsonl_free(conn);
		return;
	}
	if (!conn->paused && !conn->closing && !conn->eof)
		events |= EPOLLIN;
	if (conn->out.len > 0)
		events |= EPOLLOUT;
	/* A hung-up peer makes epoll report EPOLLHUP whatever we ask for:
	 * with nothing to wait for, switch the source off instead. */
	if (events) {
		sd_event_source_set_io_events(conn->io, events);
		sd_event_source_set_enabled(conn->io, SD_EVENT_ON);
	} else {
		sd_event_source_set_enabled(conn->io, SD_EVENT_OFF);
	}
}

static int
on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct jsonl *conn = userdata;

	(void)s;
	(void)fd;
	if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !conn->paused && !conn->eof)
		read_some(conn);
	process(conn);
	return 0;
}

static int
on_defer(sd_event_source *s, void *userdata)
{
	(void)s;
	process(userdata);
	return 0;
}

int
jsonl_new(struct jsonl **out, sd_event *event, int fd, jsonl_message_fn on_message,
	  jsonl_close_fn on_close, void *userdata)
{
	struct jsonl *conn = calloc(1, sizeof(*conn));
	int r;

	if (!conn) {
		close(fd);
		return -ENOMEM;
	}
	conn->fd = fd;
	conn->on_message = on_message;
	conn->on_close = on_close;
	conn->userdata = userdata;
	r = sd_event_add_io(event, &conn->io, fd, EPOLLIN, on_io, conn);
	if (r >= 0)
		r = sd_event_add_defer(event, &conn->defer, on_defer, conn);
	if (r >= 0)
		r = sd_event_source_set_enabled(conn->defer, SD_EVENT_OFF);
	if (r < 0) {
		jsonl_free(conn);
		return r;
	}
	*out = conn;
	return 0;
}

void
jsonl_free(struct jsonl *conn)
{
	if (!conn)
		return;
	sd_event_source_disable_unref(conn->io);
	sd_event_source_disable_unref(conn->defer);
	close(conn->fd);
	free(conn->in.data);
	free(conn->out.data);
	free(conn);
}

void
jsonl_send(struct jsonl *conn, json_t *msg)
{
	char *line;

	if (conn->closing || conn->failed)
		return;
	line = json_dumps(msg, JSON_COMPACT);
	if (!line || buf_append(&conn->out, line, strlen(line)) < 0 ||
	    buf_append(&conn->out, "\n", 1) < 0)
		conn->failed = true;
	free(line);
	kick(conn);
}

void
jsonl_pause(struct jsonl *conn, bool paused)
{
	conn->paused = paused;
	kick(conn);
}

void
jsonl_close(struct jsonl *conn)
{
	conn->closing = true;
	kick(conn);
}

static int
unix_address(struct sockaddr_un *addr, const char *path)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

int
jsonl_listen(const char *path)
{
	struct sockaddr_un addr;
	int fd, r;

	r = unix_address(&addr, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A process killed with SIGKILL leaves its socket file behind; its
	 * name is ours now (supd keeps child ids unique). */
	if ((unlink(path) < 0 && errno != ENOENT) ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 128) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int
jsonl_connect(const char *path)
{
	struct sockaddr_un addr;
	int fd, r;

	r = unix_address(&addr, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int
write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= n;
	}
	return 0;
}

int
jsonl_call(int fd, json_t *req, json_t **reply, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct buf in = {0};
	char *line, *nl = NULL;
	int r;

	line = json_dumps(req, JSON_COMPACT);
	if (!line)
		return -ENOMEM;
	r = write_all(fd, line, strlen(line));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	free(line);
	while (r == 0 && !(in.len > 0 && (nl = memchr(in.data, '\n', in.len)))) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		char chunk[4096];
		ssize_t n;

		if (left <= 0 || in.len > JSONL_MAX_LINE) {
			r = left <= 0 ? -ETIMEDOUT : -EPROTO;
			break;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			r = errno == EINTR ? 0 : -errno;
			continue;
		}
		n = read(fd, chunk, sizeof(chunk));
		if (n > 0)
			r = buf_append(&in, chunk, n);
		else if (n == 0)
			r = -ECONNRESET;
		else if (errno != EAGAIN && errno != EINTR)
			r = -errno;
	}
	if (r == 0) {
		*reply = json_loadb(in.data, nl - in.data, 0, NULL);
		if (!json_is_object(*reply)) {
			json_decref(*reply);
			r = -EPROTO;
		}
	}
	free(in.data);
	return r;
}

int
jsonl_serve(sd_event *event, const char *path, sd_event_io_handler_t on_accept)
{
	int fd = jsonl_listen(path), r;

	if (fd < 0)
		return fd;
	r = sd_event_add_io(event, NULL, fd, EPOLLIN, on_accept, NULL);
	if (r < 0) {
		close(fd);
		unlink(path);
		return r;
	}
	sd_notify(0, "READY=1");
	r = sd_event_loop(event);
	unlink(path);
	return r;
}
