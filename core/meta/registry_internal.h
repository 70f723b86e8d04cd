/*
 * meta/registry_internal.h - helpers that registry.c shares with
 * lineage.c and gc.c.  All expect m->lock held.
 *
 * The registry, lineage and gc statements are prepared per call rather
 * than kept in the store's statement cache: that cache is finalised by
 * meta.c's close, which knows only its own statements.  A prepare of
 * these short statements costs a few microseconds.
 */
#ifndef ORRI_META_REGISTRY_INTERNAL_H
#define ORRI_META_REGISTRY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "meta/meta_internal.h"
#include "meta/registry.h"

/* Prepare `sql` on m->db. */
int orri_reg_prep(struct orr_meta *m, const char *sql, sqlite3_stmt **st,
                  struct orr_error *e);
/* Step once: *row = 1 on a row, 0 when done; else the status. */
int orri_reg_step(struct orr_meta *m, sqlite3_stmt *st, int *row,
                  const char *what, struct orr_error *e);
/* Column text copied into dst (truncated, "" for NULL). */
void orri_reg_col(char *dst, size_t cap, sqlite3_stmt *st, int col);

/* A recorded artifact from a digest or unique prefix: its row id and
 * full digest (either may be NULL). */
int orri_reg_find_artifact(struct orr_meta *m, const char *prefix,
                           int64_t *id, char *digest, struct orr_error *e);
/* A run from its id or a unique prefix: row id and uuid. */
int orri_reg_find_run(struct orr_meta *m, const char *prefix, int64_t *id,
                      char *uuid, struct orr_error *e);

/* Parse a model URI.  kind: 0 latest, 1 version, 2 alias. */
struct orri_model_uri {
    char    name[ORR_MODEL_NAME_MAX + 1];
    int     kind;
    int64_t version;
    char    alias[ORR_ALIAS_MAX + 1];
};
int orri_reg_parse_uri(const char *uri, struct orri_model_uri *out,
                       struct orr_error *e);
/* 1 if `s` looks like a model URI rather than a digest or run id. */
int orri_reg_is_uri(const char *s);
/* Resolve a URI to the version's row id (and fill out when not NULL). */
int orri_reg_resolve(struct orr_meta *m, const char *uri, int64_t *vid,
                     struct orr_model_version *out, struct orr_error *e);

#endif
