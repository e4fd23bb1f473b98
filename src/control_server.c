/*
 * control_server.c - the control socket server (SPEC section 6).
 *
 * Owns the listening socket (created with its mode and group, a stale
 * socket file of a dead supd replaced, or handed in by systemd), accepting
 * clients, checking their credentials (SO_PEERCRED / SO_PEERGROUPS) into a
 * role, and the limits: control.max_clients, and the descriptors that
 * supervision needs. Clients never take those: a reserve of descriptors
 * below RLIMIT_NOFILE stays free for spawning workers, the client limit is
 * lowered (and logged) when the limit leaves no room for max_clients, a
 * client accepted above the reserve is refused, and when descriptors run
 * out altogether a spare one is given up to accept and close the pending
 * client rather than spin on EMFILE.
 *
 * Connections are connection.c's, their requests ops.c's; this file wires
 * them to the loop (one defer source for the work that must not run inside
 * the core) and to the event stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "connection.h"
#include "control.h"
#include "events.h"
#include "fd_reserve.h"
#include "listener.h"
#include "log.h"
#include "ops.h"
#include "supd/protocol.h"

#define LISTEN_BACKLOG 128

struct control {
	struct control_host host;
	int listen_fd;
	struct listener accepting;
	sd_event_source *defer_src;
	bool closing;
	int spare_fd; /* /dev/null, given up to accept-and-close when out of descriptors */

	char *path; /* the socket file we created, NULL with socket activation */
	dev_t dev;
	ino_t ino;

	uid_t owner_uid;
	bool has_group;
	gid_t gid;
	uint32_t max_clients;

	struct conn_hub hub;
	struct ops *ops;
	struct event_listener listener;
	bool listening_events;
	uint64_t last_refusal_log_ms;
};

static uint64_t
now_ms(const struct control *ctl)
{
	return ctl->host.now_ms(ctl->host.ctx);
}

/* ---- socket path ---- */

const char *
control_socket_path(const char *override, const struct control_config *cfg, char *buf, size_t len)
{
	const char *given = override ? override : cfg ? cfg->socket_path : NULL;
	int n;

	if (given) {
		n = snprintf(buf, len, "%s", given);
		return n >= 0 && (size_t)n < len ? buf : NULL;
	}
	return supd_default_socket_path(buf, len) == 0 ? buf : NULL;
}

/* ---- wiring: connections, ops, the loop ---- */

static void
control_wake(void *userdata)
{
	struct control *ctl = userdata;

	if (ctl->defer_src)
		sd_event_source_set_enabled(ctl->defer_src, SD_EVENT_ONESHOT);
}

static void
hub_serve(void *userdata, struct conn *conn, const char *line, size_t len)
{
	struct control *ctl = userdata;

	ops_serve(ctl->ops, conn, line, len);
}

static bool
hub_holds(void *userdata, const struct conn *conn)
{
	(void)userdata;
	return ops_conn_holds(conn);
}

static void
hub_closed(void *userdata, struct conn *conn, bool orderly)
{
	struct control *ctl = userdata;

	ops_conn_closed(ctl->ops, conn, orderly && !ctl->closing);
	if (!ctl->closing)
		listener_resume(&ctl->accepting);
}

/* Closed connections, deferred link terminations and connections whose
 * request finished while the core was running. */
static int
on_defer(sd_event_source *s, void *userdata)
{
	struct control *ctl = userdata;
	bool more;

	(void)s;
	more = conn_hub_run(&ctl->hub);
	more = ops_run_deferred(ctl->ops) || more;
	/* Work queued meanwhile (a dead connection, a link) waits for the
	 * next turn, where the defer source runs again. */
	if (more || !TAILQ_EMPTY(&ctl->hub.dead))
		control_wake(ctl);
	return 0;
}

static void
on_event(struct event_listener *l, const struct core_event *ev, const char *line, size_t len)
{
	struct control *ctl = (struct control *)((char *)l - offsetof(struct control, listener));

	ops_on_event(ctl->ops, ev, line, len);
}

