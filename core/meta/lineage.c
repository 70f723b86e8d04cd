/*
 * meta/lineage.c - the lineage graph around an artifact, run, step or
 * model version (see lineage.h for the edges).
 *
 * Each direction is one recursive CTE whose recursive part is a compound
 * of indexed lookups, one per kind of node (SQLite >= 3.34 accepts
 * several recursive SELECTs).  A row carries the node found, its depth,
 * the node it was reached from and the edge label, so the CTE yields the
 * edges as well as the nodes.  UNION (not UNION ALL) drops repeated rows,
 * and the depth bound ends cycles (a step that writes what it read).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta/lineage.h"
#include "meta/registry_internal.h"
#include "storage/artifacts.h"
#include "util/error.h"

/* Node kinds as the SQL knows them: lineage.h's enum values. */
enum { T_ART = ORR_LINEAGE_ARTIFACT, T_STEP = ORR_LINEAGE_STEP,
       T_RUN = ORR_LINEAGE_RUN, T_MODEL = ORR_LINEAGE_MODEL };

static const char *const edge_labels[] = {
    "input", "output", "ran", "code", "model", "trained on",
    "registered from",
};
enum { L_INPUT, L_OUTPUT, L_RAN, L_CODE, L_MODEL, L_TRAINED, L_REGISTERED };

/* ?1 kind, ?2 id, ?3 depth bound.  Rows: kind, id, depth, from kind,
 * from id, label; found nodes are producers of their `from`. */
static const char up_sql[] =
    "WITH RECURSIVE w(t, id, d, ft, fid, l) AS ("
    " SELECT ?1, ?2, 0, NULL, NULL, NULL"
    " UNION SELECT 2, e.step_id, w.d + 1, w.t, w.id, 1 FROM w"
    "  JOIN events e ON e.artifact_id = w.id AND e.direction = 1"
    "  WHERE w.t = 1 AND w.d < ?3"
    " UNION SELECT 1, e.artifact_id, w.d + 1, w.t, w.id, 0 FROM w"
    "  JOIN events e ON e.step_id = w.id AND e.direction = 0"
    "  WHERE w.t = 2 AND w.d < ?3"
    " UNION SELECT 3, s.run_id, w.d + 1, w.t, w.id, 2 FROM w"
    "  JOIN steps s ON s.id = w.id WHERE w.t = 2 AND w.d < ?3"
    " UNION SELECT 1, a.id, w.d + 1, w.t, w.id, 3 FROM w"
    "  JOIN runs r ON r.id = w.id JOIN artifacts a ON a.digest = r.script_hash"
    "  WHERE w.t = 3 AND w.d < ?3"
    " UNION SELECT 1, v.artifact_id, w.d + 1, w.t, w.id, 4 FROM w"
    "  JOIN model_versions v ON v.id = w.id WHERE w.t = 4 AND w.d < ?3"
    " UNION SELECT 1, md.artifact_id, w.d + 1, w.t, w.id, 5 FROM w"
    "  JOIN model_version_datasets md ON md.version_id = w.id"
    "  WHERE w.t = 4 AND w.d < ?3"
    " UNION SELECT 3, v.run_id, w.d + 1, w.t, w.id, 6 FROM w"
    "  JOIN model_versions v ON v.id = w.id"
    "  WHERE w.t = 4 AND v.run_id IS NOT NULL AND w.d < ?3"
    ") SELECT t, id, d, ft, fid, l FROM w LIMIT ?4";

