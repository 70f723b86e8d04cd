/*
 * native.c - the native XGBoost tree evaluator (see native.h).
 *
 * Layout: all trees' nodes in one array.  A node is 12 bytes: its split
 * condition (or, for a leaf, its value) as float, the feature index with
 * the default direction and a leaf mark in the top bits, and the index of
 * its left child relative to the tree's first node; the right child
 * follows the left one, because each tree is renumbered breadth-first
 * from its root.  A leaf's "left child" is itself and its step is masked
 * to 0, so a walk of exactly the tree's depth steps ends on the leaf for
 * every row: no branch depends on the data, and a block of rows walks
 * each tree in lockstep, their independent load chains overlapping in the
 * CPU instead of stalling one after another.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "native.h"

#define DEFAULT_LEFT  0x80000000u
#define LEAF          0x40000000u
#define FEATURE_MASK  0x3fffffffu
#define MAX_DEPTH     4096          /* deeper walks mean a broken model */

struct xgbn_node {
    float    value;     /* split condition, or the leaf value            */
    uint32_t feat;      /* feature | DEFAULT_LEFT, or LEAF               */
    uint32_t left;      /* left child (tree-relative); a leaf: itself    */
};

/* multi:softmax keeps its margins: XGBoost would output the arg-max (one
 * value per row), the runtime serves the softmax of the margins. */
enum transform { T_NONE, T_SIGMOID, T_EXP, T_SOFTPROB, T_MARGINS };

struct xgbn_model {
    struct xgbn_node *nodes;
    uint32_t         *root;         /* first node of each tree            */
    uint32_t         *group;        /* output group of each tree          */
    uint32_t         *depth;        /* steps from the root to its leaves  */
    size_t            n_trees, n_nodes, n_features, n_groups;
    float            *linear;       /* gblinear: features x groups, bias  */
    float             base_margin;
    enum transform    transform;
    char              objective[64];
};

/* The objectives whose prediction the evaluator reproduces exactly:
 * how base_score becomes the base margin, and the output transform. */
enum margin { M_IDENTITY, M_LOGIT, M_LOG };

static const struct {
    const char    *name;
    enum margin    margin;
    enum transform transform;
} OBJECTIVES[] = {
    {"binary:logistic",      M_LOGIT,    T_SIGMOID},
    {"reg:logistic",         M_LOGIT,    T_SIGMOID},
    {"binary:logitraw",      M_IDENTITY, T_NONE},
    {"reg:squarederror",     M_IDENTITY, T_NONE},
    {"reg:squaredlogerror",  M_IDENTITY, T_NONE},
    {"reg:pseudohubererror", M_IDENTITY, T_NONE},
    {"reg:absoluteerror",    M_IDENTITY, T_NONE},
    {"count:poisson",        M_LOG,      T_EXP},
    {"reg:gamma",            M_LOG,      T_EXP},
    {"reg:tweedie",          M_LOG,      T_EXP},
    {"multi:softprob",       M_IDENTITY, T_SOFTPROB},
    {"multi:softmax",        M_IDENTITY, T_MARGINS},
};

/* Fill `why` with `msg` and `arg` (may be NULL) appended. */
static int say(char *why, size_t cap, int code, const char *msg,
               const char *arg)
{
    snprintf(why, cap, "%s%s", msg, arg ? arg : "");
    return code;
}

/* A string member holding a number, as XGBoost writes its params. */
static int num_param(json_t *obj, const char *key, double *out)
{
    const char *s = json_string_value(json_object_get(obj, key));
    if (!s) {
        json_t *v = json_object_get(obj, key);
        if (!json_is_number(v))
            return -1;
        *out = json_number_value(v);
        return 0;
    }
    char *end;
    *out = strtod(s, &end);
    return end == s || *end ? -1 : 0;
}

/* The float XGBoost read from the decimal text that jansson read as the
 * double d.  Rounding decimal -> double -> float equals rounding decimal
 * -> float unless d sits exactly half-way between two floats (then the
 * text's side of the midpoint is lost): refuse that case. */
static int to_float(double d, float *out)
{
    float f = (float)d;
    double back = f;
    if (back != d && isfinite(f)) {
        float g = nextafterf(f, d > back ? INFINITY : -INFINITY);
        if (isfinite(g) && ((double)f + (double)g) / 2 == d)
            return -1;
    }
    *out = f;
    return 0;
}

