/*
 * test-connection.c - one control client's bytes (src/connection.c) on a
 * socketpair: framing, request order behind a busy request, a client that
 * hangs up with requests pending, oversized lines, and the descriptor cap.
 * The handler here only records lines; no core, no server.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <systemd/sd-event.h>

#include "connection.h"
#include "supd/protocol.h"

struct rig {
	sd_event *event;
	struct conn_hub hub;
	struct conn *conn;
	int peer;
	char served[16][64];
	size_t nserved;
	bool busy_on_next;
	bool closed, orderly;
	bool woken;
};

static struct rig R;

static void
serve(void *ctx, struct conn *conn, const char *line, size_t len)
{
	struct rig *r = ctx;
	char reply[80];
	int n;

	snprintf(r->served[r->nserved++ % 16], 64, "%.*s", (int)len, line);
	n = snprintf(reply, sizeof(reply), "{\"ok\":true,\"line\":\"%.*s\"}\n", (int)len, line);
	conn_enqueue(conn, reply, (size_t)n, -1);
	if (r->busy_on_next) {
		r->busy_on_next = false;
		conn_set_busy(conn, true);
	}
}

static void
closed(void *ctx, struct conn *conn, bool orderly)
{
	struct rig *r = ctx;

	(void)conn;
	r->closed = true;
	r->orderly = orderly;
	r->conn = NULL;
}

static void
wake(void *ctx)
{
	((struct rig *)ctx)->woken = true;
}

static void
setup(void)
{
	struct conn_handler h = {.serve = serve, .closed = closed, .wake = wake, .ctx = &R};
	struct ucred cred = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	int sv[2];

	memset(&R, 0, sizeof(R));
	cr_assert(eq(int, sd_event_new(&R.event), 0));
	conn_hub_init(&R.hub, R.event, &h);
	cr_assert(
		eq(int, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0));
	R.conn = conn_new(&R.hub, sv[0], &cred);
	cr_assert(R.conn != NULL);
	R.peer = sv[1];
}

static void
teardown(void)
{
	conn_hub_fini(&R.hub);
	if (R.peer >= 0)
		close(R.peer);
	sd_event_unref(R.event);
}

/* Runs the loop until nothing is pending, with the hub's deferred work. */
static void
settle(void)
{
	for (int i = 0; i < 100; i++) {
		bool ran = sd_event_run(R.event, 0) > 0;

		if (R.woken) {
			R.woken = false;
			conn_hub_run(&R.hub);
			ran = true;
		}
		if (!ran)
			return;
	}
}

static void
peer_send(const char *s)
{
	cr_assert(eq(sz, (size_t)write(R.peer, s, strlen(s)), strlen(s)));
}

static size_t
peer_read(char *buf, size_t len)
{
	ssize_t n = read(R.peer, buf, len - 1);

	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

TestSuite(connection, .init = setup, .fini = teardown);

Test(connection, lines_in_order_and_a_last_line_without_newline)
{
	char buf[512];

	peer_send("one\n\n  \ntwo\nthree");
	settle();
	cr_assert(eq(sz, R.nserved, 2), "blank lines are skipped; 'three' waits for its newline");
	shutdown(R.peer, SHUT_WR);
	settle();
	cr_assert(eq(sz, R.nserved, 3));
	cr_assert(eq(str, R.served[2], "three"), "at end of input a last line needs no newline");
	peer_read(buf, sizeof(buf));
	cr_assert(strstr(buf, "\"line\":\"one\"") < strstr(buf, "\"line\":\"three\""));
	cr_assert(R.closed && R.orderly, "closed once nothing more is due");
}

Test(connection, a_busy_request_holds_back_the_next_lines)
{
	R.busy_on_next = true;
	peer_send("slow\nnext\n");
	settle();
	cr_assert(eq(sz, R.nserved, 1));
	conn_set_busy(R.conn, false);
	settle();
	cr_assert(eq(sz, R.nserved, 2));
	cr_assert(eq(str, R.served[1], "next"));
}

Test(connection, requests_of_a_client_that_hung_up_are_still_served)
{
	R.busy_on_next = true;
	peer_send("slow\na\nb\n");
	close(R.peer);
	R.peer = -1;
	settle();
	cr_assert(eq(sz, R.nserved, 1));
	cr_assert(not(R.closed), "the busy request is still in progress");
	cr_assert(conn_hung_up(R.conn));
	conn_set_busy(R.conn, false);
	settle();
	cr_assert(eq(sz, R.nserved, 3), "SPEC 6: served after the hangup");
	cr_assert(eq(str, R.served[2], "b"));
	cr_assert(R.closed && R.orderly, "then the connection goes");
}

Test(connection, an_oversized_line_is_refused_and_the_connection_closed)
{
	char *big = malloc(SUPD_LINE_MAX + 1);
	char buf[512];

	memset(big, 'x', SUPD_LINE_MAX);
	big[SUPD_LINE_MAX] = '\0';
	/* The socket buffer may not take it all at once. */
	for (size_t off = 0; off < SUPD_LINE_MAX && !R.closed;) {
		ssize_t n = write(R.peer, big + off, SUPD_LINE_MAX - off);

		if (n > 0)
			off += (size_t)n;
		settle();
	}
	settle();
	cr_assert(eq(sz, R.nserved, 0));
	peer_read(buf, sizeof(buf));
	cr_assert(strstr(buf, "line_too_long") != NULL, "%s", buf);
	cr_assert(R.closed);
	free(big);
}

Test(connection, unsent_descriptors_are_capped)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	size_t queued = 0;

	cr_assert(fd >= 0);
	R.hub.fd_ceiling = fd;
	cr_assert(not(conn_may_pass_fd(R.conn, fd)), "a descriptor of the reserve is refused");
	R.hub.fd_ceiling = fd + 1;
	cr_assert(conn_may_pass_fd(R.conn, fd));
	R.hub.fd_ceiling = 0;
	/* Queued without a loop turn: nothing is written yet. */
	while (conn_may_pass_fd(R.conn, fd) && queued < 2 * CONN_FDS_MAX) {
		conn_enqueue(R.conn, "{}\n", 3, dup(fd));
		queued++;
	}
	cr_assert(eq(sz, queued, CONN_FDS_MAX), "at most CONN_FDS_MAX unsent");
	close(fd);
}
