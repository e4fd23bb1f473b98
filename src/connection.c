/*
 * connection.c - one control client: framing, buffers, flow control and fd
 * passing.
 *
 * Owns a client socket's bytes: reading into a buffer of at most
 * SUPD_LINE_MAX bytes, cutting it into lines, and queueing replies (with a
 * descriptor attached when `monitor` passes a pidfd) in chunks written as the
 * socket takes them. Flow control: a client with more than SUPD_OUTPUT_PAUSE
 * bytes waiting is not served further until it reads; beyond
 * SUPD_OUTPUT_MAX it is disconnected, so it never blocks supd. What a line
 * means is the handler's business (ops.c).
 *
 * Code that runs inside the core (a reply, an event) only queues output and
 * marks connections; closing them and serving the lines that waited happen
 * in conn_hub_run(), at the top of the event loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "connection.h"
#include "log.h"
#include "proto.h"

#define OUT_CHUNK_SIZE  16384
#define IN_INITIAL_SIZE 4096

struct out_chunk {
	struct out_chunk *next;
	size_t len, off, cap;
	int fd; /* sent with the chunk's first byte (SCM_RIGHTS), -1 for none */
	char data[];
};

struct conn {
	struct conn_hub *hub;
	TAILQ_ENTRY(conn) entry;
	TAILQ_ENTRY(conn) dead_entry;
	TAILQ_ENTRY(conn) resume_entry;
	int fd;
	sd_event_source *io;
	struct ucred cred;
	void *session;

	char *in;
	size_t in_off, in_len, in_cap;
	struct out_chunk *out_head, *out_tail;
	size_t out_bytes;
	size_t out_fds; /* descriptors waiting in the output */

	bool busy;       /* a request is being served: the next line waits */
	bool eof;        /* the client shut down its side: no more requests */
	bool hangup;     /* the client is gone: replies are discarded */
	bool dead;       /* to be closed at the top of the loop */
	bool on_resume;  /* on hub->resume */
	bool processing; /* inside conn_process() */
};

static void conn_process(struct conn *conn);
static void conn_settle(struct conn *conn);

/* ---- scheduling work at the top of the loop ---- */

static void
hub_wake(struct conn_hub *hub)
{
	if (hub->handler.wake)
		hub->handler.wake(hub->handler.ctx);
}

void
conn_kill(struct conn *conn)
{
	if (conn->dead)
		return;
	conn->dead = true;
	TAILQ_INSERT_TAIL(&conn->hub->dead, conn, dead_entry);
	if (conn->io)
		sd_event_source_set_enabled(conn->io, SD_EVENT_OFF);
	hub_wake(conn->hub);
}

static void
conn_schedule(struct conn *conn)
{
	if (conn->on_resume || conn->dead || conn->processing)
		return;
	conn->on_resume = true;
	TAILQ_INSERT_TAIL(&conn->hub->resume, conn, resume_entry);
	hub_wake(conn->hub);
}

/* ---- accessors ---- */

const struct ucred *
conn_cred(const struct conn *conn)
{
	return &conn->cred;
}

int
conn_fd(const struct conn *conn)
{
	return conn->fd;
}

void *
conn_session(const struct conn *conn)
{
	return conn->session;
}

void
conn_set_session(struct conn *conn, void *session)
{
	conn->session = session;
}

void
conn_set_busy(struct conn *conn, bool busy)
{
	conn->busy = busy;
	if (!busy)
		conn_schedule(conn);
}

bool
conn_is_busy(const struct conn *conn)
{
	return conn->busy;
}

bool
conn_hung_up(const struct conn *conn)
{
	return conn->hangup;
}

bool
conn_may_pass_fd(const struct conn *conn, int fd)
{
	if (conn->out_fds >= CONN_FDS_MAX || conn->hangup)
		return false;
	/* Descriptors are allocated lowest first: one at or above the ceiling
	 * means fewer than the reserve are left for supervision. */
	return conn->hub->fd_ceiling <= 0 || fd < conn->hub->fd_ceiling;
}

/* ---- output ---- */

