/*
 * runner/dag.c - checking a workflow's step graph and ordering it.
 *
 * Kahn's algorithm, always taking the earliest-declared ready step, so the
 * order is the declaration order whenever that is valid (what a user
 * reading the file expects to see in logs).  O(n^2) in the number of
 * steps, which is tens, not millions.
 */
#include <stdlib.h>
#include <string.h>

#include "runner/runner.h"
#include "util/error.h"

int orri_dag_order(const char *workflow, const struct orri_dag_node *nodes,
                   size_t n, size_t *order, struct orr_error *e)
{
    const char *wf = workflow ? workflow : "?";
    if (n == 0)
        return orr_fail(e, ORR_EINVAL, "workflow '%s' has no steps", wf);
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i].name || !nodes[i].name[0])
            return orr_fail(e, ORR_EINVAL, "workflow '%s': step %zu has "
                            "no name", wf, i + 1);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(nodes[i].name, nodes[j].name))
                return orr_fail(e, ORR_EINVAL, "workflow '%s': duplicate "
                                "step name '%s'", wf, nodes[i].name);
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
    }
    unsigned char *done = calloc(n, 1);
    if (!done)
        return orr_fail(e, ORR_ENOMEM, "out of memory");
    size_t placed = 0;
    while (placed < n) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++) {
            if (done[i])
                continue;
            int ready = 1;
            for (size_t k = 0; k < nodes[i].n_inputs && ready; k++)
                ready = done[nodes[i].inputs[k]];
            if (ready)
                pick = i;
        }
        if (pick == n) {
            /* Name one step on the cycle: the first one left. */
            size_t i = 0;
            while (done[i])
                i++;
            free(done);
            return orr_fail(e, ORR_EINVAL, "workflow '%s': the inputs of "
                            "step '%s' form a cycle", wf, nodes[i].name);
        }
        done[pick] = 1;
        order[placed++] = pick;
    }
    free(done);
    return ORR_OK;
}