static uint64_t
host_now_ms(void *userdata)
{
	struct control *ctl = userdata;

	return now_ms(ctl);
}

static void
host_request_stop(void *userdata)
{
	struct control *ctl = userdata;

	ctl->host.request_stop(ctl->host.ctx);
}

static void
host_signal(void *userdata, struct child *c, int sig)
{
	struct control *ctl = userdata;

	ctl->host.signal(ctl->host.ctx, c, sig);
}

static int
host_reopen(void *userdata)
{
	struct control *ctl = userdata;

	return ctl->host.reopen ? ctl->host.reopen(ctl->host.ctx) : 0;
}

/* ---- accepting ---- */

static bool
peer_in_group(int fd, gid_t gid)
{
	gid_t small[64], *groups = small;
	socklen_t len = sizeof(small);
	bool found = false;

	for (int tries = 0; tries < 4; tries++) {
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
			for (size_t i = 0; i < len / sizeof(gid_t); i++)
				if (groups[i] == gid)
					found = true;
			break;
		}
		if (errno != ERANGE)
			break;
		/* The kernel told us the size it needs in len. */
		if (groups != small)
			free(groups);
		groups = malloc(len);
		if (!groups)
			return false;
	}
	if (groups != small)
		free(groups);
	return found;
}

/* Who may connect (SPEC 6) and what they may do (SPEC 7.9). Returns false
 * when the peer may not connect at all. */
static bool
peer_role(const struct control *ctl, int fd, const struct ucred *cred, enum ops_role *role)
{
	*role = OPS_ROLE_OWNER;
	if (cred->uid == 0 || cred->uid == ctl->owner_uid)
		return true;
	*role = OPS_ROLE_GROUP;
	if (!ctl->has_group)
		return false;
	return cred->gid == ctl->gid || peer_in_group(fd, ctl->gid);
}

/* One line for a connection that is refused, if its socket takes it at
 * once; then it is closed. */
static void
refuse(struct control *ctl, int fd, const struct ucred *cred, const char *error,
       const char *message)
{
	char line[256];
	uint64_t now = now_ms(ctl);
	int n;

	n = snprintf(line, sizeof(line), "{\"ok\":false,\"error\":\"%s\",\"message\":\"%s\"}\n",
		     error, message);
	/* Best effort: a client that is not reading yet just sees the close. */
	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
	/* A local flood of refused connections must not flood the log. */
	if (now - ctl->last_refusal_log_ms >= 1000 || ctl->last_refusal_log_ms == 0) {
		ctl->last_refusal_log_ms = now;
		log_warnx("control: refused pid %d (uid %u): %s", cred ? (int)cred->pid : 0,
			  cred ? (unsigned)cred->uid : 0, message);
	}
}

static void
client_accept(void *userdata, int fd)
{
	struct control *ctl = userdata;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	enum ops_role role;
	struct conn *conn;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	if (!peer_role(ctl, fd, &cred, &role)) {
		refuse(ctl, fd, &cred, SUPD_E_ACCESS_DENIED, "access denied");
		return;
	}
	if (ctl->hub.nconns >= ctl->max_clients) {
		refuse(ctl, fd, &cred, SUPD_E_TOO_MANY_CLIENTS, "too many clients");
		return;
	}
	if (ctl->hub.fd_ceiling > 0 && fd >= ctl->hub.fd_ceiling) {
		refuse(ctl, fd, &cred, SUPD_E_TOO_MANY_CLIENTS,
		       "too many clients for the descriptor limit");
		return;
	}
	conn = conn_new(&ctl->hub, fd, &cred);
	if (conn && ops_conn_open(ctl->ops, conn, role) < 0) {
		log_warnx("control: out of memory; connection of pid %d dropped", (int)cred.pid);
		conn_close(conn, false);
	}
}

/* Out of descriptors: give up the spare one to accept the pending client
 * and close it at once, so that the backlog drains instead of waking us
 * again and again. Returns false when there is no spare to give. */