/* Load one tree's arrays, renumbered breadth-first into m->nodes. */
static int load_tree(struct xgbn_model *m, json_t *t, size_t n_feat,
                     size_t *fill, char *why, size_t cap)
{
    json_t *left = json_object_get(t, "left_children");
    json_t *right = json_object_get(t, "right_children");
    json_t *cond = json_object_get(t, "split_conditions");
    json_t *index = json_object_get(t, "split_indices");
    json_t *dleft = json_object_get(t, "default_left");
    json_t *stype = json_object_get(t, "split_type");
    json_t *cats = json_object_get(t, "categories_nodes");
    json_t *tp = json_object_get(t, "tree_param");
    size_t n = json_array_size(left);
    double leaf_vec = 0;
    if (!n || json_array_size(right) != n || json_array_size(cond) != n ||
        json_array_size(index) != n || json_array_size(dleft) != n)
        return say(why, cap, XGBN_EBADMODEL, "a tree's node arrays are "
                   "missing or of different lengths", NULL);
    if (json_array_size(cats) ||
        (tp && !num_param(tp, "size_leaf_vector", &leaf_vec) && leaf_vec))
        return say(why, cap, XGBN_UNSUPPORTED, "categorical splits or "
                   "vector leaves", NULL);
    for (size_t i = 0; i < json_array_size(stype); i++)
        if (json_integer_value(json_array_get(stype, i)))
            return say(why, cap, XGBN_UNSUPPORTED, "categorical splits",
                       NULL);
    /* order[k] = original id of the k-th node breadth-first. */
    uint32_t *order = malloc(n * sizeof *order);
    uint32_t *depth = calloc(n, sizeof *depth);
    uint8_t *seen = calloc(n, 1);
    int rc = XGBN_OK;
    if (!order || !depth || !seen) {
        rc = say(why, cap, XGBN_ENOMEM, "out of memory", NULL);
        goto done;
    }
    size_t head = 0, tail = 0, base = *fill;
    order[tail++] = 0;
    seen[0] = 1;
    while (head < tail) {
        uint32_t id = order[head];
        struct xgbn_node *out = &m->nodes[base + head];
        head++;
        json_int_t l = json_integer_value(json_array_get(left, id));
        json_int_t r = json_integer_value(json_array_get(right, id));
        json_t *cj = json_array_get(cond, id);
        if (!json_is_number(cj)) {
            rc = say(why, cap, XGBN_UNSUPPORTED, "a NaN split value or "
                     "leaf", NULL);
            goto done;
        }
        if (to_float(json_number_value(cj), &out->value)) {
            rc = say(why, cap, XGBN_UNSUPPORTED, "a split value at a "
                     "float rounding midpoint", NULL);
            goto done;
        }
        if (l == -1) {
            out->feat = LEAF;
            out->left = (uint32_t)(head - 1);
            if (depth[id] > m->depth[m->n_trees])
                m->depth[m->n_trees] = depth[id];
            continue;
        }
        json_int_t f = json_integer_value(json_array_get(index, id));
        json_t *dl = json_array_get(dleft, id);
        if (l <= 0 || r <= 0 || (size_t)l >= n || (size_t)r >= n ||
            seen[l] || seen[r] || l == r || f < 0 || (size_t)f >= n_feat ||
            (size_t)f > FEATURE_MASK ||
            depth[id] + 1 >= MAX_DEPTH) {
            rc = say(why, cap, XGBN_EBADMODEL, "a tree is not a tree "
                     "(bad child or feature index)", NULL);
            goto done;
        }
        seen[l] = seen[r] = 1;
        depth[l] = depth[r] = depth[id] + 1;
        out->feat = (uint32_t)f |
                    (json_is_true(dl) || json_integer_value(dl) ?
                     DEFAULT_LEFT : 0);
        out->left = (uint32_t)tail;
        order[tail++] = (uint32_t)l;
        order[tail++] = (uint32_t)r;
    }
    *fill = base + tail;
done:
    free(order);
    free(depth);
    free(seen);
    return rc;
}

