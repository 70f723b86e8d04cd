/*
 * config/cfg.h - the configuration tree (struct orr_cfg).
 *
 * The site file, its embedded defaults, and parameters all become trees of
 * these nodes, plain C memory with no Lua in it, so they outlive the
 * sandbox that evaluated the file and can be handed to plugins through the
 * host table (host->cfg_str etc. are these functions).
 *
 * A table's children are kept sorted by key (array items get keys "1",
 * "2", ... and sort numerically) so lookups are binary searches and output
 * is stable.  Each node records where its value came from (`origin`:
 * "orrery.site.lua:12", "default", "--param") and whether it is a secret
 * (masked by `orrery config show`).
 */
#ifndef ORRI_CONFIG_CFG_H
#define ORRI_CONFIG_CFG_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/host.h>
#include <orrery/status.h>

#include "api.h"

enum orr_cfg_type {
    ORR_CFG_STRING = 0,
    ORR_CFG_NUMBER,     /* double                                           */
    ORR_CFG_INTEGER,    /* int64_t                                          */
    ORR_CFG_BOOLEAN,
    ORR_CFG_TABLE
};

struct orr_cfg {
    enum orr_cfg_type type;
    char    *key;       /* within the parent; NULL for a root               */
    char    *origin;    /* where the value was set, or NULL                 */
    int      secret;    /* 1: mask when shown                                */
    union {
        char   *str;
        double  num;
        int64_t integer;
        int     boolean;
    } v;
    struct orr_cfg **items;  /* ORR_CFG_TABLE: children sorted by key       */
    size_t           n_items;
    size_t           cap_items;
    int              is_array; /* every key is 1..n (a Lua sequence)        */
};

/* Constructors return NULL on ENOMEM.  `key` and `origin` are copied. */
ORR_API struct orr_cfg *orr_cfg_new_table(void);
ORR_API void orr_cfg_free(struct orr_cfg *c);           /* NULL ok; deep */

/* Set `key` in table `t`, replacing any existing child of that key.
 * Return the new node, or NULL on ENOMEM or if `t` is not a table. */
ORR_API struct orr_cfg *orr_cfg_set_str(struct orr_cfg *t, const char *key,
                                        const char *value,
                                        const char *origin);
ORR_API struct orr_cfg *orr_cfg_set_num(struct orr_cfg *t, const char *key,
                                        double value, const char *origin);
ORR_API struct orr_cfg *orr_cfg_set_int(struct orr_cfg *t, const char *key,
                                        int64_t value, const char *origin);
ORR_API struct orr_cfg *orr_cfg_set_bool(struct orr_cfg *t, const char *key,
                                         int value, const char *origin);
/* Returns the existing child table of that key, or a new empty one. */
ORR_API struct orr_cfg *orr_cfg_set_table(struct orr_cfg *t, const char *key,
                                          const char *origin);

/* Deep-copy `src`'s children into `dst` (a table), overriding same keys;
 * tables merge recursively.  For defaults + site file. */
ORR_API int orr_cfg_merge(struct orr_cfg *dst, const struct orr_cfg *src);

/* Look up a child by key, or a path of keys separated by '.'
 * ("storage.root").  NULL if absent or `t` is NULL / not a table. */
ORR_API const struct orr_cfg *orr_cfg_get(const struct orr_cfg *t,
                                          const char *path);

/* Typed access with defaults: the host table's cfg_* members.  Numbers
 * convert between integer and double; anything else of the wrong type
 * counts as absent. */
ORR_API const char *orr_cfg_str(const struct orr_cfg *t, const char *path,
                                const char *def);
ORR_API double orr_cfg_num(const struct orr_cfg *t, const char *path,
                           double def);
ORR_API int64_t orr_cfg_int(const struct orr_cfg *t, const char *path,
                            int64_t def);
ORR_API int orr_cfg_bool(const struct orr_cfg *t, const char *path, int def);
ORR_API const struct orr_cfg *orr_cfg_child(const struct orr_cfg *t,
                                            const char *path);
ORR_API int orr_cfg_each(const struct orr_cfg *t, orr_cfg_fn fn, void *ctx);

/* Write a scalar's value as text into `out` (numbers in shortest
 * round-trip form).  Returns `out`, or NULL for tables. */
ORR_API const char *orr_cfg_scalar_text(const struct orr_cfg *c, char *out,
                                        size_t cap);

#endif
