/*
 * kv-registry.c - the registry of the KV example: the tutorial's KV.Registry
 * GenServer, as a process.
 *
 * Owns the map from bucket names to running buckets, and nothing else: the
 * data lives in the buckets, the buckets live under supd's dynamic
 * supervisor /buckets. `create` asks supd to start a bucket (start_child),
 * then monitors it through supd's control socket (Process.monitor); the
 * name is forgotten when the monitor's down message arrives, whatever the
 * reason. The map is not persistent: a fresh registry starts empty.
 *
 * It never blocks on supd. It keeps one connection to supd and tags every
 * request: replies are matched by tag, so several buckets can be starting
 * while lookups go on, and down messages arrive on the same connection as
 * the monitor replies, so a down can never come before the ref it carries.
 * If that connection breaks, the registry exits 1 and lets its supervisor
 * restart it; an unexpected reply from supd is handled the same way.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "jsonl.h"

#define PATH_SIZE sizeof(((struct sockaddr_un *)0)->sun_path)

/* A registry client with a `create` in progress waits for that name. */
struct client {
	struct client *next;
	struct jsonl *conn;
	char *waiting_for;
};

/* A request sent to supd, waiting for the reply with its tag. */
struct call {
	struct call *next;
	json_int_t tag;
	void (*done)(json_t *reply, const char *name);
	char name[];
};

static sd_event *event;
static struct jsonl *supd;
static const char *bucket_dir;
/* name -> {"socket": path, "pid": pid, "ref": monitor ref}; an entry
 * without "ref" is a bucket still starting. */
static json_t *buckets;
static struct client *clients;
static struct call *calls;
static json_int_t last_tag;

/* Let it crash: exit 1 at the end of this loop iteration. */
static void
crash(const char *why)
{
	warnx("%s: exiting", why);
	sd_event_exit(event, 1);
}

static json_t *
error_reply(const char *error, const char *message)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", error, "message", message);
}

static json_t *
bucket_reply(const char *name, json_t *bucket)
{
	return json_pack("{s:b, s:s, s:O, s:O}", "ok", 1, "name", name, "socket",
			 json_object_get(bucket, "socket"), "pid", json_object_get(bucket, "pid"));
}

static void
answer_waiters(const char *name, json_t *msg)
{
	for (struct client *c = clients; c; c = c->next) {
		if (c->waiting_for && !strcmp(c->waiting_for, name)) {
			jsonl_send(c->conn, msg);
			free(c->waiting_for);
			c->waiting_for = NULL;
			jsonl_pause(c->conn, false);
		}
	}
	json_decref(msg);
}

static void
supd_call(json_t *req, void (*done)(json_t *reply, const char *name), const char *name)
{
	struct call *call = supd ? malloc(sizeof(*call) + strlen(name) + 1) : NULL;

	if (!call) {
		crash(supd ? "out of memory" : "no connection to supd");
		json_decref(req);
		return;
	}
	call->tag = ++last_tag;
	call->done = done;
	strcpy(call->name, name);
	call->next = calls;
	calls = call;
	json_object_set_new(req, "tag", json_integer(call->tag));
	jsonl_send(supd, req);
	json_decref(req);
}

static void
on_monitored(json_t *msg, const char *name)
{
	json_t *bucket = json_object_get(buckets, name);

	/* A bucket we cannot watch is a name we could never forget. */
	if (!json_is_true(json_object_get(msg, "ok")) || !json_object_get(msg, "ref")) {
		crash("supd refused to monitor a bucket");
		return;
	}
	json_object_set(bucket, "ref", json_object_get(msg, "ref"));
	answer_waiters(name, bucket_reply(name, bucket));
}

static void
on_started(json_t *msg, const char *name)
{
	char path[PATH_SIZE + 16];

	if (!json_is_true(json_object_get(msg, "ok"))) {
		/* Pass supd's error on (max_children, start_failed, ...). */
		json_object_del(msg, "tag");
		json_incref(msg);
		answer_waiters(name, msg);
		json_object_del(buckets, name);
		return;
	}
	if (!json_is_integer(json_object_get(msg, "pid"))) {
		crash("supd started a bucket but gave no pid");
		return;
	}
	json_object_set(json_object_get(buckets, name), "pid", json_object_get(msg, "pid"));
	snprintf(path, sizeof(path), "/buckets/%s", name);
	supd_call(json_pack("{s:s, s:s}", "op", "monitor", "path", path), on_monitored, name);
}

static void
on_down(json_t *msg)
{
	const char *path = json_string_value(json_object_get(msg, "path"));
	const char *reason = json_string_value(json_object_get(msg, "reason"));
	const char *name = path && !strncmp(path, "/buckets/", 9) ? path + 9 : "";
	json_t *bucket = json_object_get(buckets, name);

	/* Match the ref, not just the name: a down for an older bucket of the
	 * same name must not remove the new one. */
	if (bucket && json_equal(json_object_get(bucket, "ref"), json_object_get(msg, "ref"))) {
		warnx("bucket %s is down (%s)", name, reason ? reason : "?");
		json_object_del(buckets, name);
	}
}

static void
on_supd_message(struct jsonl *conn, json_t *msg, void *userdata)
{
	const char *event_name = json_string_value(json_object_get(msg, "event"));
	json_int_t tag = json_integer_value(json_object_get(msg, "tag")); /* 0: none */

	(void)conn;
	(void)userdata;
	if (event_name) {
		if (!strcmp(event_name, "down"))
			on_down(msg);
		return;
	}
	for (struct call **p = &calls; *p; p = &(*p)->next) {
		struct call *call = *p;

		if (call->tag == tag) {
			*p = call->next;
			call->done(msg, call->name);
			free(call);
			return;
		}
	}
	crash("supd sent something that answers no request");
}

