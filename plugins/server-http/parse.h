/*
 * parse.h - request bodies of the HTTP server to a dense input matrix:
 * KServe V2 / Open Inference Protocol JSON and MLflow /invocations
 * (JSON in its four layouts, and CSV).
 *
 * Pure functions over a byte buffer: no server, no host table, so the
 * fuzz target (tests/fuzz/) links this file alone.  Memory comes from
 * malloc; on failure nothing is left allocated and `err` holds one line
 * for the client's {"error": "..."}.
 */
#ifndef ORR_SERVER_HTTP_PARSE_H
#define ORR_SERVER_HTTP_PARSE_H

#include <stddef.h>

/* What the model expects: n_features columns, named or not. */
struct srv_schema {
    size_t             n_features;
    const char *const *feature_names;   /* n_features names, or NULL       */
};

/* A parsed request: rows x cols doubles (row-major), NaN = missing. */
struct srv_batch {
    double *x;
    size_t  rows, cols;
    char   *id;             /* V2 "id" to echo, or NULL                    */
    int     binary_out;     /* V2: the client asked for binary outputs
                               (binary tensor data extension)             */
};

/* Largest number of values one request may carry (independent of the
 * body limit, so a tiny body cannot claim a huge shape). */
#define SRV_MAX_VALUES ((size_t)1 << 26)

/* Parse a V2 inference request.  Returns 0, or the HTTP status to answer
 * (400) with `err` filled.  The common shape is read without jansson
 * (srv_parse_v2_fast); otherwise jansson reads the envelope only and the
 * data array's numbers are read in place (exactly as strtod would). */
int srv_parse_v2(const char *body, size_t len, const struct srv_schema *s,
                 struct srv_batch *out, char *err, size_t cap);

/* srv_parse_v2's first reader alone (for tests): the common request
 * shape read from the text without jansson.  Returns 0 with `out` filled
 * exactly as srv_parse_v2_ref would fill it, or -1 (nothing allocated)
 * for any body it leaves to the jansson paths, errors included. */
int srv_parse_v2_fast(const char *body, size_t len,
                      const struct srv_schema *s, struct srv_batch *out);

/* The same with jansson over the whole body: srv_parse_v2's answer for
 * anything its data scanner leaves alone, and its reference in tests. */
int srv_parse_v2_ref(const char *body, size_t len,
                     const struct srv_schema *s, struct srv_batch *out,
                     char *err, size_t cap);

/* Parse a V2 request of the binary tensor data extension (Triton's
 * Inference-Header-Content-Length): `hdr_len` bytes of JSON, then the
 * raw little-endian tensor bytes of every input whose parameters give a
 * "binary_data_size" (an input may still carry JSON "data").  The
 * binary part must be exactly what the inputs claim.  Returns 0 or 400. */
int srv_parse_v2_binary(const char *body, size_t len, size_t hdr_len,
                        const struct srv_schema *s, struct srv_batch *out,
                        char *err, size_t cap);

/* Parse an MLflow /invocations body.  `ctype` is the Content-Type
 * header (NULL counts as JSON).  Returns 0, 400 or 415 (an unsupported
 * content type), with `err` filled. */
int srv_parse_invocations(const char *body, size_t len, const char *ctype,
                          const struct srv_schema *s, struct srv_batch *out,
                          char *err, size_t cap);

void srv_batch_clear(struct srv_batch *b);

#endif