static void
conn_update_events(struct conn *conn)
{
	uint32_t events = 0;

	if (conn->dead || !conn->io || conn->hangup)
		return;
	if (!conn->eof && conn->in_len - conn->in_off < SUPD_LINE_MAX)
		events |= EPOLLIN;
	if (conn->out_head)
		events |= EPOLLOUT;
	sd_event_source_set_io_events(conn->io, events);
}

void
conn_enqueue(struct conn *conn, const char *data, size_t len, int fd)
{
	struct out_chunk *tail = conn->out_tail, *chunk;

	if (conn->dead || conn->hangup) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (conn->out_bytes > SUPD_OUTPUT_MAX) {
		log_warnx("control: client pid %d is not reading its replies; disconnecting it",
			  (int)conn->cred.pid);
		if (fd >= 0)
			close(fd);
		conn_kill(conn);
		return;
	}
	if (fd < 0 && tail && tail->cap - tail->len >= len) {
		memcpy(tail->data + tail->len, data, len);
		tail->len += len;
	} else {
		size_t cap = len > OUT_CHUNK_SIZE ? len : OUT_CHUNK_SIZE;

		chunk = malloc(sizeof(*chunk) + cap);
		if (!chunk) {
			log_warnx("control: out of memory; disconnecting client pid %d",
				  (int)conn->cred.pid);
			if (fd >= 0)
				close(fd);
			conn_kill(conn);
			return;
		}
		chunk->next = NULL;
		chunk->len = len;
		chunk->off = 0;
		chunk->cap = cap;
		chunk->fd = fd;
		memcpy(chunk->data, data, len);
		if (tail)
			tail->next = chunk;
		else
			conn->out_head = chunk;
		conn->out_tail = chunk;
		if (fd >= 0)
			conn->out_fds++;
	}
	conn->out_bytes += len;
	conn_update_events(conn);
}

static const char nomem_line[] =
	"{\"ok\":false,\"error\":\"" SUPD_E_NO_MEMORY "\",\"message\":\"out of memory\"}\n";

void
conn_send(struct conn *conn, json_t *msg, json_t *tag, int fd)
{
	size_t len;
	char *line = msg && !conn->hangup ? proto_dump(msg, tag, &len) : NULL;

	if (msg && conn->hangup) {
		json_decref(msg);
		if (fd >= 0)
			close(fd);
		return;
	}
	json_decref(msg);
	if (!line) {
		if (fd >= 0)
			close(fd);
		conn_enqueue(conn, nomem_line, sizeof(nomem_line) - 1, -1);
		return;
	}
	conn_enqueue(conn, line, len, fd);
	free(line);
}

void
conn_send_error(struct conn *conn, json_t *tag, const struct proto_error *err)
{
	conn_send(conn, proto_error_from(err), tag, -1);
}

static int
send_with_fd(int fd, const char *data, size_t len, int pass_fd)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;

	if (pass_fd < 0)
		return send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	memset(&control, 0, sizeof(control));
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof(control.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
	return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* Writes what the socket takes. Top of the loop only: on a write error the
 * connection is marked dead. */
static void
conn_flush(struct conn *conn)
{
	struct out_chunk *chunk;
	ssize_t n;

	while ((chunk = conn->out_head) && !conn->dead && !conn->hangup) {
		n = send_with_fd(conn->fd, chunk->data + chunk->off, chunk->len - chunk->off,
				 chunk->fd);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno != EPIPE && errno != ECONNRESET)
				log_warn("control: write to client pid %d", (int)conn->cred.pid);
			conn_kill(conn);
			return;
		}
		if (chunk->fd >= 0) {
			close(chunk->fd);
			chunk->fd = -1;
			conn->out_fds--;
		}
		chunk->off += (size_t)n;
		conn->out_bytes -= (size_t)n;
		if (chunk->off == chunk->len) {
			conn->out_head = chunk->next;
			if (!conn->out_head)
				conn->out_tail = NULL;
			free(chunk);
		}
	}
	conn_update_events(conn);
}

