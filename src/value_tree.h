/*
 * value_tree.h - a document as a tree of plain values, whatever its notation.
 *
 * The config file (YAML, yaml_tree.c) and a child spec on the control socket
 * (JSON, json_tree.c) are both turned into this tree before the one grammar
 * (grammar.c) reads them, so that a spec means the same from either side.
 * A scalar is its text: 5000, "5000" and the JSON number 5000 are the same
 * value; a key decides how to read it. Null (YAML ~ or an empty value, JSON
 * null) is its own kind and never a value.
 */
#ifndef SUPD_VALUE_TREE_H
#define SUPD_VALUE_TREE_H

#include <stddef.h>

enum vkind {
	VNODE_NULL,
	VNODE_SCALAR,
	VNODE_SEQUENCE,
	VNODE_MAPPING,
};

struct vnode {
	enum vkind kind;
	unsigned line, col; /* 1-based where the node starts; 0 when the notation has none */
	char *text;         /* VNODE_SCALAR: the value, NUL-terminated */
	/* VNODE_SEQUENCE: the entries; VNODE_MAPPING: key, value, key, value...
	 * (keys are never null in a mapping a front end builds: a key that is
	 * not a scalar is kept as it is, for the grammar to refuse) */
	struct vnode **items;
	size_t nitems, cap;
};

/* NULL on ENOMEM. text (VNODE_SCALAR only) is copied, len bytes. */
struct vnode *vnode_new(enum vkind kind, unsigned line, unsigned col);
struct vnode *vnode_scalar(const char *text, size_t len, unsigned line, unsigned col);
/* Appends child to a sequence or mapping; -1 on ENOMEM (child not taken). */
int vnode_append(struct vnode *parent, struct vnode *child);
void vnode_free(struct vnode *node);

/* "null", "a scalar", "a sequence", "a mapping": for messages. */
const char *vnode_kind_name(const struct vnode *node);
/* The value of `key` in a mapping (its first occurrence), or NULL; *key_node
 * (when not NULL) is set to the key. */
const struct vnode *vnode_get(const struct vnode *map, const char *key,
			      const struct vnode **key_node);

/* A value as it may appear inside '...' in a message: control characters
 * become '?', and a long value is cut (on a UTF-8 boundary) and ends in
 * "...". Returns buf. */
#define VNODE_QUOTE_MAX 80
const char *vnode_quote(const char *s, char buf[static VNODE_QUOTE_MAX + 4]);

#endif
