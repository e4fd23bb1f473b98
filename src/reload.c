/*
 * reload.c - SPEC 7.5 on the shell's side: from a file to core_reload().
 *
 * Owns what a reload needs besides the core: the path supd was started
 * with, a copy of the top-level settings that cannot change while supd runs
 * (the control socket, the events file, the metrics listener), the loading and checking of the
 * new file (config.c, with the same host checks as at start), and the
 * report: log lines, the `reload_failed` event, the requester's reply.
 *
 * Settings that cannot change live are refused, not ignored: a reload that
 * silently kept the old socket would leave the file saying something supd
 * does not do. forward_signals changes live (the loop takes the new set
 * when the tree has been reloaded).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "events.h"
#include "log.h"
#include "reload.h"
#include "supervisor.h"

/* Every problem of a file, as at start. */
#define RELOAD_ERROR_MAX 16384

struct fixed {
	char *socket_path;
	mode_t mode;
	char *group;
	uint32_t max_clients;
	char *events_path;
	uint64_t events_max_size;
	uint32_t events_keep;
	bool cgroup; /* cgroup.c sets up supd's own cgroup once, at start */
	char *metrics_listen;
};

static struct reload_host host;
static char *start_file;
static struct fixed fixed;
static bool ready;

struct reload_op {
	struct core_reload cr;
	struct reload_client *client;
	uint64_t forward_signals;
	json_t *supervisors;
	char file[PATH_MAX];
};

static void
fixed_free(struct fixed *f)
{
	free(f->socket_path);
	free(f->group);
	free(f->events_path);
	free(f->metrics_listen);
	memset(f, 0, sizeof(*f));
}

