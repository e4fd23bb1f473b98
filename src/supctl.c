/*
 * supctl.c - the command-line client of supd's control socket.
 *
 * Turns a command line into one request (or a short conversation: monitor,
 * events, tree --watch, start-child --link), prints the reply for humans or
 * as raw JSON with --json, and maps the outcome to the exit status of SPEC
 * section 6: 0 ok, 1 an error reply (or a monitored child that did not end
 * normally), 2 supd unreachable or a usage error. It links jansson and
 * nothing of supd but the public wire contract, include/supd/protocol.h;
 * it must never guess at supd's internals.
 */
#include <errno.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "supd/protocol.h"

#define EXIT_OK               0
#define EXIT_ERROR            1 /* an error reply */
#define EXIT_FAILURE_TO_REACH 2 /* supd unreachable, or a usage error */

/* Replies have no length limit on the wire (a big tree); this only keeps a
 * broken server from eating all memory. */
#define REPLY_MAX (256u * 1024 * 1024)

struct client {
	int fd;
	char *buf;
	size_t off, len, cap;
	bool json;       /* --json: raw lines on stdout */
	bool watch_sigs; /* SIGINT/SIGTERM/SIGHUP are blocked and polled for */
	sigset_t waitmask;
};

static const char *progname = "supctl";
static volatile sig_atomic_t got_signal;

static void __attribute__((format(printf, 1, 2))) warnx_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- the connection ---- */

static int
client_connect(struct client *cl, const char *path, bool check_owner)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (strlen(path) >= sizeof(sa.sun_path)) {
		warnx_("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	cl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cl->fd < 0) {
		warnx_("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(cl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		warnx_("cannot reach supd at %s: %s", path, strerror(errno));
		return -1;
	}
	/* The /tmp fallback lives in a world-writable directory: make sure
	 * the listener is supd of this user (or root), not an impostor. */
	if (check_owner && (getsockopt(cl->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
			    (cred.uid != 0 && cred.uid != geteuid()))) {
		warnx_("%s is not owned by this user or root; refusing to use it", path);
		return -1;
	}
	return 0;
}

static int
client_send(struct client *cl, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t n, done = 0;
	ssize_t w;

	if (!text) {
		warnx_("out of memory");
		return -1;
	}
	n = strlen(text);
	text[n] = '\n'; /* json_dumps leaves room: the NUL becomes the newline */
	while (done < n + 1) {
		w = send(cl->fd, text + done, n + 1 - done, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EPIPE || errno == ECONNRESET)) {
			/* supd refused us (access_denied, too_many_clients) and
			 * closed before our request went out: its reply is
			 * still waiting to be read, so let the caller read it. */
			free(text);
			return 0;
		}
		if (w < 0) {
			warnx_("sending to supd: %s", strerror(errno));
			free(text);
			return -1;
		}
		done += (size_t)w;
	}
	free(text);
	return 0;
}

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* Waiting commands end on SIGINT, SIGTERM or SIGHUP. The signals stay
 * blocked except inside ppoll(), so one that arrives between two reads is
 * never lost. */
static void
client_watch_signals(struct client *cl)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &cl->waitmask);
	sigdelset(&cl->waitmask, SIGINT);
	sigdelset(&cl->waitmask, SIGTERM);
	sigdelset(&cl->waitmask, SIGHUP);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	cl->watch_sigs = true;
}

/* The next line from supd, without its newline, valid until the next call.
 * Returns 1, 0 at end of stream, -1 on an error, -2 on a watched signal. */
