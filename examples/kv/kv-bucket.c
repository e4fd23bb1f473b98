/*
 * kv-bucket.c - one bucket of the KV example: the tutorial's KV.Bucket
 * Agent, as a process.
 *
 * Owns one map of string keys to string values, in memory, and serves it in
 * JSON lines on its own Unix socket to any number of clients. The map dies
 * with the process: supd starts buckets as temporary children, so a bucket
 * that stops or crashes is gone, as an Agent under a DynamicSupervisor
 * would be. It reports READY=1 once it listens, so that start_child (with
 * `ready: notify`) returns only when the bucket can be reached. SIGTERM is a
 * normal stop; bad input gets an error reply and never stops the bucket.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonl.h"

static sd_event *event;
static json_t *state;
/* The client that asked for `stop`: the bucket exits once its reply is out. */
static struct jsonl *stopper;

static json_t *
error_reply(const char *error, const char *message)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", error, "message", message);
}

static json_t *
handle(struct jsonl *conn, json_t *msg)
{
	const char *op = json_string_value(json_object_get(msg, "op"));
	const char *key = json_string_value(json_object_get(msg, "key"));
	json_t *value = json_object_get(msg, "value");
	json_t *reply;

	if (!op)
		return error_reply("bad_request", "expected a JSON object with an \"op\"");
	if (!strcmp(op, "put") && key && json_is_string(value)) {
		json_object_set(state, key, value);
		return json_pack("{s:b}", "ok", 1);
	}
	if (!strcmp(op, "get") && key) {
		value = json_object_get(state, key);
		if (!value)
			return error_reply("not_found", key);
		return json_pack("{s:b, s:O}", "ok", 1, "value", value);
	}
	if (!strcmp(op, "delete") && key) {
		/* Map.pop: the old value, or null. */
		reply = json_pack("{s:b, s:O?}", "ok", 1, "value", json_object_get(state, key));
		json_object_del(state, key);
		return reply;
	}
	if (!strcmp(op, "keys")) {
		json_t *keys = json_array();

		for (void *it = json_object_iter(state); it; it = json_object_iter_next(state, it))
			json_array_append_new(keys, json_string(json_object_iter_key(it)));
		return json_pack("{s:b, s:o}", "ok", 1, "keys", keys);
	}
	if (!strcmp(op, "stop")) {
		/* Agent.stop: exit 0, which supd reports as reason normal. */
		stopper = conn;
		return json_pack("{s:b}", "ok", 1);
	}
	return error_reply("bad_request", "unknown op or missing key/value");
}

static void
on_message(struct jsonl *conn, json_t *msg, void *userdata)
{
	json_t *reply;

	(void)userdata;
	reply = msg ? handle(conn, msg) : error_reply("bad_request", "not a JSON object");
	jsonl_send(conn, reply);
	json_decref(reply);
	if (conn == stopper)
		jsonl_close(conn);
}

static void
on_close(struct jsonl *conn, void *userdata)
{
	(void)userdata;
	if (conn == stopper)
		sd_event_exit(event, 0);
}

static int
on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct jsonl *conn;
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
	if (jsonl_new(&conn, event, cfd, on_message, on_close, NULL) < 0)
		warnx("out of memory for a client");
	return 0;
}

static int
on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	(void)si;
	(void)userdata;
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void
usage(int status)
{
	fprintf(status ? stderr : stdout, "usage: kv-bucket --socket PATH\n");
	exit(status);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *path = NULL;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		if (opt == 's')
			path = optarg;
		else
			usage(opt == 'h' ? 0 : 64);
	}
	if (!path || optind != argc)
		usage(64);

	state = json_object();
	if (!state)
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
	r = jsonl_serve(event, path, on_accept);
	if (r < 0)
		errx(1, "%s: %s", path, strerror(-r));
	return r;
}
