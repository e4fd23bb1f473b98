/*
 * fuzz-request.c - libFuzzer target for the control request parser
 * (proto.c).
 *
 * Input: one request line as a client sends it (without the newline).
 * Everything the server does with a line before it reaches the core runs
 * here, without sockets: proto_parse_request, the start_child checks for
 * both kinds of target supervisor, the JSON -> spec conversion of a static
 * start_child (at the top and at the deepest level), the JSON form of an
 * accepted spec, and the reply (ok or the error, echoing the tag). Every
 * reply must be one line of valid JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz-request", LOG_LEVEL_ERROR);
	return 0;
}

/* What the server would write back: one JSON line. */
static void
reply(json_t *msg, json_t *tag)
{
	size_t len = 0;
	char *line;
	json_t *back;

	if (!msg)
		abort();
	line = proto_dump(msg, tag, &len);
	json_decref(msg);
	if (!line || len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1)) {
		fprintf(stderr, "reply is not one line\n");
		abort();
	}
	back = json_loadb(line, len - 1, 0, NULL);
	if (!json_is_object(back)) {
		fprintf(stderr, "reply is not a JSON object: %.*s\n", (int)len, line);
		abort();
	}
	json_decref(back);
	free(line);
}

static void
start_child_spec(const struct proto_request *req, enum auto_shutdown parent, unsigned levels)
{
	struct child_spec *spec = NULL;
	struct proto_error err = {0};
	json_t *again;

	if (proto_spec_from_json(req->spec, NULL, parent, levels, &spec, &err) < 0) {
		if (spec) {
			fprintf(stderr, "refused spec left behind\n");
			abort();
		}
		reply(proto_error_from(&err), req->tag);
		return;
	}
	again = proto_spec_to_json(spec, true);
	if (!again)
		abort();
	reply(proto_ok(), again);
	json_decref(again);
	spec_free(spec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request req;
	struct proto_error err = {0};

	if (proto_parse_request((const char *)data, size, &req, &err) < 0) {
		reply(proto_error_from(&err), req.tag);
		proto_request_fini(&req);
		return 0;
	}
	if (req.op == PROTO_OP_START_CHILD) {
		if (proto_check_start_child(&req, NODE_DYNAMIC, &err) < 0)
			reply(proto_error_from(&err), req.tag);
		if (proto_check_start_child(&req, NODE_SUPERVISOR, &err) < 0) {
			reply(proto_error_from(&err), req.tag);
		} else {
			start_child_spec(&req, AUTO_SHUTDOWN_NEVER, SPEC_MAX_DEPTH - 1);
			start_child_spec(&req, AUTO_SHUTDOWN_ANY_SIGNIFICANT, 0);
		}
	}
	reply(proto_ok(), req.tag);
	proto_request_fini(&req);
	return 0;
}
