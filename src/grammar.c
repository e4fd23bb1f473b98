/*
 * grammar.c - the description of every key of SPEC section 3, and the one
 * walk that checks a value tree against it and builds the specs.
 *
 * `keys[]` below is the grammar: adding a key means adding one entry there
 * (and, for a value that is more than a string, a number, a word or a
 * boolean, the function that reads it). Nothing else knows the keys: the
 * YAML and JSON front ends only build trees, and the messages, the "did you
 * mean" and the rules on where a key may appear all come from the table.
 *
 * The walk goes through a mapping in document order, reports each problem
 * and goes on, so that one run shows every mistake of a file. A node whose
 * type is unreadable is skipped as a whole (its keys would only produce
 * noise). Checks against the machine run for a worker only when its keys
 * were fine, through g->host.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgroup.h"
#include "config.h"
#include "grammar.h"
#include "http.h"
#include "service_keys.h"

#define PATH_MAX_LEN 256

/* ---- the words ---------------------------------------------------------- */

struct word {
	const char *name;
	int64_t value;
};

#define WORDS(w) w, sizeof(w) / sizeof((w)[0])

static const struct word type_words[] = {
	{"worker", NODE_WORKER}, {"supervisor", NODE_SUPERVISOR}, {"dynamic", NODE_DYNAMIC}};
static const struct word restart_words[] = {{"permanent", RESTART_PERMANENT},
					    {"transient", RESTART_TRANSIENT},
					    {"temporary", RESTART_TEMPORARY}};
static const struct word strategy_words[] = {{"one_for_one", STRATEGY_ONE_FOR_ONE},
					     {"one_for_all", STRATEGY_ONE_FOR_ALL},
					     {"rest_for_one", STRATEGY_REST_FOR_ONE}};
static const struct word auto_shutdown_words[] = {
	{"never", AUTO_SHUTDOWN_NEVER},
	{"any_significant", AUTO_SHUTDOWN_ANY_SIGNIFICANT},
	{"all_significant", AUTO_SHUTDOWN_ALL_SIGNIFICANT}};
static const struct word ready_words[] = {
	{"none", READY_NONE}, {"notify", READY_NOTIFY}, {"exit", READY_EXIT}};
static const struct word notify_access_words[] = {{"main", NOTIFY_ACCESS_MAIN},
						  {"all", NOTIFY_ACCESS_ALL}};
static const struct word bool_words[] = {{"true", 1}, {"false", 0}};
static const struct word shutdown_words[] = {{"brutal_kill", SHUTDOWN_BRUTAL_KILL},
					     {"infinity", SHUTDOWN_INFINITY}};
static const struct word unlimited_words[] = {{"infinity", SPEC_UNLIMITED}};
static const struct word cgroup_max_words[] = {{"max", SPEC_CGROUP_MAX}};

/* ---- the description ---------------------------------------------------- */

/* The kinds of mapping a key can appear in. */
enum place {
	AT_ROOT,
	AT_WORKER,
	AT_SUPERVISOR,
	AT_DYNAMIC,
	AT_TEMPLATE,
	AT_CONTROL,
};
#define IN(p)      (1u << (p))
#define IN_CHILD   (IN(AT_WORKER) | IN(AT_SUPERVISOR) | IN(AT_DYNAMIC))
#define IN_SUPS    (IN(AT_ROOT) | IN(AT_SUPERVISOR) | IN(AT_DYNAMIC))
#define IN_PROCESS (IN(AT_WORKER) | IN(AT_TEMPLATE))

enum value_type {
	T_STRING,   /* a non-empty scalar, stored as char * */
	T_ID,       /* a child id (spec_id_valid) */
	T_WORD,     /* one of `words`, stored as an int */
	T_BOOL,     /* true or false */
	T_INT,      /* a decimal integer in [min, max], or one of `words` */
	T_SIGNAL,   /* a signal name, stored as an int */
	T_MODE,     /* an octal file mode */
	T_LIST,     /* a sequence of at least `min` scalars, read by `read_list` */
	T_CHILDREN, /* a sequence of child mappings */
	T_TEMPLATE, /* a worker mapping without id */
	T_CONTROL,  /* the control mapping */
	T_CUSTOM,   /* any shape, read by `read_value` (a mapping such as backoff) */
};

/* Where a value goes: a member of the node's child_spec, or of the config. */
enum base {
	B_SPEC,
	B_CONFIG,
};

struct walk;
struct key;

/* Reads a T_LIST value (a sequence of scalars, already checked) into the
 * target; reports its own problems and returns -1 after one. */
typedef int read_list_fn(struct walk *w, const struct key *key, const struct vnode *seq,
			 void *target);

struct key {
	const char *name;
	enum value_type type;
	unsigned places;   /* IN() bits */
	unsigned required; /* IN() bits of the places where it must be given */
	enum base base;
	size_t offset; /* of the member the value goes to */
	size_t size;   /* of that member, for T_WORD and T_INT */
	const struct word *words;
	size_t nwords;
	int64_t min, max;   /* T_INT; T_LIST: min entries */
	const char *unit;   /* T_INT: "milliseconds" (default "an integer") */
	const char *expect; /* T_STRING, T_LIST...: what the message says is expected */
	/* T_WORD: the only word a dynamic supervisor accepts */
	const char *dynamic_only;
	read_list_fn *read_list;
	/* T_CUSTOM: checks and stores the value (of any shape) itself */
	int (*read_value)(struct walk *w, const struct key *key, const struct vnode *val,
			  struct child_spec *spec);
	/* T_SIGNAL: refuses a signal this key cannot take; NULL or a reason */
	const char *(*refuse_signal)(int sig);
};

#define SPEC_FIELD(member)                                                                         \
	.base = B_SPEC, .offset = offsetof(struct child_spec, member),                             \
	.size = sizeof(((struct child_spec *)0)->member)
#define CONFIG_FIELD(member)                                                                       \
	.base = B_CONFIG, .offset = offsetof(struct config, member),                               \
	.size = sizeof(((struct config *)0)->member)

static read_list_fn read_start, read_env, read_allow_env, read_normal_exit, read_forward_signals,
	read_worker_forward_signals;
typedef int read_value_fn(struct walk *w, const struct key *key, const struct vnode *val,
			  struct child_spec *spec);
static read_value_fn read_ready, read_health, read_backoff, read_env_file, read_rlimits,
	read_output, read_events, read_memory_max, read_metrics;
static const char *refuse_stop_signal(int sig);