static int load_gbtree(struct xgbn_model *m, json_t *model, char *why,
                       size_t cap)
{
    json_t *trees = json_object_get(model, "trees");
    json_t *info = json_object_get(model, "tree_info");
    size_t nt = json_array_size(trees);
    if (!json_is_array(trees) || json_array_size(info) != nt)
        return say(why, cap, XGBN_EBADMODEL, "no trees or tree_info",
                   NULL);
    size_t total = 0;
    for (size_t t = 0; t < nt; t++) {
        size_t k = json_array_size(json_object_get(json_array_get(trees, t),
                                                   "left_children"));
        if (k > UINT32_MAX / 2 || total > UINT32_MAX / 2)
            return say(why, cap, XGBN_UNSUPPORTED, "too many nodes",
                       NULL);
        total += k;
    }
    m->root = malloc((nt ? nt : 1) * sizeof *m->root);
    m->group = malloc((nt ? nt : 1) * sizeof *m->group);
    m->depth = calloc(nt ? nt : 1, sizeof *m->depth);
    m->nodes = malloc((total ? total : 1) * sizeof *m->nodes);
    if (!m->root || !m->group || !m->depth || !m->nodes)
        return say(why, cap, XGBN_ENOMEM, "out of memory", NULL);
    size_t fill = 0;
    for (size_t t = 0; t < nt; t++) {
        json_int_t g = json_integer_value(json_array_get(info, t));
        if (g < 0 || (size_t)g >= m->n_groups)
            return say(why, cap, XGBN_EBADMODEL, "tree_info names a group "
                       "out of range", NULL);
        m->group[t] = (uint32_t)g;
        m->root[t] = (uint32_t)fill;
        int rc = load_tree(m, json_array_get(trees, t), m->n_features,
                           &fill, why, cap);
        if (rc)
            return rc;
        m->n_trees++;               /* load_tree sets depth[n_trees] */
    }
    m->n_nodes = fill;
    return XGBN_OK;
}

/* gblinear: weights[feature * groups + g], then the groups' biases. */
static int load_gblinear(struct xgbn_model *m, json_t *model, char *why,
                         size_t cap)
{
    json_t *w = json_object_get(model, "weights");
    size_t n = (m->n_features + 1) * m->n_groups;
    if (json_array_size(w) != n)
        return say(why, cap, XGBN_EBADMODEL, "gblinear weights: wrong "
                   "count", NULL);
    if (!(m->linear = malloc(n * sizeof *m->linear)))
        return say(why, cap, XGBN_ENOMEM, "out of memory", NULL);
    for (size_t i = 0; i < n; i++)
        if (to_float(json_number_value(json_array_get(w, i)),
                     &m->linear[i]))
            return say(why, cap, XGBN_UNSUPPORTED, "a weight at a float "
                       "rounding midpoint", NULL);
    return XGBN_OK;
}

static int load_json(struct xgbn_model *m, json_t *root, char *why,
                     size_t cap)
{
    json_t *learner = json_object_get(root, "learner");
    json_t *gb = json_object_get(learner, "gradient_booster");
    json_t *mp = json_object_get(learner, "learner_model_param");
    const char *booster = json_string_value(json_object_get(gb, "name"));
    const char *obj = json_string_value(
        json_object_get(json_object_get(learner, "objective"), "name"));
    if (!learner || !booster || !obj || !mp)
        return say(why, cap, XGBN_EBADMODEL, "not an XGBoost JSON model",
                   NULL);
    int linear = !strcmp(booster, "gblinear");
    if (strcmp(booster, "gbtree") && !linear)
        return say(why, cap, XGBN_UNSUPPORTED, "booster ", booster);
    snprintf(m->objective, sizeof m->objective, "%s", obj);
    size_t o = 0, n_obj = sizeof OBJECTIVES / sizeof *OBJECTIVES;
    while (o < n_obj && strcmp(OBJECTIVES[o].name, obj))
        o++;
    if (o == n_obj)
        return say(why, cap, XGBN_UNSUPPORTED, "objective ", obj);
    double base = 0, n_class = 0, n_feat = 0, n_target = 1;
    if (num_param(mp, "base_score", &base) ||
        num_param(mp, "num_feature", &n_feat) ||
        num_param(mp, "num_class", &n_class) || n_feat < 1 ||
        n_feat > 1e8 || n_class < 0 || n_class > 1e6)
        return say(why, cap, XGBN_EBADMODEL, "bad learner_model_param",
                   NULL);
    if (!num_param(mp, "num_target", &n_target) && n_target != 1)
        return say(why, cap, XGBN_UNSUPPORTED, "several targets", NULL);
    m->n_features = (size_t)n_feat;
    m->transform = OBJECTIVES[o].transform;
    int multi = m->transform == T_SOFTPROB || m->transform == T_MARGINS;
    m->n_groups = multi ? (size_t)n_class : 1;
    if (!m->n_groups || (multi && n_class < 2))
        return say(why, cap, XGBN_EBADMODEL, "bad num_class", NULL);
    /* XGBoost parses base_score as float and maps it in float. */
    const char *bs = json_string_value(json_object_get(mp, "base_score"));
    float b = bs ? strtof(bs, NULL) : (float)base;
    switch (OBJECTIVES[o].margin) {
    case M_IDENTITY: m->base_margin = b; break;
    case M_LOGIT:
        if (!(b > 0.0f && b < 1.0f))
            return say(why, cap, XGBN_EBADMODEL, "base_score out of (0, 1)"
                       "", NULL);
        m->base_margin = -logf(1.0f / b - 1.0f);
        break;
    case M_LOG: m->base_margin = logf(b); break;
    }
    if (linear)
        return load_gblinear(m, json_object_get(gb, "model"), why, cap);
    return load_gbtree(m, json_object_get(gb, "model"), why, cap);
}