/* The same forwards: found nodes consume their `from`. */
static const char down_sql[] =
    "WITH RECURSIVE w(t, id, d, ft, fid, l) AS ("
    " SELECT ?1, ?2, 0, NULL, NULL, NULL"
    " UNION SELECT 2, e.step_id, w.d + 1, w.t, w.id, 0 FROM w"
    "  JOIN events e ON e.artifact_id = w.id AND e.direction = 0"
    "  WHERE w.t = 1 AND w.d < ?3"
    " UNION SELECT 3, r.id, w.d + 1, w.t, w.id, 3 FROM w"
    "  JOIN artifacts a ON a.id = w.id JOIN runs r ON r.script_hash = a.digest"
    "  WHERE w.t = 1 AND w.d < ?3"
    " UNION SELECT 4, v.id, w.d + 1, w.t, w.id, 4 FROM w"
    "  JOIN model_versions v ON v.artifact_id = w.id"
    "  WHERE w.t = 1 AND w.d < ?3"
    " UNION SELECT 4, md.version_id, w.d + 1, w.t, w.id, 5 FROM w"
    "  JOIN model_version_datasets md ON md.artifact_id = w.id"
    "  WHERE w.t = 1 AND w.d < ?3"
    " UNION SELECT 1, e.artifact_id, w.d + 1, w.t, w.id, 1 FROM w"
    "  JOIN events e ON e.step_id = w.id AND e.direction = 1"
    "  WHERE w.t = 2 AND w.d < ?3"
    " UNION SELECT 2, s.id, w.d + 1, w.t, w.id, 2 FROM w"
    "  JOIN steps s ON s.run_id = w.id WHERE w.t = 3 AND w.d < ?3"
    " UNION SELECT 4, v.id, w.d + 1, w.t, w.id, 6 FROM w"
    "  JOIN model_versions v ON v.run_id = w.id WHERE w.t = 3 AND w.d < ?3"
    ") SELECT t, id, d, ft, fid, l FROM w LIMIT ?4";

ORR_API const char *orr_lineage_kind_name(enum orr_lineage_kind k)
{
    switch (k) {
    case ORR_LINEAGE_ARTIFACT: return "artifact";
    case ORR_LINEAGE_STEP:     return "step";
    case ORR_LINEAGE_RUN:      return "run";
    case ORR_LINEAGE_MODEL:    return "model";
    }
    return "?";
}

/* ---- the graph being built ------------------------------------------- */

struct builder {
    struct orr_lineage_graph *g;
    int64_t  *rowid;            /* per node: its row id                    */
    size_t    cap_nodes, cap_edges;
    uint32_t *slots;            /* open addressing: node index + 1         */
    size_t    n_slots;
    uint32_t *eslots;           /* the same for edges: edge index + 1      */
    size_t    n_eslots;
};

static uint64_t key_of(int t, int64_t id)
{
    return (uint64_t)id * 0x9E3779B97F4A7C15u ^ (uint64_t)t;
}

static int grow_slots(struct builder *b)
{
    size_t n = b->n_slots ? b->n_slots * 2 : 256;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return ORR_ENOMEM;
    for (size_t i = 0; i < b->g->n_nodes; i++) {
        size_t j = key_of((int)b->g->nodes[i].kind, b->rowid[i]) & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(b->slots);
    b->slots = s;
    b->n_slots = n;
    return ORR_OK;
}

/* Index of node (t, id), added when new. */
static int node_at(struct builder *b, int t, int64_t id, int depth, int dir,
                   size_t *idx)
{
    struct orr_lineage_graph *g = b->g;
    if ((g->n_nodes + 1) * 2 > b->n_slots && grow_slots(b))
        return ORR_ENOMEM;
    size_t j = key_of(t, id) & (b->n_slots - 1);
    while (b->slots[j]) {
        size_t i = b->slots[j] - 1;
        if ((int)g->nodes[i].kind == t && b->rowid[i] == id) {
            struct orr_lineage_node *n = &g->nodes[i];
            if (depth < n->depth)
                n->depth = depth;
            n->dir |= dir;
            *idx = i;
            return ORR_OK;
        }
        j = (j + 1) & (b->n_slots - 1);
    }
    if (g->n_nodes == b->cap_nodes) {
        size_t cap = b->cap_nodes ? b->cap_nodes * 2 : 64;
        void *p = realloc(g->nodes, cap * sizeof *g->nodes);
        if (!p)
            return ORR_ENOMEM;
        g->nodes = p;
        p = realloc(b->rowid, cap * sizeof *b->rowid);
        if (!p)
            return ORR_ENOMEM;
        b->rowid = p;
        b->cap_nodes = cap;
    }
    size_t i = g->n_nodes++;
    memset(&g->nodes[i], 0, sizeof g->nodes[i]);
    g->nodes[i].kind = (enum orr_lineage_kind)t;
    g->nodes[i].depth = depth;
    g->nodes[i].dir = dir;
    b->rowid[i] = id;
    b->slots[j] = (uint32_t)i + 1;
    *idx = i;
    return ORR_OK;
}

static uint64_t edge_key(size_t from, size_t to, const char *label)
{
    return ((uint64_t)from * 0x9E3779B97F4A7C15u) ^
           ((uint64_t)to * 0xC2B2AE3D27D4EB4Fu) ^ (uint64_t)(uintptr_t)label;
}

static int grow_eslots(struct builder *b)
{
    size_t n = b->n_eslots ? b->n_eslots * 2 : 256;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return ORR_ENOMEM;
    for (size_t i = 0; i < b->g->n_edges; i++) {
        const struct orr_lineage_edge *ed = &b->g->edges[i];
        size_t j = edge_key(ed->from, ed->to, ed->label) & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)i + 1;
    }
    free(b->eslots);
    b->eslots = s;
    b->n_eslots = n;
    return ORR_OK;
}