static bool
dup_or_null(char **dst, const char *src)
{
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

int
reload_init(const struct reload_host *h, const struct config *cfg)
{
	reload_fini();
	host = *h;
	if (h->file) {
		/* supd does not change directory, but the file is read again
		 * later: keep the path it named then. */
		start_file = realpath(h->file, NULL);
		if (!start_file && !(start_file = strdup(h->file)))
			return -ENOMEM;
	}
	fixed.mode = cfg->control.mode;
	fixed.max_clients = cfg->control.max_clients;
	fixed.events_max_size = cfg->events_max_size;
	fixed.events_keep = cfg->events_keep;
	fixed.cgroup = cfg->cgroup;
	if (!dup_or_null(&fixed.socket_path, cfg->control.socket_path) ||
	    !dup_or_null(&fixed.group, cfg->control.group) ||
	    !dup_or_null(&fixed.events_path, cfg->events_path) ||
	    !dup_or_null(&fixed.metrics_listen, cfg->metrics_listen)) {
		reload_fini();
		return -ENOMEM;
	}
	host.file = start_file;
	ready = true;
	return 0;
}

void
reload_fini(void)
{
	free(start_file);
	start_file = NULL;
	fixed_free(&fixed);
	ready = false;
}

static bool
same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The first top-level setting of cfg that differs from the running one
 * and cannot change live, as a message; NULL when there is none. */
static const char *
fixed_differs(const struct config *cfg, char *buf, size_t len)
{
	const char *key = NULL;

	if (!host.socket_overridden && !same_text(cfg->control.socket_path, fixed.socket_path))
		key = "control.socket";
	else if (cfg->control.mode != fixed.mode)
		key = "control.mode";
	else if (!same_text(cfg->control.group, fixed.group))
		key = "control.group";
	else if (cfg->control.max_clients != fixed.max_clients)
		key = "control.max_clients";
	else if (!host.events_overridden && !same_text(cfg->events_path, fixed.events_path))
		key = "events";
	else if (!host.events_overridden && (cfg->events_max_size != fixed.events_max_size ||
					     cfg->events_keep != fixed.events_keep))
		key = "events (max_size, keep)";
	else if (cfg->cgroup != fixed.cgroup)
		key = "cgroup";
	else if (!same_text(cfg->metrics_listen, fixed.metrics_listen))
		key = "metrics.listen";
	if (!key)
		return NULL;
	snprintf(buf, len, "%s: %s cannot change while supd runs (restart supd to change it)",
		 cfg->file, key);
	return buf;
}

static void
report_failure(const char *file, const char *error)
{
	struct core_event ev = {.type = EV_RELOAD_FAILED, .path = "/", .error = error};
	const char *line = error;

	log_warnx("reload of %s failed, nothing changed:", file ? file : "(no file)");
	while (line && *line) {
		const char *end = strchr(line, '\n');
		int n = end ? (int)(end - line) : (int)strlen(line);
		log_warnx("  %.*s", n, line);
		line = end ? end + 1 : NULL;
	}
	events_emit(&ev);
}

static void
op_free(struct reload_op *op)
{
	json_decref(op->supervisors);
	free(op);
}

/* Runs inside the core: records, queues, nothing more. */
static void
on_applied(struct core_reload *r, const struct core_event *ev)
{
	struct reload_op *op = r->owner;
	json_t *entry = json_object();
	const char *const *lists[] = {ev->added, ev->removed, ev->changed, ev->failed};
	size_t counts[] = {ev->nadded, ev->nremoved, ev->nchanged, ev->nfailed};
	const char *names[] = {"added", "removed", "changed", "failed"};

	if (!entry || json_object_set_new(entry, "path", json_string(ev->path)) < 0)
		goto fail;
	for (size_t l = 0; l < 4; l++) {
		json_t *ids = json_array();
		if (l == 3 && !counts[l]) {
			json_decref(ids);
			continue;
		}
		if (!ids || json_object_set_new(entry, names[l], ids) < 0)
			goto fail;
		for (size_t i = 0; i < counts[l]; i++)
			if (json_array_append_new(ids, json_string(lists[l][i])) < 0)
				goto fail;
	}
	if (json_array_append_new(op->supervisors, entry) == 0)
		return;
	entry = NULL;
fail:
	json_decref(entry);
	log_warnx("%s: reloaded, but the reply lacks its lists: out of memory", ev->path);
}

static void
on_done(struct core_reload *r)
{
	struct reload_op *op = r->owner;

	if (r->error == CORE_OK) {
		size_t n = json_array_size(op->supervisors);
		if (host.set_forward_signals)
			host.set_forward_signals(host.ctx, op->forward_signals);
		log_info("reloaded %s: %zu supervisor%s changed", op->file, n, n == 1 ? "" : "s");
		if (op->client)
			op->client->done(op->client, true, NULL, op->supervisors);
	} else {
		char msg[sizeof(r->message) + 64];
		snprintf(msg, sizeof(msg), "reload not applied: %s", r->message);
		report_failure(op->file, msg);
		if (op->client)
			op->client->done(op->client, false, msg, NULL);
	}
	op_free(op);
}

static void
fail_now(const char *file, struct reload_client *client, const char *error)
{
	report_failure(file, error);
	if (client)
		client->done(client, false, error, NULL);
}

void
reload_start(const char *file, struct reload_client *client)
{
	static char err[RELOAD_ERROR_MAX];
	char why[PATH_MAX + 128];
	struct config *cfg = NULL;
	struct reload_op *op;

	if (!ready) {
		fail_now(file, client, "reload is not available");
		return;
	}
	if (!file)
		file = host.file;
	if (!file) {
		fail_now(NULL, client,
			 "supd runs a program (supd --), not a config file: "
			 "there is nothing to reload");
		return;
	}
	if (core_shutting_down(host.core)) {
		fail_now(file, client, "supd is shutting down");
		return;
	}
	log_info("reloading %s", file);
	if (config_load_file(file, &cfg, err, sizeof(err)) < 0) {
		fail_now(file, client, err);
		return;
	}
	if (fixed_differs(cfg, why, sizeof(why))) {
		config_free(cfg);
		fail_now(file, client, why);
		return;
	}
	op = calloc(1, sizeof(*op));
	if (!op || !(op->supervisors = json_array())) {
		free(op);
		config_free(cfg);
		fail_now(file, client, "out of memory");
		return;
	}
	snprintf(op->file, sizeof(op->file), "%s", file);
	op->client = client;
	op->forward_signals = cfg->forward_signals;
	op->cr.root_spec = config_take_root(cfg);
	op->cr.applied = on_applied;
	op->cr.done = on_done;
	op->cr.owner = op;
	config_free(cfg);
	core_reload(host.core, &op->cr, host.now_ms(host.ctx));
}