/* The file's text with each bare NaN (XGBoost writes it, JSON has no such
 * token) turned into "[] ": a non-number the loader then refuses where it
 * matters (a split value or leaf) and ignores elsewhere (loss_changes). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    long n = -1;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
        !fseek(f, 0, SEEK_SET) && (s = malloc((size_t)n + 1)) &&
        fread(s, 1, (size_t)n, f) == (size_t)n) {
        s[n] = '\0';
        int in_str = 0;
        for (long i = 0; i < n; i++) {
            if (in_str) {
                if (s[i] == '\\' && i + 1 < n)
                    i++;
                else if (s[i] == '"')
                    in_str = 0;
            } else if (s[i] == '"') {
                in_str = 1;
            } else if (s[i] == 'N' && i + 2 < n && s[i + 1] == 'a' &&
                       s[i + 2] == 'N') {
                memcpy(s + i, "[] ", 3);
            }
        }
    } else {
        free(s);
        s = NULL;
    }
    fclose(f);
    return s;
}

int xgbn_load(const char *path, struct xgbn_model **out, char *why,
              size_t cap)
{
    *out = NULL;
    json_error_t je;
    json_t *root = NULL;
    char *text = read_text(path);
    if (text)
        root = json_loads(text, 0, &je);
    else
        snprintf(je.text, sizeof je.text, "cannot read the file");
    free(text);
    if (!root) {
        snprintf(why, cap, "%s (line %d)", je.text, je.line);
        return XGBN_EBADMODEL;
    }
    struct xgbn_model *m = calloc(1, sizeof *m);
    int rc = m ? load_json(m, root, why, cap) :
                 say(why, cap, XGBN_ENOMEM, "out of memory", NULL);
    json_decref(root);
    if (rc) {
        xgbn_free(m);
        return rc;
    }
    *out = m;
    return XGBN_OK;
}

void xgbn_free(struct xgbn_model *m)
{
    if (!m)
        return;
    free(m->nodes);
    free(m->root);
    free(m->group);
    free(m->depth);
    free(m->linear);
    free(m);
}

size_t xgbn_features(const struct xgbn_model *m) { return m->n_features; }
size_t xgbn_groups(const struct xgbn_model *m) { return m->n_groups; }
size_t xgbn_trees(const struct xgbn_model *m) { return m->n_trees; }
const char *xgbn_objective(const struct xgbn_model *m)
{
    return m->objective;
}

/* Walks in lockstep: up to LANES (tree, row) pairs at once. */
#define LANES 16

/* One step down in each of `nt` trees for each of nb rows: the right
 * child iff the feature is present and not below the split (in float),
 * or missing and the default is right; a leaf stays put.  The rows are
 * floats (a block converted once) or, for very wide rows, the caller's
 * doubles rounded at each use: the same floats either way. */
#define STEP(NAME, TYPE)                                                    \
static inline void NAME(const struct xgbn_node *const *tree, size_t nt,    \
                        const TYPE *x, size_t d, size_t nb, uint32_t *idx) \
{                                                                           \
    for (size_t q = 0; q < nt; q++)                                         \
        for (size_t r = 0; r < nb; r++) {                                   \
            const struct xgbn_node *n = &tree[q][idx[q * nb + r]];          \
            uint32_t f = n->feat;                                           \
            float v = (float)x[r * d + (f & FEATURE_MASK)];                 \
            uint32_t right = isnan(v) ? !(f & DEFAULT_LEFT) :               \
                                        !(v < n->value);                    \
            idx[q * nb + r] = n->left + (right & !(f & LEAF));              \
        }                                                                   \
}
STEP(step_f, float)
STEP(step_d, double)

