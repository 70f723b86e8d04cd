/*
 * meta/registry.h - the model registry in the metadata store: registered
 * models, their numbered versions (each linked to the run that produced
 * it, the model artifact and the datasets it was trained on), mutable
 * aliases (@champion, @challenger, any name) with an audit trail of every
 * move, and the promotion gate.
 *
 * Model URIs, accepted everywhere a model is expected (the "models:/"
 * prefix is optional):
 *     models:/NAME            the latest version
 *     models:/NAME/latest     the same
 *     models:/NAME/3          version 3
 *     models:/NAME@champion   the version the alias points to
 *
 * Names are 1 to 128 characters of [A-Za-z0-9_.-] starting with a letter,
 * digit or '_'; aliases 1 to 64 of [A-Za-z0-9_-], and not "latest".
 * Every function takes the store's lock for its duration, so a callback
 * must not call into the same orr_meta; every write is one transaction
 * (an alias move and its audit event commit together).
 * Errors name what exists: "no model 'x' (known: a, b)".
 */
#ifndef ORRI_META_REGISTRY_H
#define ORRI_META_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>
#include <orrery/storage.h>

#include "api.h"
#include "meta/meta.h"

#define ORR_MODEL_NAME_MAX   128
#define ORR_ALIAS_MAX        64
#define ORR_FLAVOR_MAX       64
#define ORR_DESCRIPTION_MAX  4096
#define ORR_REASON_MAX       4096
/* Datasets one version may list. */
#define ORR_DATASETS_MAX     1024
/* Cursor text, NUL included. */
#define ORR_CURSOR_SIZE      (ORR_MODEL_NAME_MAX + 2)

/* One page of a list.  `cursor` is NULL or "" for the first page, else
 * the `next` of the previous page; `next` is "" after the last page. */
struct orr_page {
    const char *cursor;
    size_t      limit;          /* 0: 100; at most 10,000                  */
    char        next[ORR_CURSOR_SIZE];
};

struct orr_model_version_spec {
    const char        *name;        /* created if it does not exist       */
    const char        *description; /* of the version, or NULL            */
    const char        *run_id;      /* 32 hex digits or a unique prefix,
                                     * or NULL                             */
    const char        *artifact;    /* digest or unique prefix            */
    /* >= 0: if `artifact` (then a full digest) is not recorded yet,
     * record it with this size and kind "model"; -1: it must be. */
    int64_t            artifact_size;
    const char        *flavor;      /* "linear", "xgboost", ... or NULL   */
    const char *const *datasets;    /* digests or unique prefixes          */
    size_t             n_datasets;
    /* With a run and no datasets: take the run's artifacts of kind
     * "dataset" (those its steps read or wrote). */
    int                datasets_from_run;
    const char        *alias;       /* also point this alias at it, or NULL */
    const char        *reason;      /* for the alias's audit event         */
};

/* A model version as read.  Strings are "" when absent. */
struct orr_model_version {
    char    name[ORR_MODEL_NAME_MAX + 1];
    int64_t version;
    char    run_id[ORR_RUN_ID_SIZE];       /* "" if none or deleted        */
    char    artifact[ORR_DIGEST_HEX_LEN + 1];
    uint64_t artifact_size;
    char    flavor[ORR_FLAVOR_MAX + 1];
    char    status[16];                    /* "ready" or "archived"        */
    int64_t created_ms;
    char    description[ORR_DESCRIPTION_MAX + 1];
};

struct orr_registered_model {
    const char *name;           /* valid during the callback only          */
    const char *description;    /* or NULL                                 */
    int64_t     created_ms, updated_ms;
    int64_t     n_versions;     /* versions that exist now                 */
    int64_t     latest;         /* highest existing version, 0 if none     */
    int64_t     n_aliases;
};

struct orr_alias_info {
    const char *alias;
    int64_t     version;
    int64_t     updated_ms;
};

/* One entry of an alias's audit trail; 0 versions mean "none" (the
 * alias was created / deleted). */
struct orr_alias_event {
    int64_t     id;
    const char *alias;
    int64_t     old_version, new_version;
    const char *user;           /* or NULL                                 */
    const char *reason;         /* or NULL                                 */
    int64_t     time_ms;
};

/* Register a new version (numbers start at 1 and are never reused) and
 * write its number to *version.  Creates the model if needed; with
 * spec->alias, points the alias at the new version in the same
 * transaction.  The user is $USER (or the account name). */
ORR_API int orr_registry_register(struct orr_meta *m,
                                  const struct orr_model_version_spec *spec,
                                  int64_t *version, struct orr_error *e);

/* Models by name, one page. */
ORR_API int orr_registry_models(struct orr_meta *m, struct orr_page *page,
                                int (*fn)(void *ctx,
                                          const struct orr_registered_model *mi),
                                void *ctx, struct orr_error *e);