static int
client_read_line(struct client *cl, char **line)
{
	struct pollfd pfd = {.fd = cl->fd, .events = POLLIN};
	char *nl, *buf;
	ssize_t n;

	for (;;) {
		nl = cl->len > cl->off ? memchr(cl->buf + cl->off, '\n', cl->len - cl->off) : NULL;
		if (nl) {
			*nl = '\0';
			*line = cl->buf + cl->off;
			cl->off = (size_t)(nl - cl->buf) + 1;
			return 1;
		}
		if (cl->off > 0) {
			memmove(cl->buf, cl->buf + cl->off, cl->len - cl->off);
			cl->len -= cl->off;
			cl->off = 0;
		}
		if (cl->len == cl->cap) {
			if (cl->cap >= REPLY_MAX) {
				warnx_("reply from supd too long");
				return -1;
			}
			buf = realloc(cl->buf, cl->cap ? cl->cap * 2 : 65536);
			if (!buf) {
				warnx_("out of memory");
				return -1;
			}
			cl->buf = buf;
			cl->cap = cl->cap ? cl->cap * 2 : 65536;
		}
		if (cl->watch_sigs) {
			if (got_signal)
				return -2;
			if (ppoll(&pfd, 1, NULL, &cl->waitmask) < 0) {
				if (errno == EINTR)
					continue;
				warnx_("poll: %s", strerror(errno));
				return -1;
			}
		}
		n = read(cl->fd, cl->buf + cl->len, cl->cap - cl->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warnx_("reading from supd: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		cl->len += (size_t)n;
	}
}

/* Reads until a line that parses; a message and -1 (-2 on a signal) when the
 * stream ends or is broken. */
static int
client_read_json(struct client *cl, json_t **msg, char **raw)
{
	json_error_t jerr;
	char *line;
	int r;

	r = client_read_line(cl, &line);
	if (r == -2)
		return -2;
	if (r <= 0) {
		if (r == 0)
			warnx_("supd closed the connection");
		return -1;
	}
	*msg = json_loads(line, 0, &jerr);
	if (!*msg || !json_is_object(*msg)) {
		warnx_("unreadable reply from supd: %s", jerr.text);
		json_decref(*msg);
		return -1;
	}
	if (raw)
		*raw = line;
	return 0;
}

/* Sends req (consumed) and waits for its reply, skipping event lines. */
static int
client_call(struct client *cl, json_t *req, json_t **reply)
{
	char *raw;
	int r;

	if (!req) {
		warnx_("out of memory");
		return -1;
	}
	r = client_send(cl, req);
	json_decref(req);
	if (r < 0)
		return -1;
	for (;;) {
		r = client_read_json(cl, reply, &raw);
		if (r < 0)
			return r;
		if (json_object_get(*reply, "ok")) {
			if (cl->json) {
				/* Flushed at once: with monitor and events the
				 * reply tells a script the request took effect. */
				printf("%s\n", raw);
				fflush(stdout);
			}
			return 0;
		}
		json_decref(*reply);
	}
}

/* The exit status for a reply; prints the error of a failed one. */
static int
reply_status(json_t *reply)
{
	const char *error, *message;

	if (json_is_true(json_object_get(reply, "ok")))
		return EXIT_OK;
	error = json_string_value(json_object_get(reply, "error"));
	message = json_string_value(json_object_get(reply, "message"));
	warnx_("%s%s%s", error ? error : "error", message ? ": " : "", message ? message : "");
	/* Turned away at the door: supd is not reachable for us. */
	if (error && (strcmp(error, SUPD_E_ACCESS_DENIED) == 0 ||
		      strcmp(error, SUPD_E_TOO_MANY_CLIENTS) == 0))
		return EXIT_FAILURE_TO_REACH;
	return EXIT_ERROR;
}

/* Runs one request; on an ok reply *out gets it (the caller frees it). */
static int
simple_call(struct client *cl, json_t *req, json_t **out)
{
	json_t *reply;
	int status;

	*out = NULL;
	switch (client_call(cl, req, &reply)) {
	case 0:
		break;
	case -2:
		return 128 + got_signal;
	default:
		return EXIT_FAILURE_TO_REACH;
	}
	status = reply_status(reply);
	if (status != EXIT_OK) {
		json_decref(reply);
		return status;
	}
	*out = reply;
	return EXIT_OK;
}

static json_t *
request(const char *op)
{
	return json_pack("{s:s}", "op", op);
}

static json_t *
request_sup(const char *op, const char *sup, const char *id)
{
	if (id)
		return json_pack("{s:s, s:s, s:s}", "op", op, "sup", sup, "id", id);
	return json_pack("{s:s, s:s}", "op", op, "sup", sup);
}

static const char *
str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

static char *
child_path(const char *sup, const char *id)
{
	size_t n = strlen(sup) + strlen(id) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s%s%s", sup, strcmp(sup, "/") == 0 ? "" : "/", id);
	return p;
}

/* ---- monitor: shared by `monitor` and `start-child --link` ---- */

static bool
reason_is_normal(const char *reason)
{
	return strcmp(reason, "normal") == 0 || strcmp(reason, "shutdown") == 0;
}

/* Sets a monitor and waits for its down message. */
static int
wait_down(struct client *cl, json_t *req)
{
	json_t *reply, *msg;
	json_int_t ref;
	const char *reason;
	char *raw;
	int status, r;

	status = simple_call(cl, req, &reply);
	if (status != EXIT_OK)
		return status;
	ref = json_integer_value(json_object_get(reply, "ref"));
	json_decref(reply);
	for (;;) {
		r = client_read_json(cl, &msg, &raw);
		if (r == -2)
			return 128 + got_signal;
		if (r < 0)
			return EXIT_FAILURE_TO_REACH;
		if (strcmp(str(msg, "event"), "down") == 0 &&
		    json_integer_value(json_object_get(msg, "ref")) == ref)
			break;
		json_decref(msg);
	}
	reason = str(msg, "reason");
	if (cl->json)
		printf("%s\n", raw);
	else
		printf("%s\n", reason);
	status = reason_is_normal(reason) ? EXIT_OK : EXIT_ERROR;
	json_decref(msg);
	return status;
}

/* ---- start-child --link: stay while the child lives ---- */

/* Reads until the down message of monitor `ref`; event lines of the
 * subscription are skipped. Returns 0 with *reason set (a copy), or an exit
 * status. */
static int
read_down(struct client *cl, json_int_t ref, char **reason, char **raw_copy)
{
	json_t *msg;
	char *raw;
	int r;

	for (;;) {
		r = client_read_json(cl, &msg, &raw);
		if (r == -2)
			return 128 + got_signal;
		if (r < 0)
			return EXIT_FAILURE_TO_REACH;
		if (strcmp(str(msg, "event"), "down") == 0 &&
		    json_integer_value(json_object_get(msg, "ref")) == ref) {
			*reason = strdup(str(msg, "reason"));
			*raw_copy = strdup(raw);
			json_decref(msg);
			return *reason && *raw_copy ? 0 : EXIT_FAILURE_TO_REACH;
		}
		json_decref(msg);
	}
}

/* The state of child `id` of `sup` ("running", "restarting", ...), NULL
 * when it is gone (or sup is). *status is set on a broken connection. */
static char *
child_state(struct client *cl, const char *sup, const char *id, int *status)
{
	json_t *reply, *children, *e;
	char *state = NULL;
	size_t i;

	*status = EXIT_OK;
	switch (client_call(cl, request_sup(SUPD_OP_WHICH_CHILDREN, sup, NULL), &reply)) {
	case 0:
		break;
	case -2:
		*status = 128 + got_signal;
		return NULL;
	default:
		*status = EXIT_FAILURE_TO_REACH;
		return NULL;
	}
	children = json_object_get(reply, "children");
	json_array_foreach(children, i, e)
	{
		if (strcmp(str(e, "id"), id) == 0) {
			state = strdup(str(e, "state"));
			break;
		}
	}
	json_decref(reply);
	return state;
}

/* Waits for the next event about path or one of its supervisors. */
static int
wait_event_about(struct client *cl, const char *path)
{
	json_t *msg;
	const char *p;
	size_t n;
	int r;

	for (;;) {
		r = client_read_json(cl, &msg, NULL);
		if (r == -2)
			return 128 + got_signal;
		if (r < 0)
			return EXIT_FAILURE_TO_REACH;
		p = str(msg, "path");
		n = strlen(p);
		if (json_object_get(msg, "event") && n > 0 &&
		    (strcmp(p, path) == 0 || strcmp(p, "/") == 0 ||
		     (strncmp(path, p, n) == 0 && path[n] == '/'))) {
			json_decref(msg);
			return EXIT_OK;
		}
		json_decref(msg);
	}
}

/*
 * The link ties the child's id to this connection for as long as it lasts,
 * across restarts (supd(8)): supctl stays while the child runs or is about to
 * be restarted, and leaves when it is gone for good (not restarted, deleted,
 * or its supervisor went down). The outcome is the reason of its last exit.
 * A signal ends supctl, and the connection's close terminates the child.
 */
static int
wait_linked(struct client *cl, const char *sup, const char *id, const char *path,
	    const char *announce)
{
	json_t *reply;
	char *reason = NULL, *raw = NULL, *last = NULL, *last_raw = NULL, *state;
	json_int_t ref;
	int status;

	status = simple_call(cl, request(SUPD_OP_SUBSCRIBE), &reply);
	if (status != EXIT_OK)
		return status;
	json_decref(reply);
	for (;;) {
		status = simple_call(
			cl, json_pack("{s:s, s:s}", "op", SUPD_OP_MONITOR, "path", path), &reply);
		if (status != EXIT_OK)
			break;
		ref = json_integer_value(json_object_get(reply, "ref"));
		json_decref(reply);
		/* "started" is printed once the child is watched: whatever
		 * happens to it after the line appears has its real reason,
		 * not noproc. */
		if (announce) {
			fputs(announce, stdout);
			fflush(stdout);
			announce = NULL;
		}
		status = read_down(cl, ref, &reason, &raw);
		if (status != EXIT_OK)
			break;
		if (strcmp(reason, SUPD_REASON_NOPROC) != 0 || !last) {
			free(last);
			free(last_raw);
			last = reason;
			last_raw = raw;
		} else {
			free(reason);
			free(raw);
		}
		reason = raw = NULL;
		/* Running again (restarted meanwhile): watch the new process. */
		state = child_state(cl, sup, id, &status);
		if (status != EXIT_OK)
			break;
		if (!state) {
			if (cl->json)
				printf("%s\n", last_raw);
			else
				printf("%s\n", last);
			status = reason_is_normal(last) ? EXIT_OK : EXIT_ERROR;
			break;
		}
		if (strcmp(state, "running") != 0 && strcmp(state, "starting") != 0)
			status = wait_event_about(cl, path);
		free(state);
		if (status != EXIT_OK)
			break;
	}
	free(last);
	free(last_raw);
	return status;
}

/* ---- commands ---- */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void usage(FILE *f);

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	usage(stderr);
	return EXIT_FAILURE_TO_REACH;
}

/* "--opt VALUE" or "--opt=VALUE" at argv[*i]; advances *i. */
static const char *
option_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0' || *i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

/* start-child: options may come before or after SUP; the first argument
 * after SUP that is not an option (or everything after "--") starts ARGS. */
static int
cmd_start_child(struct client *cl, int argc, char **argv)
{
	json_t *req = request(SUPD_OP_START_CHILD), *env = json_array(), *args = json_array();
	json_t *spec = NULL, *reply;
	json_error_t jerr;
	bool link = false, rest = false;
	const char *v, *sup = NULL;
	char *path, started[4200];
	int status;

	if (!req || !env || !args) {
		warnx_("out of memory");
		status = EXIT_FAILURE_TO_REACH;
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		if (rest || (sup && argv[i][0] != '-')) {
			rest = true;
			json_array_append_new(args, json_string(argv[i]));
		} else if (strcmp(argv[i], "--") == 0) {
			rest = true;
		} else if (strcmp(argv[i], "--link") == 0) {
			link = true;
		} else if ((v = option_value(argc, argv, &i, "--id"))) {
			json_object_set_new(req, "id", json_string(v));
		} else if ((v = option_value(argc, argv, &i, "--env"))) {
			if (!strchr(v, '=') || v[0] == '=') {
				status = usage_error("--env wants NAME=VALUE, not '%s'", v);
				goto out;
			}
			json_array_append_new(env, json_string(v));
		} else if ((v = option_value(argc, argv, &i, "--spec"))) {
			json_decref(spec);
			spec = json_loads(v, 0, &jerr);
			if (!spec) {
				status = usage_error("--spec: invalid JSON: %s", jerr.text);
				goto out;
			}
		} else if (argv[i][0] == '-') {
			status = usage_error("start-child: unknown option %s", argv[i]);
			goto out;
		} else {
			sup = argv[i];
		}
	}
	if (!sup) {
		status = usage_error("start-child: missing SUP");
		goto out;
	}
	json_object_set_new(req, "sup", json_string(sup));
	if (json_array_size(args))
		json_object_set(req, "args", args);
	if (json_array_size(env))
		json_object_set(req, "env", env);
	if (link)
		json_object_set_new(req, "link", json_true());
	if (spec)
		json_object_set(req, "spec", spec);
	if (link)
		client_watch_signals(cl);
	status = simple_call(cl, req, &reply);
	req = NULL;
	if (status != EXIT_OK)
		goto out;
	path = child_path(sup, str(reply, "id"));
	if (!cl->json) {
		if (json_is_integer(json_object_get(reply, "pid")))
			snprintf(started, sizeof(started), "started %s (pid %lld)\n",
				 path ? path : str(reply, "id"),
				 (long long)json_integer_value(json_object_get(reply, "pid")));
		else
			snprintf(started, sizeof(started), "started %s\n",
				 path ? path : str(reply, "id"));
		if (!(link && path)) {
			fputs(started, stdout);
			fflush(stdout);
		}
	}
	json_decref(reply);
	/* A linked child lives as long as this connection: stay until it
	 * is gone for good, or until we are told to go (and take it with us). */
	if (link && path)
		status = wait_linked(cl, sup, strrchr(path, '/') + 1, path,
				     cl->json ? NULL : started);
	free(path);
out:
	json_decref(req);
	json_decref(env);
	json_decref(args);
	json_decref(spec);
	return status;
}

/* A command that names a child takes PATH ("/web/db") or SUP ID ("/web"
 * "db"). Fills sup and id (id points into buf or argv). Returns false, with
 * a usage message printed, when the arguments are neither. */
static bool
child_args(const char *cmd, int argc, char **argv, char *buf, size_t len, const char **sup,
	   const char **id)
{
	const char *slash;

	if (argc == 2) {
		*sup = argv[0];
		*id = argv[1];
		return true;
	}
	slash = strrchr(argv[0], '/');
	if (argv[0][0] != '/' || !slash[1] || strlen(argv[0]) >= len) {
		usage_error("%s: '%s' is not the PATH of a child (or give SUP ID)", cmd, argv[0]);
		return false;
	}
	/* "/db" is the child db of "/"; "/web/db" the child db of "/web". */
	snprintf(buf, len, "%.*s", slash == argv[0] ? 1 : (int)(slash - argv[0]), argv[0]);
	*sup = buf;
	*id = slash + 1;
	return true;
}

static int
cmd_child_call(struct client *cl, const char *op, const char *name, int argc, char **argv)
{
	char buf[4096];
	const char *sup, *id;
	json_t *reply;
	int status;

	if (!child_args(name, argc, argv, buf, sizeof(buf), &sup, &id))
		return EXIT_FAILURE_TO_REACH;
	status = simple_call(cl, request_sup(op, sup, id), &reply);
	if (status == EXIT_OK && !cl->json && strcmp(op, SUPD_OP_RESTART_CHILD) == 0) {
		if (json_is_integer(json_object_get(reply, "pid")))
			printf("restarted %s (pid %lld)\n", id,
			       (long long)json_integer_value(json_object_get(reply, "pid")));
		else
			printf("restarted %s\n", id);
	}
	json_decref(reply);
	return status;
}

static int
cmd_terminate_child(struct client *cl, int argc, char **argv)
{
	return cmd_child_call(cl, SUPD_OP_TERMINATE_CHILD, "terminate-child", argc, argv);
}

static int
cmd_restart_child(struct client *cl, int argc, char **argv)
{
	return cmd_child_call(cl, SUPD_OP_RESTART_CHILD, "restart-child", argc, argv);
}

static int
cmd_delete_child(struct client *cl, int argc, char **argv)
{
	return cmd_child_call(cl, SUPD_OP_DELETE_CHILD, "delete-child", argc, argv);
}

static void
pid_text(json_t *v, char *buf, size_t len)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else
		snprintf(buf, len, "-");
}

