/*
 * config.c - the config file of SPEC section 3: YAML text in, a validated
 * tree of child specs out.
 *
 * One buffer, three passes. (1) A libyaml event pass builds a small tree of
 * the document that records the line and column of every key and value, and
 * stops at syntax errors (at libyaml's own problem mark), anchors, aliases,
 * tags and extra documents. (2) A schema pass over that tree checks every key
 * (known, applicable to the node's type, not repeated, required ones
 * present), the shape of every value, and every value that libcyaml would
 * parse itself (enums, booleans, integers): libcyaml's checks are lax (it
 * reads "5e3" as 5 and "010" as 8) and its positions point at the wrong
 * place. It also bounds the nesting of supervisors. (3) libcyaml loads the
 * same buffer into the private y_* structs, which are converted into struct
 * child_spec; the values that supd parses from strings (ids, shutdown,
 * signals, env entries, modes, users and groups) and the rules that involve
 * more than one value (duplicate ids, significant children) are checked
 * there, with positions taken from the tree.
 *
 * This is the only file that includes <cyaml/cyaml.h>. It reads the file and
 * the user and group databases, and nothing else: no processes, no event
 * loop, no logging (the caller prints the one-line error).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cyaml/cyaml.h>
#include <yaml.h>

#include "config.h"
#include "spec.h"

/* A config file is a few kilobytes; the bound only stops a mistaken path
 * (a log, a device) from being read into memory whole. */
#define CONFIG_MAX_BYTES (16u * 1024 * 1024)
/* Mappings and sequences nested deeper than any valid config can be (64
 * supervisor levels take about 130) are refused while the tree is built, so
 * that every later walk of the tree has a small, fixed recursion depth. */
#define YAML_MAX_NESTING 1000
#define QUOTE_MAX        80

#define CONTROL_DEFAULT_MODE        0600
#define CONTROL_DEFAULT_MAX_CLIENTS 256

struct loader {
	const char *name; /* FILE in messages */
	char *err;
	size_t errlen;
	struct ynode *doc; /* the document's top-level node */
};

/* ---- messages ---------------------------------------------------------- */

