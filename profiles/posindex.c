/* SPDX-License-Identifier: MIT */
/* The position index: every node's dotted path and lines, from libyaml's event stream. */
#include "profload.h"

#include <errno.h>
#include <stdlib.h>
#include <yaml.h>

struct frame {
	size_t entry; /* index entry of this mapping or sequence */
	bool mapping;
	bool want_key;
	char key[KEY_MAX_LEN + 1];
	unsigned key_line;
	size_t next_item;
};

void posindex_free(struct pos_index *idx)
{
	for (size_t i = 0; i < idx->n; i++) {
		free(idx->v[i].path);
		free(idx->v[i].value);
	}
	free(idx->v);
	*idx = (struct pos_index){ 0 };
}

const struct pos_entry *posindex_find(const struct pos_index *idx, const char *path)
{
	for (size_t i = 0; i < idx->n; i++)
		if (streq(idx->v[i].path, path))
			return &idx->v[i];
	return NULL;
}

/* The parent of "a.b[2].c" is "a.b[2]", of "a.b[2]" is "a.b", of "a" is "". */
static void path_parent(char *path)
{
	char *p = path + strlen(path);

	while (p > path && p[-1] != '.' && p[-1] != '[')
		p--;
	if (p > path && p[-1] == '[')
		p--;
	else if (p > path)
		p--;
	*p = '\0';
}

/* Line of the node at path, or of its nearest ancestor that exists (e.g. a missing key's mapping). */
unsigned posindex_line(const struct load_ctx *c, const char *path, bool value)
{
	char buf[PATH_MAX_LEN];

	copy_str(buf, sizeof(buf), path);
	for (;;) {
		const struct pos_entry *e = posindex_find(&c->idx, buf);

		if (e)
			return value ? e->value_line : e->key_line;
		if (!buf[0])
			return 0;
		path_parent(buf);
		value = false; /* an ancestor is named by its key: "network:", "- path:" */
	}
}

static bool scalar_is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return streq(v, "") || streq(v, "~") || streq(v, "null") || streq(v, "Null") ||
	       streq(v, "NULL");
}

static const char *event_kind_name(yaml_event_type_t t)
{
	return t == YAML_MAPPING_START_EVENT	? "a mapping"
	       : t == YAML_SEQUENCE_START_EVENT ? "a list"
						: "a scalar";
}

static int index_add(struct load_ctx *c, const char *path, unsigned key_line, const yaml_event_t *ev)
{
	struct pos_entry *e;

	if (c->idx.n >= INDEX_MAX_NODES)
		return pfail(c, key_line, path, "too many entries (more than %d nodes)", INDEX_MAX_NODES);
	if (c->idx.n == c->idx.cap) {
		size_t cap = c->idx.cap ? c->idx.cap * 2 : 64;
		struct pos_entry *v = reallocarray(c->idx.v, cap, sizeof(*v));

		if (!v)
			return pfail_errno(c, -ENOMEM);
		c->idx.v = v;
		c->idx.cap = cap;
	}
	e = &c->idx.v[c->idx.n];
	*e = (struct pos_entry){
		.path = strdup(path),
		.key_line = key_line,
		.value_line = (unsigned)ev->start_mark.line + 1,
		.kind = ev->type == YAML_MAPPING_START_EVENT	? POS_MAPPING
			: ev->type == YAML_SEQUENCE_START_EVENT ? POS_SEQUENCE
								: POS_SCALAR,
		.null = ev->type == YAML_SCALAR_EVENT && scalar_is_null(ev),
		.value = ev->type == YAML_SCALAR_EVENT ?
				 strndup((const char *)ev->data.scalar.value, 128) : NULL,
	};
	if (!e->path || (ev->type == YAML_SCALAR_EVENT && !e->value)) {
		free(e->path);
		free(e->value);
		return pfail_errno(c, -ENOMEM);
	}
	c->idx.n++;
	return 0;
}

/* A key of the mapping on top of the stack. */
static int index_key(struct load_ctx *c, struct frame *top, const yaml_event_t *ev)
{
	unsigned line = (unsigned)ev->start_mark.line + 1;
	const char *parent = c->idx.v[top->entry].path;

	if (ev->type != YAML_SCALAR_EVENT)
		return pfail(c, line, parent, "mapping keys must be plain strings, got %s",
			    event_kind_name(ev->type));
	if (ev->data.scalar.length > KEY_MAX_LEN)
		return pfail(c, line, parent, "unknown key %s", QUOTE((const char *)ev->data.scalar.value));
	copy_str(top->key, sizeof(top->key), (const char *)ev->data.scalar.value);
	top->key_line = line;
	top->want_key = false;
	return 0;
}

