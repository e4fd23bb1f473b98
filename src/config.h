/*
 * config.h - the config file (SPEC section 3): YAML in, validated specs out.
 *
 * The file goes through yaml_tree.c (YAML to a value tree) and grammar.c
 * (the one grammar, shared with the control socket), which applies every
 * rule and checks what the machine can tell (users, groups, programs,
 * directories). The result is an immutable struct config whose root is a
 * tree of child specs (spec.h). Every problem is one line,
 * "FILE:LINE:COL: message", and all of a file's problems are reported.
 */
#ifndef SUPD_CONFIG_H
#define SUPD_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec.h"

struct control_config {
	char *socket_path;    /* NULL: the default (see control.h) */
	mode_t mode;          /* default 0600 */
	char *group;          /* NULL: none */
	gid_t gid;            /* resolved group, when group != NULL */
	uint32_t max_clients; /* default 256 */
};

struct config {
	char *file;              /* as given, for messages */
	struct child_spec *root; /* NODE_SUPERVISOR, id NULL */
	struct control_config control;
	char *events_path;        /* NULL: none */
	uint64_t events_max_size; /* rotate past this size (0: never) */
	uint32_t events_keep;     /* rotated files kept */
	uint64_t forward_signals; /* bit (sig - 1) set for each signal to forward */
	bool cgroup;              /* SPEC 7.7: a cgroup v2 group per worker */
	char *metrics_listen;     /* metrics: {listen: ADDR:PORT}; NULL: no HTTP listener */
};

struct spec_host;

/* Loads and validates `path`. On success returns 0 and *out (free with
 * config_free). On a config error returns -1, sets *out to NULL and writes
 * every problem into err, one line "FILE:LINE:COL: message" each, separated
 * by '\n' (no trailing newline; what does not fit in errlen is cut); LINE
 * and COL are 1-based and point at the offending key or value. Errors about
 * the file as a whole have no position: "FILE: cannot read: <strerror>",
 * "FILE: empty config (...)", "FILE: out of memory". err may be NULL. */
int config_load_file(const char *path, struct config **out, char *err, size_t errlen);
/* The same from a buffer; `name` stands for FILE in messages. */
int config_load_string(const char *yaml, size_t len, const char *name, struct config **out,
		       char *err, size_t errlen);
/* The same, asking `host` what the machine says (users, programs,
 * directories); NULL checks nothing outside the text (tests, fuzzing). */
int config_load_buffer(const char *text, size_t len, const char *name, const struct spec_host *host,
		       struct config **out, char *err, size_t errlen);
void config_free(struct config *cfg);

/* Detaches the root spec (the core takes it over); cfg->root becomes NULL. */
struct child_spec *config_take_root(struct config *cfg);

#endif
