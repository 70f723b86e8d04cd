/*
 * tests/unit/test_plugin_http.c - the host's `http` member (the private
 * orrery-net.so module) against a real HTTP server: a small socket server
 * on a free loopback port, in a thread of this test.
 *
 * The server answers one connection at a time:
 *   /hello  200 "hello world"
 *   /echo   201 "<METHOD> <body> <X-Test header>"
 *   /big    200 with 10000 bytes
 *   /hang   reads the request, never answers, waits for the client to go
 *   /quit   200, then the server thread ends
 *   other   404 "no such page"
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net/http.h"
#include "plugin/host.h"
#include "test.h"

static int listen_fd = -1;
static unsigned port;

static void send_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

static void respond(int fd, int status, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* Read one request: head, then Content-Length bytes of body. */
static size_t read_request(int fd, char *buf, size_t cap, char **body)
{
    size_t len = 0;
    char *end = NULL;
    while (len < cap - 1 && !end) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (!end)
        return 0;
    *body = end + 4;
    size_t want = 0;
    const char *cl = strstr(buf, "Content-Length: ");
    if (cl && cl < end)
        want = strtoul(cl + 16, NULL, 10);
    while ((size_t)(buf + len - *body) < want && len < cap - 1) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

static void *serve(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        char req[16384], *body = NULL;
        int quit = 0;
        if (read_request(fd, req, sizeof req, &body)) {
            char method[16] = "", path[256] = "";
            sscanf(req, "%15s %255s", method, path);
            if (!strcmp(path, "/hello")) {
                respond(fd, 200, "hello world", 11);
            } else if (!strcmp(path, "/echo")) {
                char out[1024], hdr[64] = "-";
                const char *x = strstr(req, "X-Test: ");
                if (x)
                    sscanf(x + 8, "%63[^\r]", hdr);
                int n = snprintf(out, sizeof out, "%s %s %s", method, body,
                                 hdr);
                respond(fd, 201, out, (size_t)n);
            } else if (!strcmp(path, "/big")) {
                static char big[10000];
                memset(big, 'b', sizeof big);
                respond(fd, 200, big, sizeof big);
            } else if (!strcmp(path, "/hang")) {
                char c;
                while (recv(fd, &c, 1, 0) > 0)
                    ;
            } else if (!strcmp(path, "/quit")) {
                respond(fd, 200, "bye", 3);
                quit = 1;
            } else {
                respond(fd, 404, "no such page", 12);
            }
        }
        close(fd);
        if (quit)
            return NULL;
    }
}

static int start_server(pthread_t *t)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof a) ||
        listen(listen_fd, 8) ||
        getsockname(listen_fd, (struct sockaddr *)&a, &alen))
        return -1;
    port = ntohs(a.sin_port);
    return pthread_create(t, NULL, serve, NULL);
}

/* A loopback port nothing listens on. */
static unsigned closed_port(void)
{
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &alen);
    close(fd);
    return ntohs(a.sin_port);
}

static int request(const char *method, const char *path, const char *body,
                   const char *const *headers, uint64_t max, long timeout,
                   struct orr_http_response *resp, struct orr_error *e)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    struct orr_http_request req = {
        .size = sizeof req, .method = method, .url = url,
        .headers = headers, .body = body, .body_len = body ? strlen(body) : 0,
        .timeout_ms = timeout, .max_response = max,
    };
    memset(resp, 0, sizeof *resp);
    resp->size = sizeof *resp;
    return orri_host_table()->http(&req, resp, e);
}