/* A value node: a scalar, or the start of a mapping or sequence. */
static int index_node(struct load_ctx *c, struct frame *stack, size_t *depth, const yaml_event_t *ev)
{
	struct frame *top = *depth ? &stack[*depth - 1] : NULL;
	unsigned line = (unsigned)ev->start_mark.line + 1;
	char path[PATH_MAX_LEN] = "";
	unsigned key_line = line;
	int r;

	if (top && top->mapping && top->want_key)
		return index_key(c, top, ev);
	if (top) {
		const char *parent = c->idx.v[top->entry].path;

		if (top->mapping) {
			r = snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] ? "." : "", top->key);
			key_line = top->key_line;
			top->want_key = true;
		} else {
			r = snprintf(path, sizeof(path), "%s[%zu]", parent, top->next_item++);
		}
		if (r < 0 || (size_t)r >= sizeof(path))
			return pfail(c, line, parent, "keys nested too deeply");
	}
	if (ev->type == YAML_ALIAS_EVENT)
		return pfail(c, line, path, "YAML aliases are not supported");
	if (ev->type == YAML_SCALAR_EVENT && memchr(ev->data.scalar.value, 0, ev->data.scalar.length))
		return pfail(c, line, path, "NUL characters are not allowed");
	if (top && top->mapping && posindex_find(&c->idx, path))
		return pfail(c, key_line, path, "duplicate key (first given on line %u)",
			    posindex_find(&c->idx, path)->key_line);
	if (!top && ev->type != YAML_MAPPING_START_EVENT) {
		if (ev->type == YAML_SCALAR_EVENT && scalar_is_null(ev))
			return pfail(c, 0, "", "the profile is empty; expected a mapping of keys");
		return pfail(c, line, "", "expected a mapping of keys at the top level, got %s",
			    event_kind_name(ev->type));
	}
	r = index_add(c, path, key_line, ev);
	if (r < 0)
		return r;
	if (ev->type == YAML_SCALAR_EVENT)
		return 0;
	if (*depth >= INDEX_MAX_DEPTH)
		return pfail(c, line, path, "nested too deeply (more than %d levels)", INDEX_MAX_DEPTH);
	stack[(*depth)++] = (struct frame){
		.entry = c->idx.n - 1,
		.mapping = ev->type == YAML_MAPPING_START_EVENT,
		.want_key = true,
	};
	return 0;
}

static int index_event(struct load_ctx *c, struct frame *stack, size_t *depth, unsigned *docs,
		       const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return pfail(c, (unsigned)ev->start_mark.line + 1, "",
				    "only one YAML document is allowed");
		return 0;
	case YAML_SCALAR_EVENT:
	case YAML_ALIAS_EVENT:
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		return index_node(c, stack, depth, ev);
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		if (*depth > 0)
			(*depth)--;
		return 0;
	default:
		return 0;
	}
}

static unsigned line_at_offset(const char *data, size_t len, size_t off)
{
	unsigned line = 1;

	for (size_t i = 0; i < off && i < len; i++)
		line += data[i] == '\n';
	return line;
}

static int index_syntax_error(struct load_ctx *c, const yaml_parser_t *p, const char *data,
			      size_t len)
{
	unsigned line;

	if (p->error == YAML_MEMORY_ERROR)
		return pfail_errno(c, -ENOMEM);
	/* Reader errors (bad encoding, control characters) carry an offset, not a mark. */
	if (p->error == YAML_READER_ERROR)
		line = line_at_offset(data, len, p->problem_offset);
	else
		line = (unsigned)p->problem_mark.line + 1;
	/* libyaml's words for a tab ("found character that cannot start any token") teach
	 * nothing; the rule does. */
	if (hint_line_has_tab(data, len, line))
		return pfail(c, line, "", "invalid YAML: line %u has a tab; YAML indents with spaces "
			    "only (replace the tab with spaces)", line);
	if (p->context)
		return pfail(c, line, "", "invalid YAML: %s %s", p->problem ? p->problem : "error",
			    p->context);
	return pfail(c, line, "", "invalid YAML: %s", p->problem ? p->problem : "error");
}

/* Also rejects what the index could not describe faithfully: aliases, duplicate keys, depth. */
int posindex_build(struct load_ctx *c, const char *data, size_t len)
{
	struct frame stack[INDEX_MAX_DEPTH];
	yaml_parser_t parser;
	size_t depth = 0;
	unsigned docs = 0;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return pfail_errno(c, -ENOMEM);
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = index_syntax_error(c, &parser, data, len);
			break;
		}
		r = index_event(c, stack, &depth, &docs, &ev);
		done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r == 0 && c->idx.n == 0)
		r = pfail(c, 0, "", "the profile is empty; expected a mapping of keys");
	return r;
}