static void
on_supd_close(struct jsonl *conn, void *userdata)
{
	(void)conn;
	(void)userdata;
	supd = NULL;
	crash("lost the connection to supd");
}

static bool
valid_name(const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len < 1 || len > 64 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
	       len;
}

/* Returns the reply, or NULL when it comes once the bucket is up. */
static json_t *
create(struct client *client, const char *name)
{
	json_t *bucket = json_object_get(buckets, name);
	char path[PATH_SIZE];

	if (bucket && json_object_get(bucket, "ref"))
		return bucket_reply(name, bucket);
	if (!bucket) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.sock", bucket_dir, name) >=
		    sizeof(path))
			return error_reply("bad_name", "name too long for a socket");
		json_object_set_new(buckets, name, json_pack("{s:s}", "socket", path));
		supd_call(json_pack("{s:s, s:s, s:s, s:[ss]}", "op", "start_child", "sup",
				    "/buckets", "id", name, "args", "--socket", path),
			  on_started, name);
	}
	/* One request at a time per client: wait for the bucket to be up. */
	client->waiting_for = strdup(name);
	if (!client->waiting_for)
		crash("out of memory");
	jsonl_pause(client->conn, true);
	return NULL;
}

static json_t *
handle(struct client *client, json_t *msg)
{
	const char *op = json_string_value(json_object_get(msg, "op"));
	const char *name = json_string_value(json_object_get(msg, "name"));
	json_t *bucket = name ? json_object_get(buckets, name) : NULL;

	if (!op)
		return error_reply("bad_request", "expected {\"op\": ..., \"name\": ...}");
	if (!valid_name(name))
		return error_reply("bad_name", "names are 1 to 64 of [A-Za-z0-9_.-]");
	if (!strcmp(op, "create"))
		return create(client, name);
	if (!strcmp(op, "lookup")) {
		/* A bucket still starting is not registered yet. */
		if (bucket && json_object_get(bucket, "ref"))
			return bucket_reply(name, bucket);
		return error_reply("not_found", name);
	}
	return error_reply("bad_request", "unknown op");
}

static void
on_client_message(struct jsonl *conn, json_t *msg, void *userdata)
{
	json_t *answer = handle(userdata, msg);

	if (answer)
		jsonl_send(conn, answer);
	json_decref(answer);
}

static void
on_client_close(struct jsonl *conn, void *userdata)
{
	struct client *client = userdata;

	(void)conn;
	for (struct client **p = &clients; *p; p = &(*p)->next) {
		if (*p == client) {
			*p = client->next;
			break;
		}
	}
	free(client->waiting_for);
	free(client);
}

static int
on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *client;
	int cfd;

	(void)s;
	(void)revents;
	(void)userdata;
	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR)
			warn("accept");
		return 0;
	}
	client = calloc(1, sizeof(*client));
	if (!client ||
	    jsonl_new(&client->conn, event, cfd, on_client_message, on_client_close, client) < 0) {
		warnx("out of memory for a client");
		if (!client)
			close(cfd);
		free(client);
		return 0;
	}
	client->next = clients;
	clients = client;
	return 0;
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)s;
	(void)si;
	(void)userdata;
	return sd_event_exit(event, 0);
}

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: kv-registry [--supd-socket PATH] [--dir DIR] [--socket PATH]\n"
		"  --supd-socket  supd's control socket (default $SUPD_SOCKET)\n"
		"  --dir          where the sockets go (default $KV_DIR); buckets in DIR/buckets\n"
		"  --socket       the registry's socket (default DIR/registry.sock)\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"supd-socket", required_argument, NULL, 'S'},
		{"dir", required_argument, NULL, 'd'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *supd_path = getenv("SUPD_SOCKET"), *dir = getenv("KV_DIR");
	char registry_path[PATH_SIZE], buckets_path[PATH_SIZE];
	const char *path = NULL;
	int opt, fd, r;

	while ((opt = getopt_long(argc, argv, "S:d:s:h", options, NULL)) != -1) {
		if (opt == 'S')
			supd_path = optarg;
		else if (opt == 'd')
			dir = optarg;
		else if (opt == 's')
			path = optarg;
		else
			usage(opt == 'h' ? 0 : 64);
	}
	if (!supd_path || !dir || optind != argc)
		usage(64);
	if ((size_t)snprintf(registry_path, sizeof(registry_path), "%s/registry.sock", dir) >=
		    sizeof(registry_path) ||
	    (size_t)snprintf(buckets_path, sizeof(buckets_path), "%s/buckets", dir) >=
		    sizeof(buckets_path))
		errx(64, "%s: directory name too long for sockets", dir);
	if (!path)
		path = registry_path;
	bucket_dir = buckets_path;
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(bucket_dir, 0700) < 0 && errno != EEXIST))
		err(1, "mkdir %s", bucket_dir);

	buckets = json_object();
	if (!buckets)
		errx(1, "out of memory");
	r = sd_event_default(&event);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_signal,
					NULL);
	if (r >= 0)
		r = sd_event_add_signal(event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal,
					NULL);
	if (r < 0)
		errx(1, "event loop: %s", strerror(-r));

	fd = jsonl_connect(supd_path);
	if (fd < 0)
		errx(1, "supd at %s: %s", supd_path, strerror(-fd));
	r = jsonl_new(&supd, event, fd, on_supd_message, on_supd_close, NULL);
	if (r < 0)
		errx(1, "supd connection: %s", strerror(-r));
	r = jsonl_serve(event, path, on_accept);
	if (r < 0)
		errx(1, "%s: %s", path, strerror(-r));
	return r;
}
