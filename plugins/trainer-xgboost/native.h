/*
 * native.h - a native evaluator for XGBoost tree ensembles, read from
 * XGBoost's JSON model format, that predicts without the C API.
 *
 * Why: each C API predict call costs a proxy DMatrix, JSON config parsing
 * and a copy through XGBoost's thread-local buffer, which caps a model
 * server far below what the trees themselves cost.  The evaluator keeps
 * the trees as flat arrays (12-byte nodes, siblings adjacent, every tree
 * laid out breadth-first) and walks them directly.
 *
 * Exactness: it does what XGBoost 1.7's CPU predictor does, in the same
 * float32 arithmetic: a feature value is rounded to float and compared
 * with `value < split_condition` (float), NaN takes the node's default
 * child, leaf values are summed per output group in float starting from
 * the base margin (base_score through the objective's ProbToMargin), and
 * the objective's transform is applied in float (sigmoid, exp, softmax
 * with a double sum).  Results equal the C API's bit for bit on the
 * models tested (tests/xgboost/test_xgb_native.c).
 *
 * Scope: gbtree boosters with numerical splits, one target, and the
 * objectives listed in native.c.  Anything else (dart, gblinear,
 * categorical splits, multi-target trees, other objectives, a split
 * value whose text could round to two floats) is refused at load with a
 * reason, and the caller predicts through the C API instead.
 *
 * Thread safety: a loaded evaluator is immutable; predict only writes its
 * output and its own stack (or heap), so any number of threads may predict
 * at once.
 * Pure C over jansson: no host table, no XGBoost library.
 */
#ifndef ORR_TRAINER_XGBOOST_NATIVE_H
#define ORR_TRAINER_XGBOOST_NATIVE_H

#include <stddef.h>

struct xgbn_model;

/* Results of xgbn_load. */
#define XGBN_OK           0
#define XGBN_UNSUPPORTED  1     /* valid model the evaluator cannot run  */
#define XGBN_ENOMEM       2
#define XGBN_EBADMODEL    3     /* unreadable or inconsistent JSON       */

/* Read the XGBoost JSON model at `path`.  On success *out is the
 * evaluator; otherwise *out is NULL and `why` (cap bytes) says why. */
int xgbn_load(const char *path, struct xgbn_model **out, char *why,
              size_t cap);

/* Release an evaluator; NULL is accepted. */
void xgbn_free(struct xgbn_model *m);

/* Features the model was trained with. */
size_t xgbn_features(const struct xgbn_model *m);

/* Outputs per row: the number of classes for multi:*, else 1. */
size_t xgbn_groups(const struct xgbn_model *m);

/* The objective's name as saved in the model. */
const char *xgbn_objective(const struct xgbn_model *m);

/* Number of trees. */
size_t xgbn_trees(const struct xgbn_model *m);

/* Predict `rows` rows of `xgbn_features(m)` doubles (row-major; NaN =
 * missing) into rows x xgbn_groups(m) doubles.  `margin` != 0 gives the
 * raw margins (no objective transform), as XGBoost's output_margin; so
 * does multi:softmax always (XGBoost would give the arg-max class).
 * Returns 0, or -1 when out of memory (only models of more than 16
 * classes allocate, one row's sums). */
int xgbn_predict(const struct xgbn_model *m, const double *x, size_t rows,
                 int margin, double *y);

#endif /* ORR_TRAINER_XGBOOST_NATIVE_H */