static bool
accept_and_close(void *userdata)
{
	struct control *ctl = userdata;
	int cfd;

	if (ctl->spare_fd < 0)
		return false;
	close(ctl->spare_fd);
	cfd = accept4(ctl->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd >= 0)
		refuse(ctl, cfd, NULL, SUPD_E_TOO_MANY_CLIENTS, "out of descriptors");
	ctl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return cfd >= 0;
}

/* Lowers max_clients to what RLIMIT_NOFILE leaves once the reserve for
 * supervision and the descriptors already open are counted, and sets the
 * ceiling that connections and passed pidfds must stay below. */
static void
apply_fd_limit(struct control *ctl)
{
	long limit, reserve, room;
	int ceiling = fd_reserve_ceiling(&limit, &reserve);

	if (ceiling < 0)
		return;
	ctl->hub.fd_ceiling = ceiling;
	/* Descriptors are allocated lowest first: the spare's number is
	 * about how many supd holds now. */
	room = ctl->hub.fd_ceiling - (ctl->spare_fd >= 0 ? ctl->spare_fd : 0) - 1;
	if (ctl->hub.fd_ceiling == 0)
		room = 0;
	if (room < 0)
		room = 0;
	if ((long)ctl->max_clients > room) {
		log_warnx("control: RLIMIT_NOFILE %ld leaves room for %ld clients, not "
			  "max_clients "
			  "%u (%ld descriptors are kept for supervision)",
			  limit, room, ctl->max_clients, reserve);
		ctl->max_clients = (uint32_t)room;
	}
}

/* ---- the listening socket ---- */

/* EADDRINUSE on bind: a live supd keeps its socket; a dead one's file is
 * replaced. Returns 0 when the path is free now. */
static int
remove_stale_socket(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_warnx("control: %s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_warn("control: socket");
		return r;
	}
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (r == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		log_warnx("control: %s is in use by a running supd", path);
		return -EADDRINUSE;
	}
	r = errno;
	close(fd);
	if (r == ENOENT)
		return 0;
	if (r != ECONNREFUSED) {
		errno = r;
		log_warn("control: probing %s", path);
		return -r;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		log_warn("control: removing the stale socket %s", path);
		return r;
	}
	log_info("control: removed the stale socket %s", path);
	return 0;
}

static int
bind_with_mode(int fd, const struct sockaddr_un *sa, mode_t mode)
{
	/* bind() creates the file with the umask applied; a umask that lets
	 * through nothing but `mode` leaves no window where the file is more
	 * open than configured. supd is single-threaded. */
	mode_t old = umask(~mode & 0777);
	int r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int saved = errno;

	umask(old);
	errno = saved;
	return r < 0 ? -errno : 0;
}

