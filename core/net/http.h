/*
 * net/http.h - the private HTTP module (orrery-net.so), libcurl inside.
 *
 * liborrery never links libcurl: loading it costs every command a few
 * milliseconds of start-up.  The host table's `http` member dlopens this
 * module on first use and calls the one function it exports.
 */
#ifndef ORRI_NET_HTTP_H
#define ORRI_NET_HTTP_H

#include <stddef.h>
#include <string.h>

#include <orrery/host.h>

/* The module's file name and exported symbol. */
#define ORRI_NET_MODULE "orrery-net.so"
#define ORRI_NET_SYMBOL "orri_net_http"

/*
 * Perform `req` and fill `resp` (status, body from malloc - the host
 * table's `free` releases it - and body_len).  A non-2xx status is ORR_OK.
 * Errors: ORR_EINVAL (bad request, response larger than max_response),
 * ORR_ETIMEDOUT, ORR_ENETWORK (resolve/connect/transfer), ORR_ENOMEM.
 * Messages name the method and the URL without credentials or query.
 * Thread-safe.
 */
typedef int (*orri_net_http_fn)(const struct orr_http_request *req,
                                struct orr_http_response *resp,
                                struct orr_error *e);

/* Copy `url` into `out` without what may carry secrets: the user-info
 * ("user:password@"), the query and the fragment.  Always terminates. */
static inline void orri_url_redact(char *out, size_t cap, const char *url)
{
    if (!cap)
        return;
    out[0] = '\0';
    if (!url)
        return;
    const char *scheme_end = strstr(url, "://");
    const char *auth = scheme_end ? scheme_end + 3 : url;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = NULL;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            at = auth + i;
    size_t n = 0;
    const char *parts[2][2] = {
        {url, auth},                            /* scheme://             */
        {at ? at + 1 : auth, NULL},             /* host[:port]/path      */
    };
    for (int k = 0; k < 2; k++) {
        const char *s = parts[k][0];
        size_t len = parts[k][1] ? (size_t)(parts[k][1] - s)
                                 : strcspn(s, "?#");
        if (len > cap - 1 - n)
            len = cap - 1 - n;
        memcpy(out + n, s, len);
        n += len;
    }
    out[n] = '\0';
}

#endif
