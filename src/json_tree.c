/*
 * json_tree.c - a jansson value into a value tree (json_tree.h). The depth
 * is bounded by jansson's parser (JSON_PARSER_MAX_DEPTH), so the recursion
 * here is too.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_tree.h"

static struct vnode *
scalar_text(const char *text)
{
	return vnode_scalar(text, strlen(text), 0, 0);
}

static struct vnode *
json_number(const json_t *value)
{
	char buf[32];
	char *text;
	struct vnode *node;

	if (json_is_integer(value)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		return scalar_text(buf);
	}
	/* a real as JSON writes it ("5000.0", "1.5"): an integer key refuses it */
	text = json_dumps(value, JSON_ENCODE_ANY);
	if (!text)
		return NULL;
	node = scalar_text(text);
	free(text);
	return node;
}

static int
append(struct vnode *parent, struct vnode *child)
{
	if (!child)
		return -1;
	if (vnode_append(parent, child) < 0) {
		vnode_free(child);
		return -1;
	}
	return 0;
}

struct vnode *
json_tree(const json_t *value)
{
	struct vnode *node;
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(value)) {
	case JSON_STRING:
		return vnode_scalar(json_string_value(value), json_string_length(value), 0, 0);
	case JSON_INTEGER:
	case JSON_REAL:
		return json_number(value);
	case JSON_TRUE:
		return scalar_text("true");
	case JSON_FALSE:
		return scalar_text("false");
	case JSON_NULL:
		return vnode_new(VNODE_NULL, 0, 0);
	case JSON_ARRAY:
		node = vnode_new(VNODE_SEQUENCE, 0, 0);
		if (!node)
			return NULL;
		json_array_foreach((json_t *)value, i, item)
		{
			if (append(node, json_tree(item)) < 0) {
				vnode_free(node);
				return NULL;
			}
		}
		return node;
	case JSON_OBJECT:
		node = vnode_new(VNODE_MAPPING, 0, 0);
		if (!node)
			return NULL;
		json_object_foreach((json_t *)value, key, item)
		{
			if (append(node, scalar_text(key)) < 0 ||
			    append(node, json_tree(item)) < 0) {
				vnode_free(node);
				return NULL;
			}
		}
		return node;
	}
	return NULL;
}