static int
cmd_which_children(struct client *cl, int argc, char **argv)
{
	const char *heads[] = {"ID", "TYPE", "RESTART", "STATE", "PID"};
	const char *keys[] = {"id", "type", "restart", "state", NULL};
	int width[5];
	json_t *reply, *children, *c;
	char pid[24];
	size_t i;
	int status;

	(void)argc;
	status = simple_call(cl, request_sup(SUPD_OP_WHICH_CHILDREN, argv[0], NULL), &reply);
	if (status != EXIT_OK || cl->json) {
		json_decref(reply);
		return status;
	}
	/* The protocol lists newest first, as OTP's which_children does; people
	 * read start order, as in `tree`. */
	children = json_array();
	for (i = json_array_size(json_object_get(reply, "children")); i > 0; i--)
		json_array_append(children,
				  json_array_get(json_object_get(reply, "children"), i - 1));
	for (int k = 0; k < 5; k++)
		width[k] = (int)strlen(heads[k]);
	json_array_foreach(children, i, c)
	{
		for (int k = 0; k < 4; k++)
			if ((int)strlen(str(c, keys[k])) > width[k])
				width[k] = (int)strlen(str(c, keys[k]));
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", width[0], heads[0], width[1], heads[1], width[2],
	       heads[2], width[3], heads[3], heads[4]);
	json_array_foreach(children, i, c)
	{
		pid_text(json_object_get(c, "pid"), pid, sizeof(pid));
		printf("%-*s  %-*s  %-*s  %-*s  %s\n", width[0], str(c, "id"), width[1],
		       str(c, "type"), width[2], str(c, "restart"), width[3], str(c, "state"), pid);
	}
	json_decref(children);
	json_decref(reply);
	return EXIT_OK;
}