static void
conn_free_output(struct conn *conn)
{
	struct out_chunk *chunk;

	while ((chunk = conn->out_head)) {
		conn->out_head = chunk->next;
		if (chunk->fd >= 0)
			close(chunk->fd);
		free(chunk);
	}
	conn->out_tail = NULL;
	conn->out_bytes = 0;
	conn->out_fds = 0;
}

/* The peer is gone for good: what it sent is still served, what we would
 * send it is dropped, and epoll (which reports a hangup whatever we ask
 * for) stops waking us for it. */
static void
conn_mark_hangup(struct conn *conn)
{
	conn->eof = true;
	if (conn->hangup)
		return;
	conn->hangup = true;
	conn_free_output(conn);
	if (conn->io)
		sd_event_source_set_enabled(conn->io, SD_EVENT_OFF);
}

/* ---- input ---- */

/* Reads what is there, up to a full line buffer. Top of the loop only. */
static void
conn_read(struct conn *conn)
{
	ssize_t n;
	char *in;
	size_t cap;

	while (!conn->eof && !conn->dead) {
		if (conn->in_off > 0 && conn->in_len == conn->in_cap) {
			memmove(conn->in, conn->in + conn->in_off, conn->in_len - conn->in_off);
			conn->in_len -= conn->in_off;
			conn->in_off = 0;
		}
		if (conn->in_len == conn->in_cap) {
			if (conn->in_cap >= SUPD_LINE_MAX)
				return;
			cap = conn->in_cap ? conn->in_cap * 2 : IN_INITIAL_SIZE;
			if (cap > SUPD_LINE_MAX)
				cap = SUPD_LINE_MAX;
			in = realloc(conn->in, cap);
			if (!in) {
				log_warnx("control: out of memory; disconnecting client pid %d",
					  (int)conn->cred.pid);
				conn_kill(conn);
				return;
			}
			conn->in = in;
			conn->in_cap = cap;
		}
		n = read(conn->fd, conn->in + conn->in_len, conn->in_cap - conn->in_len);
		if (n > 0) {
			conn->in_len += (size_t)n;
		} else if (n == 0) {
			conn->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			return;
		} else if (errno == ECONNRESET) {
			/* Everything the peer sent before it went was read. */
			conn_mark_hangup(conn);
		} else {
			log_warn("control: read from client pid %d", (int)conn->cred.pid);
			conn_kill(conn);
			return;
		}
	}
}

static bool
blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

static bool
conn_has_line(const struct conn *conn)
{
	return conn->in_len > conn->in_off &&
	       (conn->eof || memchr(conn->in + conn->in_off, '\n', conn->in_len - conn->in_off));
}

/* Serves the buffered requests, one at a time, while the client keeps up
 * with the replies. Top of the loop only. */
static void
conn_process(struct conn *conn)
{
	struct conn_handler *h = &conn->hub->handler;
	struct proto_error err;
	char *line, *nl;
	size_t avail, len;

	conn->processing = true;
	while (!conn->busy && !conn->dead && conn->out_bytes <= SUPD_OUTPUT_PAUSE) {
		line = conn->in + conn->in_off;
		avail = conn->in_len - conn->in_off;
		if (avail == 0)
			break;
		nl = memchr(line, '\n', avail);
		if (!nl && avail >= SUPD_LINE_MAX) {
			/* The framing is lost: say why, then hang up. */
			err.error = SUPD_E_LINE_TOO_LONG;
			snprintf(err.message, sizeof(err.message),
				 "request line longer than %d bytes", SUPD_LINE_MAX - 1);
			conn_send_error(conn, NULL, &err);
			conn_flush(conn);
			conn_kill(conn);
			break;
		}
		if (!nl && !conn->eof)
			break;
		/* At end of input a last line needs no newline. */
		len = nl ? (size_t)(nl - line) : avail;
		conn->in_off += nl ? len + 1 : avail;
		if (!blank(line, len))
			h->serve(h->ctx, conn, line, len);
	}
	if (conn->in_off == conn->in_len)
		conn->in_off = conn->in_len = 0;
	conn->processing = false;
}

/* Nothing in flight and nothing that waits for the client: after its end
 * of input, the connection can go. A client that hung up waits for
 * nothing but its own requests. */
