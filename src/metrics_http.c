/*
 * metrics_http.c - the metrics HTTP listener (SPEC 7.8).
 *
 * Owns the listening TCP socket of `metrics: {listen: ...}` and its
 * connections. Each connection lives at most METRICS_HTTP_TIMEOUT_MS: its
 * request head (at most HTTP_HEAD_MAX bytes) is read as it comes, judged by
 * http.c, answered once (Connection: close), and the connection is closed.
 * A slow or silent client only holds its own slot until its deadline; the
 * loop never waits for it. Descriptors stay below the ceiling the control
 * socket uses too (fd_reserve.h), so neither server can take what
 * spawning a worker needs.
 *
 * There is no authentication: the listener is for localhost or a trusted
 * network (supd(8)), and it only reads the tree.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fd_reserve.h"
#include "http.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "supervisor.h"

#define LISTEN_BACKLOG 64
/* After the reply, what the client still sends is read and dropped for a
 * moment before the close: closing with unread input would reset the
 * connection and could destroy the reply in flight. */
#define DRAIN_USEC (1000 * 1000)

enum conn_state {
	READING,
	WRITING,
	DRAINING,
};

struct http_conn {
	struct metrics_http *srv;
	LIST_ENTRY(http_conn) entry;
	int fd;
	sd_event_source *io, *deadline;
	enum conn_state state;
	char in[HTTP_HEAD_MAX];
	size_t in_len;
	char head[256]; /* the reply's status line and headers */
	size_t head_len;
	char *body; /* malloc'd */
	size_t body_len;
	size_t sent; /* of head, then body */
};

struct metrics_http {
	struct metrics_http_host host;
	int listen_fd;
	struct listener accepting;
	int fd_ceiling; /* -1: none */
	unsigned nconns;
	LIST_HEAD(, http_conn) conns;
	uint64_t last_refusal_log_ms;
};

static void conn_free(struct http_conn *c);

/* ---- accepting ---- */

/* A connection beyond the limits: one line of HTTP if the socket takes it
 * at once, then the close. Logged at most once a second. */
static void
refuse(struct metrics_http *srv, int fd, const char *why)
{
	static const char reply[] = "HTTP/1.1 503 Service Unavailable\r\n"
				    "Content-Type: text/plain; charset=utf-8\r\n"
				    "Content-Length: 20\r\n"
				    "Connection: close\r\n\r\n"
				    "too many connections";
	uint64_t now = srv->host.now_ms(srv->host.ctx);
	char sink[1024];

	(void)send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* What the request already put here goes first: closing with unread
	 * input resets the connection, which can destroy the 503 in flight. */
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
	if (srv->last_refusal_log_ms == 0 || now - srv->last_refusal_log_ms >= 1000) {
		srv->last_refusal_log_ms = now;
		log_warnx("metrics: refused an HTTP connection: %s", why);
	}
}

static void
conn_close(struct http_conn *c)
{
	struct metrics_http *srv = c->srv;

	conn_free(c);
	listener_resume(&srv->accepting);
}

static void
conn_set_events(struct http_conn *c, uint32_t events)
{
	if (sd_event_source_set_io_events(c->io, events) < 0)
		conn_close(c);
}

/* ---- replying ---- */

