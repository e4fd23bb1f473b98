/*
 * json_tree.h - the JSON front end of the grammar: a jansson value in, a
 * value tree out (value_tree.h), as yaml_tree.c does for the config file.
 */
#ifndef SUPD_JSON_TREE_H
#define SUPD_JSON_TREE_H

#include <jansson.h>

#include "value_tree.h"

/* NULL on ENOMEM. Strings keep their text; a number becomes the text JSON
 * writes for it (5000, 1.5); true and false become "true" and "false"; null
 * is VNODE_NULL. No positions: a JSON problem is named by its path. */
struct vnode *json_tree(const json_t *value);

#endif
