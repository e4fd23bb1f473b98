/*
 * spec.c - child specifications: allocation, defaults, copies, names.
 *
 * Owns the lifetime of struct child_spec trees and the tables that map the
 * config file's words (strategies, restart types, signal names) to values
 * and back. Pure data: no I/O, no processes, nothing of the modules that
 * run a spec (spawn.c, the core); the grammar that builds specs from text
 * is grammar.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec.h"

struct child_spec *
spec_new(enum node_type type)
{
	struct child_spec *spec = calloc(1, sizeof(*spec));

	if (!spec)
		return NULL;
	spec->type = type;
	spec_set_defaults(spec);
	return spec;
}

void
spec_set_defaults(struct child_spec *spec)
{
	spec->restart = RESTART_PERMANENT;
	spec->significant = false;
	if (spec_is_supervisor(spec)) {
		spec->shutdown_ms = SHUTDOWN_INFINITY;
		spec->sup.strategy = STRATEGY_ONE_FOR_ONE;
		spec->sup.max_restarts = SPEC_DEFAULT_MAX_RESTARTS;
		spec->sup.max_seconds = SPEC_DEFAULT_MAX_SECONDS;
		spec->sup.auto_shutdown = AUTO_SHUTDOWN_NEVER;
		spec->sup.max_children = SPEC_UNLIMITED;
	} else {
		spec->shutdown_ms = SPEC_DEFAULT_SHUTDOWN_MS;
		spec->worker.stop_signal = SIGTERM;
		spec->worker.kill_group = true;
		memset(&spec->worker.normal_exit, 0, sizeof(spec->worker.normal_exit));
		exit_set_add_code(&spec->worker.normal_exit, 0);
		spec->worker.ready = READY_NONE;
		spec->worker.start_timeout_ms = SPEC_DEFAULT_START_TIMEOUT_MS;
		spec->worker.umask = SPEC_UMASK_UNSET;
		spec->worker.nice = SPEC_NICE_UNSET;
	}
}

bool
spec_is_supervisor(const struct child_spec *spec)
{
	return spec->type == NODE_SUPERVISOR || spec->type == NODE_DYNAMIC;
}

static bool dup_opt(char **dst, const char *src);

static void
strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static char **
strv_copy(char *const *v, size_t n)
{
	char **out;

	if (!v)
		return NULL;
	out = calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			strv_free(out);
			return NULL;
		}
	}
	return out;
}

void
probe_spec_free(struct probe_spec *p)
{
	strv_free(p->argv);
	free(p->address);
	p->argv = NULL;
	p->address = NULL;
}

/* Copies the owned parts of src into dst, whose other fields are already
 * a copy of src's. */
static int
probe_spec_copy(struct probe_spec *dst, const struct probe_spec *src)
{
	dst->argv = strv_copy(src->argv, src->argc);
	if (src->argv && !dst->argv)
		return -1;
	if (!dup_opt(&dst->address, src->address))
		return -1;
	return 0;
}

void
spec_free(struct child_spec *spec)
{
	if (!spec)
		return;
	free(spec->id);
	free(spec->output.file);
	if (spec_is_supervisor(spec)) {
		for (size_t i = 0; i < spec->sup.nchildren; i++)
			spec_free(spec->sup.children[i]);
		free(spec->sup.children);
		spec_free(spec->sup.template_spec);
	} else {
		strv_free(spec->worker.argv);
		strv_free(spec->worker.env);
		strv_free(spec->worker.allow_env);
		free(spec->worker.cwd);
		free(spec->worker.user);
		free(spec->worker.group);
		probe_spec_free(&spec->worker.ready_probe);
		probe_spec_free(&spec->worker.health);
		free(spec->worker.rlimits);
		strv_free(spec->worker.env_files);
		free(spec->worker.groups);
		/* spawn.c's environment block is one allocation. */
		free(spec->worker.envp_cache);
	}
	free(spec);
}

static bool
dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (!src)
		return true;
	*dst = strdup(src);
	return *dst != NULL;
}

