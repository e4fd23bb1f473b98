/*
 * spec.h - child specifications: what the config file says a child is.
 *
 * A child spec is plain data: the config loader (config.c) builds a tree of
 * them from YAML, the control socket builds single ones from JSON, and the
 * supervision core (supervisor.c) owns them once a child exists. Nothing here
 * touches processes, the event loop or the YAML library.
 */
#ifndef SUPD_SPEC_H
#define SUPD_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum node_type {
	NODE_WORKER,     /* a forked and exec'd process */
	NODE_SUPERVISOR, /* a static supervisor node inside supd */
	NODE_DYNAMIC,    /* a DynamicSupervisor: children from a template, on request */
};

enum restart_type {
	RESTART_PERMANENT,
	RESTART_TRANSIENT,
	RESTART_TEMPORARY,
};

enum strategy {
	STRATEGY_ONE_FOR_ONE,
	STRATEGY_ONE_FOR_ALL,
	STRATEGY_REST_FOR_ONE,
};

enum auto_shutdown {
	AUTO_SHUTDOWN_NEVER,
	AUTO_SHUTDOWN_ANY_SIGNIFICANT,
	AUTO_SHUTDOWN_ALL_SIGNIFICANT,
};

enum ready_mode {
	READY_NONE,   /* started as soon as exec succeeded */
	READY_NOTIFY, /* started when READY=1 arrives on $NOTIFY_SOCKET */
	READY_FD,     /* started when a line arrives on the worker's descriptor ready_fd */
	READY_EXEC,   /* started when the probe command exits 0 */
	READY_TCP,    /* started when a connect to the probe address succeeds */
	READY_EXIT,   /* a one-shot job: started when it exits normally (OTP's `ignore`) */
};

enum notify_access {
	NOTIFY_ACCESS_MAIN, /* READY=1 only from the worker's own process */
	NOTIFY_ACCESS_ALL,  /* from any process of the worker's process group */
};

/* A readiness probe or a health check: a command, or a connect to an
 * address. The address is resolved when the spec is loaded, so that a
 * probe never waits for a name service. */
struct probe_spec {
	char **argv; /* NULL-terminated, or NULL for a tcp probe */
	size_t argc;
	char *address;               /* tcp: as written ("HOST:PORT" or a socket path) */
	unsigned char sockaddr[112]; /* tcp: the resolved struct sockaddr */
	uint32_t sockaddr_len;
	int64_t interval_ms;
	int64_t timeout_ms; /* health: one check's limit */
	uint32_t retries;   /* health: consecutive failures that make a worker unhealthy */
};

/* One resource limit (RLIMIT_*), soft and hard. */
struct rlimit_spec {
	int resource;
	uint64_t soft, hard; /* SPEC_RLIM_INFINITY: unlimited */
};

/* Restart backoff (SPEC 7.4): min_ms == 0 means none, OTP's behaviour. */
struct backoff_spec {
	int64_t min_ms;
	int64_t max_ms;
	int64_t reset_after_ms;
};

/* Where a worker's stdout and stderr go (SPEC 7.1). */
enum output_mode {
	OUTPUT_UNSET,   /* as the supervisor above says; inherit at the top */
	OUTPUT_INHERIT, /* supd's own stdout and stderr */
	OUTPUT_PREFIX,  /* through supd, as "PATH | line" */
	OUTPUT_FILE,    /* through supd, "TIMESTAMP STREAM line" in a rotated file */
};

struct output_spec {
	enum output_mode mode;
	char *file;        /* OUTPUT_FILE */
	uint64_t max_size; /* OUTPUT_FILE: bytes before rotating, 0: never */
	uint32_t keep;     /* OUTPUT_FILE: rotated files kept */
};

/* shutdown_ms values that are not a number of milliseconds */
#define SHUTDOWN_BRUTAL_KILL (-1)
#define SHUTDOWN_INFINITY    (-2)