static int
cmd_count_children(struct client *cl, int argc, char **argv)
{
	const char *keys[] = {"specs", "active", "supervisors", "workers"};
	json_t *reply;
	int status;

	(void)argc;
	status = simple_call(cl, request_sup(SUPD_OP_COUNT_CHILDREN, argv[0], NULL), &reply);
	if (status == EXIT_OK && !cl->json)
		for (size_t k = 0; k < 4; k++)
			printf("%s: %lld\n", keys[k],
			       (long long)json_integer_value(json_object_get(reply, keys[k])));
	json_decref(reply);
	return status;
}

static int
cmd_get_childspec(struct client *cl, int argc, char **argv)
{
	json_t *reply;
	char *text;
	int status;

	char buf[4096];
	const char *sup, *id;

	if (!child_args("get-childspec", argc, argv, buf, sizeof(buf), &sup, &id))
		return EXIT_FAILURE_TO_REACH;
	status = simple_call(cl, request_sup(SUPD_OP_GET_CHILDSPEC, sup, id), &reply);
	if (status == EXIT_OK && !cl->json) {
		text = json_dumps(json_object_get(reply, "spec"), JSON_INDENT(2));
		if (text)
			printf("%s\n", text);
		free(text);
	}
	json_decref(reply);
	return status;
}

/* ---- tree ---- */

struct branches {
	const char *tee, *last, *pipe, *blank;
};

/* Every branch piece is 4 columns wide, whatever its bytes. */
#define BRANCH_COLUMNS 4

static const struct branches utf8_branches = {"├── ", "└── ", "│   ", "    "};
static const struct branches ascii_branches = {"|-- ", "`-- ", "|   ", "    "};

enum tree_column {
	COL_NAME,
	COL_TYPE,
	COL_STATE,
	COL_PID,
	COL_UPTIME,
	COL_RESTARTS,
	COL_LAST_EXIT,
	COL_INFO, /* last, not padded */
	COL_COUNT,
};

static const char *const tree_heads[COL_COUNT] = {
	"NAME", "TYPE", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT", "",
};

struct tree_row {
	char cell[COL_COUNT][160];
	int name_columns; /* display width of the NAME cell (branches are multibyte) */
};

struct tree_rows {
	struct tree_row *row;
	size_t n, cap;
};

/* "5s", "3m07s", "2h05m", "4d03h": two units at most, as uptime(1) does. */
static void
duration_text(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
}

/* {"code":N} or {"signal":"SIGKILL"}, as in events; "-" for none. */
static void
status_text(json_t *st, char *buf, size_t len)
{
	json_t *code = json_object_get(st, "code"), *sig = json_object_get(st, "signal");

	if (json_is_integer(code))
		snprintf(buf, len, "code %lld", (long long)json_integer_value(code));
	else if (json_is_string(sig))
		snprintf(buf, len, "%s", json_string_value(sig));
	else
		snprintf(buf, len, "-");
}