struct child_spec *
spec_clone(const struct child_spec *spec)
{
	struct child_spec *copy = calloc(1, sizeof(*copy));

	if (!copy)
		return NULL;
	*copy = *spec;
	/* Null every owned pointer first, so that spec_free() is safe at any
	 * point of a partial copy. */
	copy->id = NULL;
	copy->output.file = NULL;
	if (spec_is_supervisor(spec)) {
		copy->sup.children = NULL;
		copy->sup.nchildren = 0;
		copy->sup.template_spec = NULL;
	} else {
		copy->worker.argv = NULL;
		copy->worker.env = NULL;
		copy->worker.allow_env = NULL;
		copy->worker.cwd = NULL;
		copy->worker.user = NULL;
		copy->worker.group = NULL;
		copy->worker.groups = NULL;
		copy->worker.envp_cache = NULL;
		copy->worker.env_source = NULL;
		copy->worker.ready_probe.argv = NULL;
		copy->worker.ready_probe.address = NULL;
		copy->worker.health.argv = NULL;
		copy->worker.health.address = NULL;
		copy->worker.rlimits = NULL;
		copy->worker.env_files = NULL;
	}
	if (!dup_opt(&copy->id, spec->id) || !dup_opt(&copy->output.file, spec->output.file))
		goto fail;
	if (spec_is_supervisor(spec)) {
		if (spec->sup.nchildren) {
			copy->sup.children =
				calloc(spec->sup.nchildren, sizeof(*copy->sup.children));
			if (!copy->sup.children)
				goto fail;
			for (size_t i = 0; i < spec->sup.nchildren; i++) {
				copy->sup.children[i] = spec_clone(spec->sup.children[i]);
				if (!copy->sup.children[i])
					goto fail;
				copy->sup.nchildren = i + 1;
			}
		}
		if (spec->sup.template_spec) {
			copy->sup.template_spec = spec_clone(spec->sup.template_spec);
			if (!copy->sup.template_spec)
				goto fail;
		}
		return copy;
	}
	copy->worker.argv = strv_copy(spec->worker.argv, spec->worker.argc);
	if (spec->worker.argv && !copy->worker.argv)
		goto fail;
	copy->worker.env = strv_copy(spec->worker.env, spec->worker.envc);
	if (spec->worker.env && !copy->worker.env)
		goto fail;
	copy->worker.allow_env = strv_copy(spec->worker.allow_env, spec->worker.allow_envc);
	if (spec->worker.allow_env && !copy->worker.allow_env)
		goto fail;
	if (!dup_opt(&copy->worker.cwd, spec->worker.cwd) ||
	    !dup_opt(&copy->worker.user, spec->worker.user) ||
	    !dup_opt(&copy->worker.group, spec->worker.group))
		goto fail;
	if (probe_spec_copy(&copy->worker.ready_probe, &spec->worker.ready_probe) < 0 ||
	    probe_spec_copy(&copy->worker.health, &spec->worker.health) < 0)
		goto fail;
	copy->worker.env_files = strv_copy(spec->worker.env_files, spec->worker.nenv_files);
	if (spec->worker.env_files && !copy->worker.env_files)
		goto fail;
	if (spec->worker.nrlimits) {
		size_t n = spec->worker.nrlimits * sizeof(*spec->worker.rlimits);
		copy->worker.rlimits = malloc(n);
		if (!copy->worker.rlimits)
			goto fail;
		memcpy(copy->worker.rlimits, spec->worker.rlimits, n);
	}
	if (spec->worker.ngroups) {
		copy->worker.groups = malloc(spec->worker.ngroups * sizeof(gid_t));
		if (!copy->worker.groups)
			goto fail;
		memcpy(copy->worker.groups, spec->worker.groups,
		       spec->worker.ngroups * sizeof(gid_t));
	}
	return copy;
fail:
	spec_free(copy);
	return NULL;
}

