/*
 * tests/fuzz/fuzz_parse.c - the server's request parsing (V2 JSON body to
 * a tensor, /invocations JSON and CSV) under libFuzzer, and the same entry
 * point run over a committed corpus of malformed inputs for CI.
 *
 * The first byte of an input picks the parser and the schema; the rest is
 * the body (for the binary tensor extension, bits 0 and 4: the second
 * byte is the JSON header's length).  Every call must return 0 with a
 * well-formed matrix, or an error status with a message, and leave
 * nothing allocated; a V2 body must get exactly the answer of the
 * all-jansson reference parser, and the envelope reader alone
 * (srv_parse_v2_fast) may answer only with that parser's values.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[4] = {"a", "b", "c", "d"};

static int same(const struct srv_batch *a, const struct srv_batch *b)
{
    return a->rows == b->rows && a->cols == b->cols &&
           a->binary_out == b->binary_out &&
           !memcmp(a->x, b->x, a->rows * a->cols * sizeof *a->x) &&
           (!a->id) == (!b->id) && (!a->id || !strcmp(a->id, b->id));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    struct srv_schema s = {sel & 8 ? 4 : 2, sel & 4 ? names : NULL};
    static const char *const ctypes[] = {"application/json", "text/csv",
                                         NULL, "text/plain"};
    struct srv_batch b;
    char err[256] = "";
    int rc;
    if ((sel & 17) == 17 && size >= 2) {
        /* The binary tensor extension: the second byte bounds the JSON
         * header's length; the rest is the binary part. */
        size_t body = size - 2, hdr = data[1];
        rc = srv_parse_v2_binary((const char *)data + 2, body,
                                 hdr <= body ? hdr : body, &s, &b, err,
                                 sizeof err);
    } else if (sel & 1) {
        rc = srv_parse_v2((const char *)data + 1, size - 1, &s, &b, err,
                          sizeof err);
        /* Differential: the envelope reader and the in-place number
         * scanner must answer exactly as the all-jansson reference
         * parser does, byte for byte; the envelope reader alone answers
         * only where the reference succeeds, with its values. */
        struct srv_batch r, q;
        char rerr[256] = "";
        int rrc = srv_parse_v2_ref((const char *)data + 1, size - 1, &s, &r,
                                   rerr, sizeof rerr);
        int qrc = srv_parse_v2_fast((const char *)data + 1, size - 1, &s,
                                    &q);
        if (rrc != rc || strcmp(rerr, err) || (rc == 0 && !same(&r, &b)))
            abort();
        if (qrc == 0 ? rrc != 0 || !same(&r, &q)
                     : qrc != -1 || q.x || q.id)
            abort();
        srv_batch_clear(&r);
        srv_batch_clear(&q);
    } else
        rc = srv_parse_invocations((const char *)data + 1, size - 1,
                                   ctypes[(sel >> 1) & 3], &s, &b, err,
                                   sizeof err);
    if (rc == 0) {
        if (!b.x || b.rows == 0 || b.cols != s.n_features)
            abort();
        volatile double sum = 0;        /* touch every value */
        for (size_t i = 0; i < b.rows * b.cols; i++)
            sum += isnan(b.x[i]) ? 0 : b.x[i];
        (void)sum;
    } else if (!err[0] || (rc != 400 && rc != 415)) {
        abort();
    }
    srv_batch_clear(&b);
    return 0;
}

#ifndef ORR_LIBFUZZER
/* Corpus mode: run every file of the directory; print the house line. */
int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_parse CORPUS_DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    size_t n = 0;
    struct dirent *ent;
    while ((ent = readdir(d))) {
        if (ent->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], ent->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        uint8_t buf[1 << 16];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        /* Each file under every parser and schema: the selector byte is
         * replaced, so one malformed body exercises all paths. */
        uint8_t *in = malloc(len + 1);
        if (!in)
            return 1;
        memcpy(in + 1, len && buf[0] < 32 ? buf + 1 : buf,
               len && buf[0] < 32 ? len - 1 : len);
        size_t body = len && buf[0] < 32 ? len - 1 : len;
        for (unsigned sel = 0; sel < 32; sel++) {
            in[0] = (uint8_t)sel;
            LLVMFuzzerTestOneInput(in, body + 1);
        }
        free(in);
        n++;
    }
    closedir(d);
    printf("%zu passed, 0 failed\n", n);
    return n ? 0 : 1;
}
#endif
