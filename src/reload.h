/*
 * reload.h - SPEC 7.5 on the shell's side: SIGHUP and the op `reload`.
 *
 * A reload loads and checks a file with the loader supd starts with, refuses
 * the top-level settings that cannot change while supd runs, and hands the
 * new tree to the core (core_reload), which applies it supervisor by
 * supervisor. An invalid file changes nothing: the log, an event
 * `reload_failed` and the requester's reply say why.
 */
#ifndef SUPD_RELOAD_H
#define SUPD_RELOAD_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct core;

struct reload_host {
	struct core *core;
	/* The file supd was started with; NULL in `supd --` mode (no file). */
	const char *file;
	/* --socket and --events override the file's: those keys may differ. */
	bool socket_overridden, events_overridden;
	uint64_t (*now_ms)(void *ctx);
	/* The new file's top-level forward_signals, once the tree has it. */
	void (*set_forward_signals)(void *ctx, uint64_t set);
	void *ctx;
};

/* Remembers the host and what of cfg cannot change live. 0 or -ENOMEM. */
int reload_init(const struct reload_host *host, const struct config *cfg);
void reload_fini(void);

/* Who waits for a reload. done runs once, possibly inside reload_start(),
 * and inside the core: it may only queue output. On success `supervisors`
 * is an array of {path, added, removed, changed[, failed]} (borrowed for
 * the call); on failure `error` is the message (every problem of the file,
 * one a line). */
struct reload_client {
	void (*done)(struct reload_client *c, bool ok, const char *error, json_t *supervisors);
};

/* Reloads `file` (NULL: the one supd was started with). Reloads are
 * applied one at a time, in the order they were asked for. client may be
 * NULL (SIGHUP: the log and the events say how it went). */
void reload_start(const char *file, struct reload_client *client);

#endif