static void test_requests(void)
{
    const struct orr_host *h = orri_host_table();
    pthread_t t;
    CHECK_INT(start_server(&t), 0);
    struct orr_http_response resp;
    struct orr_error e = {0};

    CHECK_INT(request("GET", "/hello", NULL, NULL, 0, 0, &resp, &e), ORR_OK);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.body_len, 11);
    CHECK_STR(resp.body, "hello world");
    h->free(resp.body);

    const char *hdrs[] = {"X-Test: yes", NULL};
    CHECK_INT(request("POST", "/echo", "abc", hdrs, 0, 0, &resp, &e),
              ORR_OK);
    CHECK_INT(resp.status, 201);
    CHECK_STR(resp.body, "POST abc yes");
    h->free(resp.body);
    CHECK_INT(request("PUT", "/echo", "xyz", NULL, 0, 0, &resp, &e), ORR_OK);
    CHECK_STR(resp.body, "PUT xyz -");
    h->free(resp.body);

    /* A non-2xx status is an answer, not an error. */
    CHECK_INT(request("GET", "/missing", NULL, NULL, 0, 0, &resp, &e),
              ORR_OK);
    CHECK_INT(resp.status, 404);
    CHECK_STR(resp.body, "no such page");
    h->free(resp.body);

    /* The response cap. */
    CHECK_INT(request("GET", "/big", NULL, NULL, 0, 0, &resp, &e), ORR_OK);
    CHECK_INT(resp.body_len, 10000);
    h->free(resp.body);
    CHECK_INT(request("GET", "/big", NULL, NULL, 1000, 0, &resp, &e),
              ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "larger than the limit of 1000 bytes");
    CHECK(resp.body == NULL);

    /* A server that never answers: the outcome does not depend on the
     * timeout's length, only on the server's silence. */
    CHECK_INT(request("GET", "/hang", NULL, NULL, 0, 200, &resp, &e),
              ORR_ETIMEDOUT);
    CHECK_CONTAINS(e.msg, "GET http://127.0.0.1:");

    CHECK_INT(request("GET", "/quit", NULL, NULL, 0, 0, &resp, &e), ORR_OK);
    h->free(resp.body);
    pthread_join(t, NULL);
    close(listen_fd);
}

static void test_errors(void)
{
    const struct orr_host *h = orri_host_table();
    struct orr_error e = {0};
    struct orr_http_response resp = {.size = sizeof resp};
    char url[256];
    snprintf(url, sizeof url,
             "http://user:hunter2@127.0.0.1:%u/p?token=s3cr3t#frag",
             closed_port());
    struct orr_http_request req = {.size = sizeof req, .method = "GET",
                                   .url = url};
    CHECK_INT(h->http(&req, &resp, &e), ORR_ENETWORK);
    CHECK_CONTAINS(e.msg, "GET http://127.0.0.1:");
    CHECK(strstr(e.msg, "hunter2") == NULL);    /* no secrets in errors */
    CHECK(strstr(e.msg, "s3cr3t") == NULL);
    CHECK(strstr(e.msg, "user") == NULL);

    req.url = "ftp://127.0.0.1/x";
    CHECK_INT(h->http(&req, &resp, &e), ORR_EINVAL);
    CHECK_CONTAINS(e.msg, "only http and https");
    req.url = NULL;
    CHECK_INT(h->http(&req, &resp, &e), ORR_EINVAL);
    req.url = "http://127.0.0.1/";
    req.size = 0;
    CHECK_INT(h->http(&req, &resp, &e), ORR_EINVAL);

    char out[64];
    orri_url_redact(out, sizeof out, "https://a:b@h.io:9/x/y?q=1#f");
    CHECK_STR(out, "https://h.io:9/x/y");
    orri_url_redact(out, sizeof out, "http://h/p@q?x");
    CHECK_STR(out, "http://h/p@q");
    orri_url_redact(out, 8, "http://long.example/");
    CHECK_STR(out, "http://");
}

/* The module is found through ORRERY_LIBEXEC_DIR when set; a wrong one is
 * a clear error.  In a child: the module is loaded once per process. */
static void test_module_missing(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("ORRERY_LIBEXEC_DIR", "/nonexistent", 1);
        struct orr_error e = {0};
        struct orr_http_response resp = {.size = sizeof resp};
        struct orr_http_request req = {.size = sizeof req, .method = "GET",
                                       .url = "http://127.0.0.1:1/"};
        int rc = orri_host_table()->http(&req, &resp, &e);
        _exit(rc == ORR_EUNSUPPORTED &&
              strstr(e.msg, "HTTP is unavailable") &&
              strstr(e.msg, "ORRERY_LIBEXEC_DIR") ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* module_missing first: a child forked after a successful load would
 * inherit the loaded module. */
TEST_MAIN({"module_missing", test_module_missing},
          {"requests", test_requests}, {"errors", test_errors})
