/*
 * yaml_tree.h - the YAML front end: config text in, a value tree out.
 *
 * The only module that includes <yaml.h>. It accepts one document of plain
 * YAML: no anchors, aliases or tags, no NUL characters, nesting bounded.
 * Every node keeps its line and column, for FILE:LINE:COL messages.
 */
#ifndef SUPD_YAML_TREE_H
#define SUPD_YAML_TREE_H

#include <stddef.h>

#include "value_tree.h"

struct yaml_tree_error {
	unsigned line, col; /* 1-based; 0: about the whole text (out of memory) */
	char message[256];
};

/* Mappings and sequences nested deeper than any valid config can be (64
 * supervisor levels take about 130) are refused while the tree is built, so
 * that every later walk of the tree has a small, fixed recursion depth. */
#define YAML_TREE_MAX_NESTING 1000

/* Parses text (len bytes). Returns 0 and the document in *out (NULL when
 * the text holds no document), or -1 with *err filled. A syntax error
 * anywhere is reported at libyaml's own problem mark. */
int yaml_tree_parse(const char *text, size_t len, struct vnode **out, struct yaml_tree_error *err);

#endif