static int fail_file(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail_pos(struct loader *ld, size_t line, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void
vformat_error(struct loader *ld, size_t line, size_t col, const char *fmt, va_list ap)
{
	int n;

	if (!ld->err || ld->errlen == 0)
		return;
	if (line)
		n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", ld->name, line, col);
	else
		n = snprintf(ld->err, ld->errlen, "%s: ", ld->name);
	if (n < 0 || (size_t)n >= ld->errlen)
		return;
	vsnprintf(ld->err + n, ld->errlen - n, fmt, ap);
}

/* Every error goes through here or fail_pos(); both return -1. */
static int
fail_file(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_error(ld, 0, 0, fmt, ap);
	va_end(ap);
	return -1;
}

static int
fail_pos(struct loader *ld, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vformat_error(ld, line, col, fmt, ap);
	va_end(ap);
	return -1;
}

#define fail_at(ld, node, ...) fail_pos((ld), (node)->line, (node)->col, __VA_ARGS__)

/* A value as it may appear inside '...' in a message: control characters
 * become '?', and a long value is cut (on a UTF-8 boundary) and ends in "...". */
static const char *
quote(const char *s, char buf[static QUOTE_MAX + 4])
{
	size_t n = 0;

	for (; s[n] && n < QUOTE_MAX; n++) {
		unsigned char ch = (unsigned char)s[n];
		buf[n] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
	}
	if (s[n]) {
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

/* ---- pass 1: the position tree ----------------------------------------- */

enum ykind {
	Y_SCALAR,
	Y_SEQUENCE,
	Y_MAPPING,
};

struct ynode {
	enum ykind kind;
	size_t line, col; /* 1-based, where the node starts */
	char *text;       /* Y_SCALAR: the value, NUL-terminated */
	bool null;        /* Y_SCALAR: plain empty, ~ or null: YAML's null */
	/* Y_SEQUENCE: the entries; Y_MAPPING: key, value, key, value, ... */
	struct ynode **items;
	size_t nitems, cap;
};

static void
ynode_free(struct ynode *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->nitems; i++)
		ynode_free(node->items[i]);
	free(node->items);
	free(node->text);
	free(node);
}

static int
ynode_append(struct ynode *parent, struct ynode *child)
{
	if (parent->nitems == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct ynode **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -1;
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->nitems++] = child;
	return 0;
}

static const char *
ynode_kind_name(const struct ynode *node)
{
	switch (node->kind) {
	case Y_SCALAR:
		return node->null ? "null" : "a scalar";
	case Y_SEQUENCE:
		return "a sequence";
	case Y_MAPPING:
		return "a mapping";
	}
	return "?";
}

/* The key node of `key` in a mapping (the first one), or NULL. */
static const struct ynode *
ymap_key(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->nitems; i += 2)
		if (map->items[i]->kind == Y_SCALAR && strcmp(map->items[i]->text, key) == 0)
			return map->items[i];
	return NULL;
}

static const struct ynode *
ymap_value(const struct ynode *map, const char *key)
{
	for (size_t i = 0; i + 1 < map->nitems; i += 2)
		if (map->items[i]->kind == Y_SCALAR && strcmp(map->items[i]->text, key) == 0)
			return map->items[i + 1];
	return NULL;
}

static bool
scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	       strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* libyaml reports reader errors (bad UTF-8, control characters) as a byte
 * offset only; turn it into a line and a column counted in characters. */
static void
offset_to_position(const char *text, size_t len, size_t offset, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < offset && i < len; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)text[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int
fail_syntax(struct loader *ld, const yaml_parser_t *parser, const char *text, size_t len)
{
	const char *problem = parser->problem ? parser->problem : "unknown error";
	size_t line = parser->problem_mark.line + 1, col = parser->problem_mark.column + 1;

	if (parser->error == YAML_MEMORY_ERROR)
		return fail_file(ld, "out of memory");
	if (parser->error == YAML_READER_ERROR) {
		offset_to_position(text, len, parser->problem_offset, &line, &col);
		return fail_pos(ld, line, col, "syntax error: %s", problem);
	}
	if (parser->context && (parser->context_mark.line != parser->problem_mark.line ||
				parser->context_mark.column != parser->problem_mark.column))
		return fail_pos(ld, line, col, "syntax error: %s (%s at line %zu, column %zu)",
				problem, parser->context, parser->context_mark.line + 1,
				parser->context_mark.column + 1);
	return fail_pos(ld, line, col, "syntax error: %s", problem);
}

/* Checks what a node event carries besides its value: an anchor or a tag. */
static int
check_node_event(struct loader *ld, const yaml_event_t *ev, const yaml_char_t *anchor,
		 const yaml_char_t *tag)
{
	char q[QUOTE_MAX + 4];
	size_t line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;

	if (anchor)
		return fail_pos(ld, line, col,
				"anchor '&%s' is not accepted (no anchors or aliases)",
				quote((const char *)anchor, q));
	if (tag)
		return fail_pos(ld, line, col, "tags are not accepted");
	return 0;
}

static struct ynode *
ynode_from_event(const yaml_event_t *ev)
{
	struct ynode *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->line = ev->start_mark.line + 1;
	node->col = ev->start_mark.column + 1;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		node->kind = Y_SCALAR;
		node->null = scalar_is_null(ev);
		node->text = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
		if (!node->text) {
			free(node);
			return NULL;
		}
		break;
	case YAML_SEQUENCE_START_EVENT:
		node->kind = Y_SEQUENCE;
		break;
	default:
		node->kind = Y_MAPPING;
		break;
	}
	return node;
}

/* Pass 1: parses the whole buffer into ld->doc. A syntax error anywhere is
 * reported before any schema error, wherever it is in the file. */
static int
build_tree(struct loader *ld, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ynode *stack[YAML_MAX_NESTING];
	size_t depth = 0;
	bool seen_document = false, done = false;
	int rc = 0;

	if (!yaml_parser_initialize(&parser))
		return fail_file(ld, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		struct ynode *node = NULL;
		char q[QUOTE_MAX + 4];

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = fail_syntax(ld, &parser, text, len);
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (seen_document)
				rc = fail_pos(ld, ev.start_mark.line + 1, ev.start_mark.column + 1,
					      "only one YAML document is accepted");
			seen_document = true;
			break;
		case YAML_ALIAS_EVENT:
			rc = fail_pos(ld, ev.start_mark.line + 1, ev.start_mark.column + 1,
				      "alias '*%s' is not accepted (no anchors or aliases)",
				      quote((const char *)ev.data.alias.anchor, q));
			break;
		case YAML_SCALAR_EVENT:
			rc = check_node_event(ld, &ev, ev.data.scalar.anchor, ev.data.scalar.tag);
			if (rc == 0 && memchr(ev.data.scalar.value, '\0', ev.data.scalar.length))
				rc = fail_pos(ld, ev.start_mark.line + 1, ev.start_mark.column + 1,
					      "strings may not contain NUL characters");
			break;
		case YAML_SEQUENCE_START_EVENT:
			rc = check_node_event(ld, &ev, ev.data.sequence_start.anchor,
					      ev.data.sequence_start.tag);
			break;
		case YAML_MAPPING_START_EVENT:
			rc = check_node_event(ld, &ev, ev.data.mapping_start.anchor,
					      ev.data.mapping_start.tag);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (rc == 0 &&
		    (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
		     ev.type == YAML_MAPPING_START_EVENT)) {
			node = ynode_from_event(&ev);
			if (!node) {
				rc = fail_file(ld, "out of memory");
			} else if (depth == 0) {
				ld->doc = node;
			} else if (ynode_append(stack[depth - 1], node) < 0) {
				ynode_free(node);
				rc = fail_file(ld, "out of memory");
			}
			if (rc == 0 && node->kind != Y_SCALAR) {
				if (depth == YAML_MAX_NESTING)
					rc = fail_at(ld, node, "nested more than %d levels deep",
						     YAML_MAX_NESTING);
				else
					stack[depth++] = node;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* ---- the words of the config file -------------------------------------- */

static const cyaml_strval_t type_words[] = {
	{"worker", NODE_WORKER},
	{"supervisor", NODE_SUPERVISOR},
	{"dynamic", NODE_DYNAMIC},
};
static const cyaml_strval_t restart_words[] = {
	{"permanent", RESTART_PERMANENT},
	{"transient", RESTART_TRANSIENT},
	{"temporary", RESTART_TEMPORARY},
};
static const cyaml_strval_t strategy_words[] = {
	{"one_for_one", STRATEGY_ONE_FOR_ONE},
	{"one_for_all", STRATEGY_ONE_FOR_ALL},
	{"rest_for_one", STRATEGY_REST_FOR_ONE},
};
static const cyaml_strval_t auto_shutdown_words[] = {
	{"never", AUTO_SHUTDOWN_NEVER},
	{"any_significant", AUTO_SHUTDOWN_ANY_SIGNIFICANT},
	{"all_significant", AUTO_SHUTDOWN_ALL_SIGNIFICANT},
};
static const cyaml_strval_t ready_words[] = {
	{"none", READY_NONE},
	{"notify", READY_NOTIFY},
};

#define WORDS(w) w, CYAML_ARRAY_LEN(w)

/* ---- pass 2: keys, shapes and the values libcyaml parses --------------- */

/* The kinds of mapping a key can appear in. */
enum context {
	CTX_ROOT,
	CTX_WORKER,
	CTX_SUPERVISOR,
	CTX_DYNAMIC,
	CTX_TEMPLATE,
	CTX_CONTROL,
};
#define AT(ctx)    (1u << (ctx))
#define AT_CHILD   (AT(CTX_WORKER) | AT(CTX_SUPERVISOR) | AT(CTX_DYNAMIC))
#define AT_SUPS    (AT(CTX_ROOT) | AT(CTX_SUPERVISOR) | AT(CTX_DYNAMIC))
#define AT_PROCESS (AT(CTX_WORKER) | AT(CTX_TEMPLATE))

enum key_id {
	K_ID,
	K_TYPE,
	K_RESTART,
	K_SHUTDOWN,
	K_SIGNIFICANT,
	K_STRATEGY,
	K_MAX_RESTARTS,
	K_MAX_SECONDS,
	K_AUTO_SHUTDOWN,
	K_CHILDREN,
	K_MAX_CHILDREN,
	K_TEMPLATE,
	K_START,
	K_ENV,
	K_CWD,
	K_USER,
	K_GROUP,
	K_STOP_SIGNAL,
	K_KILL_GROUP,
	K_NORMAL_EXIT,
	K_READY,
	K_START_TIMEOUT,
	K_ALLOW_ENV,
	K_CONTROL,
	K_EVENTS,
	K_FORWARD_SIGNALS,
	K_SOCKET,
	K_MODE,
	K_MAX_CLIENTS,
	K_COUNT,
};

enum value_kind {
	V_STRING,   /* a non-empty scalar */
	V_ENUM,     /* one of `words` */
	V_BOOL,     /* true or false */
	V_INT,      /* a decimal integer in [min, max] */
	V_STRINGS,  /* a sequence of at least `min` scalars */
	V_CHILDREN, /* a sequence of child mappings */
	V_TEMPLATE, /* a worker mapping without id */
	V_CONTROL,  /* the control mapping */
};

struct key_rule {
	const char *name;
	enum value_kind kind;
	unsigned where; /* AT() bits */
	const char *expect;
	const cyaml_strval_t *words;
	unsigned nwords;
	int64_t min, max;
	const char *dynamic_only; /* V_ENUM: the only value a dynamic supervisor accepts */
};

static const struct key_rule key_rules[K_COUNT] = {
	[K_ID] = {"id", V_STRING, AT_CHILD, "a string"},
	[K_TYPE] = {"type", V_ENUM, AT_CHILD, "worker, supervisor or dynamic", WORDS(type_words)},
	[K_RESTART] = {"restart", V_ENUM, AT_CHILD | AT(CTX_TEMPLATE),
		       "permanent, transient or temporary", WORDS(restart_words)},
	[K_SHUTDOWN] = {"shutdown", V_STRING, AT_CHILD | AT(CTX_TEMPLATE),
			"brutal_kill, infinity or a number of milliseconds"},
	[K_SIGNIFICANT] = {"significant", V_BOOL, AT_CHILD, "true or false"},
	[K_STRATEGY] = {"strategy", V_ENUM, AT_SUPS, "one_for_one, one_for_all or rest_for_one",
			WORDS(strategy_words), .dynamic_only = "one_for_one"},
	[K_MAX_RESTARTS] = {"max_restarts", V_INT, AT_SUPS, NULL, .min = 0,
			    .max = SPEC_MAX_RESTARTS_LIMIT},
	[K_MAX_SECONDS] = {"max_seconds", V_INT, AT_SUPS, NULL, .min = 1,
			   .max = SPEC_MAX_SECONDS_LIMIT},
	[K_AUTO_SHUTDOWN] = {"auto_shutdown", V_ENUM, AT_SUPS,
			     "never, any_significant or all_significant",
			     WORDS(auto_shutdown_words), .dynamic_only = "never"},
	[K_CHILDREN] = {"children", V_CHILDREN, AT(CTX_ROOT) | AT(CTX_SUPERVISOR),
			"a sequence of mappings"},
	[K_MAX_CHILDREN] = {"max_children", V_INT, AT(CTX_DYNAMIC), NULL, .min = 1,
			    .max = (int64_t)SPEC_UNLIMITED - 1},
	[K_TEMPLATE] = {"template", V_TEMPLATE, AT(CTX_DYNAMIC), "a mapping"},
	[K_START] = {"start", V_STRINGS, AT_PROCESS, "a non-empty sequence of strings", .min = 1},
	[K_ENV] = {"env", V_STRINGS, AT_PROCESS, "a sequence of strings"},
	[K_CWD] = {"cwd", V_STRING, AT_PROCESS, "a string"},
	[K_USER] = {"user", V_STRING, AT_PROCESS, "a string"},
	[K_GROUP] = {"group", V_STRING, AT_PROCESS | AT(CTX_CONTROL), "a string"},
	[K_STOP_SIGNAL] = {"stop_signal", V_STRING, AT_PROCESS, "a string"},
	[K_KILL_GROUP] = {"kill_group", V_BOOL, AT_PROCESS, "true or false"},
	[K_NORMAL_EXIT] = {"normal_exit", V_STRINGS, AT_PROCESS, "a sequence of strings"},
	[K_READY] = {"ready", V_ENUM, AT_PROCESS, "none or notify", WORDS(ready_words)},
	[K_START_TIMEOUT] = {"start_timeout", V_INT, AT_PROCESS, NULL, .min = 1,
			     .max = SPEC_MAX_MS_LIMIT},
	[K_ALLOW_ENV] = {"allow_env", V_STRINGS, AT(CTX_TEMPLATE), "a sequence of strings"},
	[K_CONTROL] = {"control", V_CONTROL, AT(CTX_ROOT), "a mapping"},
	[K_EVENTS] = {"events", V_STRING, AT(CTX_ROOT), "a string"},
	[K_FORWARD_SIGNALS] = {"forward_signals", V_STRINGS, AT(CTX_ROOT), "a sequence of strings"},
	[K_SOCKET] = {"socket", V_STRING, AT(CTX_CONTROL), "a string"},
	[K_MODE] = {"mode", V_STRING, AT(CTX_CONTROL), "a string"},
	[K_MAX_CLIENTS] = {"max_clients", V_INT, AT(CTX_CONTROL), NULL, .min = 1, .max = 65535},
};

static enum key_id
key_lookup(const char *name)
{
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(key_rules[k].name, name) == 0)
			return (enum key_id)k;
	return K_COUNT;
}

/* Canonical decimal only: no '+', no leading zeros, no "-0". "010" and
 * "0x10" are rejected rather than read as octal or hex (as libcyaml's
 * strtoll(.., 0) would), and so are "5e3" and "1.5". */
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

static int
word_value(const struct key_rule *rule, const char *text)
{
	for (unsigned i = 0; i < rule->nwords; i++)
		if (strcmp(rule->words[i].str, text) == 0)
			return (int)rule->words[i].val;
	return -1;
}

/* "invalid X 'v' (expected E)" for a scalar, "invalid X (expected E, got a
 * mapping)" otherwise. */
static int
fail_value(struct loader *ld, const struct ynode *val, const char *what, const char *expect)
{
	char q[QUOTE_MAX + 4];

	if (val->kind == Y_SCALAR && !val->null)
		return fail_at(ld, val, "invalid %s '%s' (expected %s)", what, quote(val->text, q),
			       expect);
	return fail_at(ld, val, "invalid %s (expected %s, got %s)", what, expect,
		       ynode_kind_name(val));
}

static int check_child(struct loader *ld, const struct ynode *map, unsigned parent_level);
static int check_mapping(struct loader *ld, const struct ynode *map, enum context ctx,
			 unsigned level);

static int
check_scalar(struct loader *ld, const struct key_rule *rule, const struct ynode *val,
	     enum context ctx)
{
	char expect[96], q[QUOTE_MAX + 4];
	int64_t n;

	if (val->kind != Y_SCALAR || val->null) {
		if (rule->kind == V_INT) {
			snprintf(expect, sizeof(expect), "an integer from %" PRId64 " to %" PRId64,
				 rule->min, rule->max);
			return fail_value(ld, val, rule->name, expect);
		}
		return fail_value(ld, val, rule->name, rule->expect);
	}
	switch (rule->kind) {
	case V_STRING:
		if (val->text[0] == '\0')
			return fail_value(ld, val, rule->name, "a non-empty string");
		return 0;
	case V_ENUM:
		if (word_value(rule, val->text) < 0)
			return fail_value(ld, val, rule->name, rule->expect);
		if (ctx == CTX_DYNAMIC && rule->dynamic_only &&
		    strcmp(val->text, rule->dynamic_only) != 0)
			return fail_at(ld, val,
				       "invalid %s '%s' for a dynamic supervisor (expected %s)",
				       rule->name, quote(val->text, q), rule->dynamic_only);
		return 0;
	case V_BOOL:
		if (strcmp(val->text, "true") != 0 && strcmp(val->text, "false") != 0)
			return fail_value(ld, val, rule->name, rule->expect);
		return 0;
	case V_INT:
		if (!parse_decimal(val->text, rule->min, rule->max, &n)) {
			snprintf(expect, sizeof(expect), "an integer from %" PRId64 " to %" PRId64,
				 rule->min, rule->max);
			return fail_value(ld, val, rule->name, expect);
		}
		return 0;
	default:
		return 0;
	}
}

static int
check_value(struct loader *ld, const struct key_rule *rule, const struct ynode *val,
	    enum context ctx, unsigned level)
{
	char what[48];

	switch (rule->kind) {
	case V_STRING:
	case V_ENUM:
	case V_BOOL:
	case V_INT:
		return check_scalar(ld, rule, val, ctx);
	case V_STRINGS:
		if (val->kind != Y_SEQUENCE)
			return fail_value(ld, val, rule->name, rule->expect);
		if (val->nitems < (size_t)rule->min)
			return fail_at(ld, val, "invalid %s (expected %s, got an empty sequence)",
				       rule->name, rule->expect);
		snprintf(what, sizeof(what), "%s entry", rule->name);
		for (size_t i = 0; i < val->nitems; i++)
			if (val->items[i]->kind != Y_SCALAR || val->items[i]->null)
				return fail_value(ld, val->items[i], what, "a string");
		return 0;
	case V_CHILDREN:
		if (val->kind != Y_SEQUENCE)
			return fail_value(ld, val, rule->name, rule->expect);
		for (size_t i = 0; i < val->nitems; i++) {
			if (val->items[i]->kind != Y_MAPPING)
				return fail_value(ld, val->items[i], "children entry", "a mapping");
			if (check_child(ld, val->items[i], level) < 0)
				return -1;
		}
		return 0;
	case V_TEMPLATE:
		if (val->kind != Y_MAPPING)
			return fail_value(ld, val, rule->name, rule->expect);
		if (check_mapping(ld, val, CTX_TEMPLATE, level) < 0)
			return -1;
		if (!ymap_key(val, "start"))
			return fail_at(ld, val, "missing required key 'start'");
		return 0;
	case V_CONTROL:
		if (val->kind != Y_MAPPING)
			return fail_value(ld, val, rule->name, rule->expect);
		return check_mapping(ld, val, CTX_CONTROL, level);
	}
	return 0;
}

static int
fail_not_applicable(struct loader *ld, const struct ynode *key, const struct key_rule *rule,
		    enum context ctx)
{
	switch (ctx) {
	case CTX_ROOT:
		return fail_at(ld, key, "key '%s' is not allowed at the top level", rule->name);
	case CTX_TEMPLATE:
		return fail_at(ld, key, "key '%s' is not allowed in a template", rule->name);
	default:
		break;
	}
	if (rule->where == AT(CTX_ROOT))
		return fail_at(ld, key, "key '%s' is only allowed at the top level", rule->name);
	return fail_at(ld, key, "key '%s' does not apply to a %s", rule->name,
		       ctx == CTX_WORKER       ? "worker"
		       : ctx == CTX_SUPERVISOR ? "supervisor"
					       : "dynamic supervisor");
}

/* Every key of one mapping, in document order. */
static int
check_mapping(struct loader *ld, const struct ynode *map, enum context ctx, unsigned level)
{
	char q[QUOTE_MAX + 4];

	for (size_t i = 0; i + 1 < map->nitems; i += 2) {
		const struct ynode *key = map->items[i], *val = map->items[i + 1];
		const struct key_rule *rule;
		enum key_id id;

		if (key->kind != Y_SCALAR || key->null)
			return fail_value(ld, key, "key", "a string");
		/* The keys before this one are known and distinct (else we
		 * stopped there), so this loop is short. */
		for (size_t j = 0; j < i; j += 2)
			if (strcmp(map->items[j]->text, key->text) == 0)
				return fail_at(ld, key,
					       "duplicate key '%s' (first defined at line %zu)",
					       quote(key->text, q), map->items[j]->line);
		id = key_lookup(key->text);
		rule = id < K_COUNT ? &key_rules[id] : NULL;
		if (!rule || (ctx == CTX_CONTROL && !(rule->where & AT(CTX_CONTROL))) ||
		    (ctx != CTX_CONTROL && rule->where == AT(CTX_CONTROL)))
			return fail_at(ld, key, "unknown key '%s'", quote(key->text, q));
		if (!(rule->where & AT(ctx)))
			return fail_not_applicable(ld, key, rule, ctx);
		if (check_value(ld, rule, val, ctx, level) < 0)
			return -1;
	}
	return 0;
}

/* One entry of `children`. Its type decides which keys apply, so it is read
 * first, wherever it is in the mapping. */
static int
check_child(struct loader *ld, const struct ynode *map, unsigned parent_level)
{
	const struct ynode *type_key = ymap_key(map, "type");
	enum context ctx = CTX_WORKER;
	unsigned level = parent_level;

	if (type_key) {
		const struct ynode *type_val = ymap_value(map, "type");

		if (check_scalar(ld, &key_rules[K_TYPE], type_val, CTX_WORKER) < 0)
			return -1;
		switch (word_value(&key_rules[K_TYPE], type_val->text)) {
		case NODE_SUPERVISOR:
			ctx = CTX_SUPERVISOR;
			break;
		case NODE_DYNAMIC:
			ctx = CTX_DYNAMIC;
			break;
		default:
			break;
		}
		if (ctx != CTX_WORKER && ++level > SPEC_MAX_DEPTH)
			return fail_at(ld, type_key, "supervisors nest at most %d levels deep",
				       SPEC_MAX_DEPTH);
	}
	if (check_mapping(ld, map, ctx, level) < 0)
		return -1;
	if (!ymap_key(map, "id"))
		return fail_at(ld, map, "missing required key 'id'");
	if (ctx == CTX_WORKER && !ymap_key(map, "start"))
		return fail_at(ld, map, "missing required key 'start'");
	if (ctx == CTX_DYNAMIC && !ymap_key(map, "template"))
		return fail_at(ld, map, "missing required key 'template'");
	return 0;
}

static int
check_document(struct loader *ld)
{
	const struct ynode *doc = ld->doc;

	if (!doc)
		return fail_file(ld, "empty config (expected a mapping at the top level)");
	if (doc->kind != Y_MAPPING)
		return fail_at(ld, doc, "expected a mapping at the top level, got %s",
			       ynode_kind_name(doc));
	/* The root is the first level of supervisors. */
	return check_mapping(ld, doc, CTX_ROOT, 1);
}

/* ---- pass 3: libcyaml's view of the same document ---------------------- */

/* Every optional scalar is a pointer: NULL means absent, and the default is
 * applied during the conversion (libcyaml 1.3.1 has no defaults). */
struct y_control {
	char *socket;
	char *mode;
	char *group;
	int64_t *max_clients;
};

struct y_node {
	char *id;
	enum node_type *type;
	enum restart_type *restart;
	char *shutdown;
	bool *significant;
	enum strategy *strategy;
	int64_t *max_restarts;
	int64_t *max_seconds;
	enum auto_shutdown *auto_shutdown;
	struct y_node *children;
	unsigned children_count;
	int64_t *max_children;
	struct y_node *template_node;
	char **start;
	unsigned start_count;
	char **env;
	unsigned env_count;
	char **allow_env;
	unsigned allow_env_count;
	char *cwd;
	char *user;
	char *group;
	char *stop_signal;
	bool *kill_group;
	char **normal_exit;
	unsigned normal_exit_count;
	enum ready_mode *ready;
	int64_t *start_timeout;
	struct y_control *control;
	char *events;
	char **forward_signals;
	unsigned forward_signals_count;
};

#define OPT        CYAML_FLAG_OPTIONAL
#define OPT_STRICT (CYAML_FLAG_OPTIONAL | CYAML_FLAG_STRICT)
#define OPT_PTR    (CYAML_FLAG_OPTIONAL | CYAML_FLAG_POINTER)

static const cyaml_schema_value_t string_entry = {
	CYAML_VALUE_STRING(CYAML_FLAG_POINTER, char, 0, CYAML_UNLIMITED),
};

#define Y_STRING(key, member)                                                                      \
	CYAML_FIELD_STRING_PTR(key, OPT, struct y_node, member, 0, CYAML_UNLIMITED)
#define Y_STRINGS(key, member)                                                                     \
	CYAML_FIELD_SEQUENCE(key, OPT_PTR, struct y_node, member, &string_entry, 0, CYAML_UNLIMITED)
#define Y_ENUM(key, member, w)                                                                     \
	CYAML_FIELD_ENUM_PTR(key, OPT_STRICT, struct y_node, member, w, CYAML_ARRAY_LEN(w))

/* The keys of a worker, shared by children and templates. */
#define Y_WORKER_FIELDS                                                                            \
	Y_STRING("shutdown", shutdown), Y_ENUM("restart", restart, restart_words),                 \
		Y_STRINGS("start", start), Y_STRINGS("env", env), Y_STRING("cwd", cwd),            \
		Y_STRING("user", user), Y_STRING("group", group),                                  \
		Y_STRING("stop_signal", stop_signal),                                              \
		CYAML_FIELD_BOOL_PTR("kill_group", OPT, struct y_node, kill_group),                \
		Y_STRINGS("normal_exit", normal_exit), Y_ENUM("ready", ready, ready_words),        \
		CYAML_FIELD_INT_PTR("start_timeout", OPT, struct y_node, start_timeout)

static const cyaml_schema_field_t control_fields[] = {
	CYAML_FIELD_STRING_PTR("socket", OPT, struct y_control, socket, 0, CYAML_UNLIMITED),
	CYAML_FIELD_STRING_PTR("mode", OPT, struct y_control, mode, 0, CYAML_UNLIMITED),
	CYAML_FIELD_STRING_PTR("group", OPT, struct y_control, group, 0, CYAML_UNLIMITED),
	CYAML_FIELD_INT_PTR("max_clients", OPT, struct y_control, max_clients),
	CYAML_FIELD_END,
};

static const cyaml_schema_field_t template_fields[] = {
	Y_WORKER_FIELDS,
	Y_STRINGS("allow_env", allow_env),
	CYAML_FIELD_END,
};

/* One schema for the root, children and every type: pass 2 has already
 * refused each key that does not apply where it appears. */
static const cyaml_schema_value_t node_entry;
static const cyaml_schema_field_t node_fields[] = {
	Y_STRING("id", id),
	Y_ENUM("type", type, type_words),
	CYAML_FIELD_BOOL_PTR("significant", OPT, struct y_node, significant),
	Y_ENUM("strategy", strategy, strategy_words),
	CYAML_FIELD_INT_PTR("max_restarts", OPT, struct y_node, max_restarts),
	CYAML_FIELD_INT_PTR("max_seconds", OPT, struct y_node, max_seconds),
	Y_ENUM("auto_shutdown", auto_shutdown, auto_shutdown_words),
	CYAML_FIELD_SEQUENCE("children", OPT_PTR, struct y_node, children, &node_entry, 0,
			     CYAML_UNLIMITED),
	CYAML_FIELD_INT_PTR("max_children", OPT, struct y_node, max_children),
	CYAML_FIELD_MAPPING_PTR("template", OPT, struct y_node, template_node, template_fields),
	Y_WORKER_FIELDS,
	CYAML_FIELD_MAPPING_PTR("control", OPT, struct y_node, control, control_fields),
	Y_STRING("events", events),
	Y_STRINGS("forward_signals", forward_signals),
	CYAML_FIELD_END,
};
static const cyaml_schema_value_t node_entry = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_DEFAULT, struct y_node, node_fields),
};
static const cyaml_schema_value_t root_schema = {
	CYAML_VALUE_MAPPING(CYAML_FLAG_POINTER, struct y_node, node_fields),
};

struct cyaml_message {
	char text[256];
	bool set;
};

/* Keeps libcyaml's first error line. After pass 2 libcyaml fails only when
 * memory runs out, or on a disagreement between the two schemas, which the
 * message then shows as it is. */
static void __attribute__((format(printf, 3, 0)))
cyaml_log_first(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
	struct cyaml_message *msg = ctx;
	size_t n;

	if (level < CYAML_LOG_ERROR || msg->set)
		return;
	vsnprintf(msg->text, sizeof(msg->text), fmt, args);
	n = strlen(msg->text);
	while (n > 0 && (msg->text[n - 1] == '\n' || msg->text[n - 1] == ' '))
		msg->text[--n] = '\0';
	msg->set = true;
}

/* ---- conversion into child specs --------------------------------------- */

/* A set of names (sibling ids, env names) with the line each was first
 * defined at; open addressing, so that a long list stays linear. */
struct name_slot {
	const char *name;
	size_t len;
	size_t line;
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

/* Returns 1 if added, 0 if already there (*first_line set), -1 on ENOMEM. */
static int
name_set_add(struct name_set *set, const char *name, size_t len, size_t line, size_t *first_line)
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
		*first_line = slot->line;
		return 0;
	}
	*slot = (struct name_slot){name, len, line};
	set->count++;
	return 1;
}

static bool
parse_shutdown(const char *s, int64_t *out)
{
	if (strcmp(s, "brutal_kill") == 0) {
		*out = SHUTDOWN_BRUTAL_KILL;
		return true;
	}
	if (strcmp(s, "infinity") == 0) {
		*out = SHUTDOWN_INFINITY;
		return true;
	}
	return parse_decimal(s, 0, SPEC_MAX_MS_LIMIT, out);
}

static bool
parse_mode(const char *s, mode_t *out)
{
	size_t n = strlen(s);
	unsigned long v;

	if (n < 1 || n > 4 || strspn(s, "01234567") != n)
		return false;
	v = strtoul(s, NULL, 8);
	if (v > 0777)
		return false;
	*out = (mode_t)v;
	return true;
}

static char **
strv_dup(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(*out));

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = strdup(v[i]);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static int
set_string(struct loader *ld, char **dst, const char *src)
{
	free(*dst);
	*dst = strdup(src);
	return *dst ? 0 : fail_file(ld, "out of memory");
}

static int
convert_env(struct loader *ld, struct worker_spec *w, const struct y_node *y,
	    const struct ynode *seq)
{
	struct name_set names = {0};
	char q[QUOTE_MAX + 4];
	int rc = 0;

	for (unsigned i = 0; i < y->env_count && rc == 0; i++) {
		const char *entry = y->env[i], *eq = strchr(entry, '=');
		size_t first;

		if (!eq || eq == entry) {
			rc = fail_at(ld, seq->items[i],
				     "invalid env entry '%s' (expected NAME=value)",
				     quote(entry, q));
			break;
		}
		switch (name_set_add(&names, entry, eq - entry, seq->items[i]->line, &first)) {
		case 0: {
			char name[QUOTE_MAX + 1];

			snprintf(name, sizeof(name), "%.*s", (int)(eq - entry), entry);
			rc = fail_at(ld, seq->items[i],
				     "duplicate env name '%s' (first defined at line %zu)",
				     quote(name, q), first);
			break;
		}
		case -1:
			rc = fail_file(ld, "out of memory");
			break;
		}
	}
	free(names.slots);
	if (rc < 0)
		return rc;
	w->env = strv_dup(y->env, y->env_count);
	if (!w->env)
		return fail_file(ld, "out of memory");
	w->envc = y->env_count;
	return 0;
}

static int
convert_normal_exit(struct loader *ld, struct worker_spec *w, const struct y_node *y,
		    const struct ynode *seq)
{
	char q[QUOTE_MAX + 4];

	memset(&w->normal_exit, 0, sizeof(w->normal_exit));
	for (unsigned i = 0; i < y->normal_exit_count; i++) {
		const char *entry = y->normal_exit[i];
		int64_t code;
		int sig;

		if (parse_decimal(entry, 0, 255, &code)) {
			exit_set_add_code(&w->normal_exit, (int)code);
			continue;
		}
		sig = signal_from_name(entry);
		if (sig == 0 || (entry[0] >= '0' && entry[0] <= '9') || entry[0] == '-')
			return fail_at(
				ld, seq->items[i],
				"invalid normal_exit entry '%s' (expected an exit code from 0 "
				"to 255 or a signal name)",
				quote(entry, q));
		exit_set_add_signal(&w->normal_exit, sig);
	}
	return 0;
}

static int
resolve_credentials(struct loader *ld, struct worker_spec *w, const struct ynode *map)
{
	const char *bad_key = NULL;
	char msg[256];

	if (spec_resolve_credentials(w, &bad_key, msg, sizeof(msg)) < 0)
		return fail_at(ld, ymap_value(map, bad_key), "%s", msg);
	return 0;
}

/* The keys a worker and a template share. */
static int
convert_worker_key(struct loader *ld, enum key_id id, const struct y_node *y,
		   const struct ynode *val, struct worker_spec *w)
{
	char q[QUOTE_MAX + 4];

	switch (id) {
	case K_START:
		if (y->start[0][0] == '\0')
			return fail_at(ld, val->items[0],
				       "invalid start entry '' (expected a program name)");
		w->argv = strv_dup(y->start, y->start_count);
		if (!w->argv)
			return fail_file(ld, "out of memory");
		w->argc = y->start_count;
		return 0;
	case K_ENV:
		return convert_env(ld, w, y, val);
	case K_ALLOW_ENV:
		for (unsigned i = 0; i < y->allow_env_count; i++)
			if (!y->allow_env[i][0] || strchr(y->allow_env[i], '='))
				return fail_at(ld, val->items[i],
					       "invalid allow_env entry '%s' (expected a name)",
					       quote(y->allow_env[i], q));
		w->allow_env = strv_dup(y->allow_env, y->allow_env_count);
		if (!w->allow_env)
			return fail_file(ld, "out of memory");
		w->allow_envc = y->allow_env_count;
		return 0;
	case K_CWD:
		return set_string(ld, &w->cwd, y->cwd);
	case K_USER:
		return set_string(ld, &w->user, y->user);
	case K_GROUP:
		return set_string(ld, &w->group, y->group);
	case K_STOP_SIGNAL:
		w->stop_signal = signal_from_name(y->stop_signal);
		if (w->stop_signal == 0)
			return fail_at(ld, val,
				       "invalid stop_signal '%s' (expected a signal name such as "
				       "SIGTERM)",
				       quote(y->stop_signal, q));
		return 0;
	case K_KILL_GROUP:
		w->kill_group = *y->kill_group;
		return 0;
	case K_NORMAL_EXIT:
		return convert_normal_exit(ld, w, y, val);
	case K_READY:
		w->ready = *y->ready;
		return 0;
	case K_START_TIMEOUT:
		w->start_timeout_ms = *y->start_timeout;
		return 0;
	default:
		return 0;
	}
}

/* The keys of one child, template or root mapping, in document order, except
 * `children` and `template`, which come after (they need this node's
 * auto_shutdown, wherever it is written). */
static int
convert_keys(struct loader *ld, const struct y_node *y, const struct ynode *map,
	     struct child_spec *spec)
{
	char q[QUOTE_MAX + 4];

	for (size_t i = 0; i + 1 < map->nitems; i += 2) {
		const struct ynode *val = map->items[i + 1];
		enum key_id id = key_lookup(map->items[i]->text);
		int rc = 0;

		switch (id) {
		case K_ID:
			if (!spec_id_valid(y->id))
				return fail_at(ld, val,
					       "invalid id '%s' (expected 1 to %d characters from "
					       "[A-Za-z0-9_.-], not '.' or '..')",
					       quote(y->id, q), SPEC_ID_MAX);
			rc = set_string(ld, &spec->id, y->id);
			break;
		case K_RESTART:
			spec->restart = *y->restart;
			break;
		case K_SHUTDOWN:
			if (!parse_shutdown(y->shutdown, &spec->shutdown_ms))
				return fail_at(ld, val,
					       "invalid shutdown '%s' (expected brutal_kill, "
					       "infinity or milliseconds from 0 to %d)",
					       quote(y->shutdown, q), SPEC_MAX_MS_LIMIT);
			break;
		case K_SIGNIFICANT:
			spec->significant = *y->significant;
			break;
		case K_STRATEGY:
			spec->sup.strategy = *y->strategy;
			break;
		case K_MAX_RESTARTS:
			spec->sup.max_restarts = (uint32_t)*y->max_restarts;
			break;
		case K_MAX_SECONDS:
			spec->sup.max_seconds = (uint32_t)*y->max_seconds;
			break;
		case K_AUTO_SHUTDOWN:
			spec->sup.auto_shutdown = *y->auto_shutdown;
			break;
		case K_MAX_CHILDREN:
			spec->sup.max_children = (uint32_t)*y->max_children;
			break;
		default:
			if (spec->type == NODE_WORKER)
				rc = convert_worker_key(ld, id, y, val, &spec->worker);
			break;
		}
		if (rc < 0)
			return rc;
	}
	if (spec->type == NODE_WORKER)
		return resolve_credentials(ld, &spec->worker, map);
	return 0;
}

static int
check_significant(struct loader *ld, const struct child_spec *spec, const struct ynode *map,
		  const struct child_spec *parent)
{
	const struct ynode *at = ymap_key(map, "significant");

	if (!spec->significant)
		return 0;
	if (spec->restart == RESTART_PERMANENT)
		return fail_at(ld, at, "significant requires restart transient or temporary");
	if (parent->sup.auto_shutdown == AUTO_SHUTDOWN_NEVER)
		return fail_at(ld, at,
			       "significant requires the parent's auto_shutdown to be "
			       "any_significant or all_significant");
	return 0;
}

static int convert_children(struct loader *ld, const struct y_node *y, const struct ynode *seq,
			    struct child_spec *parent);

/* The rest of a supervisor node: its template, then its children. */
static int
convert_subtree(struct loader *ld, const struct y_node *y, const struct ynode *map,
		struct child_spec *spec)
{
	if (y->template_node) {
		const struct ynode *tmap = ymap_value(map, "template");
		struct child_spec *tmpl = spec_new(NODE_WORKER);

		if (!tmpl)
			return fail_file(ld, "out of memory");
		spec->sup.template_spec = tmpl;
		if (convert_keys(ld, y->template_node, tmap, tmpl) < 0)
			return -1;
	}
	if (y->children_count)
		return convert_children(ld, y, ymap_value(map, "children"), spec);
	return 0;
}

static int
convert_children(struct loader *ld, const struct y_node *y, const struct ynode *seq,
		 struct child_spec *parent)
{
	struct name_set ids = {0};
	int rc = 0;

	if (!seq || seq->nitems != y->children_count)
		return fail_file(ld, "internal error: the document changed between passes");
	parent->sup.children = calloc(y->children_count, sizeof(*parent->sup.children));
	if (!parent->sup.children)
		return fail_file(ld, "out of memory");
	for (unsigned i = 0; i < y->children_count && rc == 0; i++) {
		const struct y_node *yc = &y->children[i];
		const struct ynode *map = seq->items[i], *id_key;
		struct child_spec *child = spec_new(yc->type ? *yc->type : NODE_WORKER);
		size_t first;

		if (!child) {
			rc = fail_file(ld, "out of memory");
			break;
		}
		parent->sup.children[parent->sup.nchildren++] = child;
		rc = convert_keys(ld, yc, map, child);
		if (rc < 0)
			break;
		id_key = ymap_key(map, "id");
		switch (name_set_add(&ids, child->id, strlen(child->id), id_key->line, &first)) {
		case 0:
			rc = fail_at(ld, id_key, "duplicate id '%s' (first defined at line %zu)",
				     child->id, first);
			break;
		case -1:
			rc = fail_file(ld, "out of memory");
			break;
		}
		if (rc == 0)
			rc = check_significant(ld, child, map, parent);
		if (rc == 0 && spec_is_supervisor(child))
			rc = convert_subtree(ld, yc, map, child);
	}
	free(ids.slots);
	return rc;
}

static int
convert_control(struct loader *ld, const struct y_control *yc, const struct ynode *map,
		struct control_config *control)
{
	char q[QUOTE_MAX + 4];

	if (yc->socket && set_string(ld, &control->socket_path, yc->socket) < 0)
		return -1;
	if (yc->mode && !parse_mode(yc->mode, &control->mode))
		return fail_at(ld, ymap_value(map, "mode"),
			       "invalid mode '%s' (expected an octal file mode such as 0600)",
			       quote(yc->mode, q));
	if (yc->group) {
		gid_t gid;

		if (spec_lookup_group(yc->group, &gid) < 0)
			return fail_at(ld, ymap_value(map, "group"), "unknown group '%s'",
				       quote(yc->group, q));
		if (set_string(ld, &control->group, yc->group) < 0)
			return -1;
		control->gid = gid;
	}
	if (yc->max_clients)
		control->max_clients = (uint32_t)*yc->max_clients;
	return 0;
}

static int
convert_forward_signals(struct loader *ld, const struct y_node *y, const struct ynode *seq,
			struct config *cfg)
{
	char q[QUOTE_MAX + 4];

	for (unsigned i = 0; i < y->forward_signals_count; i++) {
		const char *entry = y->forward_signals[i];
		int sig = signal_from_name(entry);

		if (sig == 0)
			return fail_at(ld, seq->items[i],
				       "invalid forward_signals entry '%s' (expected a signal name "
				       "such as SIGUSR1)",
				       quote(entry, q));
		if (sig == SIGKILL || sig == SIGSTOP)
			return fail_at(ld, seq->items[i], "cannot forward %s (it cannot be caught)",
				       signal_name(sig));
		/* supd acts on these itself: shutdown and reaping. */
		if (sig == SIGTERM || sig == SIGINT || sig == SIGCHLD)
			return fail_at(ld, seq->items[i], "cannot forward %s (supd handles it)",
				       signal_name(sig));
		/* Faults are about supd itself, and SIGPIPE is what supd gets
		 * for writing to a closed socket: none of them is a message. */
		if (sig == SIGPIPE || sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE ||
		    sig == SIGILL || sig == SIGABRT || sig == SIGTRAP || sig == SIGSYS)
			return fail_at(ld, seq->items[i],
				       "cannot forward %s (it is about supd itself)",
				       signal_name(sig));
		cfg->forward_signals |= UINT64_C(1) << (sig - 1);
	}
	return 0;
}

static int
convert_root(struct loader *ld, const struct y_node *y, struct config *cfg)
{
	const struct ynode *map = ld->doc;

	cfg->root = spec_new(NODE_SUPERVISOR);
	if (!cfg->root)
		return fail_file(ld, "out of memory");
	if (convert_keys(ld, y, map, cfg->root) < 0)
		return -1;
	if (y->control &&
	    convert_control(ld, y->control, ymap_value(map, "control"), &cfg->control) < 0)
		return -1;
	if (y->events && set_string(ld, &cfg->events_path, y->events) < 0)
		return -1;
	if (y->forward_signals &&
	    convert_forward_signals(ld, y, ymap_value(map, "forward_signals"), cfg) < 0)
		return -1;
	return convert_subtree(ld, y, map, cfg->root);
}

static int
load_with_cyaml(struct loader *ld, const char *text, size_t len, struct config *cfg)
{
	struct cyaml_message msg = {0};
	const cyaml_config_t cyaml_cfg = {
		.log_fn = cyaml_log_first,
		.log_ctx = &msg,
		.mem_fn = cyaml_mem,
		.log_level = CYAML_LOG_ERROR,
		.flags = CYAML_CFG_NO_ALIAS,
	};
	struct y_node *y = NULL;
	cyaml_err_t err;
	int rc;

	err = cyaml_load_data((const uint8_t *)text, len, &cyaml_cfg, &root_schema,
			      (cyaml_data_t **)&y, NULL);
	if (err == CYAML_ERR_OOM)
		return fail_file(ld, "out of memory");
	if (err != CYAML_OK)
		return fail_file(ld, "cannot load: %s (%s)", cyaml_strerror(err),
				 msg.set ? msg.text : "no details");
	rc = convert_root(ld, y, cfg);
	cyaml_free(&cyaml_cfg, &root_schema, y, 0);
	return rc;
}

/* ---- the API ----------------------------------------------------------- */

void
config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->file);
	spec_free(cfg->root);
	free(cfg->control.socket_path);
	free(cfg->control.group);
	free(cfg->events_path);
	free(cfg);
}

