/*
 * fuzz-config.c - libFuzzer target for the config loader (config.c).
 *
 * Input: the text of a config file. The loader must either hand back a
 * config or refuse it with one message line, never crash, leak or hang.
 * A config that loads is then pushed through the JSON spec path of the
 * control protocol (proto.c): every top-level child is turned into its JSON
 * form, read back with proto_spec_from_json under the same parent, and the
 * second JSON form must equal the first. A refused config gives one line
 * "fuzz.yaml:..." per problem. The config file and start_child
 * share one grammar (SPEC section 3), so a spec that the file accepts and
 * the socket refuses, or that changes on the way, is a bug.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "log.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz-config", LOG_LEVEL_ERROR);
	return 0;
}

static void
round_trip(const struct child_spec *root, const struct child_spec *spec)
{
	json_t *first = proto_spec_to_json(spec, true);
	struct child_spec *back = NULL;
	struct proto_error err = {0};
	json_t *second;

	if (!first)
		abort(); /* ENOMEM: libFuzzer's -rss_limit_mb reports that itself */
	if (proto_spec_from_json(first, NULL, root->sup.auto_shutdown, SPEC_MAX_DEPTH - 1, &back,
				 &err) < 0) {
		char *text = json_dumps(first, JSON_COMPACT);

		fprintf(stderr, "the config accepted a spec that start_child refuses: %s: %s\n%s\n",
			err.error, err.message, text ? text : "?");
		abort();
	}
	second = proto_spec_to_json(back, true);
	if (!second || !json_equal(first, second)) {
		char *a = json_dumps(first, JSON_COMPACT), *b = json_dumps(second, JSON_COMPACT);

		fprintf(stderr, "spec changed on its way through JSON:\n%s\n%s\n", a ? a : "?",
			b ? b : "?");
		abort();
	}
	json_decref(second);
	json_decref(first);
	spec_free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[1024];
	const struct child_spec *root;

	err[0] = '\0';
	/* No host checks (users, programs): the same input, the same path. */
	if (config_load_buffer((const char *)data, size, "fuzz.yaml", NULL, &cfg, err,
			       sizeof(err)) < 0) {
		/* Every problem is one line "fuzz.yaml:...: message" (the last
		 * one may be cut short by the buffer). */
		if (cfg || strncmp(err, "fuzz.yaml:", 10) != 0) {
			fprintf(stderr, "refused without a message: '%s'\n", err);
			abort();
		}
		for (const char *nl = strchr(err, '\n'); nl; nl = strchr(nl + 1, '\n')) {
			if (strlen(nl + 1) >= 10 && strncmp(nl + 1, "fuzz.yaml:", 10) != 0) {
				fprintf(stderr, "a message line without its file name: '%s'\n",
					err);
				abort();
			}
		}
		return 0;
	}
	root = cfg->root;
	for (size_t i = 0; i < root->sup.nchildren; i++)
		round_trip(root, root->sup.children[i]);
	config_free(cfg);
	return 0;
}