static int
conn_write(struct http_conn *c)
{
	while (c->sent < c->head_len + c->body_len) {
		struct iovec iov[2];
		int n = 0;
		ssize_t w;

		if (c->sent < c->head_len) {
			iov[n].iov_base = c->head + c->sent;
			iov[n++].iov_len = c->head_len - c->sent;
		}
		if (c->body_len) {
			size_t off = c->sent > c->head_len ? c->sent - c->head_len : 0;

			iov[n].iov_base = c->body + off;
			iov[n++].iov_len = c->body_len - off;
		}
		w = sendmsg(c->fd, &(struct msghdr){.msg_iov = iov, .msg_iovlen = (size_t)n},
			    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		c->sent += (size_t)w;
	}
	return 1;
}

/* Everything is written: stop sending and drain what the client still
 * sends, for a moment, before the close. */
static void
conn_drain(struct http_conn *c)
{
	free(c->body);
	c->body = NULL;
	c->body_len = 0;
	if (shutdown(c->fd, SHUT_WR) < 0) {
		conn_close(c);
		return;
	}
	c->state = DRAINING;
	sd_event_source_set_time_relative(c->deadline, DRAIN_USEC);
	conn_set_events(c, EPOLLIN);
}

static void
conn_flush(struct http_conn *c)
{
	int r = conn_write(c);

	if (r < 0)
		conn_close(c);
	else if (r > 0)
		conn_drain(c);
	else
		conn_set_events(c, EPOLLOUT);
}

static void
wall_clock_s(double *s)
{
	struct timespec wall;

	clock_gettime(CLOCK_REALTIME, &wall);
	*s = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
}

/* The text, joined into the connection's own buffer: the pieces are
 * reused by the next scrape, and this reply may take a while to go out. */
static char *
render_body(struct metrics_http *srv, double wall_s, size_t *len)
{
	struct metrics_piece pieces[METRICS_PIECES];
	size_t total;
	char *body, *p;

	if (metrics_render_pieces(core_root(srv->host.core), srv->host.now_ms(srv->host.ctx),
				  wall_s, pieces, &total) < 0)
		return NULL;
	body = malloc(total ? total : 1);
	if (!body)
		return NULL;
	p = body;
	for (size_t i = 0; i < METRICS_PIECES; i++) {
		if (pieces[i].len)
			memcpy(p, pieces[i].data, pieces[i].len);
		p += pieces[i].len;
	}
	*len = total;
	return body;
}

static void
conn_reply(struct http_conn *c, enum http_verdict v, const struct http_request *req)
{
	struct metrics_http *srv = c->srv;
	const char *type = "text/plain; charset=utf-8", *extra = "";
	char message[96];
	size_t content_length;
	double wall_s;
	int n;

	if (v == HTTP_OK) {
		wall_clock_s(&wall_s);
		c->body = render_body(srv, wall_s, &c->body_len);
		if (!c->body) {
			log_warnx("metrics: out of memory rendering the metrics");
			conn_close(c);
			return;
		}
		type = METRICS_CONTENT_TYPE;
	} else {
		/* The status again, as the body: curl and a browser show it. */
		n = snprintf(message, sizeof(message), "%s%s\n", http_status_line(v),
			     v == HTTP_NOT_FOUND || v == HTTP_METHOD_NOT_ALLOWED
				     ? ": supd serves GET /metrics only"
				     : "");
		c->body = strdup(message);
		if (!c->body || n < 0) {
			conn_close(c);
			return;
		}
		c->body_len = strlen(c->body);
		if (v == HTTP_METHOD_NOT_ALLOWED)
			extra = "Allow: GET, HEAD\r\n";
	}
	content_length = c->body_len;
	if (req->head) {
		free(c->body);
		c->body = NULL;
		c->body_len = 0;
	}
	n = snprintf(c->head, sizeof(c->head),
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: "
		     "close\r\n\r\n",
		     http_status_line(v), type, content_length, extra);
	if (n < 0 || (size_t)n >= sizeof(c->head)) {
		conn_close(c);
		return;
	}
	c->head_len = (size_t)n;
	c->state = WRITING;
	conn_flush(c);
}

/* ---- reading ---- */

static void
conn_read(struct http_conn *c)
{
	struct http_request req;
	enum http_verdict v;
	ssize_t n;

	for (;;) {
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		/* Gone, or the request ended before its head did. */
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	v = http_parse_request(c->in, c->in_len, &req);
	if (v == HTTP_INCOMPLETE && c->in_len == sizeof(c->in))
		v = HTTP_HEAD_TOO_LARGE;
	if (v != HTTP_INCOMPLETE)
		conn_reply(c, v, &req);
}

static void
conn_discard(struct http_conn *c)
{
	char sink[4096];
	ssize_t n;

	do
		n = read(c->fd, sink, sizeof(sink));
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
		conn_close(c);
}

static int
on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct http_conn *c = userdata;

	(void)s;
	(void)fd;
	switch (c->state) {
	case READING:
		if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_read(c);
		break;
	case WRITING:
		if (revents & EPOLLERR)
			conn_close(c);
		else
			conn_flush(c);
		break;
	case DRAINING:
		conn_discard(c);
		break;
	}
	return 0;
}

static int
on_conn_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
	(void)s;
	(void)usec;
	conn_close(userdata);
	return 0;
}