struct child_spec *
config_take_root(struct config *cfg)
{
	struct child_spec *root = cfg->root;

	cfg->root = NULL;
	return root;
}

int
config_load_string(const char *yaml, size_t len, const char *name, struct config **out, char *err,
		   size_t errlen)
{
	struct loader ld = {.name = name ? name : "<config>", .err = err, .errlen = errlen};
	struct config *cfg;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return fail_file(&ld, "out of memory");
	cfg->control.mode = CONTROL_DEFAULT_MODE;
	cfg->control.max_clients = CONTROL_DEFAULT_MAX_CLIENTS;
	cfg->file = strdup(ld.name);
	if (!cfg->file)
		rc = fail_file(&ld, "out of memory");
	else
		rc = build_tree(&ld, yaml, len);
	if (rc == 0)
		rc = check_document(&ld);
	if (rc == 0)
		rc = load_with_cyaml(&ld, yaml, len, cfg);
	ynode_free(ld.doc);
	if (rc < 0) {
		config_free(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

/* Reads the whole file (also a pipe or /dev/stdin) into memory. */
static int
read_file(struct loader *ld, const char *path, char **text, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e = 0;

	if (fd < 0)
		return fail_file(ld, "cannot read: %s", strerror(errno));
	for (;;) {
		ssize_t got;

		if (n == cap) {
			char *bigger;

			/* One byte past the limit tells "too large" apart. */
			if (cap == CONFIG_MAX_BYTES + 1) {
				e = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 8192;
			if (cap > CONFIG_MAX_BYTES + 1)
				cap = CONFIG_MAX_BYTES + 1;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				e = ENOMEM;
				break;
			}
			buf = bigger;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = errno;
			break;
		}
		if (got == 0)
			break;
		n += (size_t)got;
	}
	close(fd);
	if (e) {
		free(buf);
		if (e == EFBIG)
			return fail_file(ld, "cannot read: larger than %u bytes", CONFIG_MAX_BYTES);
		return fail_file(ld, "cannot read: %s", strerror(e));
	}
	if (!buf) {
		buf = malloc(1);
		if (!buf)
			return fail_file(ld, "out of memory");
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

int
config_load_file(const char *path, struct config **out, char *err, size_t errlen)
{
	struct loader ld = {.name = path, .err = err, .errlen = errlen};
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (read_file(&ld, path, &text, &len) < 0)
		return -1;
	rc = config_load_string(text, len, path, out, err, errlen);
	free(text);
	return rc;
}