bool
spec_id_valid(const char *id)
{
	size_t n;

	if (!id)
		return false;
	n = strlen(id);
	if (n < 1 || n > SPEC_ID_MAX)
		return false;
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return false;
	/* This alphabet also keeps ids and paths free of anything that JSON
	 * would need to escape, which events.c relies on. */
	for (size_t i = 0; i < n; i++) {
		char ch = id[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

void
exit_set_add_code(struct exit_set *set, int code)
{
	if (code >= 0 && code <= 255)
		set->codes[code / 64] |= UINT64_C(1) << (code % 64);
}

void
exit_set_add_signal(struct exit_set *set, int sig)
{
	if (sig >= 1 && sig <= 64)
		set->signals |= UINT64_C(1) << (sig - 1);
}

bool
exit_set_has_code(const struct exit_set *set, int code)
{
	return code >= 0 && code <= 255 && (set->codes[code / 64] >> (code % 64)) & 1;
}

bool
exit_set_has_signal(const struct exit_set *set, int sig)
{
	return sig >= 1 && sig <= 64 && (set->signals >> (sig - 1)) & 1;
}

const char *
strategy_name(enum strategy s)
{
	switch (s) {
	case STRATEGY_ONE_FOR_ONE:
		return "one_for_one";
	case STRATEGY_ONE_FOR_ALL:
		return "one_for_all";
	case STRATEGY_REST_FOR_ONE:
		return "rest_for_one";
	}
	return "?";
}

const char *
restart_name(enum restart_type r)
{
	switch (r) {
	case RESTART_PERMANENT:
		return "permanent";
	case RESTART_TRANSIENT:
		return "transient";
	case RESTART_TEMPORARY:
		return "temporary";
	}
	return "?";
}

const char *
node_type_name(enum node_type t)
{
	switch (t) {
	case NODE_WORKER:
		return "worker";
	case NODE_SUPERVISOR:
		return "supervisor";
	case NODE_DYNAMIC:
		return "dynamic";
	}
	return "?";
}

const char *
auto_shutdown_name(enum auto_shutdown a)
{
	switch (a) {
	case AUTO_SHUTDOWN_NEVER:
		return "never";
	case AUTO_SHUTDOWN_ANY_SIGNIFICANT:
		return "any_significant";
	case AUTO_SHUTDOWN_ALL_SIGNIFICANT:
		return "all_significant";
	}
	return "?";
}

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{"SIGHUP", SIGHUP},       {"SIGINT", SIGINT},       {"SIGQUIT", SIGQUIT},
	{"SIGILL", SIGILL},       {"SIGTRAP", SIGTRAP},     {"SIGABRT", SIGABRT},
	{"SIGBUS", SIGBUS},       {"SIGFPE", SIGFPE},       {"SIGKILL", SIGKILL},
	{"SIGUSR1", SIGUSR1},     {"SIGSEGV", SIGSEGV},     {"SIGUSR2", SIGUSR2},
	{"SIGPIPE", SIGPIPE},     {"SIGALRM", SIGALRM},     {"SIGTERM", SIGTERM},
	{"SIGSTKFLT", SIGSTKFLT}, {"SIGCHLD", SIGCHLD},     {"SIGCONT", SIGCONT},
	{"SIGSTOP", SIGSTOP},     {"SIGTSTP", SIGTSTP},     {"SIGTTIN", SIGTTIN},
	{"SIGTTOU", SIGTTOU},     {"SIGURG", SIGURG},       {"SIGXCPU", SIGXCPU},
	{"SIGXFSZ", SIGXFSZ},     {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF},
	{"SIGWINCH", SIGWINCH},   {"SIGIO", SIGIO},         {"SIGPWR", SIGPWR},
	{"SIGSYS", SIGSYS},
};

int
signal_from_name(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++) {
		if (strcasecmp(name, signal_table[i].name) == 0 ||
		    strcasecmp(name, signal_table[i].name + 3) == 0)
			return signal_table[i].sig;
	}
	/* the real-time signals, by the names signal_name() gives them */
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++) {
		const char *rt = signal_name(sig);

		if (rt && strcmp(name, rt) == 0)
			return sig;
	}
	return 0;
}

const char *
signal_name(int sig)
{
	static const char *const rt[] = {
		"SIGRTMIN",    "SIGRTMIN+1",  "SIGRTMIN+2",  "SIGRTMIN+3",  "SIGRTMIN+4",
		"SIGRTMIN+5",  "SIGRTMIN+6",  "SIGRTMIN+7",  "SIGRTMIN+8",  "SIGRTMIN+9",
		"SIGRTMIN+10", "SIGRTMIN+11", "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14",
		"SIGRTMIN+15", "SIGRTMAX-14", "SIGRTMAX-13", "SIGRTMAX-12", "SIGRTMAX-11",
		"SIGRTMAX-10", "SIGRTMAX-9",  "SIGRTMAX-8",  "SIGRTMAX-7",  "SIGRTMAX-6",
		"SIGRTMAX-5",  "SIGRTMAX-4",  "SIGRTMAX-3",  "SIGRTMAX-2",  "SIGRTMAX-1",
		"SIGRTMAX",
	};

	for (size_t i = 0; i < sizeof(signal_table) / sizeof(signal_table[0]); i++)
		if (signal_table[i].sig == sig)
			return signal_table[i].name;
	if (sig >= SIGRTMIN && sig <= SIGRTMAX &&
	    sig - SIGRTMIN < (int)(sizeof(rt) / sizeof(rt[0])))
		return rt[sig - SIGRTMIN];
	return NULL;
}

/* ---- equality (reload, SPEC 7.5) ---- */

static bool
str_equal(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (!str_equal(a ? a[i] : NULL, b ? b[i] : NULL))
			return false;
	return true;
}

static bool
probe_spec_equal(const struct probe_spec *a, const struct probe_spec *b)
{
	return strv_equal(a->argv, a->argc, b->argv, b->argc) &&
	       str_equal(a->address, b->address) && a->sockaddr_len == b->sockaddr_len &&
	       memcmp(a->sockaddr, b->sockaddr, a->sockaddr_len) == 0 &&
	       a->interval_ms == b->interval_ms && a->timeout_ms == b->timeout_ms &&
	       a->retries == b->retries;
}