static void
conn_free(struct http_conn *c)
{
	LIST_REMOVE(c, entry);
	c->srv->nconns--;
	sd_event_source_disable_unref(c->io);
	sd_event_source_disable_unref(c->deadline);
	close(c->fd);
	free(c->body);
	free(c);
}

static void
conn_open(void *userdata, int fd)
{
	struct metrics_http *srv = userdata;
	struct http_conn *c;
	int r;

	if (srv->nconns >= METRICS_HTTP_MAX_CONNS) {
		refuse(srv, fd, "too many connections");
		return;
	}
	if (srv->fd_ceiling >= 0 && fd >= srv->fd_ceiling) {
		refuse(srv, fd, "the descriptors left are kept for supervision");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(srv, fd, "out of memory");
		return;
	}
	c->srv = srv;
	c->fd = fd;
	c->state = READING;
	LIST_INSERT_HEAD(&srv->conns, c, entry);
	srv->nconns++;
	r = sd_event_add_io(srv->host.event, &c->io, fd, EPOLLIN, on_conn_io, c);
	if (r >= 0)
		r = sd_event_add_time_relative(srv->host.event, &c->deadline, CLOCK_MONOTONIC,
					       (uint64_t)METRICS_HTTP_TIMEOUT_MS * 1000, 100 * 1000,
					       on_conn_deadline, c);
	if (r < 0) {
		errno = -r;
		log_warn("metrics: an HTTP connection's event sources");
		conn_free(c);
	}
}

/* ---- the listener ---- */

static int
listen_on(struct metrics_http *srv, const char *listen_text)
{
	struct sockaddr_storage sa;
	socklen_t len;
	char msg[128], addr[INET6_ADDRSTRLEN + 16];
	int fd, one = 1, r;

	if (http_parse_listen(listen_text, &sa, &len, msg, sizeof(msg)) < 0) {
		/* The grammar has checked it already. */
		log_error("metrics: listen %s: %s", listen_text, msg);
		return -EINVAL;
	}
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_error("metrics: cannot listen on %s: socket: %s", listen_text, strerror(-r));
		return r;
	}
	/* A restarted supd binds again while old connections linger in
	 * TIME_WAIT; a live listener on the port still makes bind fail. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		r = -errno;
		log_error("metrics: cannot listen on %s: %s", listen_text, strerror(-r));
		close(fd);
		return r;
	}
	len = sizeof(sa);
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
		http_format_addr((struct sockaddr *)&sa, addr, sizeof(addr));
		log_info("metrics: serving http://%s/metrics", addr);
	}
	srv->listen_fd = fd;
	return 0;
}

int
metrics_http_new(struct metrics_http **out, const struct metrics_http_host *host,
		 const char *listen_text)
{
	struct metrics_http *srv = calloc(1, sizeof(*srv));
	long limit, reserve;
	int r;

	*out = NULL;
	if (!srv) {
		log_error("metrics: out of memory");
		return -ENOMEM;
	}
	srv->host = *host;
	srv->listen_fd = -1;
	LIST_INIT(&srv->conns);
	srv->fd_ceiling = fd_reserve_ceiling(&limit, &reserve);
	r = listen_on(srv, listen_text);
	if (r < 0)
		goto fail;
	srv->accepting = (struct listener){.name = "metrics", .take = conn_open, .ctx = srv};
	r = listener_start(&srv->accepting, host->event, srv->listen_fd);
	if (r < 0) {
		log_error("metrics: event sources: %s", strerror(-r));
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	metrics_http_free(srv);
	return r;
}

void
metrics_http_free(struct metrics_http *srv)
{
	if (!srv)
		return;
	while (!LIST_EMPTY(&srv->conns))
		conn_free(LIST_FIRST(&srv->conns));
	listener_stop(&srv->accepting);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv);
}