/* XGBoost's float softmax (common::Softmax): max in float, exp in float,
 * the sum in double, each divided by the sum rounded to float. */
static void softmax(float *v, size_t k)
{
    float mx = v[0];
    for (size_t c = 1; c < k; c++)
        mx = fmaxf(v[c], mx);
    double sum = 0;
    for (size_t c = 0; c < k; c++) {
        v[c] = expf(v[c] - mx);
        sum += v[c];
    }
    for (size_t c = 0; c < k; c++)
        v[c] /= (float)sum;
}

/* gblinear as XGBoost computes it (GBLinear::PredValue): per group, the
 * bias plus the base margin, then each present feature's value times its
 * weight, in float, in feature order; missing features add nothing. */
static void linear_block(const struct xgbn_model *m, const double *x,
                         size_t nb, float *sum)
{
    size_t k = m->n_groups, d = m->n_features;
    const float *w = m->linear, *bias = m->linear + d * k;
    for (size_t r = 0; r < nb; r++)
        for (size_t g = 0; g < k; g++) {
            float s = bias[g] + sum[r * k + g];
            for (size_t j = 0; j < d; j++) {
                float v = (float)x[r * d + j];
                if (!isnan(v))
                    s += v * w[j * k + g];
            }
            sum[r * k + g] = s;
        }
}

/* Rows at a time through each tree: the trees stay hot in cache and the
 * walks of different rows overlap in the CPU. */
#define BLOCK 8
#define XF_MAX 2048     /* floats of a converted block of rows (8 KiB)   */
_Static_assert(LANES % BLOCK == 0, "a block of rows fills whole lanes");

int xgbn_predict(const struct xgbn_model *m, const double *x, size_t rows,
                 int margin, double *y)
{
    size_t k = m->n_groups, d = m->n_features;
    float acc[BLOCK * 16], *sum = acc, xbuf[XF_MAX];
    float *heap = NULL;
    if (k > 16) {
        /* Many classes: one row at a time, its sums on the heap. */
        if (!(heap = malloc(k * sizeof *heap)))
            return -1;
        sum = heap;
    }
    size_t block = k > 16 ? 1 : BLOCK;
    for (size_t r0 = 0; r0 < rows; r0 += block) {
        size_t nb = rows - r0 < block ? rows - r0 : block;
        for (size_t i = 0; i < nb * k; i++)
            sum[i] = m->base_margin;
        const double *xb = x + r0 * d;
        const float *xf = NULL;
        if (nb * d <= XF_MAX) {
            for (size_t i = 0; i < nb * d; i++)
                xbuf[i] = (float)xb[i];
            xf = xbuf;
        }
        if (m->linear)
            linear_block(m, xb, nb, sum);
        /* Several trees at once when there are few rows; each row still
         * adds its trees' leaves in tree order, as XGBoost does. */
        size_t tt = LANES / nb;
        for (size_t t0 = 0; t0 < m->n_trees; t0 += tt) {
            size_t tn = m->n_trees - t0 < tt ? m->n_trees - t0 : tt;
            const struct xgbn_node *tree[LANES];
            uint32_t idx[LANES] = {0}, steps = 0;
            for (size_t q = 0; q < tn; q++) {
                tree[q] = m->nodes + m->root[t0 + q];
                if (m->depth[t0 + q] > steps)
                    steps = m->depth[t0 + q];
            }
            if (xf)
                for (; steps > 0; steps--)
                    step_f(tree, tn, xf, d, nb, idx);
            else
                for (; steps > 0; steps--)
                    step_d(tree, tn, xb, d, nb, idx);
            for (size_t q = 0; q < tn; q++) {
                float *s = sum + m->group[t0 + q];
                for (size_t r = 0; r < nb; r++)
                    s[r * k] += tree[q][idx[q * nb + r]].value;
            }
        }
        for (size_t r = 0; r < nb; r++) {
            float *v = sum + r * k;
            double *o = y + (r0 + r) * k;
            if (!margin) {
                switch (m->transform) {
                case T_NONE: break;
                case T_SIGMOID: v[0] = 1.0f / (1.0f + expf(-v[0])); break;
                case T_EXP: v[0] = expf(v[0]); break;
                case T_SOFTPROB: softmax(v, k); break;
                case T_MARGINS: break;
                }
            }
            for (size_t c = 0; c < k; c++)
                o[c] = v[c];
        }
    }
    free(heap);
    return 0;
}