static void
tree_row_fill(struct tree_row *r, json_t *node)
{
	const char *type = str(node, "type");
	bool sup = strcmp(type, "supervisor") == 0 || strcmp(type, "dynamic") == 0;
	json_t *v;
	size_t n = 0;

	snprintf(r->cell[COL_TYPE], sizeof(r->cell[0]), "%s", type);
	snprintf(r->cell[COL_STATE], sizeof(r->cell[0]), "%s", str(node, "state"));
	v = json_object_get(node, "next_start_in_ms");
	if (json_is_integer(v)) {
		char d[32];

		duration_text(json_integer_value(v) + 999, d, sizeof(d));
		snprintf(r->cell[COL_STATE], sizeof(r->cell[0]), "%s (in %s)", str(node, "state"),
			 d);
	}
	pid_text(json_object_get(node, "pid"), r->cell[COL_PID], sizeof(r->cell[0]));
	v = json_object_get(node, "uptime_ms");
	if (json_is_integer(v))
		duration_text(json_integer_value(v), r->cell[COL_UPTIME], sizeof(r->cell[0]));
	else
		snprintf(r->cell[COL_UPTIME], sizeof(r->cell[0]), "-");
	snprintf(r->cell[COL_RESTARTS], sizeof(r->cell[0]), "%lld",
		 (long long)json_integer_value(json_object_get(node, "restarts")));
	status_text(json_object_get(node, "last_exit"), r->cell[COL_LAST_EXIT], sizeof(r->cell[0]));

	/* What is not a column: the restart type when not the default, a
	 * supervisor's strategy and intensity, a dynamic one's fill. */
	if (json_object_get(node, "restart") && strcmp(str(node, "restart"), "permanent") != 0)
		n += (size_t)snprintf(r->cell[COL_INFO] + n, sizeof(r->cell[0]) - n, "%s  ",
				      str(node, "restart"));
	if (sup && n < sizeof(r->cell[0]))
		n += (size_t)snprintf(
			r->cell[COL_INFO] + n, sizeof(r->cell[0]) - n, "%s, max %lld in %llds  ",
			str(node, "strategy"),
			(long long)json_integer_value(json_object_get(node, "max_restarts")),
			(long long)json_integer_value(json_object_get(node, "max_seconds")));
	if (strcmp(type, "dynamic") == 0 && n < sizeof(r->cell[0])) {
		json_t *max = json_object_get(node, "max_children");
		size_t kids = json_array_size(json_object_get(node, "children"));

		if (json_is_integer(max))
			n += (size_t)snprintf(r->cell[COL_INFO] + n, sizeof(r->cell[0]) - n,
					      "children %zu/%lld  ", kids,
					      (long long)json_integer_value(max));
		else
			n += (size_t)snprintf(r->cell[COL_INFO] + n, sizeof(r->cell[0]) - n,
					      "children %zu  ", kids);
	}
	if (n >= sizeof(r->cell[0]))
		n = sizeof(r->cell[0]) - 1;
	while (n > 0 && r->cell[COL_INFO][n - 1] == ' ')
		r->cell[COL_INFO][--n] = '\0';
}

static bool
tree_collect(struct tree_rows *rows, json_t *node, const struct branches *br, char *prefix,
	     size_t prefix_len, int prefix_columns, bool root, bool last)
{
	json_t *children = json_object_get(node, "children"), *k;
	size_t i, n = json_array_size(children), add;
	struct tree_row *r;

	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 64;
		struct tree_row *grown = realloc(rows->row, cap * sizeof(*grown));

		if (!grown)
			return false;
		rows->row = grown;
		rows->cap = cap;
	}
	r = &rows->row[rows->n++];
	memset(r, 0, sizeof(*r));
	if (root) {
		snprintf(r->cell[COL_NAME], sizeof(r->cell[0]), "%s", str(node, "path"));
		r->name_columns = (int)strlen(r->cell[COL_NAME]);
	} else {
		snprintf(r->cell[COL_NAME], sizeof(r->cell[0]), "%.*s%s%s", (int)prefix_len, prefix,
			 last ? br->last : br->tee, str(node, "id"));
		r->name_columns = prefix_columns + BRANCH_COLUMNS + (int)strlen(str(node, "id"));
	}
	tree_row_fill(r, node);

	/* The root's children hang under it with no indentation of their own. */
	add = root ? 0 : strlen(last ? br->blank : br->pipe);
	if (prefix_len + add >= 66 * 8)
		add = 0;
	if (add)
		memcpy(prefix + prefix_len, last ? br->blank : br->pipe, add);
	json_array_foreach(children, i, k)
	{
		if (!tree_collect(rows, k, br, prefix, prefix_len + add,
				  prefix_columns + (add ? BRANCH_COLUMNS : 0), false, i + 1 == n))
			return false;
	}
	return true;
}

static const struct branches *
pick_branches(void)
{
	const char *codeset = nl_langinfo(CODESET);

	return codeset && strcmp(codeset, "UTF-8") == 0 ? &utf8_branches : &ascii_branches;
}

/* One line per node, columns aligned over the whole tree. */
static void
draw_tree(json_t *tree)
{
	/* 64 levels of at most strlen("│   ") bytes each */
	char prefix[66 * 8];
	struct tree_rows rows = {0};
	int width[COL_COUNT];

	if (!tree_collect(&rows, tree, pick_branches(), prefix, 0, 0, true, true)) {
		warnx_("out of memory");
		free(rows.row);
		return;
	}
	for (int k = 0; k < COL_COUNT; k++)
		width[k] = (int)strlen(tree_heads[k]);
	for (size_t i = 0; i < rows.n; i++) {
		if (rows.row[i].name_columns > width[COL_NAME])
			width[COL_NAME] = rows.row[i].name_columns;
		for (int k = COL_TYPE; k < COL_INFO; k++)
			if ((int)strlen(rows.row[i].cell[k]) > width[k])
				width[k] = (int)strlen(rows.row[i].cell[k]);
	}
	for (size_t i = 0; i <= rows.n; i++) {
		const struct tree_row *r = i ? &rows.row[i - 1] : NULL;
		int name_columns = r ? r->name_columns : (int)strlen(tree_heads[COL_NAME]);
		const char *info = r ? r->cell[COL_INFO] : tree_heads[COL_INFO];

		/* %-*s counts bytes: pad the name by its display width. */
		printf("%s%*s", r ? r->cell[COL_NAME] : tree_heads[COL_NAME],
		       width[COL_NAME] - name_columns, "");
		for (int k = COL_TYPE; k < COL_INFO; k++)
			printf("  %-*s", k + 1 < COL_INFO || info[0] ? width[k] : 0,
			       r ? r->cell[k] : tree_heads[k]);
		printf("%s%s\n", info[0] ? "  " : "", info);
	}
	free(rows.row);
}