/* The walks report an edge once per depth it is reached at: keep one. */
static int add_edge(struct builder *b, size_t from, size_t to, int label)
{
    struct orr_lineage_graph *g = b->g;
    const char *l = edge_labels[label];
    if ((g->n_edges + 1) * 2 > b->n_eslots && grow_eslots(b))
        return ORR_ENOMEM;
    size_t j = edge_key(from, to, l) & (b->n_eslots - 1);
    while (b->eslots[j]) {
        const struct orr_lineage_edge *ed = &g->edges[b->eslots[j] - 1];
        if (ed->from == from && ed->to == to && ed->label == l)
            return ORR_OK;
        j = (j + 1) & (b->n_eslots - 1);
    }
    if (g->n_edges == b->cap_edges) {
        size_t cap = b->cap_edges ? b->cap_edges * 2 : 64;
        void *p = realloc(g->edges, cap * sizeof *g->edges);
        if (!p)
            return ORR_ENOMEM;
        g->edges = p;
        b->cap_edges = cap;
    }
    g->edges[g->n_edges++] = (struct orr_lineage_edge){from, to, l};
    b->eslots[j] = (uint32_t)g->n_edges;
    return ORR_OK;
}

static int walk(struct orr_meta *m, struct builder *b, int up, int t,
                int64_t id, int depth, struct orr_error *e)
{
    sqlite3_stmt *st = NULL;
    int rc = orri_reg_prep(m, up ? up_sql : down_sql, &st, e);
    if (rc)
        return rc;
    sqlite3_bind_int(st, 1, t);
    sqlite3_bind_int64(st, 2, id);
    sqlite3_bind_int(st, 3, depth);
    /* Rows repeat nodes (one per edge); allow for that beyond the cap. */
    sqlite3_bind_int64(st, 4, (int64_t)ORR_LINEAGE_NODES_MAX * 4);
    int dir = up ? ORR_LINEAGE_UP : ORR_LINEAGE_DOWN;
    for (;;) {
        int row = 0;
        rc = orri_reg_step(m, st, &row, "querying lineage", e);
        if (rc || !row)
            break;
        int nt = sqlite3_column_int(st, 0);
        int64_t nid = sqlite3_column_int64(st, 1);
        int d = sqlite3_column_int(st, 2);
        size_t to = 0, from = 0;
        if (node_at(b, nt, nid, d, d ? dir : 0, &to)) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            break;
        }
        if (b->g->n_nodes > ORR_LINEAGE_NODES_MAX) {
            rc = orr_fail(e, ORR_EINVAL, "the lineage graph has more than "
                          "%d nodes: ask for less with --depth",
                          ORR_LINEAGE_NODES_MAX);
            break;
        }
        if (sqlite3_column_type(st, 3) == SQLITE_NULL)
            continue;
        if (node_at(b, sqlite3_column_int(st, 3),
                    sqlite3_column_int64(st, 4), d - 1, 0, &from) ||
            (up ? add_edge(b, to, from, sqlite3_column_int(st, 5))
                : add_edge(b, from, to, sqlite3_column_int(st, 5)))) {
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
            break;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- node details ------------------------------------------------------ */

static char *dup_col(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? strdup((const char *)t) : NULL;
}

static const char *const detail_sql[] = {
    [T_ART] = "SELECT digest, kind, name, size FROM artifacts WHERE id = ?1",
    [T_STEP] = "SELECT r.uuid, s.status, s.name, r.workflow, s.start_ms"
               " FROM steps s JOIN runs r ON r.id = s.run_id"
               " WHERE s.id = ?1",
    [T_RUN] = "SELECT uuid, status, workflow, (SELECT json_group_object(key,"
              " value) FROM (SELECT key, value FROM run_params"
              " WHERE run_id = ?1 ORDER BY key)), start_ms FROM runs"
              " WHERE id = ?1",
    [T_MODEL] = "SELECT rm.name, v.flavor, v.version, v.created_ms"
                " FROM model_versions v JOIN registered_models rm"
                " ON rm.id = v.model_id WHERE v.id = ?1",
};

static int fill_node(struct orr_lineage_node *n, int64_t rowid,
                     sqlite3_stmt *st)
{
    char buf[ORR_MODEL_NAME_MAX + 64];
    switch (n->kind) {
    case ORR_LINEAGE_ARTIFACT:
        n->ref = dup_col(st, 0);
        n->detail = dup_col(st, 1);
        n->name = dup_col(st, 2);
        n->size = (uint64_t)sqlite3_column_int64(st, 3);
        snprintf(buf, sizeof buf, "artifact:%s", n->ref ? n->ref : "?");
        break;
    case ORR_LINEAGE_STEP:
        n->ref = dup_col(st, 0);
        n->detail = dup_col(st, 1);
        n->name = dup_col(st, 2);
        n->extra = dup_col(st, 3);
        n->time_ms = sqlite3_column_int64(st, 4);
        snprintf(buf, sizeof buf, "step:%lld", (long long)rowid);
        break;
    case ORR_LINEAGE_RUN:
        n->ref = dup_col(st, 0);
        n->detail = dup_col(st, 1);
        n->name = dup_col(st, 2);
        n->extra = dup_col(st, 3);
        n->time_ms = sqlite3_column_int64(st, 4);
        snprintf(buf, sizeof buf, "run:%s", n->ref ? n->ref : "?");
        break;
    case ORR_LINEAGE_MODEL:
        n->name = dup_col(st, 0);
        n->detail = dup_col(st, 1);
        n->version = sqlite3_column_int64(st, 2);
        n->time_ms = sqlite3_column_int64(st, 3);
        snprintf(buf, sizeof buf, "model:%s/%lld", n->name ? n->name : "?",
                 (long long)n->version);
        break;
    }
    n->id = strdup(buf);
    return n->id ? ORR_OK : ORR_ENOMEM;
}

static int details(struct orr_meta *m, struct builder *b,
                   struct orr_error *e)
{
    sqlite3_stmt *st[T_MODEL + 1] = {0};
    int rc = ORR_OK;
    for (int t = T_ART; !rc && t <= T_MODEL; t++)
        rc = orri_reg_prep(m, detail_sql[t], &st[t], e);
    for (size_t i = 0; !rc && i < b->g->n_nodes; i++) {
        struct orr_lineage_node *n = &b->g->nodes[i];
        sqlite3_stmt *s = st[n->kind];
        int row = 0;
        sqlite3_bind_int64(s, 1, b->rowid[i]);
        rc = orri_reg_step(m, s, &row, "reading lineage details", e);
        if (!rc && !row)
            rc = orr_fail(e, ORR_ENOTFOUND, "%s %lld vanished",
                          orr_lineage_kind_name(n->kind),
                          (long long)b->rowid[i]);
        if (!rc && fill_node(n, b->rowid[i], s))
            rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        sqlite3_reset(s);
    }
    for (int t = T_ART; t <= T_MODEL; t++)
        sqlite3_finalize(st[t]);
    return rc;
}

/* ---- the root ---------------------------------------------------------- */

static int is_hex(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int resolve_root(struct orr_meta *m, const char *x, int *t,
                        int64_t *id, struct orr_error *e)
{
    if (!x || !*x)
        return orr_fail(e, ORR_EINVAL, "lineage of what? (an artifact "
                        "digest, a run id or a model URI)");
    if (!strncmp(x, "artifact:", 9)) {
        *t = T_ART;
        return orri_reg_find_artifact(m, x + 9, id, NULL, e);
    }
    if (!strncmp(x, "run:", 4)) {
        *t = T_RUN;
        return orri_reg_find_run(m, x + 4, id, NULL, e);
    }
    if (!strncmp(x, "step:", 5)) {
        char *end = NULL;
        long long n = strtoll(x + 5, &end, 10);
        int row = 0;
        *t = T_STEP;
        if (!x[5] || *end || n <= 0)
            return orr_fail(e, ORR_EINVAL, "'%.40s' is not step:NUMBER", x);
        sqlite3_stmt *st = NULL;
        int rc = orri_reg_prep(m, "SELECT id FROM steps WHERE id = ?1", &st,
                               e);
        if (!rc) {
            sqlite3_bind_int64(st, 1, n);
            rc = orri_reg_step(m, st, &row, "looking up a step", e);
        }
        sqlite3_finalize(st);
        if (!rc && !row)
            rc = orr_fail(e, ORR_ENOTFOUND, "no step %lld", n);
        *id = n;
        return rc;
    }
    if (orri_reg_is_uri(x)) {
        *t = T_MODEL;
        return orri_reg_resolve(m, x, id, NULL, e);
    }
    if (is_hex(x) && strlen(x) >= 4) {
        struct orr_error ea = {0}, er = {0};
        int64_t ia = 0, ir = 0;
        int ra = orri_reg_find_artifact(m, x, &ia, NULL, &ea);
        int rr = strlen(x) < ORR_RUN_ID_SIZE
                     ? orri_reg_find_run(m, x, &ir, NULL, &er)
                     : ORR_ENOTFOUND;
        if (!ra && !rr)
            return orr_fail(e, ORR_EINVAL, "'%s' matches both an artifact "
                            "and a run: write artifact:%s or run:%s", x, x,
                            x);
        if (!ra || !rr) {
            *t = ra ? T_RUN : T_ART;
            *id = ra ? ir : ia;
            return ORR_OK;
        }
        if (ra != ORR_ENOTFOUND) {
            *e = ea;
            return ra;
        }
        if (rr != ORR_ENOTFOUND) {
            *e = er;
            return rr;
        }
        return orr_fail(e, ORR_ENOTFOUND, "no artifact or run matches '%s'",
                        x);
    }
    if (!orr_registry_check_name(x, NULL)) {
        /* A bare model name: its latest version. */
        *t = T_MODEL;
        struct orr_error em = {0};
        int rc = orri_reg_resolve(m, x, id, NULL, &em);
        if (rc != ORR_ENOTFOUND || strncmp(em.msg, "no model", 8)) {
            *e = em;
            return rc;
        }
    }
    return orr_fail(e, ORR_ENOTFOUND, "no artifact, run or model matches "
                    "'%.80s' (give a digest or prefix, a run id, or "
                    "models:/NAME[/VERSION|@ALIAS])", x);
}

ORR_API void orr_lineage_free(struct orr_lineage_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_nodes; i++) {
        struct orr_lineage_node *n = &g->nodes[i];
        free(n->id);
        free(n->name);
        free(n->detail);
        free(n->ref);
        free(n->extra);
    }
    free(g->nodes);
    free(g->edges);
    free(g);
}

ORR_API int orr_lineage_query(struct orr_meta *m, const char *target,
                              int dirs, int depth,
                              struct orr_lineage_graph **out,
                              struct orr_error *e)
{
    *out = NULL;
    if (depth == 0)
        depth = ORR_LINEAGE_DEPTH_DEFAULT;
    if (depth < 0 || depth > ORR_LINEAGE_DEPTH_MAX)
        return orr_fail(e, ORR_EINVAL, "depth %d: give 1 to %d", depth,
                        ORR_LINEAGE_DEPTH_MAX);
    if (!(dirs & (ORR_LINEAGE_UP | ORR_LINEAGE_DOWN)))
        dirs = ORR_LINEAGE_UP | ORR_LINEAGE_DOWN;
    struct builder b = {0};
    b.g = calloc(1, sizeof *b.g);
    if (!b.g)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    int t = 0;
    int64_t id = 0;
    pthread_mutex_lock(&m->lock);
    /* One read transaction: both walks and the details see one state. */
    int rc = sqlite3_exec(m->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK
             ? ORR_OK
             : orri_meta_sqlfail(m, sqlite3_errcode(m->db), e,
                                 "starting a read");
    if (!rc)
        rc = resolve_root(m, target, &t, &id, e);
    size_t root = 0;
    if (!rc && node_at(&b, t, id, 0, 0, &root))
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
    if (!rc && (dirs & ORR_LINEAGE_UP))
        rc = walk(m, &b, 1, t, id, depth, e);
    if (!rc && (dirs & ORR_LINEAGE_DOWN))
        rc = walk(m, &b, 0, t, id, depth, e);
    if (!rc)
        rc = details(m, &b, e);
    orri_meta_rollback(m);
    pthread_mutex_unlock(&m->lock);
    free(b.slots);
    free(b.eslots);
    free(b.rowid);
    if (rc) {
        orr_lineage_free(b.g);
        return rc;
    }
    b.g->root = root;
    *out = b.g;
    return ORR_OK;
}