static bool
conn_idle(const struct conn *conn)
{
	struct conn_handler *h = &conn->hub->handler;

	if (conn->busy || conn->in_len != conn->in_off)
		return false;
	if (conn->hangup)
		return true;
	return !conn->out_head && !(h->holds && h->holds(h->ctx, conn));
}

static void
conn_settle(struct conn *conn)
{
	if (conn->dead)
		return;
	if (conn->eof && conn_idle(conn)) {
		conn_close(conn, true);
		return;
	}
	if (!conn->busy && conn->out_bytes <= SUPD_OUTPUT_PAUSE && conn_has_line(conn))
		conn_schedule(conn);
	conn_update_events(conn);
}

static int
on_conn_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct conn *conn = userdata;

	(void)s;
	(void)fd;
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
		conn_read(conn);
	/* SPEC 6: requests sent before the client closed are still carried
	 * out; only their replies are lost. */
	if (revents & (EPOLLHUP | EPOLLERR))
		conn_mark_hangup(conn);
	conn_process(conn);
	conn_flush(conn);
	if (conn->dead) {
		conn_close(conn, true);
		return 0;
	}
	conn_settle(conn);
	return 0;
}

bool
conn_hub_run(struct conn_hub *hub)
{
	struct conn *conn;

	while ((conn = TAILQ_FIRST(&hub->dead)))
		conn_close(conn, true);
	while ((conn = TAILQ_FIRST(&hub->resume))) {
		TAILQ_REMOVE(&hub->resume, conn, resume_entry);
		conn->on_resume = false;
		conn_process(conn);
		conn_flush(conn);
		if (conn->dead)
			conn_close(conn, true);
		else
			conn_settle(conn);
	}
	return !TAILQ_EMPTY(&hub->dead);
}

/* ---- lifetime ---- */

struct conn *
conn_new(struct conn_hub *hub, int fd, const struct ucred *cred)
{
	struct conn *conn = calloc(1, sizeof(*conn));
	int r;

	if (!conn) {
		log_warnx("control: out of memory; connection of pid %d dropped", (int)cred->pid);
		close(fd);
		return NULL;
	}
	conn->hub = hub;
	conn->fd = fd;
	conn->cred = *cred;
	r = sd_event_add_io(hub->event, &conn->io, fd, EPOLLIN, on_conn_io, conn);
	if (r < 0) {
		errno = -r;
		log_warn("control: watching a connection");
		close(fd);
		free(conn);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&hub->conns, conn, entry);
	hub->nconns++;
	return conn;
}

void
conn_close(struct conn *conn, bool orderly)
{
	struct conn_hub *hub = conn->hub;

	TAILQ_REMOVE(&hub->conns, conn, entry);
	hub->nconns--;
	if (conn->dead)
		TAILQ_REMOVE(&hub->dead, conn, dead_entry);
	if (conn->on_resume)
		TAILQ_REMOVE(&hub->resume, conn, resume_entry);
	conn->dead = true;
	conn->on_resume = false;
	conn_free_output(conn);
	sd_event_source_disable_unref(conn->io);
	conn->io = NULL;
	close(conn->fd);
	free(conn->in);
	/* Last: the handler may enter the core (link terminations), whose
	 * replies and events must find this connection detached already. */
	if (hub->handler.closed)
		hub->handler.closed(hub->handler.ctx, conn, orderly);
	free(conn);
}

void
conn_hub_init(struct conn_hub *hub, sd_event *event, const struct conn_handler *handler)
{
	memset(hub, 0, sizeof(*hub));
	hub->event = event;
	hub->handler = *handler;
	TAILQ_INIT(&hub->conns);
	TAILQ_INIT(&hub->dead);
	TAILQ_INIT(&hub->resume);
}

void
conn_hub_fini(struct conn_hub *hub)
{
	struct conn *conn;

	/* Last words (the reply to `stop`, supd_exiting) go out if the
	 * sockets take them now. */
	while ((conn = TAILQ_FIRST(&hub->conns))) {
		conn_flush(conn);
		conn_close(conn, false);
	}
}