/* Every path of the tree, one per line (for scripts and completion). */
static void
print_paths(json_t *node)
{
	json_t *k;
	size_t i;

	printf("%s\n", str(node, "path"));
	json_array_foreach(json_object_get(node, "children"), i, k) print_paths(k);
}

static int
tree_watch(struct client *cl, json_t *tree_req)
{
	bool tty = isatty(STDOUT_FILENO), pending = false, dirty = true;
	json_t *reply, *msg;
	char *raw;
	int status, r;

	client_watch_signals(cl);
	status = simple_call(cl, request(SUPD_OP_SUBSCRIBE), &reply);
	json_decref(reply);
	while (status == EXIT_OK) {
		if (dirty && !pending) {
			if (client_send(cl, tree_req) < 0) {
				status = EXIT_FAILURE_TO_REACH;
				break;
			}
			pending = true;
			dirty = false;
		}
		r = client_read_json(cl, &msg, &raw);
		if (r == -2)
			break;
		if (r < 0) {
			status = EXIT_FAILURE_TO_REACH;
			break;
		}
		if (!json_object_get(msg, "ok")) {
			/* An event: the tree changed. Events that arrive while a
			 * tree request is out only mark it stale, so a burst
			 * costs at most one more request. */
			dirty = true;
		} else {
			pending = false;
			status = reply_status(msg);
			if (status == EXIT_OK && cl->json) {
				printf("%s\n", raw);
			} else if (status == EXIT_OK) {
				if (tty)
					printf("\033[H\033[2J");
				draw_tree(json_object_get(msg, "tree"));
				if (!tty)
					printf("\n");
			}
			fflush(stdout);
		}
		json_decref(msg);
	}
	json_decref(tree_req);
	return status;
}

static int
cmd_tree(struct client *cl, int argc, char **argv)
{
	json_t *req = request(SUPD_OP_TREE), *reply;
	bool watch = false, paths = false;
	int status;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--watch") == 0 || strcmp(argv[i], "-w") == 0)
			watch = true;
		else if (strcmp(argv[i], "--paths") == 0)
			paths = true;
		else if (argv[i][0] == '/')
			json_object_set_new(req, "path", json_string(argv[i]));
		else {
			json_decref(req);
			return usage_error("tree: unexpected argument '%s'", argv[i]);
		}
	}
	if (watch && paths) {
		json_decref(req);
		return usage_error("tree: --watch and --paths do not go together");
	}
	if (watch)
		return tree_watch(cl, req);
	status = simple_call(cl, req, &reply);
	if (status == EXIT_OK && !cl->json && paths)
		print_paths(json_object_get(reply, "tree"));
	else if (status == EXIT_OK && !cl->json)
		draw_tree(json_object_get(reply, "tree"));
	json_decref(reply);
	return status;
}

/* A liveness or readiness probe: 0 when PATH is running and ready (a
 * worker past its readiness, a started supervisor), 3 otherwise (starting,
 * stopping, restarting, down, or no such child), as `service status` and
 * LSB scripts use 3 for "not running". */
#define EXIT_NOT_RUNNING 3

static int
cmd_status(struct client *cl, int argc, char **argv)
{
	json_t *req = json_pack("{s:s, s:s}", "op", SUPD_OP_TREE, "path", argv[0]), *reply;
	const char *error, *state;
	int status;

	(void)argc;
	if (argv[0][0] != '/') {
		json_decref(req);
		return usage_error("status: '%s' is not a PATH", argv[0]);
	}
	switch (client_call(cl, req, &reply)) {
	case 0:
		break;
	case -2:
		return 128 + got_signal;
	default:
		return EXIT_FAILURE_TO_REACH;
	}
	error = json_string_value(json_object_get(reply, "error"));
	if (error && strcmp(error, SUPD_E_NOT_FOUND) == 0) {
		if (!cl->json)
			printf("%s: not found\n", argv[0]);
		json_decref(reply);
		return EXIT_NOT_RUNNING;
	}
	status = reply_status(reply);
	if (status != EXIT_OK) {
		json_decref(reply);
		return status;
	}
	state = str(json_object_get(reply, "tree"), "state");
	if (!cl->json)
		printf("%s: %s\n", argv[0], state);
	status = strcmp(state, "running") == 0 ? EXIT_OK : EXIT_NOT_RUNNING;
	json_decref(reply);
	return status;
}

/* restart: terminate the child (whatever its state) and start it again, as
 * two requests of the static supervisor API: terminate_child, whose reply
 * comes once the child is gone, then restart_child. */
static int
cmd_restart(struct client *cl, int argc, char **argv)
{
	char buf[4096];
	const char *sup, *id;
	json_t *reply;
	int status;

	if (!child_args("restart", argc, argv, buf, sizeof(buf), &sup, &id))
		return EXIT_FAILURE_TO_REACH;
	/* A dynamic supervisor forgets a terminated child: refuse before
	 * anything is stopped. */
	status = simple_call(cl, json_pack("{s:s, s:s}", "op", SUPD_OP_TREE, "path", sup), &reply);
	if (status != EXIT_OK)
		return status;
	if (strcmp(str(json_object_get(reply, "tree"), "type"), "dynamic") == 0) {
		json_decref(reply);
		warnx_("%s: %s is a dynamic supervisor, whose children cannot be restarted "
		       "(terminate-child, then start-child)",
		       SUPD_E_NOT_SUPPORTED, sup);
		return EXIT_ERROR;
	}
	json_decref(reply);
	status = simple_call(cl, request_sup(SUPD_OP_TERMINATE_CHILD, sup, id), &reply);
	json_decref(reply);
	if (status != EXIT_OK)
		return status;
	return cmd_child_call(cl, SUPD_OP_RESTART_CHILD, "restart", argc, argv);
}

/* signal PATH SIGNAL: the name (HUP, SIGHUP) or number goes as it is; supd
 * checks it. */