/* One model's summary (fn called once); ENOTFOUND naming known models. */
ORR_API int orr_registry_model(struct orr_meta *m, const char *name,
                               int (*fn)(void *ctx,
                                         const struct orr_registered_model *mi),
                               void *ctx, struct orr_error *e);
/* Versions of a model, newest first, one page. */
ORR_API int orr_registry_versions(struct orr_meta *m, const char *name,
                                  struct orr_page *page,
                                  int (*fn)(void *ctx,
                                            const struct orr_model_version
                                                *v),
                                  void *ctx, struct orr_error *e);
/* Resolve a model URI (see above) to its version. */
ORR_API int orr_registry_resolve(struct orr_meta *m, const char *uri,
                                 struct orr_model_version *out,
                                 struct orr_error *e);
/* The digests of the datasets a version was trained on. */
ORR_API int orr_registry_datasets(struct orr_meta *m, const char *name,
                                  int64_t version,
                                  int (*fn)(void *ctx, const char *digest),
                                  void *ctx, struct orr_error *e);
/* The latest values of the metrics of the run that produced a version
 * (from the registration snapshot when the run is gone).  A NaN latest
 * value is reported as NaN. */
ORR_API int orr_registry_metrics(struct orr_meta *m, const char *name,
                                 int64_t version,
                                 int (*fn)(void *ctx, const char *key,
                                           double value),
                                 void *ctx, struct orr_error *e);
/* One metric of a version: ORR_ENOTFOUND (with a message listing the
 * keys it has) when the version has no such metric. */
ORR_API int orr_registry_metric(struct orr_meta *m, const char *name,
                                int64_t version, const char *key,
                                double *value, struct orr_error *e);

/* A model's aliases by name. */
ORR_API int orr_registry_aliases(struct orr_meta *m, const char *name,
                                 int (*fn)(void *ctx,
                                           const struct orr_alias_info *a),
                                 void *ctx, struct orr_error *e);
/* A model's alias history, newest first, one page (alias NULL: all). */
ORR_API int orr_registry_alias_history(struct orr_meta *m, const char *name,
                                       const char *alias,
                                       struct orr_page *page,
                                       int (*fn)(void *ctx,
                                                 const struct orr_alias_event
                                                     *ev),
                                       void *ctx, struct orr_error *e);
/* Point `alias` at `version` (moving it if it exists), recording who,
 * when, why and the old version.  Pointing it where it already points
 * changes nothing and records nothing. */
ORR_API int orr_registry_alias_set(struct orr_meta *m, const char *name,
                                   const char *alias, int64_t version,
                                   const char *reason, struct orr_error *e);
ORR_API int orr_registry_alias_delete(struct orr_meta *m, const char *name,
                                      const char *alias, const char *reason,
                                      struct orr_error *e);
/* Delete a version.  ORR_EBUSY if an alias points to it, unless `force`,
 * which deletes those aliases too (each with an audit event), or if a
 * deployment of it is starting or running. */
ORR_API int orr_registry_version_delete(struct orr_meta *m, const char *name,
                                        int64_t version, int force,
                                        const char *reason,
                                        struct orr_error *e);

/* The promotion gate: compare `metric` of the candidate version with
 * the version `alias` (default "champion") points to. */
struct orr_gate_result {
    int     pass;
    int     has_champion;       /* 0: no such alias, the candidate passes */
    int64_t candidate_version, champion_version;
    double  candidate, champion, delta;   /* delta = candidate - champion */
    char    message[ORR_ERROR_MSG_SIZE];  /* one line explaining it        */
};
ORR_API int orr_registry_gate(struct orr_meta *m, const char *name,
                              int64_t candidate, const char *metric,
                              double min_delta, int lower_is_better,
                              const char *alias,
                              struct orr_gate_result *out,
                              struct orr_error *e);

/* Name and alias checks (ORR_EINVAL with a message saying what is
 * allowed), exposed for the CLI and Lua. */
ORR_API int orr_registry_check_name(const char *name, struct orr_error *e);
ORR_API int orr_registry_check_alias(const char *alias, struct orr_error *e);

/* Resolve a unique prefix (at least 4 hex digits) of a recorded
 * artifact's digest / of a run id.  ENOTFOUND, or EINVAL when ambiguous. */
ORR_API int orr_registry_find_artifact(struct orr_meta *m,
                                       const char *prefix,
                                       char digest[ORR_DIGEST_HEX_LEN + 1],
                                       struct orr_error *e);
ORR_API int orr_registry_find_run(struct orr_meta *m, const char *prefix,
                                  char run_id[ORR_RUN_ID_SIZE],
                                  struct orr_error *e);

#endif