#define SPEC_DEFAULT_MAX_RESTARTS     3
#define SPEC_DEFAULT_MAX_SECONDS      5
#define SPEC_DEFAULT_SHUTDOWN_MS      5000
#define SPEC_DEFAULT_START_TIMEOUT_MS 5000
#define SPEC_MAX_DEPTH                64 /* supervisors nest at most this deep */
#define SPEC_ID_MAX                   64
#define SPEC_UNLIMITED                UINT32_MAX /* max_children default */

/* Upper bounds checked by the config loader; they keep every derived number
 * (ring sizes, deadlines in ms) far from overflow. */
#define SPEC_MAX_RESTARTS_LIMIT 1000000u
#define SPEC_MAX_SECONDS_LIMIT  31536000u /* one year */
#define SPEC_MAX_MS_LIMIT       INT32_MAX /* shutdown and start_timeout */

#define SPEC_RLIM_INFINITY           UINT64_MAX
#define SPEC_CGROUP_MAX              INT64_MAX       /* memory_max, pids_max: max */
#define SPEC_PIDS_MAX_LIMIT          4194304         /* the kernel's PID_MAX_LIMIT */
#define SPEC_UMASK_UNSET             ((mode_t)01000) /* above any mode */
#define SPEC_NICE_UNSET              100             /* outside -20..19 */
#define SPEC_DEFAULT_READY_EXEC_MS   500             /* ready: {exec} interval */
#define SPEC_DEFAULT_READY_TCP_MS    100             /* ready: {tcp} interval */
#define SPEC_DEFAULT_HEALTH_INTERVAL 10000
#define SPEC_DEFAULT_HEALTH_TIMEOUT  5000
#define SPEC_DEFAULT_HEALTH_RETRIES  3
#define SPEC_DEFAULT_BACKOFF_MAX     30000
#define SPEC_DEFAULT_BACKOFF_RESET   60000

/* Exit codes (0..255) and signals (1..64) that count as a normal exit. */
struct exit_set {
	uint64_t codes[4];
	uint64_t signals;
};

struct worker_spec {
	char **argv; /* NULL-terminated, argc >= 1 */
	size_t argc;
	char **env; /* NULL-terminated "NAME=value" entries added to supd's environment */
	size_t envc;
	/* A template's allow_env: the names that members of control.group may
	 * set on start_child (SPEC 7.9). NULL-terminated, NULL for none. */
	char **allow_env;
	size_t allow_envc;
	char *cwd;   /* NULL: supd's cwd */
	char *user;  /* NULL: supd's user; resolved to uid at load */
	char *group; /* NULL: the user's primary group, or supd's */
	/* Resolved once, when the spec is loaded (credentials.c), so that no
	 * restart reads the user or group database. */
	uid_t uid;
	gid_t gid;
	bool has_uid, has_gid;
	gid_t *groups; /* supplementary groups to set as root; NULL: just gid */
	size_t ngroups;
	int stop_signal;             /* default SIGTERM */
	bool kill_group;             /* signal the whole process group (default true) */
	struct exit_set normal_exit; /* default: code 0 */
	enum ready_mode ready;
	int64_t start_timeout_ms;
	int ready_fd;                  /* READY_FD: the worker's descriptor number */
	struct probe_spec ready_probe; /* READY_EXEC, READY_TCP */
	enum notify_access notify_access;
	bool has_health;
	struct probe_spec health;
	bool has_forward_signals;
	mode_t umask; /* SPEC_UMASK_UNSET: supd's */
	int nice;     /* SPEC_NICE_UNSET: supd's */
	struct rlimit_spec *rlimits;
	size_t nrlimits;
	uint64_t forward_signals; /* bit sig-1; replaces the top-level list when set */
	/* cgroup v2 limits (SPEC 7.7, with the top-level cgroup: true): 0 is
	 * unset, SPEC_CGROUP_MAX is "max" */
	int64_t memory_max; /* bytes */
	int64_t pids_max;
	int32_t cpu_weight; /* 1..10000 */
	/* env_file paths as written; their entries are merged into env when
	 * the spec is loaded (service_keys.c: env_compose) */
	char **env_files;
	size_t nenv_files;