static int
cmd_signal(struct client *cl, int argc, char **argv)
{
	json_t *req, *reply, *sig;
	char *end;
	long num;
	int status;

	(void)argc;
	if (argv[0][0] != '/')
		return usage_error("signal: '%s' is not a PATH", argv[0]);
	errno = 0;
	num = strtol(argv[1], &end, 10);
	sig = !errno && *end == '\0' && end != argv[1] ? json_integer(num) : json_string(argv[1]);
	req = json_pack("{s:s, s:s, s:o}", "op", SUPD_OP_SIGNAL, "path", argv[0], "signal", sig);
	status = simple_call(cl, req, &reply);
	if (status == EXIT_OK && !cl->json)
		printf("sent %s to %lld worker%s\n", argv[1],
		       (long long)json_integer_value(json_object_get(reply, "signaled")),
		       json_integer_value(json_object_get(reply, "signaled")) == 1 ? "" : "s");
	json_decref(reply);
	return status;
}

/* metrics: the Prometheus text exposition, as supd wrote it. */
static int
cmd_metrics(struct client *cl, int argc, char **argv)
{
	json_t *reply;
	int status = simple_call(cl, request(SUPD_OP_METRICS), &reply);

	(void)argc;
	(void)argv;
	if (status == EXIT_OK && !cl->json)
		fputs(str(reply, "metrics"), stdout);
	json_decref(reply);
	return status;
}

/* ---- monitor, events, stop, ping ---- */

static int
cmd_monitor(struct client *cl, int argc, char **argv)
{
	char *end;
	long pid;

	(void)argc;
	client_watch_signals(cl);
	if (argv[0][0] == '/')
		return wait_down(cl,
				 json_pack("{s:s, s:s}", "op", SUPD_OP_MONITOR, "path", argv[0]));
	errno = 0;
	pid = strtol(argv[0], &end, 10);
	if (errno || *end || end == argv[0] || pid <= 0 || pid > INT32_MAX)
		return usage_error("monitor: '%s' is neither a path nor a pid", argv[0]);
	return wait_down(cl,
			 json_pack("{s:s, s:I}", "op", SUPD_OP_MONITOR, "pid", (json_int_t)pid));
}

static void
print_event(json_t *ev)
{
	const char *key;
	json_t *v, *code, *sig;

	printf("%s %s %s", str(ev, "ts"), str(ev, "event"), str(ev, "path"));
	json_object_foreach(ev, key, v)
	{
		if (strcmp(key, "ts") == 0 || strcmp(key, "event") == 0 || strcmp(key, "path") == 0)
			continue;
		if (json_is_string(v)) {
			printf(" %s=%s", key, json_string_value(v));
		} else if (json_is_integer(v)) {
			printf(" %s=%lld", key, (long long)json_integer_value(v));
		} else if (json_is_object(v)) {
			code = json_object_get(v, "code");
			sig = json_object_get(v, "signal");
			if (json_is_integer(code))
				printf(" %s=%lld", key, (long long)json_integer_value(code));
			else if (json_is_string(sig))
				printf(" %s=%s", key, json_string_value(sig));
		} else if (json_is_null(v)) {
			printf(" %s=-", key);
		}
	}
	printf("\n");
}

static int
cmd_events(struct client *cl, int argc, char **argv)
{
	json_t *reply, *msg;
	char *raw;
	int status, r;

	(void)argc;
	(void)argv;
	client_watch_signals(cl);
	status = simple_call(cl, request(SUPD_OP_SUBSCRIBE), &reply);
	if (status != EXIT_OK)
		return status;
	json_decref(reply);
	fflush(stdout);
	for (;;) {
		r = client_read_json(cl, &msg, &raw);
		if (r == -2)
			return EXIT_OK;
		if (r < 0)
			return EXIT_FAILURE_TO_REACH;
		if (cl->json)
			printf("%s\n", raw);
		else
			print_event(msg);
		fflush(stdout);
		json_decref(msg);
	}
}

/* An op whose reply says nothing but ok: only the exit status tells. */
static int
call_quietly(struct client *cl, const char *op)
{
	json_t *reply;
	int status = simple_call(cl, request(op), &reply);

	json_decref(reply);
	return status;
}

static int
cmd_stop(struct client *cl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return call_quietly(cl, SUPD_OP_STOP);
}

static int
cmd_ping(struct client *cl, int argc, char **argv)
{
	json_t *reply;
	json_int_t up;
	int status = simple_call(cl, request(SUPD_OP_PING), &reply);

	(void)argc;
	(void)argv;
	if (status == EXIT_OK && !cl->json) {
		up = json_integer_value(json_object_get(reply, "uptime_ms"));
		printf("supd %s, pid %lld, up %lld.%03llds\n", str(reply, "version"),
		       (long long)json_integer_value(json_object_get(reply, "pid")),
		       (long long)(up / 1000), (long long)(up % 1000));
	}
	json_decref(reply);
	return status;
}

/* logs [-f] [-n LINES] PATH: options before or after PATH. */
static int
cmd_logs(struct client *cl, int argc, char **argv)
{
	const char *path = NULL;
	bool follow = false;
	long lines = 10;
	json_t *reply, *msg, *arr, *v;
	size_t i;
	char *raw, *end;
	int status, r;

	for (int k = 0; k < argc; k++) {
		if (strcmp(argv[k], "-f") == 0 || strcmp(argv[k], "--follow") == 0) {
			follow = true;
		} else if (strcmp(argv[k], "-n") == 0 || strcmp(argv[k], "--lines") == 0) {
			if (++k == argc)
				return usage_error("logs: -n needs a number");
			errno = 0;
			lines = strtol(argv[k], &end, 10);
			if (errno || *end || end == argv[k] || lines < 0)
				return usage_error("logs: -n takes a number of lines, not '%s'",
						   argv[k]);
		} else if (argv[k][0] == '-' && argv[k][1]) {
			return usage_error("logs: unknown option %s", argv[k]);
		} else if (path) {
			return usage_error("logs: one PATH only");
		} else {
			path = argv[k];
		}
	}
	if (!path)
		return usage_error("logs: missing PATH");
	if (follow)
		client_watch_signals(cl);
	status = simple_call(cl,
			     json_pack("{s:s, s:s, s:I, s:b}", "op", SUPD_OP_LOGS, "path", path,
				       "lines", (json_int_t)lines, "follow", follow),
			     &reply);
	if (status != EXIT_OK)
		return status;
	arr = json_object_get(reply, "lines");
	if (!cl->json)
		json_array_foreach(arr, i, v) printf("%s\n", json_string_value(v));
	json_decref(reply);
	fflush(stdout);
	while (follow) {
		r = client_read_json(cl, &msg, &raw);
		if (r == -2)
			return EXIT_OK;
		if (r < 0)
			return EXIT_FAILURE_TO_REACH;
		v = json_object_get(json_object_get(msg, "log"), "line");
		if (cl->json)
			printf("%s\n", raw);
		else if (json_is_string(v))
			printf("%s\n", json_string_value(v));
		fflush(stdout);
		json_decref(msg);
	}
	return EXIT_OK;
}

