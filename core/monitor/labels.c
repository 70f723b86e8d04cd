/*
 * monitor/labels.c - `orrery monitor labels FILE`: ground truth from a
 * CSV (`request_id,label` header) or JSON-lines file, stored in `labels`
 * by request id in batched transactions.  A label whose prediction is not
 * logged (yet) is kept and counted as pending; a bad line is refused and
 * counted, never stops the import.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "meta/predictions.h"
#include "monitor/monitor.h"
#include "util/error.h"

#define BATCH 10000

struct batch {
    struct orri_label_row rows[BATCH];
    char *ids[BATCH], *labels[BATCH];
    size_t n;
};

static void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free(b->ids[i]);
        free(b->labels[i]);
    }
    b->n = 0;
}

static int flush(struct orr_meta *m, struct batch *b, const char *model,
                 struct orri_label_stats *out, struct orr_error *e)
{
    int64_t matched = 0;
    for (size_t i = 0; i < b->n; i++)
        b->rows[i] = (struct orri_label_row){b->ids[i], model, b->labels[i]};
    int rc = orri_labels_put(m, b->rows, b->n, &matched, e);
    if (!rc) {
        out->matched += matched;
        out->pending += (int64_t)b->n - matched;
    }
    batch_clear(b);
    return rc;
}

static void invalid(struct orri_label_stats *out, const char *path,
                    long line, const char *why)
{
    out->read++;
    out->invalid++;
    if (!out->first_invalid[0])
        snprintf(out->first_invalid, sizeof out->first_invalid,
                 "%s:%ld: %s", path, line, why);
}

/* A CSV field (quotes removed) as label JSON: a number stays one, any
 * other text is a JSON string. */
static char *csv_label(char *f)
{
    size_t n = strlen(f);
    while (n && (f[n - 1] == '\r' || f[n - 1] == '\n' || f[n - 1] == ' '))
        f[--n] = '\0';
    int quoted = n >= 2 && f[0] == '"' && f[n - 1] == '"';
    if (quoted) {
        f[n - 1] = '\0';
        f++;
    }
    if (!*f)
        return NULL;
    char *end = NULL;
    errno = 0;
    (void)strtod(f, &end);
    if (!quoted && end && !*end && !errno) {
        json_t *j = json_loads(f, JSON_DECODE_ANY, NULL);
        if (j) {
            char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
            json_decref(j);
            return s;
        }
    }
    json_t *j = json_string(f);
    char *s = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    json_decref(j);
    return s;
}

static char *unquote(char *f)
{
    size_t n = strlen(f);
    if (n >= 2 && f[0] == '"' && f[n - 1] == '"') {
        f[n - 1] = '\0';
        f++;
    }
    return f;
}

int orri_monitor_import_labels(struct orr_meta *m, const char *path,
                               const char *model,
                               struct orri_label_stats *out,
                               struct orr_error *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return orr_fail(e, errno == ENOENT ? ORR_ENOTFOUND : ORR_EIO,
                        "%s: %s", path, strerror(errno));
    struct batch *b = calloc(1, sizeof *b);
    char *line = NULL;
    size_t cap = 0;
    long no = 0;
    int rc = ORR_OK, csv = -1;
    if (!b) {
        rc = orr_fail(e, ORR_ENOMEM, "out of memory");
        goto fail;
    }
    while (!rc && getline(&line, &cap, f) >= 0) {
        no++;
        char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!*s || *s == '\n' || *s == '\r')
            continue;
        if (csv < 0) {
            csv = *s != '{';
            if (csv) {
                if (strncmp(s, "request_id,label", 16)) {
                    rc = orr_fail(e, ORR_EINVAL, "%s:1: expected a CSV "
                                  "header `request_id,label` or JSON "
                                  "lines", path);
                    break;
                }
                continue;
            }
        }
        char *id = NULL, *lab = NULL;
        if (csv) {
            char *comma = strchr(s, ',');
            if (!comma) {
                invalid(out, path, no, "expected request_id,label");
                continue;
            }
            *comma = '\0';
            id = strdup(unquote(s));
            lab = csv_label(comma + 1);
        } else {
            json_t *j = json_loads(s, 0, NULL);
            json_t *jid = json_object_get(j, "request_id");
            if (!jid)
                jid = json_object_get(j, "id");
            json_t *jl = json_object_get(j, "label");
            if (!j) {
                invalid(out, path, no, "not JSON");
                continue;
            }
            if (json_is_string(jid))
                id = strdup(json_string_value(jid));
            if (jl && !json_is_null(jl))
                lab = json_dumps(jl, JSON_ENCODE_ANY | JSON_COMPACT);
            json_decref(j);
        }
        if (!id || !id[0] || !lab) {
            invalid(out, path, no, !id || !id[0] ? "no request id"
                                                : "no label");
            free(id);
            free(lab);
            continue;
        }
        out->read++;
        b->ids[b->n] = id;
        b->labels[b->n++] = lab;
        if (b->n == BATCH)
            rc = flush(m, b, model, out, e);
    }
    if (!rc && b->n)
        rc = flush(m, b, model, out, e);
fail:
    if (b) {
        batch_clear(b);
        free(b);
    }
    free(line);
    fclose(f);
    return rc;
}
