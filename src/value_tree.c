/*
 * value_tree.c - the notation-free tree that both spec front ends build
 * (value_tree.h): allocation, appending, lookup. No parsing here.
 */
#include <stdlib.h>
#include <string.h>

#include "value_tree.h"

struct vnode *
vnode_new(enum vkind kind, unsigned line, unsigned col)
{
	struct vnode *node = calloc(1, sizeof(*node));

	if (!node)
		return NULL;
	node->kind = kind;
	node->line = line;
	node->col = col;
	return node;
}

struct vnode *
vnode_scalar(const char *text, size_t len, unsigned line, unsigned col)
{
	struct vnode *node = vnode_new(VNODE_SCALAR, line, col);

	if (!node)
		return NULL;
	node->text = strndup(text, len);
	if (!node->text) {
		free(node);
		return NULL;
	}
	return node;
}

int
vnode_append(struct vnode *parent, struct vnode *child)
{
	if (parent->nitems == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 8;
		struct vnode **items = realloc(parent->items, cap * sizeof(*items));

		if (!items)
			return -1;
		parent->items = items;
		parent->cap = cap;
	}
	parent->items[parent->nitems++] = child;
	return 0;
}

void
vnode_free(struct vnode *node)
{
	if (!node)
		return;
	for (size_t i = 0; i < node->nitems; i++)
		vnode_free(node->items[i]);
	free(node->items);
	free(node->text);
	free(node);
}

const char *
vnode_kind_name(const struct vnode *node)
{
	switch (node->kind) {
	case VNODE_NULL:
		return "null";
	case VNODE_SCALAR:
		return "a scalar";
	case VNODE_SEQUENCE:
		return "a sequence";
	case VNODE_MAPPING:
		return "a mapping";
	}
	return "?";
}

const struct vnode *
vnode_get(const struct vnode *map, const char *key, const struct vnode **key_node)
{
	for (size_t i = 0; i + 1 < map->nitems; i += 2) {
		const struct vnode *k = map->items[i];

		if (k->kind == VNODE_SCALAR && strcmp(k->text, key) == 0) {
			if (key_node)
				*key_node = k;
			return map->items[i + 1];
		}
	}
	return NULL;
}

const char *
vnode_quote(const char *s, char buf[static VNODE_QUOTE_MAX + 4])
{
	size_t n = 0;

	for (; s[n] && n < VNODE_QUOTE_MAX; n++) {
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