static int
cmd_reopen(struct client *cl, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return call_quietly(cl, SUPD_OP_REOPEN);
}

/* Prints one list of ids of a reloaded supervisor, when it has any. */
static void
print_ids(const char *label, json_t *ids, bool *first)
{
	size_t i;
	json_t *v;

	if (!json_array_size(ids))
		return;
	printf("%s%s ", *first ? " " : "; ", label);
	json_array_foreach(ids, i, v) printf("%s%s", i ? "," : "", json_string_value(v));
	*first = false;
}

/* reload [FILE]: supd loads FILE (default: its own) and applies it. */
static int
cmd_reload(struct client *cl, int argc, char **argv)
{
	json_t *req, *reply, *sup;
	char *abs = NULL;
	size_t i;
	int status;

	if (argc == 1) {
		/* supd reads it from its own directory: name it absolutely */
		abs = realpath(argv[0], NULL);
		req = json_pack("{s:s, s:s}", "op", SUPD_OP_RELOAD, "file", abs ? abs : argv[0]);
	} else {
		req = request(SUPD_OP_RELOAD);
	}
	free(abs);
	status = simple_call(cl, req, &reply);
	if (status == EXIT_OK && !cl->json) {
		json_t *list = json_object_get(reply, "supervisors");
		if (!json_array_size(list))
			printf("reloaded: nothing changed\n");
		json_array_foreach(list, i, sup)
		{
			bool first = true;
			printf("%s:", json_string_value(json_object_get(sup, "path")));
			print_ids("added", json_object_get(sup, "added"), &first);
			print_ids("removed", json_object_get(sup, "removed"), &first);
			print_ids("changed", json_object_get(sup, "changed"), &first);
			print_ids("failed to start", json_object_get(sup, "failed"), &first);
			printf("%s\n", first ? " flags or order changed" : "");
		}
	}
	json_decref(reply);
	return status;
}

/* ---- the token table ---- */

struct command {
	const char *name;
	int min_args; /* positional arguments after the command name */
	int max_args; /* -1: any */
	int (*run)(struct client *cl, int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{"start-child", 1, -1, cmd_start_child,
	 "start-child SUP [--id ID] [--env NAME=VALUE]... [--link] [--] [ARGS...]\n"
	 "  start-child SUP --spec JSON"},
	{"terminate-child", 1, 2, cmd_terminate_child, "terminate-child PATH | SUP ID"},
	{"restart-child", 1, 2, cmd_restart_child, "restart-child PATH | SUP ID"},
	{"delete-child", 1, 2, cmd_delete_child, "delete-child PATH | SUP ID"},
	{"which-children", 1, 1, cmd_which_children, "which-children SUP"},
	{"count-children", 1, 1, cmd_count_children, "count-children SUP"},
	{"get-childspec", 1, 2, cmd_get_childspec, "get-childspec PATH | SUP ID"},
	{"tree", 0, 2, cmd_tree, "tree [--watch | --paths] [PATH]"},
	{"status", 1, 1, cmd_status, "status PATH"},
	{"restart", 1, 2, cmd_restart, "restart PATH | SUP ID"},
	{"signal", 2, 2, cmd_signal, "signal PATH SIGNAL"},
	{"metrics", 0, 0, cmd_metrics, "metrics"},
	{"monitor", 1, 1, cmd_monitor, "monitor PATH|PID"},
	{"events", 0, 0, cmd_events, "events"},
	{"logs", 1, 4, cmd_logs, "logs [-f] [-n LINES] PATH"},
	{"reopen", 0, 0, cmd_reopen, "reopen"},
	{"reload", 0, 1, cmd_reload, "reload [FILE]"},
	{"stop", 0, 0, cmd_stop, "stop"},
	{"ping", 0, 0, cmd_ping, "ping"},
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [-s SOCKET] [--json] COMMAND [ARGS...]\ncommands:\n", progname);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].usage);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct client cl = {.fd = -1};
	const struct command *cmd = NULL;
	const char *socket_path = NULL, *xdg;
	char default_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	bool check_owner = false;
	int opt, nargs, status;

	setlocale(LC_CTYPE, "");
	/* '+': options end at the command, whose own options come after it. */
	while ((opt = getopt_long(argc, argv, "+s:jhV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			socket_path = optarg;
			break;
		case 'j':
			cl.json = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("supctl %s\n", SUPD_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_FAILURE_TO_REACH;
		}
	}
	if (optind >= argc)
		return usage_error("missing command");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	if (!cmd)
		return usage_error("unknown command '%s'", argv[optind]);
	nargs = argc - optind - 1;
	if (nargs < cmd->min_args || (cmd->max_args >= 0 && nargs > cmd->max_args)) {
		fprintf(stderr, "usage: %s [-s SOCKET] [--json] %s\n", progname, cmd->usage);
		return EXIT_FAILURE_TO_REACH;
	}

	if (!socket_path)
		socket_path = getenv(SUPD_SOCKET_ENV);
	if (!socket_path || !socket_path[0]) {
		if (supd_default_socket_path(default_path, sizeof(default_path)) < 0) {
			warnx_("the default socket path is too long; use -s");
			return EXIT_FAILURE_TO_REACH;
		}
		socket_path = default_path;
		xdg = getenv("XDG_RUNTIME_DIR");
		check_owner = geteuid() != 0 && !(xdg && xdg[0] == '/');
	}
	if (client_connect(&cl, socket_path, check_owner) < 0)
		return EXIT_FAILURE_TO_REACH;
	status = cmd->run(&cl, nargs, argv + optind + 1);
	fflush(stdout);
	close(cl.fd);
	free(cl.buf);
	return status;
}