static const struct key keys[] = {
	{"id", T_ID, IN_CHILD, .required = IN_CHILD, SPEC_FIELD(id)},
	{"type", T_WORD, IN_CHILD, SPEC_FIELD(type), .words = WORDS(type_words)},
	{"restart", T_WORD, IN_CHILD | IN(AT_TEMPLATE), SPEC_FIELD(restart),
	 .words = WORDS(restart_words)},
	{"shutdown", T_INT, IN_CHILD | IN(AT_TEMPLATE), SPEC_FIELD(shutdown_ms),
	 .words = WORDS(shutdown_words), .min = 0, .max = SPEC_MAX_MS_LIMIT,
	 .unit = "milliseconds"},
	{"significant", T_BOOL, IN_CHILD, SPEC_FIELD(significant)},
	{"strategy", T_WORD, IN_SUPS, SPEC_FIELD(sup.strategy), .words = WORDS(strategy_words),
	 .dynamic_only = "one_for_one"},
	{"max_restarts", T_INT, IN_SUPS, SPEC_FIELD(sup.max_restarts), .min = 0,
	 .max = SPEC_MAX_RESTARTS_LIMIT},
	{"max_seconds", T_INT, IN_SUPS, SPEC_FIELD(sup.max_seconds), .min = 1,
	 .max = SPEC_MAX_SECONDS_LIMIT},
	{"auto_shutdown", T_WORD, IN_SUPS, SPEC_FIELD(sup.auto_shutdown),
	 .words = WORDS(auto_shutdown_words), .dynamic_only = "never"},
	{"children", T_CHILDREN, IN(AT_ROOT) | IN(AT_SUPERVISOR),
	 .expect = "a sequence of mappings"},
	{"max_children", T_INT, IN(AT_DYNAMIC), SPEC_FIELD(sup.max_children),
	 .words = WORDS(unlimited_words), .min = 1, .max = (int64_t)SPEC_UNLIMITED - 1},
	{"template", T_TEMPLATE, IN(AT_DYNAMIC), .required = IN(AT_DYNAMIC), .expect = "a mapping"},
	{"start", T_LIST, IN_PROCESS, .required = IN_PROCESS, .min = 1,
	 .expect = "a non-empty sequence of strings", .read_list = read_start},
	{"env", T_LIST, IN_PROCESS, .expect = "a sequence of strings", .read_list = read_env},
	{"allow_env", T_LIST, IN(AT_TEMPLATE), .expect = "a sequence of strings",
	 .read_list = read_allow_env},
	{"cwd", T_STRING, IN_PROCESS, SPEC_FIELD(worker.cwd)},
	{"user", T_STRING, IN_PROCESS, SPEC_FIELD(worker.user)},
	{"group", T_STRING, IN_PROCESS, SPEC_FIELD(worker.group)},
	{"stop_signal", T_SIGNAL, IN_PROCESS, SPEC_FIELD(worker.stop_signal),
	 .expect = "a signal name such as SIGTERM", .refuse_signal = refuse_stop_signal},
	{"kill_group", T_BOOL, IN_PROCESS, SPEC_FIELD(worker.kill_group)},
	{"normal_exit", T_LIST, IN_PROCESS, .expect = "a sequence of strings",
	 .read_list = read_normal_exit},
	{"ready", T_CUSTOM, IN_PROCESS, .read_value = read_ready,
	 .expect = "none, notify, exit, or a mapping with fd, exec or tcp"},
	{"notify_access", T_WORD, IN_PROCESS, SPEC_FIELD(worker.notify_access),
	 .words = WORDS(notify_access_words)},
	{"health", T_CUSTOM, IN_PROCESS, .read_value = read_health,
	 .expect = "a mapping with exec or tcp"},
	{"backoff", T_CUSTOM, IN_CHILD | IN(AT_TEMPLATE), .read_value = read_backoff,
	 .expect = "a mapping with min, max and reset_after"},
	{"env_file", T_CUSTOM, IN_PROCESS, .read_value = read_env_file,
	 .expect = "a path or a sequence of paths"},
	{"umask", T_MODE, IN_PROCESS, SPEC_FIELD(worker.umask),
	 .expect = "an octal mode such as 0022"},
	{"nice", T_INT, IN_PROCESS, SPEC_FIELD(worker.nice), .min = -20, .max = 19},
	{"rlimits", T_CUSTOM, IN_PROCESS, .read_value = read_rlimits,
	 .expect = "a mapping of resource names to limits"},
	{"forward_signals", T_LIST, IN_PROCESS, .expect = "a sequence of strings",
	 .read_list = read_worker_forward_signals},
	{"start_timeout", T_INT, IN_PROCESS, SPEC_FIELD(worker.start_timeout_ms), .min = 1,
	 .max = SPEC_MAX_MS_LIMIT},
	{"control", T_CONTROL, IN(AT_ROOT), .expect = "a mapping"},
	{"events", T_CUSTOM, IN(AT_ROOT), .read_value = read_events,
	 .expect = "a path or a mapping with file, max_size and keep"},
	{"output", T_CUSTOM, IN_SUPS | IN_PROCESS, .read_value = read_output,
	 .expect = "inherit, prefix, or a mapping with file, max_size and keep"},
	{"forward_signals", T_LIST, IN(AT_ROOT), .expect = "a sequence of strings",
	 .read_list = read_forward_signals},
	{"cgroup", T_BOOL, IN(AT_ROOT), CONFIG_FIELD(cgroup)},
	{"memory_max", T_CUSTOM, IN_PROCESS, .read_value = read_memory_max,
	 .expect = "max, bytes, or a size such as 512M (K, M, G or T)"},
	{"pids_max", T_INT, IN_PROCESS, SPEC_FIELD(worker.pids_max),
	 .words = WORDS(cgroup_max_words), .min = 1, .max = SPEC_PIDS_MAX_LIMIT},
	{"cpu_weight", T_INT, IN_PROCESS, SPEC_FIELD(worker.cpu_weight), .min = 1, .max = 10000},
	{"metrics", T_CUSTOM, IN(AT_ROOT), .read_value = read_metrics,
	 .expect = "a mapping with listen"},
	{"socket", T_STRING, IN(AT_CONTROL), CONFIG_FIELD(control.socket_path)},
	{"mode", T_MODE, IN(AT_CONTROL), CONFIG_FIELD(control.mode),
	 .expect = "an octal file mode such as 0600"},
	{"group", T_STRING, IN(AT_CONTROL), CONFIG_FIELD(control.group)},
	{"max_clients", T_INT, IN(AT_CONTROL), CONFIG_FIELD(control.max_clients), .min = 1,
	 .max = 65535},
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---- the walk ----------------------------------------------------------- */

struct walk {
	struct grammar *g;
	struct config *cfg; /* NULL outside a config file */
	char path[PATH_MAX_LEN];
};

static void
report(struct walk *w, const struct vnode *at, const struct vnode *first, const char *first_path,
       const char *message)
{
	struct grammar_problem p = {.at = at,
				    .path = w->path,
				    .first = first,
				    .first_path = first_path,
				    .message = message};

	w->g->problems++;
	if (w->g->report)
		w->g->report(w->g->ctx, &p);
}

static int problem(struct walk *w, const struct vnode *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every problem goes through here; returns -1. */
static int
problem(struct walk *w, const struct vnode *at, const char *fmt, ...)
{
	char message[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	report(w, at, NULL, NULL, message);
	return -1;
}

static int
out_of_memory(struct walk *w)
{
	w->g->out_of_memory = true;
	return -1;
}

/* Appends to the path ("children[2]", ".restart"); returns the old length. */
static size_t path_enter(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t
path_enter(struct walk *w, const char *fmt, ...)
{
	size_t old = strlen(w->path);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->path + old, sizeof(w->path) - old, fmt, ap);
	va_end(ap);
	return old;
}

static size_t
path_key(struct walk *w, const char *key)
{
	char q[VNODE_QUOTE_MAX + 4];

	return path_enter(w, "%s%s", w->path[0] ? "." : "", vnode_quote(key, q));
}

static void
path_leave(struct walk *w, size_t old)
{
	w->path[old] = '\0';
}

/* ---- did you mean ------------------------------------------------------- */

static char
tolower_ascii(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* Optimal string alignment distance (a swap of two neighbours counts one),
 * case-insensitive; long words are not compared. */
static size_t
edit_distance(const char *a, const char *b)
{
	enum {
		LONGEST = 32
	};
	size_t la = strlen(a), lb = strlen(b), d[LONGEST + 1][LONGEST + 1];

	if (la > LONGEST || lb > LONGEST)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = tolower_ascii(a[i - 1]) != tolower_ascii(b[j - 1]);
			size_t best = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && tolower_ascii(a[i - 1]) == tolower_ascii(b[j - 2]) &&
			    tolower_ascii(a[i - 2]) == tolower_ascii(b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* Keeps `candidate` as the suggestion for `typed` if it is the nearest so
 * far and near enough: at most a third of the word wrong. */
struct suggestion {
	const char *best;
	size_t distance;
};

static void
suggest_consider(struct suggestion *s, const char *typed, const char *candidate)
{
	size_t d = edit_distance(typed, candidate), len = strlen(candidate);
	size_t limit = len / 3 > 0 ? len / 3 : 1;

	if (d <= limit && (!s->best || d < s->distance)) {
		s->best = candidate;
		s->distance = d;
	}
}

/* "; did you mean 'X'?" or "" */
static const char *
suggestion_text(const struct suggestion *s, char *buf, size_t len)
{
	if (!s->best)
		return "";
	snprintf(buf, len, "; did you mean '%s'?", s->best);
	return buf;
}

/* ---- scalars ------------------------------------------------------------ */

/* Canonical decimal only: no '+', no leading zeros, no "-0". "010" and
 * "0x10" are refused rather than read as octal or hex, and so are "5e3"
 * and "1.5". */
static bool
parse_decimal(const char *s, int64_t min, int64_t max, int64_t *out)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	char *end;
	long long v;

	if (digits[0] < '0' || digits[0] > '9' || (digits[0] == '0' && digits[1] != '\0') ||
	    (digits != s && digits[0] == '0'))
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_mode(const char *s, int64_t *out)
{
	size_t n = strlen(s);
	unsigned long v;

	if (n < 1 || n > 4 || strspn(s, "01234567") != n)
		return false;
	v = strtoul(s, NULL, 8);
	if (v > 0777)
		return false;
	*out = (int64_t)v;
	return true;
}

static const struct word *
word_find(const struct word *words, size_t n, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(words[i].name, text) == 0)
			return &words[i];
	return NULL;
}

/* "a, b or c" */
static void
words_text(const struct word *words, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 i == 0       ? ""
					 : i + 1 == n ? " or "
						      : ", ",
					 words[i].name);
}

/* What a key expects, as the messages say it. */
static const char *
expect_text(const struct key *key, char *buf, size_t len)
{

	switch (key->type) {
	case T_ID:
	case T_STRING:
		return "a string";
	case T_WORD:
	case T_BOOL:
		words_text(key->type == T_BOOL ? bool_words : key->words,
			   key->type == T_BOOL ? 2 : key->nwords, buf, len);
		return buf;
	case T_INT: {
		const char *unit = key->unit ? key->unit : "an integer";
		size_t used = 0;

		buf[0] = '\0';
		/* "brutal_kill, infinity or milliseconds from 0 to N" */
		for (size_t i = 0; i < key->nwords && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
						 key->words[i].name);
		if (used < len)
			snprintf(buf + used, len - used, "%s%s from %" PRId64 " to %" PRId64,
				 key->nwords ? " or " : "", unit, key->min, key->max);
		return buf;
	}
	default:
		return key->expect;
	}
}

/* "invalid X 'v' (expected E)" for a scalar, "invalid X (expected E, got
 * a mapping)" otherwise. */
static int
invalid(struct walk *w, const struct vnode *val, const char *what, const char *expect,
	const char *hint)
{
	char q[VNODE_QUOTE_MAX + 4];

	if (val->kind == VNODE_SCALAR)
		return problem(w, val, "invalid %s '%s' (expected %s%s)", what,
			       vnode_quote(val->text, q), expect, hint ? hint : "");
	return problem(w, val, "invalid %s (expected %s, got %s)", what, expect,
		       vnode_kind_name(val));
}

static void *
target_of(struct walk *w, const struct key *key, struct child_spec *spec)
{
	char *base = key->base == B_CONFIG ? (char *)w->cfg : (char *)spec;

	return base + key->offset;
}

static void
store_int(void *target, size_t size, int64_t v)
{
	switch (size) {
	case sizeof(int8_t):
		*(int8_t *)target = (int8_t)v;
		break;
	case sizeof(int16_t):
		*(int16_t *)target = (int16_t)v;
		break;
	case sizeof(int32_t):
		*(int32_t *)target = (int32_t)v;
		break;
	default:
		*(int64_t *)target = v;
		break;
	}
}

static int
store_string(struct walk *w, char **target, const char *text)
{
	free(*target);
	*target = strdup(text);
	return *target ? 0 : out_of_memory(w);
}

/* A signal by name: "SIGTERM", "TERM", "SIGRTMIN+2"; did-you-mean over the
 * names. */
static int
read_signal(struct walk *w, const struct vnode *val, const char *what, const char *expect, int *out)
{
	char hint[64];
	struct suggestion s = {0};
	int sig = signal_from_name(val->text);

	if (sig > 0) {
		*out = sig;
		return 0;
	}
	/* Compared without "SIG", which every name shares and which would
	 * make any two names look alike. */
	for (int i = 1; i < 32; i++)
		if (signal_name(i))
			suggest_consider(
				&s, strncasecmp(val->text, "SIG", 3) ? val->text : val->text + 3,
				signal_name(i) + 3);
	if (s.best) {
		snprintf(hint, sizeof(hint), "; did you mean 'SIG%s'?", s.best);
		return invalid(w, val, what, expect, hint);
	}
	return invalid(w, val, what, expect, NULL);
}

static const char *
refuse_stop_signal(int sig)
{
	if (sig == SIGSTOP)
		return "it stops the process instead of ending it";
	return NULL;
}

/* One scalar key: shape, value, store. */
static int
read_scalar(struct walk *w, const struct key *key, const struct vnode *val, struct child_spec *spec,
	    enum place place)
{
	char expect[160], hint[64], q[VNODE_QUOTE_MAX + 4];
	void *target = target_of(w, key, spec);
	const struct word *word;
	int64_t n;
	int sig;

	if (val->kind != VNODE_SCALAR)
		return invalid(w, val, key->name, expect_text(key, expect, sizeof(expect)), NULL);
	switch (key->type) {
	case T_STRING:
	case T_ID:
		if (val->text[0] == '\0')
			return invalid(w, val, key->name, "a non-empty string", NULL);
		if (key->type == T_ID && !spec_id_valid(val->text))
			return problem(w, val,
				       "invalid id '%s' (expected 1 to %d characters from "
				       "[A-Za-z0-9_.-], not '.' or '..')",
				       vnode_quote(val->text, q), SPEC_ID_MAX);
		return store_string(w, target, val->text);
	case T_WORD:
	case T_BOOL:
		word = key->type == T_BOOL ? word_find(bool_words, 2, val->text)
					   : word_find(key->words, key->nwords, val->text);
		if (!word) {
			struct suggestion s = {0};

			for (size_t i = 0; key->type == T_WORD && i < key->nwords; i++)
				suggest_consider(&s, val->text, key->words[i].name);
			return invalid(w, val, key->name, expect_text(key, expect, sizeof(expect)),
				       suggestion_text(&s, hint, sizeof(hint)));
		}
		if (place == AT_DYNAMIC && key->dynamic_only &&
		    strcmp(val->text, key->dynamic_only) != 0)
			return problem(w, val,
				       "invalid %s '%s' for a dynamic supervisor (expected %s)",
				       key->name, vnode_quote(val->text, q), key->dynamic_only);
		if (key->type == T_BOOL)
			*(bool *)target = word->value != 0;
		else
			store_int(target, key->size, word->value);
		return 0;
	case T_INT:
		word = word_find(key->words, key->nwords, val->text);
		if (word)
			n = word->value;
		else if (!parse_decimal(val->text, key->min, key->max, &n))
			return invalid(w, val, key->name, expect_text(key, expect, sizeof(expect)),
				       NULL);
		store_int(target, key->size, n);
		return 0;
	case T_MODE:
		if (!parse_mode(val->text, &n))
			return invalid(w, val, key->name, key->expect, NULL);
		*(mode_t *)target = (mode_t)n;
		return 0;
	case T_SIGNAL:
		if (read_signal(w, val, key->name, key->expect, &sig) < 0)
			return -1;
		if (key->refuse_signal && key->refuse_signal(sig))
			return problem(w, val, "invalid %s '%s' (%s)", key->name,
				       vnode_quote(val->text, q), key->refuse_signal(sig));
		store_int(target, key->size, sig);
		return 0;
	default:
		return 0;
	}
}

/* ---- lists -------------------------------------------------------------- */

/* A set of names (sibling ids, env names, keys) with the node each was
 * first seen at; open addressing, so that a long list stays linear. */
struct name_slot {
	const char *name;
	size_t len;
	const struct vnode *at;
	size_t index;
};

struct name_set {
	struct name_slot *slots;
	size_t cap, count;
};

static uint64_t
name_hash(const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return h;
}

static struct name_slot *
name_set_find(struct name_slot *slots, size_t cap, const char *name, size_t len)
{
	size_t i = name_hash(name, len) & (cap - 1);

	while (slots[i].name && !(slots[i].len == len && memcmp(slots[i].name, name, len) == 0))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

/* Returns 1 if added, 0 if already there (*first set), -1 on ENOMEM. */
static int
name_set_add(struct name_set *set, const char *name, size_t len, const struct vnode *at,
	     size_t index, const struct name_slot **first)
{
	struct name_slot *slot;

	if (2 * (set->count + 1) > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct name_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -1;
		for (size_t i = 0; i < set->cap; i++)
			if (set->slots[i].name)
				*name_set_find(slots, cap, set->slots[i].name, set->slots[i].len) =
					set->slots[i];
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	slot = name_set_find(set->slots, set->cap, name, len);
	if (slot->name) {
		*first = slot;
		return 0;
	}
	*slot = (struct name_slot){name, len, at, index};
	set->count++;
	return 1;
}

/* Reports a duplicate, naming where the first one was. `first_path` is the
 * path of that one relative to the current path's parent. */
static int
duplicate(struct walk *w, const struct vnode *at, const struct name_slot *first,
	  const char *first_path, const char *what, const char *name)
{
	char message[256], q[VNODE_QUOTE_MAX + 4];

	snprintf(message, sizeof(message), "duplicate %s '%s'", what, vnode_quote(name, q));
	report(w, at, first->at, first_path, message);
	return -1;
}

/* The scalars of seq as a NULL-terminated vector in *v, their count in *n. */
static int
store_strv(struct walk *w, const struct vnode *seq, char ***v, size_t *n)
{
	char **out = calloc(seq->nitems + 1, sizeof(*out));

	if (!out)
		return out_of_memory(w);
	for (size_t i = 0; i < seq->nitems; i++) {
		out[i] = strdup(seq->items[i]->text);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return out_of_memory(w);
		}
	}
	*v = out;
	*n = seq->nitems;
	return 0;
}

static int
read_start(struct walk *w, const struct key *key, const struct vnode *seq, void *target)
{
	struct worker_spec *ws = &((struct child_spec *)target)->worker;
	size_t old;
	int rc = 0;

	(void)key;
	if (seq->items[0]->text[0] == '\0') {
		old = path_enter(w, "[0]");
		rc = problem(w, seq->items[0], "invalid start entry '' (expected a program name)");
		path_leave(w, old);
		return rc;
	}
	return store_strv(w, seq, &ws->argv, &ws->argc);
}

static int
read_env(struct walk *w, const struct key *key, const struct vnode *seq, void *target)
{
	struct worker_spec *ws = &((struct child_spec *)target)->worker;
	struct name_set names = {0};
	char q[VNODE_QUOTE_MAX + 4];
	int rc = 0;

	(void)key;
	for (size_t i = 0; i < seq->nitems && !w->g->out_of_memory; i++) {
		const char *entry = seq->items[i]->text, *eq = strchr(entry, '=');
		const struct name_slot *first;
		size_t old = path_enter(w, "[%zu]", i);
		char first_path[PATH_MAX_LEN];

		if (!eq || eq == entry) {
			rc = problem(w, seq->items[i],
				     "invalid env entry '%s' (expected NAME=value)",
				     vnode_quote(entry, q));
		} else {
			switch (name_set_add(&names, entry, (size_t)(eq - entry), seq->items[i], i,
					     &first)) {
			case 0: {
				char name[VNODE_QUOTE_MAX + 1];

				snprintf(name, sizeof(name), "%.*s", (int)(eq - entry), entry);
				snprintf(first_path, sizeof(first_path), "%.*s[%zu]", (int)old,
					 w->path, first->index);
				rc = duplicate(w, seq->items[i], first, first_path, "env name",
					       name);
				break;
			}
			case -1:
				rc = out_of_memory(w);
				break;
			}
		}
		path_leave(w, old);
	}
	free(names.slots);
	return rc < 0 ? rc : store_strv(w, seq, &ws->env, &ws->envc);
}

/* A template's allow_env: names (SPEC 7.9), without '='. */
static int
read_allow_env(struct walk *w, const struct key *key, const struct vnode *seq, void *target)
{
	struct worker_spec *ws = &((struct child_spec *)target)->worker;
	int rc = 0;

	for (size_t i = 0; i < seq->nitems; i++) {
		const struct vnode *e = seq->items[i];

		if (!e->text[0] || strchr(e->text, '=')) {
			size_t old = path_enter(w, "[%zu]", i);

			rc = invalid(w, e, "allow_env entry", "a name", NULL);
			path_leave(w, old);
		}
	}
	(void)key;
	return rc < 0 ? rc : store_strv(w, seq, &ws->allow_env, &ws->allow_envc);
}

static int
read_normal_exit(struct walk *w, const struct key *key, const struct vnode *seq, void *target)
{
	struct worker_spec *ws = &((struct child_spec *)target)->worker;
	struct exit_set set = {0};
	int rc = 0;

	(void)key;
	for (size_t i = 0; i < seq->nitems; i++) {
		const char *entry = seq->items[i]->text;
		size_t old = path_enter(w, "[%zu]", i);
		int64_t code;
		int sig = 0;

		if (parse_decimal(entry, 0, 255, &code))
			exit_set_add_code(&set, (int)code);
		else if ((entry[0] >= '0' && entry[0] <= '9') || entry[0] == '-' ||
			 (sig = signal_from_name(entry)) == 0)
			rc = invalid(w, seq->items[i], "normal_exit entry",
				     "an exit code from 0 to 255 or a signal name", NULL);
		else
			exit_set_add_signal(&set, sig);
		path_leave(w, old);
	}
	if (rc == 0)
		ws->normal_exit = set;
	return rc;
}

static int
forward_signal_bits(struct walk *w, const struct vnode *seq, uint64_t *out)
{
	uint64_t bits = 0;
	int rc = 0;

	for (size_t i = 0; i < seq->nitems; i++) {
		const struct vnode *e = seq->items[i];
		size_t old = path_enter(w, "[%zu]", i);
		int sig;

		if (read_signal(w, e, "forward_signals entry", "a signal name such as SIGUSR1",
				&sig) < 0)
			rc = -1;
		else if (sig == SIGKILL || sig == SIGSTOP)
			rc = problem(w, e, "cannot forward %s (it cannot be caught)",
				     signal_name(sig));
		/* supd acts on these itself: shutdown and reaping. */
		else if (sig == SIGTERM || sig == SIGINT || sig == SIGCHLD)
			rc = problem(w, e, "cannot forward %s (supd handles it)", signal_name(sig));
		/* Faults are about supd itself, and SIGPIPE is what supd gets
		 * for writing to a closed socket: none of them is a message. */
		else if (sig == SIGPIPE || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
			 sig == SIGILL || sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS)
			rc = problem(w, e, "cannot forward %s (it is about supd itself)",
				     signal_name(sig));
		else
			bits |= UINT64_C(1) << (sig - 1);
		path_leave(w, old);
	}
	if (rc == 0)
		*out = bits;
	return rc;
}

static int
read_forward_signals(struct walk *w, const struct key *key, const struct vnode *seq, void *target)
{
	(void)key;
	(void)target;
	return forward_signal_bits(w, seq, &w->cfg->forward_signals);
}

/* A worker's own list replaces the top-level one for that worker. */
static int
read_worker_forward_signals(struct walk *w, const struct key *key, const struct vnode *seq,
			    void *target)
{
	struct worker_spec *ws = &((struct child_spec *)target)->worker;

	(void)key;
	if (forward_signal_bits(w, seq, &ws->forward_signals) < 0)
		return -1;
	ws->has_forward_signals = true;
	return 0;
}

/* The shape every T_LIST shares: a sequence of at least key->min scalars. */
static int
check_list(struct walk *w, const struct key *key, const struct vnode *val)
{
	char what[48];
	int rc = 0;

	if (val->kind != VNODE_SEQUENCE)
		return invalid(w, val, key->name, key->expect, NULL);
	if (val->nitems < (size_t)key->min)
		return problem(w, val, "invalid %s (expected %s, got an empty sequence)", key->name,
			       key->expect);
	snprintf(what, sizeof(what), "%s entry", key->name);
	for (size_t i = 0; i < val->nitems; i++) {
		if (val->items[i]->kind != VNODE_SCALAR) {
			size_t old = path_enter(w, "[%zu]", i);

			rc = invalid(w, val->items[i], what, "a string", NULL);
			path_leave(w, old);
		}
	}
	return rc;
}

/* ---- the service keys' own mappings (SPEC 7.2-7.6) ---------------------- */

/* The keys of a small mapping of its own (backoff, health, ready, a limit):
 * each must be one of `names` (NULL-terminated) and given once. */
static int
check_submap(struct walk *w, const struct vnode *map, const char *what, const char *const *names)
{
	char q[VNODE_QUOTE_MAX + 4], hint[64];
	int rc = 0;

	for (size_t i = 0; i + 1 < map->nitems; i += 2) {
		const struct vnode *k = map->items[i];
		struct suggestion sg = {0};
		bool known = false;

		if (k->kind != VNODE_SCALAR) {
			rc = invalid(w, k, "key", "a string", NULL);
			continue;
		}
		for (size_t n = 0; names[n]; n++) {
			known = known || strcmp(names[n], k->text) == 0;
			suggest_consider(&sg, k->text, names[n]);
		}
		for (size_t j = 0; known && j < i; j += 2)
			if (map->items[j]->kind == VNODE_SCALAR &&
			    strcmp(map->items[j]->text, k->text) == 0)
				rc = problem(w, k, "duplicate key '%s' in %s",
					     vnode_quote(k->text, q), what);
		if (!known) {
			size_t old = path_key(w, k->text);
			rc = problem(w, k, "unknown key '%s' in %s%s", vnode_quote(k->text, q),
				     what, sg.best ? suggestion_text(&sg, hint, sizeof(hint)) : "");
			path_leave(w, old);
		}
	}
	return rc;
}

/* An integer member `name` of map in [min, max]: 0 and *out, 1 when it is
 * absent (*out unchanged), -1 after a problem. */
static int
sub_int(struct walk *w, const struct vnode *map, const char *name, int64_t min, int64_t max,
	const char *unit, int64_t *out)
{
	const struct vnode *val = vnode_get(map, name, NULL);
	char expect[96];
	size_t old;
	int rc = 0;

	if (!val)
		return 1;
	old = path_key(w, name);
	snprintf(expect, sizeof(expect), "%s from %" PRId64 " to %" PRId64, unit, min, max);
	if (val->kind != VNODE_SCALAR || !parse_decimal(val->text, min, max, out))
		rc = invalid(w, val, name, expect, NULL);
	path_leave(w, old);
	return rc;
}

/* A member that is a non-empty sequence of strings (a probe command). */
static int
sub_argv(struct walk *w, const struct vnode *val, const char *name, char ***argv, size_t *argc)
{
	size_t old = path_key(w, name);
	int rc = 0;

	if (val->kind != VNODE_SEQUENCE || val->nitems == 0)
		rc = invalid(w, val, name, "a non-empty sequence of strings", NULL);
	for (size_t i = 0; rc == 0 && i < val->nitems; i++)
		if (val->items[i]->kind != VNODE_SCALAR || val->items[i]->text[0] == '\0')
			rc = invalid(w, val->items[i], name, "a non-empty sequence of strings",
				     NULL);
	if (rc == 0)
		rc = store_strv(w, val, argv, argc);
	path_leave(w, old);
	return rc;
}

static int
sub_string(struct walk *w, const struct vnode *val, const char *name, char **out)
{
	size_t old = path_key(w, name);
	int rc;

	if (val->kind != VNODE_SCALAR || val->text[0] == '\0')
		rc = invalid(w, val, name, "a non-empty string", NULL);
	else
		rc = store_string(w, out, val->text);
	path_leave(w, old);
	return rc;
}

/* exec: [argv] or tcp: ADDRESS, exactly one of them, into p. */
static int
read_probe_target(struct walk *w, const struct vnode *map, const char *what, struct probe_spec *p)
{
	const struct vnode *exec = vnode_get(map, "exec", NULL), *tcp = vnode_get(map, "tcp", NULL);

	if ((exec != NULL) == (tcp != NULL))
		return problem(w, map, "%s needs exactly one of exec and tcp", what);
	probe_spec_free(p);
	if (exec)
		return sub_argv(w, exec, "exec", &p->argv, &p->argc);
	return sub_string(w, tcp, "tcp", &p->address);
}

static int
read_ready(struct walk *w, const struct key *key, const struct vnode *val, struct child_spec *spec)
{
	static const char *const names[] = {"fd", "exec", "tcp", "interval", NULL};
	struct worker_spec *ws = &spec->worker;
	const struct vnode *fd;
	int64_t n;
	int rc;

	if (val->kind == VNODE_SCALAR) {
		const struct word *word = word_find(ready_words, 3, val->text);
		struct suggestion sg = {0};
		char hint[64];

		if (word) {
			ws->ready = (enum ready_mode)word->value;
			return 0;
		}
		for (size_t i = 0; i < 3; i++)
			suggest_consider(&sg, val->text, ready_words[i].name);
		return invalid(w, val, key->name, key->expect,
			       suggestion_text(&sg, hint, sizeof(hint)));
	}
	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	if (check_submap(w, val, "ready", names) < 0)
		return -1;
	fd = vnode_get(val, "fd", NULL);
	if (fd) {
		if (val->nitems != 2)
			return problem(w, val, "ready: {fd: N} takes nothing else");
		if (sub_int(w, val, "fd", 3, 1023, "a descriptor number", &n) < 0)
			return -1;
		ws->ready = READY_FD;
		ws->ready_fd = (int)n;
		return 0;
	}
	rc = read_probe_target(w, val, "ready", &ws->ready_probe);
	if (rc < 0)
		return -1;
	ws->ready = ws->ready_probe.argv ? READY_EXEC : READY_TCP;
	n = ws->ready == READY_EXEC ? SPEC_DEFAULT_READY_EXEC_MS : SPEC_DEFAULT_READY_TCP_MS;
	if (sub_int(w, val, "interval", 1, SPEC_MAX_MS_LIMIT, "milliseconds", &n) < 0)
		return -1;
	ws->ready_probe.interval_ms = n;
	return 0;
}

static int
read_health(struct walk *w, const struct key *key, const struct vnode *val, struct child_spec *spec)
{
	static const char *const names[] = {"exec", "tcp", "interval", "timeout", "retries", NULL};
	struct probe_spec *p = &spec->worker.health;
	int64_t interval = SPEC_DEFAULT_HEALTH_INTERVAL, timeout = SPEC_DEFAULT_HEALTH_TIMEOUT;
	int64_t retries = SPEC_DEFAULT_HEALTH_RETRIES;

	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	if (check_submap(w, val, "health", names) < 0 ||
	    read_probe_target(w, val, "health", p) < 0 ||
	    sub_int(w, val, "interval", 1, SPEC_MAX_MS_LIMIT, "milliseconds", &interval) < 0 ||
	    sub_int(w, val, "timeout", 1, SPEC_MAX_MS_LIMIT, "milliseconds", &timeout) < 0 ||
	    sub_int(w, val, "retries", 1, 1000000, "an integer", &retries) < 0)
		return -1;
	p->interval_ms = interval;
	p->timeout_ms = timeout;
	p->retries = (uint32_t)retries;
	spec->worker.has_health = true;
	return 0;
}

static int
read_backoff(struct walk *w, const struct key *key, const struct vnode *val,
	     struct child_spec *spec)
{
	static const char *const names[] = {"min", "max", "reset_after", NULL};
	int64_t min = 0, max = SPEC_DEFAULT_BACKOFF_MAX, reset = SPEC_DEFAULT_BACKOFF_RESET;
	int r;

	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	if (check_submap(w, val, "backoff", names) < 0)
		return -1;
	r = sub_int(w, val, "min", 1, SPEC_MAX_MS_LIMIT, "milliseconds", &min);
	if (r < 0)
		return -1;
	if (r == 1)
		return problem(w, val, "backoff needs min (milliseconds)");
	if (!vnode_get(val, "max", NULL) && max < min)
		max = min;
	if (sub_int(w, val, "max", min, SPEC_MAX_MS_LIMIT, "milliseconds", &max) < 0 ||
	    sub_int(w, val, "reset_after", 1, SPEC_MAX_MS_LIMIT, "milliseconds", &reset) < 0)
		return -1;
	spec->backoff.min_ms = min;
	spec->backoff.max_ms = max;
	spec->backoff.reset_after_ms = reset;
	return 0;
}

/* A file supd writes and rotates (events, output: file): a path, or
 * {file: PATH, max_size: BYTES, keep: N}. Returns 0 with the members set,
 * -1 after a problem. */
#define SINK_MAX_SIZE_LIMIT (INT64_C(1) << 62)
#define SINK_KEEP_LIMIT     1000
#define SINK_KEEP_DEFAULT   5

static int
read_sink(struct walk *w, const struct key *key, const struct vnode *val, char **path,
	  uint64_t *max_size, uint32_t *keep)
{
	static const char *const names[] = {"file", "max_size", "keep", NULL};
	const struct vnode *file;
	int64_t size = 0, n = SINK_KEEP_DEFAULT;
	size_t old;

	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	if (check_submap(w, val, key->name, names) < 0)
		return -1;
	file = vnode_get(val, "file", NULL);
	if (!file)
		return problem(w, val, "%s needs file (a path)", key->name);
	old = path_key(w, "file");
	if (file->kind != VNODE_SCALAR || file->text[0] == '\0') {
		invalid(w, file, "file", "a path", NULL);
		path_leave(w, old);
		return -1;
	}
	path_leave(w, old);
	if (sub_int(w, val, "max_size", 0, SINK_MAX_SIZE_LIMIT, "bytes", &size) < 0 ||
	    sub_int(w, val, "keep", 0, SINK_KEEP_LIMIT, "an integer", &n) < 0)
		return -1;
	*max_size = (uint64_t)size;
	*keep = (uint32_t)n;
	return store_string(w, path, file->text);
}

static int
read_events(struct walk *w, const struct key *key, const struct vnode *val, struct child_spec *spec)
{
	(void)spec;
	if (!w->cfg)
		return problem(w, val, "events is a key of the config file only");
	w->cfg->events_keep = SINK_KEEP_DEFAULT;
	w->cfg->events_max_size = 0;
	if (val->kind == VNODE_SCALAR) {
		if (val->text[0] == '\0')
			return invalid(w, val, key->name, key->expect, NULL);
		return store_string(w, &w->cfg->events_path, val->text);
	}
	return read_sink(w, key, val, &w->cfg->events_path, &w->cfg->events_max_size,
			 &w->cfg->events_keep);
}

/* metrics: {listen: "ADDR:PORT"} (SPEC 7.8): a numeric address, checked
 * here; binding it is the loop's business. */
static int
read_metrics(struct walk *w, const struct key *key, const struct vnode *val,
	     struct child_spec *spec)
{
	static const char *const names[] = {"listen", NULL};
	struct sockaddr_storage sa;
	const struct vnode *listen;
	socklen_t len;
	char why[128], q[VNODE_QUOTE_MAX + 4];
	size_t old;
	int rc;

	(void)spec;
	if (!w->cfg)
		return problem(w, val, "metrics is a key of the config file only");
	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	if (check_submap(w, val, key->name, names) < 0)
		return -1;
	listen = vnode_get(val, "listen", NULL);
	if (!listen)
		return problem(w, val, "metrics needs listen (an address such as 127.0.0.1:9100)");
	old = path_key(w, "listen");
	if (listen->kind != VNODE_SCALAR) {
		rc = invalid(w, listen, "listen", "ADDR:PORT such as 127.0.0.1:9100 or [::1]:9100",
			     NULL);
	} else if (http_parse_listen(listen->text, &sa, &len, why, sizeof(why)) < 0) {
		rc = problem(w, listen,
			     "invalid listen '%s': %s (expected ADDR:PORT such as 127.0.0.1:9100 "
			     "or [::1]:9100)",
			     vnode_quote(listen->text, q), why);
	} else {
		rc = store_string(w, &w->cfg->metrics_listen, listen->text);
	}
	path_leave(w, old);
	return rc;
}

static const struct word output_words[] = {
	{"inherit", OUTPUT_INHERIT},
	{"prefix", OUTPUT_PREFIX},
};

static int
read_output(struct walk *w, const struct key *key, const struct vnode *val, struct child_spec *spec)
{
	struct output_spec *out = &spec->output;
	int rc;

	if (val->kind == VNODE_SCALAR) {
		const struct word *word = word_find(output_words, 2, val->text);
		struct suggestion sg = {0};
		char hint[64];

		if (word) {
			out->mode = (enum output_mode)word->value;
			return 0;
		}
		for (size_t i = 0; i < 2; i++)
			suggest_consider(&sg, val->text, output_words[i].name);
		return invalid(w, val, key->name, key->expect,
			       suggestion_text(&sg, hint, sizeof(hint)));
	}
	rc = read_sink(w, key, val, &out->file, &out->max_size, &out->keep);
	if (rc == 0)
		out->mode = OUTPUT_FILE;
	return rc;
}

static int
read_env_file(struct walk *w, const struct key *key, const struct vnode *val,
	      struct child_spec *spec)
{
	struct worker_spec *ws = &spec->worker;
	char **paths;

	if (val->kind == VNODE_SCALAR && val->text[0]) {
		paths = calloc(2, sizeof(*paths));
		if (!paths || !(paths[0] = strdup(val->text))) {
			free(paths);
			return out_of_memory(w);
		}
		ws->env_files = paths;
		ws->nenv_files = 1;
		return 0;
	}
	if (val->kind != VNODE_SEQUENCE || val->nitems == 0)
		return invalid(w, val, key->name, key->expect, NULL);
	for (size_t i = 0; i < val->nitems; i++)
		if (val->items[i]->kind != VNODE_SCALAR || val->items[i]->text[0] == '\0')
			return invalid(w, val->items[i], key->name, key->expect, NULL);
	return store_strv(w, val, &ws->env_files, &ws->nenv_files);
}

/* A limit: a number or unlimited (soft and hard), or {soft, hard}. */
static int
read_limit_value(struct walk *w, const struct vnode *val, const char *name, uint64_t *out)
{
	static const char expect[] = "a number, unlimited, or {soft: N, hard: M}";
	int64_t n;

	if (val->kind == VNODE_SCALAR &&
	    (strcmp(val->text, "unlimited") == 0 || strcmp(val->text, "infinity") == 0)) {
		*out = SPEC_RLIM_INFINITY;
		return 0;
	}
	if (val->kind != VNODE_SCALAR || !parse_decimal(val->text, 0, INT64_MAX, &n))
		return invalid(w, val, name, expect, NULL);
	*out = (uint64_t)n;
	return 0;
}

static int
read_rlimits(struct walk *w, const struct key *key, const struct vnode *val,
	     struct child_spec *spec)
{
	static const char *const pair[] = {"soft", "hard", NULL};
	struct worker_spec *ws = &spec->worker;
	struct rlimit_spec *out;
	size_t n = 0;
	int rc = 0;

	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, key->name, key->expect, NULL);
	out = calloc(val->nitems / 2 + 1, sizeof(*out));
	if (!out)
		return out_of_memory(w);
	for (size_t i = 0; i + 1 < val->nitems; i += 2) {
		const struct vnode *k = val->items[i], *v = val->items[i + 1];
		char q[VNODE_QUOTE_MAX + 4], hint[64];
		struct rlimit_spec *rl = &out[n];
		size_t old;
		int resource;

		if (k->kind != VNODE_SCALAR) {
			rc = invalid(w, k, "key", "a string", NULL);
			continue;
		}
		old = path_key(w, k->text);
		resource = rlimit_from_name(k->text);
		if (resource < 0) {
			struct suggestion sg = {0};
			for (size_t r = 0; rlimit_name_at(r); r++)
				suggest_consider(&sg, k->text, rlimit_name_at(r));
			rc = problem(w, k, "unknown resource limit '%s' (expected %s)%s",
				     vnode_quote(k->text, q), RLIMIT_NAMES,
				     suggestion_text(&sg, hint, sizeof(hint)));
			path_leave(w, old);
			continue;
		}
		for (size_t j = 0; j < n; j++)
			if (out[j].resource == resource)
				rc = problem(w, k, "duplicate resource limit '%s'", k->text);
		rl->resource = resource;
		if (v->kind == VNODE_MAPPING) {
			const struct vnode *soft = vnode_get(v, "soft", NULL),
					   *hard = vnode_get(v, "hard", NULL);
			if (check_submap(w, v, "a limit", pair) < 0 || !soft || !hard) {
				if (!soft || !hard)
					problem(w, v, "a limit needs both soft and hard");
				rc = -1;
			} else if (read_limit_value(w, soft, "soft", &rl->soft) < 0 ||
				   read_limit_value(w, hard, "hard", &rl->hard) < 0) {
				rc = -1;
			} else if (rl->soft > rl->hard) {
				rc = problem(w, v, "soft limit above the hard limit");
			}
		} else if (read_limit_value(w, v, k->text, &rl->soft) < 0) {
			rc = -1;
		} else {
			rl->hard = rl->soft;
		}
		n++;
		path_leave(w, old);
	}
	if (rc < 0) {
		free(out);
		return -1;
	}
	free(ws->rlimits);
	ws->rlimits = out;
	ws->nrlimits = n;
	return 0;
}

/* memory_max: max, or a size in bytes (cgroup_parse_size), at least 1. */
static int
read_memory_max(struct walk *w, const struct key *key, const struct vnode *val,
		struct child_spec *spec)
{
	uint64_t bytes;

	if (val->kind == VNODE_SCALAR && strcmp(val->text, "max") == 0) {
		spec->worker.memory_max = SPEC_CGROUP_MAX;
		return 0;
	}
	if (val->kind != VNODE_SCALAR || cgroup_parse_size(val->text, &bytes) < 0 || bytes == 0)
		return invalid(w, val, key->name, key->expect, NULL);
	spec->worker.memory_max = (int64_t)bytes;
	return 0;
}

/* A one-shot job (ready: exit) is transient or temporary, and not a
 * dynamic supervisor's child (nothing would ever run it again). */
static int
check_job(struct walk *w, const struct vnode *map, const struct child_spec *spec, enum place place)
{
	const struct vnode *at;
	size_t old;
	int rc = 0;

	if (spec->type != NODE_WORKER || spec->worker.ready != READY_EXIT)
		return 0;
	vnode_get(map, "ready", &at);
	old = path_key(w, "ready");
	if (place == AT_TEMPLATE)
		rc = problem(w, at, "ready: exit is not allowed in a template");
	else if (spec->restart == RESTART_PERMANENT)
		rc = problem(
			w, at,
			"ready: exit (a one-shot job) requires restart transient or temporary");
	path_leave(w, old);
	return rc;
}

/* ---- mappings ----------------------------------------------------------- */

static const char *const place_names[] = {
	[AT_ROOT] = "the top level",    [AT_WORKER] = "worker",
	[AT_SUPERVISOR] = "supervisor", [AT_DYNAMIC] = "dynamic supervisor",
	[AT_TEMPLATE] = "template",     [AT_CONTROL] = "control",
};

/* The entry for `name` in `place`; NULL with *known when it exists only
 * elsewhere (the keys of `control` and the others are separate worlds). */
static const struct key *
key_find(const char *name, enum place place, const struct key **known)
{
	*known = NULL;
	for (size_t k = 0; k < NKEYS; k++) {
		if (strcmp(keys[k].name, name) != 0)
			continue;
		if (keys[k].places & IN(place))
			return &keys[k];
		if ((place == AT_CONTROL) == (keys[k].places == IN(AT_CONTROL)))
			*known = &keys[k];
	}
	return NULL;
}

static int
not_applicable(struct walk *w, const struct vnode *key_node, const struct key *key,
	       enum place place)
{
	switch (place) {
	case AT_ROOT:
		return problem(w, key_node, "key '%s' is not allowed at the top level", key->name);
	case AT_TEMPLATE:
		return problem(w, key_node, "key '%s' is not allowed in a template", key->name);
	default:
		break;
	}
	if (key->places == IN(AT_ROOT))
		return problem(w, key_node, "key '%s' is only allowed at the top level", key->name);
	return problem(w, key_node, "key '%s' does not apply to a %s", key->name,
		       place_names[place]);
}

static int
unknown_key(struct walk *w, const struct vnode *key_node, enum place place)
{
	char q[VNODE_QUOTE_MAX + 4];
	struct suggestion s = {0};
	const struct key *known;

	for (size_t k = 0; k < NKEYS; k++)
		if (key_find(keys[k].name, place, &known) || known)
			suggest_consider(&s, key_node->text, keys[k].name);
	if (s.best)
		return problem(w, key_node, "unknown key '%s' (did you mean '%s'?)",
			       vnode_quote(key_node->text, q), s.best);
	return problem(w, key_node, "unknown key '%s'", vnode_quote(key_node->text, q));
}

/* Checks every key of a mapping (known, allowed here, not repeated) and
 * returns, for each pair i, its entry in keys[] or NULL (skip it). */
static int
check_keys(struct walk *w, const struct vnode *map, enum place place, const struct key **found)
{
	struct name_set seen = {0};
	char first_path[PATH_MAX_LEN];
	int rc = 0;

	for (size_t i = 0; i + 1 < map->nitems && !w->g->out_of_memory; i += 2) {
		const struct vnode *key_node = map->items[i];
		const struct name_slot *first;
		const struct key *known;
		size_t old;

		found[i / 2] = NULL;
		if (key_node->kind != VNODE_SCALAR) {
			rc = invalid(w, key_node, "key", "a string", NULL);
			continue;
		}
		old = path_key(w, key_node->text);
		switch (name_set_add(&seen, key_node->text, strlen(key_node->text), key_node, i,
				     &first)) {
		case 0:
			snprintf(first_path, sizeof(first_path), "%s", w->path);
			rc = duplicate(w, key_node, first, first_path, "key", key_node->text);
			break;
		case -1:
			rc = out_of_memory(w);
			break;
		default:
			found[i / 2] = key_find(key_node->text, place, &known);
			if (!found[i / 2])
				rc = known ? not_applicable(w, key_node, known, place)
					   : unknown_key(w, key_node, place);
			break;
		}
		path_leave(w, old);
	}
	free(seen.slots);
	return rc;
}

static int walk_children(struct walk *w, const struct vnode *seq, struct child_spec *parent,
			 unsigned level);
static int walk_mapping(struct walk *w, const struct vnode *map, enum place place,
			struct child_spec *spec, unsigned level);

static int
walk_template(struct walk *w, const struct vnode *val, struct child_spec *parent, unsigned level)
{
	struct child_spec *tmpl;

	if (val->kind != VNODE_MAPPING)
		return invalid(w, val, "template", "a mapping", NULL);
	tmpl = spec_new(NODE_WORKER);
	if (!tmpl)
		return out_of_memory(w);
	parent->sup.template_spec = tmpl;
	if (walk_mapping(w, val, AT_TEMPLATE, tmpl, level) < 0)
		return -1;
	return check_job(w, val, tmpl, AT_TEMPLATE);
}

/* One key's value, by its type. */
static int
walk_value(struct walk *w, const struct key *key, const struct vnode *val, enum place place,
	   struct child_spec *spec, unsigned level)
{
	switch (key->type) {
	case T_LIST:
		if (check_list(w, key, val) < 0)
			return -1;
		return key->read_list(w, key, val, spec);
	case T_CHILDREN:
		return walk_children(w, val, spec, level);
	case T_TEMPLATE:
		return walk_template(w, val, spec, level);
	case T_CONTROL:
		if (val->kind != VNODE_MAPPING)
			return invalid(w, val, key->name, key->expect, NULL);
		return walk_mapping(w, val, AT_CONTROL, spec, level);
	case T_CUSTOM:
		return key->read_value(w, key, val, spec);
	default:
		return read_scalar(w, key, val, spec, place);
	}
}

/* What only the machine can say about a worker or a template, asked when
 * its keys were fine. */
static void
check_worker_on_host(struct walk *w, const struct vnode *map, struct child_spec *spec)
{
	const struct spec_host *host = w->g->host;
	struct worker_spec *ws = &spec->worker;
	const struct vnode *val, *start = vnode_get(map, "start", NULL);
	const char *bad_key = NULL;
	char msg[512];
	size_t old;
	bool cwd_ok = true;

	if (!host)
		return;
	if (ws->cwd && host->check_directory("cwd", ws->cwd, false, msg, sizeof(msg)) < 0) {
		old = path_key(w, "cwd");
		problem(w, vnode_get(map, "cwd", NULL), "%s", msg);
		path_leave(w, old);
		cwd_ok = false;
	}
	if (host->resolve_credentials(ws, &bad_key, msg, sizeof(msg)) < 0) {
		val = vnode_get(map, bad_key, NULL);
		old = path_key(w, bad_key);
		problem(w, val ? val : map, "%s", msg);
		path_leave(w, old);
		return;
	}
	/* after the user (HOME...), before the program (PATH may come from
	 * an env file or an expansion) */
	if (host->prepare_worker && host->prepare_worker(ws, &bad_key, msg, sizeof(msg)) < 0) {
		val = vnode_get(map, bad_key, NULL);
		old = path_key(w, bad_key);
		problem(w, val ? val : map, "%s", msg);
		path_leave(w, old);
		return;
	}
	if (cwd_ok && start && ws->argv && host->find_program(ws, msg, sizeof(msg)) < 0) {
		old = path_enter(w, "%sstart[0]", w->path[0] ? "." : "");
		problem(w, start->items[0], "%s", msg);
		path_leave(w, old);
	}
}

/* SPEC 7.7: a limit needs cgroup: true (the file's, or the running supd's
 * for a start_child spec) and its controller. */
static void
check_cgroup_limits(struct walk *w, const struct vnode *map, const struct child_spec *spec)
{
	static const struct {
		const char *key, *controller;
	} limits[] = {{"memory_max", "memory"}, {"pids_max", "pids"}, {"cpu_weight", "cpu"}};
	const struct worker_spec *ws = &spec->worker;
	const struct spec_host *host = w->g->host;
	const bool set[] = {ws->memory_max != 0, ws->pids_max != 0, ws->cpu_weight != 0};
	bool enabled = true; /* a spec alone, without a host: nothing to ask */
	char msg[512];

	if (!set[0] && !set[1] && !set[2])
		return;
	if (w->cfg)
		enabled = w->cfg->cgroup;
	else if (host && host->cgroup_enabled)
		enabled = host->cgroup_enabled();
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		size_t old;

		if (!set[i])
			continue;
		old = path_key(w, limits[i].key);
		if (!enabled)
			problem(w, vnode_get(map, limits[i].key, NULL),
				"%s requires cgroup: true at the top level", limits[i].key);
		else if (host && host->check_cgroup &&
			 host->check_cgroup(limits[i].controller, msg, sizeof(msg)) < 0)
			problem(w, vnode_get(map, limits[i].key, NULL), "%s", msg);
		path_leave(w, old);
	}
}

static void
check_config_on_host(struct walk *w, const struct vnode *doc)
{
	const struct spec_host *host = w->g->host;
	const struct vnode *control = vnode_get(doc, "control", NULL), *val;
	struct control_config *c = &w->cfg->control;
	char msg[512];
	size_t old;

	if (!host)
		return;
	if (w->cfg->cgroup && host->check_cgroup &&
	    host->check_cgroup(NULL, msg, sizeof(msg)) < 0) {
		old = path_key(w, "cgroup");
		problem(w, vnode_get(doc, "cgroup", NULL),
			"cgroup: true needs a writable cgroup v2 "
			"subtree: %s",
			msg);
		path_leave(w, old);
	}
	if (w->cfg->events_path &&
	    host->check_directory("events", w->cfg->events_path, true, msg, sizeof(msg)) < 0) {
		old = path_key(w, "events");
		problem(w, vnode_get(doc, "events", NULL), "%s", msg);
		path_leave(w, old);
	}
	if (c->socket_path &&
	    host->check_directory("socket", c->socket_path, true, msg, sizeof(msg)) < 0) {
		val = vnode_get(control, "socket", NULL);
		old = path_enter(w, "%scontrol.socket", w->path[0] ? "." : "");
		problem(w, val, "%s", msg);
		path_leave(w, old);
	}
	if (c->group && host->lookup_group(c->group, &c->gid, msg, sizeof(msg)) < 0) {
		val = vnode_get(control, "group", NULL);
		old = path_enter(w, "%scontrol.group", w->path[0] ? "." : "");
		problem(w, val, "%s", msg);
		path_leave(w, old);
	}
}

static int
check_significant(struct walk *w, const struct vnode *map, const struct child_spec *spec,
		  enum auto_shutdown parent_auto)
{
	const struct vnode *at;
	size_t old;
	int rc = 0;

	if (!spec->significant)
		return 0;
	vnode_get(map, "significant", &at);
	old = path_key(w, "significant");
	if (spec->restart == RESTART_PERMANENT)
		rc = problem(w, at, "significant requires restart transient or temporary");
	else if (parent_auto == AUTO_SHUTDOWN_NEVER)
		rc = problem(w, at,
			     "significant requires the parent's auto_shutdown to be "
			     "any_significant or all_significant");
	path_leave(w, old);
	return rc;
}

/* The keys of one mapping in document order, then the required ones, then
 * the nested ones (children and template need this node's auto_shutdown,
 * wherever it is written), then the checks against the machine. `level` is
 * the nesting level of this node when it is a supervisor. */
static int
walk_mapping(struct walk *w, const struct vnode *map, enum place place, struct child_spec *spec,
	     unsigned level)
{
	size_t npairs = map->nitems / 2;
	const struct key **found = calloc(npairs ? npairs : 1, sizeof(*found));
	unsigned before = w->g->problems;

	if (!found)
		return out_of_memory(w);
	check_keys(w, map, place, found);
	for (size_t k = 0; k < NKEYS && !w->g->out_of_memory; k++) {
		if ((keys[k].required & IN(place)) && !vnode_get(map, keys[k].name, NULL) &&
		    (keys[k].places & IN(place)))
			problem(w, map, "missing required key '%s'", keys[k].name);
	}
	for (int pass = 0; pass < 2 && !w->g->out_of_memory; pass++) {
		for (size_t i = 0; i < npairs && !w->g->out_of_memory; i++) {
			const struct key *key = found[i];
			bool nested;
			size_t old;

			if (!key)
				continue;
			nested = key->type == T_CHILDREN || key->type == T_TEMPLATE;
			if (nested != (pass == 1))
				continue;
			old = path_key(w, key->name);
			walk_value(w, key, map->items[2 * i + 1], place, spec, level);
			path_leave(w, old);
		}
	}
	free(found);
	if (w->g->out_of_memory)
		return -1;
	if (w->g->problems == before && (place == AT_WORKER || place == AT_TEMPLATE))
		check_cgroup_limits(w, map, spec);
	if (w->g->problems == before && (place == AT_WORKER || place == AT_TEMPLATE))
		check_worker_on_host(w, map, spec);
	return w->g->problems == before ? 0 : -1;
}

/* A child's type decides which keys apply, so it is read first, wherever
 * it is in the mapping. Returns the new spec (also when it has problems,
 * so that the caller can check its id), or NULL. */
static struct child_spec *
walk_child(struct walk *w, const struct vnode *map, enum auto_shutdown parent_auto,
	   unsigned parent_level)
{
	const struct vnode *type_key = NULL, *type_val = vnode_get(map, "type", &type_key);
	enum node_type type = NODE_WORKER;
	enum place place = AT_WORKER;
	struct child_spec *spec;
	unsigned level = parent_level;

	if (type_val) {
		const struct key *known, *key = key_find("type", AT_WORKER, &known);
		struct child_spec probe = {.type = NODE_WORKER};
		size_t old = path_key(w, "type");
		int rc = read_scalar(w, key, type_val, &probe, AT_WORKER);

		path_leave(w, old);
		if (rc < 0)
			return NULL;
		type = probe.type;
		if (type != NODE_WORKER && ++level > SPEC_MAX_DEPTH) {
			old = path_key(w, "type");
			problem(w, type_key, "supervisors nest at most %d levels deep",
				SPEC_MAX_DEPTH);
			path_leave(w, old);
			return NULL;
		}
		place = type == NODE_SUPERVISOR ? AT_SUPERVISOR
			: type == NODE_DYNAMIC  ? AT_DYNAMIC
						: AT_WORKER;
	}
	spec = spec_new(type);
	if (!spec) {
		out_of_memory(w);
		return NULL;
	}
	if (walk_mapping(w, map, place, spec, level) == 0) {
		check_significant(w, map, spec, parent_auto);
		check_job(w, map, spec, place);
	}
	return spec;
}

static int
walk_children(struct walk *w, const struct vnode *seq, struct child_spec *parent, unsigned level)
{
	struct name_set ids = {0};
	unsigned before = w->g->problems;

	if (seq->kind != VNODE_SEQUENCE)
		return invalid(w, seq, "children", "a sequence of mappings", NULL);
	parent->sup.children = calloc(seq->nitems ? seq->nitems : 1, sizeof(*parent->sup.children));
	if (!parent->sup.children)
		return out_of_memory(w);
	for (size_t i = 0; i < seq->nitems && !w->g->out_of_memory; i++) {
		const struct vnode *map = seq->items[i], *id_key = NULL;
		size_t old = path_enter(w, "[%zu]", i);
		const struct name_slot *first;
		struct child_spec *child;
		char first_path[PATH_MAX_LEN];

		if (map->kind != VNODE_MAPPING) {
			invalid(w, map, "children entry", "a mapping", NULL);
			path_leave(w, old);
			continue;
		}
		child = walk_child(w, map, parent->sup.auto_shutdown, level);
		if (child)
			parent->sup.children[parent->sup.nchildren++] = child;
		vnode_get(map, "id", &id_key);
		if (child && child->id) {
			switch (name_set_add(&ids, child->id, strlen(child->id), id_key, i,
					     &first)) {
			case 0:
				snprintf(first_path, sizeof(first_path), "%.*s[%zu].id", (int)old,
					 w->path, first->index);
				path_key(w, "id");
				duplicate(w, id_key, first, first_path, "id", child->id);
				break;
			case -1:
				out_of_memory(w);
				break;
			}
		}
		path_leave(w, old);
	}
	free(ids.slots);
	return w->g->problems == before && !w->g->out_of_memory ? 0 : -1;
}

/* ---- the API ------------------------------------------------------------ */

int
grammar_config(struct grammar *g, const struct vnode *doc, struct config *cfg)
{
	struct walk w = {.g = g, .cfg = cfg};
	unsigned before = g->problems;

	snprintf(w.path, sizeof(w.path), "%s", g->root_path ? g->root_path : "");
	if (!doc) {
		problem(&w, NULL, "empty config (expected a mapping at the top level)");
		return -1;
	}
	if (doc->kind != VNODE_MAPPING) {
		problem(&w, doc, "expected a mapping at the top level, got %s",
			vnode_kind_name(doc));
		return -1;
	}
	cfg->root = spec_new(NODE_SUPERVISOR);
	if (!cfg->root)
		return out_of_memory(&w);
	/* The root is the first level of supervisors. */
	walk_mapping(&w, doc, AT_ROOT, cfg->root, 1);
	if (!g->out_of_memory)
		check_config_on_host(&w, doc);
	return g->problems == before && !g->out_of_memory ? 0 : -1;
}

struct child_spec *
grammar_child_spec(struct grammar *g, const struct vnode *node, enum auto_shutdown parent_auto,
		   unsigned parent_level)
{
	struct walk w = {.g = g};
	unsigned before = g->problems;
	struct child_spec *spec;

	snprintf(w.path, sizeof(w.path), "%s", g->root_path ? g->root_path : "");
	if (node->kind != VNODE_MAPPING) {
		invalid(&w, node, "spec", "a mapping", NULL);
		return NULL;
	}
	spec = walk_child(&w, node, parent_auto, parent_level);
	if (spec && (g->problems != before || g->out_of_memory)) {
		spec_free(spec);
		spec = NULL;
	}
	return spec;
}
