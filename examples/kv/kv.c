/*
 * kv.c - the command-line client of the KV example.
 *
 * Asks the registry where a bucket is, then talks to the bucket itself, as
 * the tutorial's code does with KV.Registry.lookup and KV.Bucket.get. It
 * never talks to supd. Exit status: 0 on success, 1 on an error reply
 * (printed on stderr), 2 when the registry or the bucket cannot be reached,
 * 64 on a usage error.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonl.h"

#define TIMEOUT_MS 15000

enum {
	EXIT_ERROR_REPLY = 1,
	EXIT_UNREACHABLE = 2,
	EXIT_USAGE = 64
};

static const char *dir;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: kv [--dir DIR] COMMAND\n"
		"  create NAME            start a bucket (or find the running one)\n"
		"  lookup NAME            print the bucket's pid and socket\n"
		"  put NAME KEY VALUE     store a value\n"
		"  get NAME KEY           print a value\n"
		"  delete NAME KEY        remove a key, print its old value\n"
		"  keys NAME              print the keys, one a line\n"
		"  stop NAME              stop the bucket normally (Agent.stop)\n"
		"  crash NAME             kill the bucket with SIGKILL\n"
		"DIR defaults to $KV_DIR; the registry listens on DIR/registry.sock.\n");
	exit(status);
}

/* One request on a fresh connection; exits unless the reply is ok. */
static json_t *
call(const char *path, json_t *req)
{
	json_t *reply = NULL;
	int fd, r;

	fd = jsonl_connect(path);
	if (fd < 0)
		errx(EXIT_UNREACHABLE, "%s: %s", path, strerror(-fd));
	r = jsonl_call(fd, req, &reply, TIMEOUT_MS);
	close(fd);
	json_decref(req);
	if (r < 0)
		errx(EXIT_UNREACHABLE, "%s: %s", path, strerror(-r));
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *error = json_string_value(json_object_get(reply, "error"));
		const char *message = json_string_value(json_object_get(reply, "message"));

		errx(EXIT_ERROR_REPLY, "%s%s%s", error ? error : "error", message ? ": " : "",
		     message ? message : "");
	}
	return reply;
}

static json_t *
registry(const char *op, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/registry.sock", dir);
	return call(path, json_pack("{s:s, s:s}", "op", op, "name", name));
}

/* Looks the bucket up, then sends it req. */
static json_t *
bucket(const char *name, json_t *req)
{
	json_t *found = registry("lookup", name);
	const char *path = json_string_value(json_object_get(found, "socket"));
	json_t *reply;

	if (!path)
		errx(EXIT_ERROR_REPLY, "the registry gave no socket");
	reply = call(path, req);
	json_decref(found);
	return reply;
}

static void
print_value(json_t *reply)
{
	const char *value = json_string_value(json_object_get(reply, "value"));

	if (value)
		printf("%s\n", value);
}

static void
print_bucket(json_t *reply)
{
	printf("%" JSON_INTEGER_FORMAT " %s\n", json_integer_value(json_object_get(reply, "pid")),
	       json_string_value(json_object_get(reply, "socket")));
}

static void
crash(json_t *found)
{
	json_int_t pid = json_integer_value(json_object_get(found, "pid"));

	/* Never 0 or -1: those would signal our own group, or everyone. */
	if (pid <= 1)
		errx(EXIT_ERROR_REPLY, "the registry gave no pid");
	if (kill(pid, SIGKILL) < 0)
		err(EXIT_ERROR_REPLY, "kill %" JSON_INTEGER_FORMAT, pid);
}

static int
run(const char *cmd, int argc, char **argv)
{
	json_t *reply = NULL, *key;
	size_t i;

	if ((!strcmp(cmd, "create") || !strcmp(cmd, "lookup")) && argc == 1) {
		reply = registry(cmd, argv[0]);
		print_bucket(reply);
	} else if (!strcmp(cmd, "put") && argc == 3) {
		reply = bucket(argv[0], json_pack("{s:s, s:s, s:s}", "op", "put", "key", argv[1],
						  "value", argv[2]));
	} else if (!strcmp(cmd, "get") && argc == 2) {
		reply = bucket(argv[0], json_pack("{s:s, s:s}", "op", "get", "key", argv[1]));
		print_value(reply);
	} else if (!strcmp(cmd, "delete") && argc == 2) {
		reply = bucket(argv[0], json_pack("{s:s, s:s}", "op", "delete", "key", argv[1]));
		print_value(reply);
	} else if (!strcmp(cmd, "keys") && argc == 1) {
		reply = bucket(argv[0], json_pack("{s:s}", "op", "keys"));
		json_array_foreach(json_object_get(reply, "keys"), i, key)
			printf("%s\n", json_string_value(key));
	} else if (!strcmp(cmd, "stop") && argc == 1) {
		reply = bucket(argv[0], json_pack("{s:s}", "op", "stop"));
	} else if (!strcmp(cmd, "crash") && argc == 1) {
		reply = registry("lookup", argv[0]);
		crash(reply);
	} else {
		usage(EXIT_USAGE);
	}
	json_decref(reply);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{"dir", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int opt;

	dir = getenv("KV_DIR");
	while ((opt = getopt_long(argc, argv, "+d:h", options, NULL)) != -1) {
		if (opt == 'd')
			dir = optarg;
		else
			usage(opt == 'h' ? 0 : EXIT_USAGE);
	}
	if (!dir || optind >= argc)
		usage(EXIT_USAGE);
	return run(argv[optind], argc - optind - 1, argv + optind + 1);
}