static int
listen_on_path(struct control *ctl, const char *path, mode_t mode, const struct control_config *cfg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_warnx("control: socket path too long (max %zu bytes): %s",
			  sizeof(sa.sun_path) - 1, path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		log_warn("control: socket");
		return r;
	}
	r = bind_with_mode(fd, &sa, mode);
	if (r == -EADDRINUSE) {
		r = remove_stale_socket(path, &sa);
		if (r < 0) {
			close(fd);
			return r;
		}
		r = bind_with_mode(fd, &sa, mode);
	}
	if (r < 0) {
		errno = -r;
		log_warn("control: bind %s", path);
		close(fd);
		return r;
	}
	if (chmod(path, mode) < 0 || (cfg && cfg->group && chown(path, (uid_t)-1, cfg->gid) < 0) ||
	    listen(fd, LISTEN_BACKLOG) < 0 || lstat(path, &st) < 0) {
		r = -errno;
		log_warn("control: setting up %s", path);
		unlink(path);
		close(fd);
		return r;
	}
	ctl->path = strdup(path);
	if (!ctl->path) {
		unlink(path);
		close(fd);
		log_warnx("control: out of memory");
		return -ENOMEM;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	ctl->listen_fd = fd;
	return 0;
}

static int
adopt_listen_fd(struct control *ctl, int fd)
{
	int flags;

	if (sd_is_socket(fd, AF_UNIX, SOCK_STREAM, 1) <= 0) {
		log_warnx("control: the activated socket (fd %d) is not a listening Unix "
			  "stream "
			  "socket",
			  fd);
		return -EINVAL;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		flags = -errno;
		log_warn("control: activated socket fd %d", fd);
		return flags;
	}
	ctl->listen_fd = fd;
	return 0;
}

int
control_new(struct control **out, const struct control_host *host, const struct control_config *cfg,
	    const char *path, int listen_fd)
{
	struct control *ctl;
	mode_t mode = cfg && cfg->mode ? cfg->mode : SUPD_SOCKET_MODE_DEFAULT;
	struct conn_handler handler = {
		.serve = hub_serve, .holds = hub_holds, .closed = hub_closed, .wake = control_wake};
	struct ops_host ops_host = {.core = host->core,
				    .now_ms = host_now_ms,
				    .request_stop = host_request_stop,
				    .signal = host_signal,
				    .reopen = host_reopen,
				    .wake = control_wake};
	int r;

	*out = NULL;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		log_warnx("control: out of memory");
		return -ENOMEM;
	}
	ctl->host = *host;
	ctl->listen_fd = -1;
	ctl->spare_fd = -1;
	ctl->owner_uid = geteuid();
	ctl->has_group = cfg && cfg->group;
	ctl->gid = cfg ? cfg->gid : 0;
	ctl->max_clients = cfg && cfg->max_clients ? cfg->max_clients : SUPD_MAX_CLIENTS_DEFAULT;
	handler.ctx = ctl;
	ops_host.ctx = ctl;
	conn_hub_init(&ctl->hub, host->event, &handler);
	ctl->ops = ops_new(&ops_host);
	if (!ctl->ops) {
		r = -ENOMEM;
		log_warnx("control: out of memory");
		goto fail;
	}

	if (listen_fd >= 0)
		r = adopt_listen_fd(ctl, listen_fd);
	else if (path)
		r = listen_on_path(ctl, path, mode, cfg);
	else
		r = -EINVAL;
	if (r < 0)
		goto fail;
	ctl->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	apply_fd_limit(ctl);
	ctl->accepting = (struct listener){.name = "control",
					   .take = client_accept,
					   .out_of_fds = accept_and_close,
					   .ctx = ctl};
	r = listener_start(&ctl->accepting, host->event, ctl->listen_fd);
	if (r >= 0)
		r = sd_event_add_defer(host->event, &ctl->defer_src, on_defer, ctl);
	if (r >= 0)
		r = sd_event_source_set_enabled(ctl->defer_src, SD_EVENT_OFF);
	if (r < 0) {
		errno = -r;
		log_warn("control: event sources");
		goto fail;
	}
	ctl->listener.fn = on_event;
	events_add_listener(&ctl->listener);
	ctl->listening_events = true;
	*out = ctl;
	return 0;
fail:
	control_free(ctl);
	return r;
}

void
control_free(struct control *ctl)
{
	struct stat st;

	if (!ctl)
		return;
	ctl->closing = true;
	if (ctl->listening_events)
		events_remove_listener(&ctl->listener);
	/* Last words (the reply to `stop`, supd_exiting) go out if the
	 * sockets take them now; links are left alone, the tree is gone. */
	conn_hub_fini(&ctl->hub);
	ops_free(ctl->ops);
	listener_stop(&ctl->accepting);
	sd_event_source_disable_unref(ctl->defer_src);
	if (ctl->listen_fd >= 0)
		close(ctl->listen_fd);
	if (ctl->spare_fd >= 0)
		close(ctl->spare_fd);
	/* Remove the file only if it is still the one we bound: a successor
	 * may already have replaced it. */
	if (ctl->path && lstat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