bool
spec_output_equal(const struct output_spec *a, const struct output_spec *b)
{
	static const struct output_spec unset = {.mode = OUTPUT_UNSET};

	a = a ? a : &unset;
	b = b ? b : &unset;
	if (a->mode != b->mode)
		return false;
	if (a->mode != OUTPUT_FILE)
		return true;
	return str_equal(a->file, b->file) && a->max_size == b->max_size && a->keep == b->keep;
}

/* The output that applies to a node: its own, else the one above it. */
static const struct output_spec *
effective_output(const struct child_spec *spec, const struct output_spec *inherited)
{
	return spec->output.mode != OUTPUT_UNSET ? &spec->output : inherited;
}

static bool
worker_equal(const struct worker_spec *a, const struct worker_spec *b)
{
	if (!strv_equal(a->argv, a->argc, b->argv, b->argc) ||
	    !strv_equal(a->env, a->envc, b->env, b->envc) ||
	    !strv_equal(a->allow_env, a->allow_envc, b->allow_env, b->allow_envc) ||
	    !strv_equal(a->env_files, a->nenv_files, b->env_files, b->nenv_files) ||
	    !str_equal(a->cwd, b->cwd) || !str_equal(a->user, b->user) ||
	    !str_equal(a->group, b->group))
		return false;
	if (a->has_uid != b->has_uid || a->has_gid != b->has_gid ||
	    (a->has_uid && a->uid != b->uid) || (a->has_gid && a->gid != b->gid) ||
	    a->ngroups != b->ngroups ||
	    (a->ngroups && memcmp(a->groups, b->groups, a->ngroups * sizeof(gid_t)) != 0))
		return false;
	if (a->stop_signal != b->stop_signal || a->kill_group != b->kill_group ||
	    memcmp(&a->normal_exit, &b->normal_exit, sizeof(a->normal_exit)) != 0 ||
	    a->ready != b->ready || a->start_timeout_ms != b->start_timeout_ms ||
	    a->ready_fd != b->ready_fd || !probe_spec_equal(&a->ready_probe, &b->ready_probe) ||
	    a->notify_access != b->notify_access || a->has_health != b->has_health ||
	    (a->has_health && !probe_spec_equal(&a->health, &b->health)) ||
	    a->has_forward_signals != b->has_forward_signals ||
	    a->forward_signals != b->forward_signals || a->umask != b->umask ||
	    a->nice != b->nice || a->nrlimits != b->nrlimits || a->memory_max != b->memory_max ||
	    a->pids_max != b->pids_max || a->cpu_weight != b->cpu_weight)
		return false;
	for (size_t i = 0; i < a->nrlimits; i++)
		if (a->rlimits[i].resource != b->rlimits[i].resource ||
		    a->rlimits[i].soft != b->rlimits[i].soft ||
		    a->rlimits[i].hard != b->rlimits[i].hard)
			return false;
	return true;
}

bool
spec_sup_flags_equal(const struct child_spec *a, const struct child_spec *b)
{
	return a->type == b->type && a->sup.strategy == b->sup.strategy &&
	       a->sup.max_restarts == b->sup.max_restarts &&
	       a->sup.max_seconds == b->sup.max_seconds &&
	       a->sup.auto_shutdown == b->sup.auto_shutdown &&
	       a->sup.max_children == b->sup.max_children;
}

bool
spec_equal_in(const struct child_spec *a, const struct child_spec *b,
	      const struct output_spec *inherited_a, const struct output_spec *inherited_b)
{
	const struct output_spec *out_a = effective_output(a, inherited_a);
	const struct output_spec *out_b = effective_output(b, inherited_b);

	if (a->type != b->type || !str_equal(a->id, b->id) || a->restart != b->restart ||
	    a->shutdown_ms != b->shutdown_ms || a->significant != b->significant ||
	    a->backoff.min_ms != b->backoff.min_ms || a->backoff.max_ms != b->backoff.max_ms ||
	    a->backoff.reset_after_ms != b->backoff.reset_after_ms ||
	    !spec_output_equal(out_a, out_b))
		return false;
	if (!spec_is_supervisor(a))
		return worker_equal(&a->worker, &b->worker);
	if (!spec_sup_flags_equal(a, b) || a->sup.nchildren != b->sup.nchildren ||
	    !a->sup.template_spec != !b->sup.template_spec)
		return false;
	if (a->sup.template_spec &&
	    !spec_equal_in(a->sup.template_spec, b->sup.template_spec, out_a, out_b))
		return false;
	for (size_t i = 0; i < a->sup.nchildren; i++)
		if (!spec_equal_in(a->sup.children[i], b->sup.children[i], out_a, out_b))
			return false;
	return true;
}

bool
spec_equal(const struct child_spec *a, const struct child_spec *b)
{
	return spec_equal_in(a, b, NULL, NULL);
}