	/* Filled by spawn.c on first use, freed with the spec (it is a single
	 * allocation): the complete environment block, so that a restart
	 * allocates nothing. */
	char **envp_cache;
	/* Borrowed, or NULL: a spec whose environment is the same as this
	 * one's (a dynamic child's template); its envp_cache is used instead. */
	struct worker_spec *env_source;
};

struct child_spec;

struct sup_spec {
	enum strategy strategy;
	uint32_t max_restarts;
	uint32_t max_seconds;
	enum auto_shutdown auto_shutdown;
	struct child_spec **children; /* NODE_SUPERVISOR: in start order */
	size_t nchildren;
	struct child_spec *template_spec; /* NODE_DYNAMIC: a worker spec with id NULL */
	uint32_t max_children;            /* NODE_DYNAMIC: SPEC_UNLIMITED by default */
};

struct child_spec {
	char *id; /* NULL for the root and for a dynamic template */
	enum node_type type;
	enum restart_type restart;
	int64_t shutdown_ms; /* >= 0, or SHUTDOWN_BRUTAL_KILL / SHUTDOWN_INFINITY */
	bool significant;
	struct backoff_spec backoff; /* workers and supervisor children */
	/* A worker's output; on a supervisor, the default of the workers
	 * below it (dynamic children included). */
	struct output_spec output;
	struct worker_spec worker; /* NODE_WORKER only */
	struct sup_spec sup;       /* NODE_SUPERVISOR and NODE_DYNAMIC only */
};

/* Allocation and ownership. spec_free() accepts NULL and frees the subtree. */
struct child_spec *spec_new(enum node_type type);
void spec_free(struct child_spec *spec);
/* A deep copy (used for dynamic children, made from their template); NULL on ENOMEM. */
struct child_spec *spec_clone(const struct child_spec *spec);

/* Frees a probe's owned parts (its argv and address). */
void probe_spec_free(struct probe_spec *p);

/* Applies every default of SPEC section 3 to a zeroed spec of the given type. */
void spec_set_defaults(struct child_spec *spec);

bool spec_is_supervisor(const struct child_spec *spec);

/* Reload (SPEC 7.5): true when a and b would run the same way. Every key
 * the grammar sets is compared (the children of a supervisor and a
 * template too, recursively); what is derived at run time (envp_cache,
 * env_source) is not. A node's output is compared as it applies: its own,
 * else the inherited one (NULL: none set above). */
bool spec_equal(const struct child_spec *a, const struct child_spec *b);
bool spec_equal_in(const struct child_spec *a, const struct child_spec *b,
		   const struct output_spec *inherited_a, const struct output_spec *inherited_b);
/* The flags a supervisor node changes in place: type, strategy,
 * max_restarts, max_seconds, auto_shutdown, max_children. */
bool spec_sup_flags_equal(const struct child_spec *a, const struct child_spec *b);
bool spec_output_equal(const struct output_spec *a, const struct output_spec *b);

bool spec_id_valid(const char *id);

void exit_set_add_code(struct exit_set *set, int code);
void exit_set_add_signal(struct exit_set *set, int sig);
bool exit_set_has_code(const struct exit_set *set, int code);
bool exit_set_has_signal(const struct exit_set *set, int sig);

const char *strategy_name(enum strategy s);
const char *restart_name(enum restart_type r);
const char *node_type_name(enum node_type t);
const char *auto_shutdown_name(enum auto_shutdown a);

/* "SIGTERM" <-> 15; also accepts "TERM" (any case) and the real-time names
 * that signal_name() gives ("SIGRTMIN+3"). Returns 0 / NULL when unknown. */
int signal_from_name(const char *name);
const char *signal_name(int sig);

#endif
