/*
 * grammar.h - the one grammar of child specs and supervisor flags.
 *
 * A single table (grammar.c) says, for every key: its type, its range or
 * words, which nodes take it (top level, worker, supervisor, dynamic,
 * template, control), whether it is required, and where its value goes.
 * Both front ends feed it a value tree (value_tree.h): the config file
 * through yaml_tree.c, a start_child spec through json_tree.c. So the file,
 * `supd -n` and the control socket give the same verdict and the same
 * message for the same spec; only the way a position is written differs
 * (FILE:LINE:COL, or a path such as spec.children[2].restart).
 *
 * The grammar reports every problem it finds, not only the first, and
 * suggests the nearest key or word for a misspelled one. What only the
 * machine can say (users, groups, programs, directories) is asked through a
 * struct spec_host, so that the grammar itself stays a pure function of the
 * tree.
 */
#ifndef SUPD_GRAMMAR_H
#define SUPD_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec.h"
#include "value_tree.h"

struct config;

/* What a spec asks of the machine. Each returns 0, or -1 with a message
 * (without a position) in msg. spec_host.c has the real one. */
struct spec_host {
	/* w->user and w->group into ids (and supplementary groups); on
	 * failure *bad_key is "user" or "group". */
	int (*resolve_credentials)(struct worker_spec *w, const char **bad_key, char *msg,
				   size_t len);
	/* control.group */
	int (*lookup_group)(const char *name, gid_t *gid, char *msg, size_t len);
	/* w->argv[0], found as exec will find it (PATH, cwd). */
	int (*find_program)(const struct worker_spec *w, char *msg, size_t len);
	/* `what` (a key name) names a directory that must exist: path itself
	 * (cwd) or, with parent_of, the directory holding the file path. */
	int (*check_directory)(const char *what, const char *path, bool parent_of, char *msg,
			       size_t len);
	/* SPEC 7.2-7.6, once the worker's keys and user are read: its
	 * environment (env files, ${NAME}, the user's HOME...), its limits,
	 * its probe addresses. Optional. On failure *bad_key names the key. */
	int (*prepare_worker)(struct worker_spec *w, const char **bad_key, char *msg, size_t len);
	/* SPEC 7.7. controller NULL: supd's cgroup v2 subtree is writable
	 * (`cgroup: true`); otherwise that controller can serve workers'
	 * limits. Optional. */
	int (*check_cgroup)(const char *controller, char *msg, size_t len);
	/* Whether the running supd has `cgroup: true` (a start_child spec's
	 * limits need it). Optional. */
	bool (*cgroup_enabled)(void);
};

extern const struct spec_host spec_host_system;

/* One problem, as the grammar found it. `at` has the line and column (0
 * when the notation has none), `path` says the same as a JSON path
 * ("children[2].restart"; "" for the document itself). `first` is set for
 * a duplicate: the earlier one, so the front end can say where it was. */
struct grammar_problem {
	const struct vnode *at;
	const char *path;
	const struct vnode *first;
	const char *first_path;
	const char *message;
};

struct grammar {
	const struct spec_host *host; /* NULL: nothing is checked against the machine */
	const char *root_path;        /* prefix of every path: "" (file), "spec" (socket) */
	void (*report)(void *ctx, const struct grammar_problem *problem);
	void *ctx;
	unsigned problems;  /* reported so far */
	bool out_of_memory; /* then the walk stopped; nothing else is reported */
};

/* The config file's top-level mapping (or NULL: an empty document) into
 * cfg (root, control, events, forward_signals). Returns 0 when nothing was
 * reported; cfg then holds the result (and must be freed either way). */
int grammar_config(struct grammar *g, const struct vnode *doc, struct config *cfg);

/* One child spec (a start_child spec): `node` is what would be one entry of
 * `children` under a supervisor whose auto_shutdown is parent_auto, at
 * nesting level parent_level (the root is 1). Returns the spec, or NULL
 * when something was reported or memory ran out. */
struct child_spec *grammar_child_spec(struct grammar *g, const struct vnode *node,
				      enum auto_shutdown parent_auto, unsigned parent_level);

#endif
