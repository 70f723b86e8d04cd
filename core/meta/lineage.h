/*
 * meta/lineage.h - lineage queries over the metadata store: what data,
 * code and parameters produced an artifact, a run or a model version
 * (upstream), and which steps, runs and models used it (downstream).
 *
 * The graph has four kinds of node and edges that point the way data
 * flows (producer -> consumer):
 *
 *     artifact --input-->  step          (the step read it)
 *     step     --output--> artifact      (the step wrote it)
 *     run      --ran-->    step
 *     artifact --code-->   run           (the workflow script it ran)
 *     artifact --model-->  model version (the version's model file)
 *     artifact --trained on--> model version
 *     run      --registered from--> model version
 *
 * Upstream follows edges backwards from the root, downstream forwards;
 * both are one recursive CTE each, with bound parameters, bounded by a
 * depth.  A run's params are attributes of its node.
 */
#ifndef ORRI_META_LINEAGE_H
#define ORRI_META_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

#include "api.h"
#include "meta/meta.h"

enum orr_lineage_kind {
    ORR_LINEAGE_ARTIFACT = 1,
    ORR_LINEAGE_STEP,
    ORR_LINEAGE_RUN,
    ORR_LINEAGE_MODEL
};

/* Directions to walk (a bit set). */
#define ORR_LINEAGE_UP   1
#define ORR_LINEAGE_DOWN 2

/* Depth used when the caller passes 0, and the largest accepted. */
#define ORR_LINEAGE_DEPTH_DEFAULT 50
#define ORR_LINEAGE_DEPTH_MAX     1000
/* Largest graph returned (nodes); beyond it the query fails with a
 * message asking for a smaller --depth. */
#define ORR_LINEAGE_NODES_MAX     100000

struct orr_lineage_node {
    enum orr_lineage_kind kind;
    char    *id;        /* "artifact:<digest>", "step:<n>", "run:<uuid>",
                         * "model:<name>/<version>"                       */
    int      depth;     /* edges from the root (0: the root)              */
    int      dir;       /* ORR_LINEAGE_UP / DOWN: where it was found
                         * (both bits possible; 0 for the root)           */
    /* Kind-specific, NULL or 0 when not applicable:
     *   artifact: name, detail = kind ("dataset"...), ref = digest, size
     *   step:     name, detail = status, ref = run uuid, extra = workflow
     *   run:      name = workflow, detail = status, ref = uuid,
     *             extra = params as a JSON object, time_ms = start
     *   model:    name, detail = flavor, version                          */
    char    *name;
    char    *detail;
    char    *ref;
    char    *extra;
    uint64_t size;
    int64_t  version;
    int64_t  time_ms;
};

struct orr_lineage_edge {
    size_t      from, to;   /* indices into nodes                          */
    const char *label;      /* static: "input", "output", "ran", ...       */
};

struct orr_lineage_graph {
    size_t                   root;
    struct orr_lineage_node *nodes;
    size_t                   n_nodes;
    struct orr_lineage_edge *edges;
    size_t                   n_edges;
};

/* Build the graph around `target`: a digest (or a unique prefix of at
 * least 4 hex digits), a run id (or prefix), a model URI
 * (models:/name/3, models:/name@alias, models:/name, name@alias, name/3),
 * a model name (its latest version), or an explicit "artifact:...",
 * "run:..." or "step:N".  `dirs` is ORR_LINEAGE_UP, _DOWN or both;
 * `depth` 0 means ORR_LINEAGE_DEPTH_DEFAULT.  Free with
 * orr_lineage_free. */
ORR_API int orr_lineage_query(struct orr_meta *m, const char *target,
                              int dirs, int depth,
                              struct orr_lineage_graph **out,
                              struct orr_error *e);
ORR_API void orr_lineage_free(struct orr_lineage_graph *g);   /* NULL ok */

/* "artifact", "step", "run", "model". */
ORR_API const char *orr_lineage_kind_name(enum orr_lineage_kind k);

#endif
