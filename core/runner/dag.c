/*
 * runner/dag.c - checking a workflow's step graph and ordering it.
 *
 * Kahn's algorithm, always taking the earliest-declared ready step (a
 * binary heap of indices), so the order is the declaration order
 * whenever that is valid (what a user reading the file expects to see in
 * logs).  O((n + e) log n): a 10,000-step workflow plans in milliseconds.
 * Duplicate names are found by sorting the names.
 */
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "util/error.h"

static const struct orri_dag_node *sort_nodes;

static int by_name(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(sort_nodes[x].name, sort_nodes[y].name);
    return c ? c : (x > y) - (x < y);
}

static void heap_push(size_t *h, size_t *n, size_t v)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static size_t heap_pop(size_t *h, size_t *n)
{
    size_t top = h[0], v = h[--*n], i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n)
            break;
        if (c + 1 < *n && h[c + 1] < h[c])
            c++;
        if (h[c] >= v)
            break;
        h[i] = h[c];
        i = c;
    }
    if (*n)
        h[i] = v;
    return top;
}

int orri_dag_order(const char *workflow, const struct orri_dag_node *nodes,
                   size_t n, size_t *order, struct orr_error *e)
{
    const char *wf = workflow ? workflow : "?";
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "workflow '%s' has no steps", wf);
    size_t edges = 0;
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i].name || !nodes[i].name[0])
            return orr_fail(e, ORR_EINVAL, "workflow '%s': step %zu has "
                            "no name", wf, i + 1);
        for (size_t k = 0; k < nodes[i].n_inputs; k++) {
            size_t in = nodes[i].inputs[k];
            if (in == i)
                return orr_fail(e, ORR_EINVAL, "workflow '%s': step '%s' "
                                "takes its own output as input", wf,
                                nodes[i].name);
            if (in >= n)
                return orr_fail(e, ORR_EINVAL, "workflow '%s': input %zu "
                                "of step '%s' is not a step of this "
                                "workflow", wf, k + 1, nodes[i].name);
        }
        edges += nodes[i].n_inputs;
    }
    size_t *idx = calloc(n, sizeof *idx), *heap = calloc(n, sizeof *heap);
    size_t *deg = calloc(n, sizeof *deg), *start = calloc(n + 1,
                                                          sizeof *start);
    size_t *adj = calloc(edges ? edges : 1, sizeof *adj);
    int rc = ORR_OK;
    if (!idx || !heap || !deg || !start || !adj) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_nodes = nodes;
    qsort(idx, n, sizeof *idx, by_name);
    for (size_t k = 1; k < n; k++)
        if (!strcmp(nodes[idx[k]].name, nodes[idx[k - 1]].name)) {
            rc = orr_fail(e, ORR_EINVAL, "workflow '%s': duplicate step "
                          "name '%s'", wf, nodes[idx[k]].name);
            goto done;
        }
    /* Dependents in CSR form. */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < nodes[i].n_inputs; k++)
            start[nodes[i].inputs[k] + 1]++;
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    memcpy(idx, start, n * sizeof *idx);        /* fill cursors         */
    for (size_t i = 0; i < n; i++) {
        deg[i] = nodes[i].n_inputs;
        for (size_t k = 0; k < nodes[i].n_inputs; k++)
            adj[idx[nodes[i].inputs[k]]++] = i;
    }
    size_t nh = 0, placed = 0;
    for (size_t i = 0; i < n; i++)
        if (!deg[i])
            heap_push(heap, &nh, i);
    while (nh) {
        size_t v = heap_pop(heap, &nh);
        order[placed++] = v;
        for (size_t k = start[v]; k < start[v + 1]; k++)
            if (--deg[adj[k]] == 0)
                heap_push(heap, &nh, adj[k]);
    }
    if (placed < n) {
        /* Name one step on the cycle: the first one left. */
        size_t i = 0;
        while (!deg[i])
            i++;
        rc = orr_fail(e, ORR_EINVAL, "workflow '%s': the inputs of step "
                      "'%s' form a cycle", wf, nodes[i].name);
    }
done:
    free(idx);
    free(heap);
    free(deg);
    free(start);
    free(adj);
    return rc;
}
