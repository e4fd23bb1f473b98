/*
 * yaml_tree.c - libyaml's event stream into a value tree (yaml_tree.h).
 *
 * Owns what is YAML about the config file and nothing else: syntax errors
 * (at libyaml's problem mark, in characters), YAML's null, and the refusal
 * of anchors, aliases, tags, extra documents and NUL characters. Which keys
 * and values are valid is the grammar's business (grammar.c).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "yaml_tree.h"

static int fail_at(struct yaml_tree_error *err, size_t line, size_t col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail_at(struct yaml_tree_error *err, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;

	err->line = (unsigned)line;
	err->col = (unsigned)col;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

#define fail_event(err, ev, ...)                                                                   \
	fail_at((err), (ev)->start_mark.line + 1, (ev)->start_mark.column + 1, __VA_ARGS__)

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
fail_syntax(struct yaml_tree_error *err, const yaml_parser_t *parser, const char *text, size_t len)
{
	const char *problem = parser->problem ? parser->problem : "unknown error";
	size_t line = parser->problem_mark.line + 1, col = parser->problem_mark.column + 1;

	if (parser->error == YAML_MEMORY_ERROR)
		return fail_at(err, 0, 0, "out of memory");
	if (parser->error == YAML_READER_ERROR) {
		offset_to_position(text, len, parser->problem_offset, &line, &col);
		return fail_at(err, line, col, "syntax error: %s", problem);
	}
	if (parser->context && (parser->context_mark.line != parser->problem_mark.line ||
				parser->context_mark.column != parser->problem_mark.column))
		return fail_at(err, line, col, "syntax error: %s (%s at line %zu, column %zu)",
			       problem, parser->context, parser->context_mark.line + 1,
			       parser->context_mark.column + 1);
	return fail_at(err, line, col, "syntax error: %s", problem);
}

/* Checks what a node event carries besides its value: an anchor or a tag. */
static int
check_node_event(struct yaml_tree_error *err, const yaml_event_t *ev, const yaml_char_t *anchor,
		 const yaml_char_t *tag)
{
	char q[VNODE_QUOTE_MAX + 4];

	if (anchor)
		return fail_event(err, ev, "anchor '&%s' is not accepted (no anchors or aliases)",
				  vnode_quote((const char *)anchor, q));
	if (tag)
		return fail_event(err, ev, "tags are not accepted");
	return 0;
}

static struct vnode *
vnode_from_event(const yaml_event_t *ev)
{
	unsigned line = ev->start_mark.line + 1, col = ev->start_mark.column + 1;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		if (scalar_is_null(ev))
			return vnode_new(VNODE_NULL, line, col);
		return vnode_scalar((const char *)ev->data.scalar.value, ev->data.scalar.length,
				    line, col);
	case YAML_SEQUENCE_START_EVENT:
		return vnode_new(VNODE_SEQUENCE, line, col);
	default:
		return vnode_new(VNODE_MAPPING, line, col);
	}
}

/* What one event says, before it becomes a node: 0, or -1 with err. */
static int
check_event(struct yaml_tree_error *err, const yaml_event_t *ev, bool *seen_document)
{
	char q[VNODE_QUOTE_MAX + 4];

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (*seen_document)
			return fail_event(err, ev, "only one YAML document is accepted");
		*seen_document = true;
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_event(err, ev, "alias '*%s' is not accepted (no anchors or aliases)",
				  vnode_quote((const char *)ev->data.alias.anchor, q));
	case YAML_SCALAR_EVENT:
		if (check_node_event(err, ev, ev->data.scalar.anchor, ev->data.scalar.tag) < 0)
			return -1;
		if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
			return fail_event(err, ev, "strings may not contain NUL characters");
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		return check_node_event(err, ev, ev->data.sequence_start.anchor,
					ev->data.sequence_start.tag);
	case YAML_MAPPING_START_EVENT:
		return check_node_event(err, ev, ev->data.mapping_start.anchor,
					ev->data.mapping_start.tag);
	default:
		return 0;
	}
}

int
yaml_tree_parse(const char *text, size_t len, struct vnode **out, struct yaml_tree_error *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct vnode *stack[YAML_TREE_MAX_NESTING], *doc = NULL;
	size_t depth = 0;
	bool seen_document = false, done = false;
	int rc = 0;

	*out = NULL;
	if (!yaml_parser_initialize(&parser))
		return fail_at(err, 0, 0, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && rc == 0) {
		struct vnode *node;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = fail_syntax(err, &parser, text, len);
			break;
		}
		rc = check_event(err, &ev, &seen_document);
		if (ev.type == YAML_STREAM_END_EVENT)
			done = true;
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		if (rc == 0 &&
		    (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
		     ev.type == YAML_MAPPING_START_EVENT)) {
			node = vnode_from_event(&ev);
			if (!node) {
				rc = fail_at(err, 0, 0, "out of memory");
			} else if (depth == 0) {
				doc = node;
			} else if (vnode_append(stack[depth - 1], node) < 0) {
				vnode_free(node);
				rc = fail_at(err, 0, 0, "out of memory");
			}
			if (rc == 0 &&
			    (node->kind == VNODE_SEQUENCE || node->kind == VNODE_MAPPING)) {
				if (depth == YAML_TREE_MAX_NESTING)
					rc = fail_at(err, node->line, node->col,
						     "nested more than %d levels deep",
						     YAML_TREE_MAX_NESTING);
				else
					stack[depth++] = node;
			}
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (rc < 0) {
		vnode_free(doc);
		return -1;
	}
	*out = doc;
	return 0;
}
