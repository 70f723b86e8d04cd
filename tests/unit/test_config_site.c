/*
 * tests/unit/test_config_site.c - site lookup, the sandbox, defaults,
 * origins, secrets and errors (config/site.c, config/sandbox.c).
 *
 * Each test runs in a fresh temporary directory with ORRERY_SITE unset
 * and XDG_CONFIG_HOME and HOME pointing into it, so no real site file of
 * the machine running the tests is found (except /etc/orrery/site.lua,
 * which the defaults test checks is absent).
 */
#define _XOPEN_SOURCE 700
#include "config/sandbox.h"
#include "config/site.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/path.h"

#include "test.h"

static char tmp[512], cwd0[4096];

static int rm_one(const char *p, const struct stat *st, int flag,
                  struct FTW *f)
{
    (void)st; (void)flag; (void)f;
    return remove(p);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/orr-site-XXXXXX", base ? base : "/tmp");
    CHECK(mkdtemp(tmp) != NULL);
    CHECK(getcwd(cwd0, sizeof cwd0) != NULL);
    CHECK(chdir(tmp) == 0);
    char xdg[600];
    snprintf(xdg, sizeof xdg, "%s/xdg", tmp);
    mkdir(xdg, 0700);
    setenv("XDG_CONFIG_HOME", xdg, 1);
    setenv("HOME", tmp, 1);
    unsetenv("ORRERY_SITE");
    unsetenv("ORRERY_LOG");
    orri_sandbox_set_limits(0, 0);
}

static void teardown(void)
{
    CHECK(chdir(cwd0) == 0);
    nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *text)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Load ./orrery.site.lua holding `text`; returns the status. */
static int load_text(const char *text, struct orr_site **s,
                     struct orr_error *e)
{
    write_file("orrery.site.lua", text);
    return orr_site_load(s, NULL, e);
}

/* The file must fail with ORR_ECONFIG and a message containing `want`. */
static void expect_error(const char *text, const char *want)
{
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    int rc = load_text(text, &s, &e);
    CHECK_INT(rc, ORR_ECONFIG);
    CHECK(s == NULL);
    CHECK_CONTAINS(e.msg, want);
    orr_site_free(s);
}

static const char *origin(const struct orr_site *s, const char *path)
{
    const struct orr_cfg *c = orr_cfg_get(s->root, path);
    return c && c->origin ? c->origin : "(none)";
}

static void test_defaults(void)
{
    setup();
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK(!orri_path_is_file("/etc/orrery/site.lua"));
    CHECK(s && s->path == NULL);
    if (s) {
        char want[4200];
        CHECK_STR(orr_site_backend(s, ORR_KIND_STORAGE), "fs");
        CHECK_STR(orr_site_backend(s, ORR_KIND_ORCHESTRATOR), "local");
        CHECK_STR(orr_site_backend(s, ORR_KIND_SERVER), "http");
        CHECK_STR(orr_site_backend(s, ORR_KIND_MONITOR), "drift");
        CHECK(orr_site_backend(s, ORR_KIND_TRAINER) == NULL);
        CHECK_STR(orr_cfg_str(s->root, "root", NULL), ".orrery");
        CHECK_STR(orr_cfg_str(s->root, "storage.root", NULL),
                  ".orrery/blobs");
        CHECK_STR(orr_cfg_str(s->root, "metadata.path", NULL),
                  ".orrery/orrery.db");
        CHECK_STR(orr_cfg_str(s->root, "server.host", NULL), "127.0.0.1");
        CHECK_INT(orr_cfg_int(s->root, "server.port", 0), 8080);
        CHECK_STR(orr_cfg_str(s->root, "log_level", NULL), "warn");
        CHECK_STR(origin(s, "storage.root"), "default");
        CHECK_STR(origin(s, "server.port"), "default");
        /* tmp may be reached through a symlink; getcwd is what counts */
        char here[4096];
        CHECK(getcwd(here, sizeof here) != NULL);
        snprintf(want, sizeof want, "%s/.orrery", here);
        CHECK_STR(s->dir, want);
        snprintf(want, sizeof want, "%s/.orrery/orrery.db", here);
        CHECK_STR(s->db_path, want);
        const char *searched[8];
        CHECK_INT(orr_site_searched(s, searched, 8), 3);
        snprintf(want, sizeof want, "%s/orrery.site.lua", here);
        CHECK_STR(searched[0], want);
        snprintf(want, sizeof want, "%s/xdg/orrery/site.lua", tmp);
        CHECK_STR(searched[1], want);
        CHECK_STR(searched[2], "/etc/orrery/site.lua");
        const char *dirs[4];
        CHECK_INT(orr_site_plugin_paths(s, dirs, 4), 0);
    }
    orr_site_free(s);
    /* Without XDG_CONFIG_HOME: $HOME/.config. */
    unsetenv("XDG_CONFIG_HOME");
    write_file(".config/orrery/site.lua", "root = 'home'\n");
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK_STR(s ? orr_cfg_str(s->root, "root", NULL) : NULL, "home");
    orr_site_free(s);
    teardown();
}

static void test_lookup_order(void)
{
    setup();
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    char p[1024];
    snprintf(p, sizeof p, "%s/xdg/orrery/site.lua", tmp);
    write_file(p, "root = 'xdg'\n");
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK_STR(orr_cfg_str(s->root, "root", NULL), "xdg");
    CHECK_STR(s->path, p);
    char o[1100];
    snprintf(o, sizeof o, "%s:1", p);
    CHECK_STR(origin(s, "root"), o);
    orr_site_free(s);
    write_file("orrery.site.lua", "root = 'cwd'\n");
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK_STR(orr_cfg_str(s->root, "root", NULL), "cwd");
    CHECK_STR(origin(s, "root"), "orrery.site.lua:1");
    orr_site_free(s);
    write_file("env.lua", "root = 'env'\n");
    setenv("ORRERY_SITE", "env.lua", 1);
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK_STR(orr_cfg_str(s->root, "root", NULL), "env");
    const char *searched[8];
    CHECK_INT(orr_site_searched(s, searched, 8), 1);
    orr_site_free(s);
    write_file("explicit.lua", "root = 'explicit'\n");
    CHECK_INT(orr_site_load(&s, "explicit.lua", &e), ORR_OK);
    CHECK_STR(orr_cfg_str(s->root, "root", NULL), "explicit");
    CHECK_STR(origin(s, "root"), "explicit.lua:1");
    orr_site_free(s);
    /* Set but empty: ignored. */
    setenv("ORRERY_SITE", "", 1);
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_OK);
    CHECK_STR(orr_cfg_str(s->root, "root", NULL), "cwd");
    orr_site_free(s);
    /* Set but unreadable: an error, not a fallback. */
    setenv("ORRERY_SITE", "missing.lua", 1);
    s = NULL;
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_ENOTFOUND);
    CHECK(s == NULL);
    CHECK_CONTAINS(e.msg, "$ORRERY_SITE");
    CHECK_CONTAINS(e.msg, "missing.lua");
    setenv("ORRERY_SITE", tmp, 1);          /* a directory */
    CHECK(orr_site_load(&s, NULL, &e) != ORR_OK);
    CHECK_CONTAINS(e.msg, "not a regular file");
    unsetenv("ORRERY_SITE");
    CHECK_INT(orr_site_load(&s, "nope.lua", &e), ORR_ENOTFOUND);
    CHECK_CONTAINS(e.msg, "cannot read site file nope.lua");
    CHECK(orr_site_load(&s, "", &e) != ORR_OK);
    teardown();
}

static void test_merge_and_origins(void)
{
    setup();
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    CHECK_INT(load_text("-- a site\n"
                        "storage = {\n"
                        "    root = '/data/blobs',\n"
                        "}\n"
                        "orchestrator = { jobs = 4, nice = 2.5 }\n"
                        "local helper = 1\n"
                        "server = {}\n"
                        "server.port = 9000 + helper\n"
                        "trainer = { xgboost = { nthread = 4 } }\n"
                        "metadata = { path = 'meta/o.db' }\n", &s, &e),
              ORR_OK);
    if (!s) {
        fprintf(stderr, "%s\n", e.msg);
        teardown();
        return;
    }
    CHECK_STR(orr_cfg_str(s->root, "storage.root", NULL), "/data/blobs");
    CHECK_STR(origin(s, "storage.root"), "orrery.site.lua:2");
    CHECK_STR(orr_cfg_str(s->root, "storage.backend", NULL), "fs");
    CHECK_STR(origin(s, "storage.backend"), "default");
    CHECK_INT(orr_cfg_int(s->root, "orchestrator.jobs", 0), 4);
    CHECK_NEAR(orr_cfg_num(s->root, "orchestrator.nice", 0), 2.5, 0);
    CHECK_STR(origin(s, "orchestrator.jobs"), "orrery.site.lua:5");
    CHECK_STR(orr_cfg_str(s->root, "orchestrator.backend", NULL), "local");
    CHECK_INT(orr_cfg_int(s->root, "server.port", 0), 9001);
    CHECK_STR(origin(s, "server.port"), "orrery.site.lua:7");
    CHECK_STR(orr_cfg_str(s->root, "server.host", NULL), "127.0.0.1");
    CHECK(orr_cfg_get(s->root, "helper") == NULL);
    CHECK_INT(orr_cfg_int(orr_site_backend_cfg(s, ORR_KIND_TRAINER,
                                               "xgboost"), "nthread", 0), 4);
    CHECK(orr_site_backend_cfg(s, ORR_KIND_TRAINER, "linear") == NULL);
    CHECK(orr_site_backend_cfg(s, ORR_KIND_STORAGE, "fs") ==
          orr_cfg_child(s->root, "storage"));
    CHECK(orr_site_backend_cfg(s, ORR_KIND_STORAGE, "s3") == NULL);
    char here[4096], want[4200];
    CHECK(getcwd(here, sizeof here) != NULL);
    snprintf(want, sizeof want, "%s/meta/o.db", here);
    CHECK_STR(s->db_path, want);
    CHECK(s->path && strstr(s->path, "/orrery.site.lua"));
    orr_site_free(s);

    /* A returned table: each key the line that sets it. */
    CHECK_INT(load_text("local x = 'r'\n"
                        "\n"
                        "return {\n"
                        "  root = x,\n"
                        "}\n", &s, &e), ORR_OK);
    CHECK_STR(s ? orr_cfg_str(s->root, "root", NULL) : NULL, "r");
    CHECK_STR(s ? origin(s, "root") : NULL, "orrery.site.lua:4");
    orr_site_free(s);
    teardown();
}

static void test_root_and_backends(void)
{
    setup();
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    CHECK_INT(load_text("root = '/srv/orr'\n"
                        "storage = { backend = 's3', bucket = 'b',\n"
                        "            s3 = { region = 'eu' } }\n"
                        "server = { backend = 'grpc' }\n", &s, &e), ORR_OK);
    if (s) {
        CHECK_STR(s->dir, "/srv/orr");
        CHECK_STR(s->db_path, "/srv/orr/orrery.db");
        CHECK_STR(orr_cfg_str(s->root, "metadata.path", NULL),
                  "/srv/orr/orrery.db");
        CHECK_STR(orr_site_backend(s, ORR_KIND_STORAGE), "s3");
        /* fs's default root and http's port do not leak into them */
        CHECK(orr_cfg_get(s->root, "storage.root") == NULL);
        CHECK(orr_cfg_get(s->root, "server.port") == NULL);
        CHECK_STR(orr_cfg_str(orr_site_backend_cfg(s, ORR_KIND_STORAGE,
                                                   "s3"), "region", NULL),
                  "eu");
    }
    orr_site_free(s);
    CHECK_INT(load_text("root = 'site2'\n", &s, &e), ORR_OK);
    CHECK_STR(s ? orr_cfg_str(s->root, "storage.root", NULL) : NULL,
              "site2/blobs");
    orr_site_free(s);
    CHECK_STR(orr_site_backend(NULL, ORR_KIND_STORAGE), "fs");
    CHECK_STR(orr_kind_name(ORR_KIND_ORCHESTRATOR), "orchestrator");
    CHECK_INT(orr_kind_from_name("monitor"), ORR_KIND_MONITOR);
    CHECK_INT(orr_kind_from_name("storag"), -1);
    CHECK_INT(orr_kind_from_name(NULL), -1);
    CHECK_STR(orr_kind_name(ORR_KIND_COUNT), "?");
    teardown();
}

static void test_secrets(void)
{
    setup();
    setenv("ORR_TEST_SECRET", "s3cr3t-value-123", 1);
    setenv("ORR_TEST_REGION", "eu", 1);
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    CHECK_INT(load_text("storage = { backend = 's3',\n"
                        "  secret_key = 'literal',\n"
                        "  access = env('ORR_TEST_SECRET'),\n"
                        "  header = 'Bearer ' .. env('ORR_TEST_SECRET'),\n"
                        "  region = env('ORR_TEST_REGION'),\n"
                        "  other = 'eu-west',\n"
                        "  missing = env('ORR_TEST_NOT_SET_X'),\n"
                        "  fallback = env('ORR_TEST_NOT_SET_X', 'dflt'),\n"
                        "  credentials = { user = 'u' },\n"
                        "  API_Token = 'x' }\n", &s, &e), ORR_OK);
    if (s) {
        const struct orr_cfg *st = orr_cfg_child(s->root, "storage");
        CHECK_INT(orr_cfg_get(st, "secret_key")->secret, 1);
        CHECK_INT(orr_cfg_get(st, "access")->secret, 1);
        CHECK_STR(orr_cfg_str(st, "access", NULL), "s3cr3t-value-123");
        CHECK_INT(orr_cfg_get(st, "header")->secret, 1);
        CHECK_INT(orr_cfg_get(st, "region")->secret, 1);  /* from env() */
        CHECK_INT(orr_cfg_get(st, "other")->secret, 0);   /* short: exact */
        CHECK(orr_cfg_get(st, "missing") == NULL);
        CHECK_INT(orr_cfg_get(st, "fallback")->secret, 0);
        CHECK_INT(orr_cfg_get(st, "credentials.user")->secret, 1);
        CHECK_INT(orr_cfg_get(st, "API_Token")->secret, 1);
        CHECK_INT(orr_cfg_get(st, "backend")->secret, 0);
    }
    orr_site_free(s);
    /* A secret in an error message is masked. */
    expect_error("local k = env('ORR_TEST_SECRET')\n"
                 "error('bad key ' .. k)\n", "orrery.site.lua:2: bad key ****");
    struct orr_error e2 = {0};
    load_text("error(env('ORR_TEST_SECRET'))\n", &s, &e2);
    CHECK(!strstr(e2.msg, "s3cr3t"));
    CHECK_CONTAINS(e2.msg, "****");
    /* env() arguments are checked */
    expect_error("root = env()\n", "bad argument #1 to 'env'");
    CHECK(orri_cfg_key_is_secret("db_password"));
    CHECK(orri_cfg_key_is_secret("AccessKeyId"));
    CHECK(!orri_cfg_key_is_secret("bucket"));
    unsetenv("ORR_TEST_SECRET");
    unsetenv("ORR_TEST_REGION");
    teardown();
}

static void test_sandbox_escapes(void)
{
    setup();
    expect_error("local f = io.open('/etc/passwd')\n", "global 'io'");
    expect_error("os.execute('true')\n", "global 'os'");
    expect_error("local os = require('os')\n", "global 'require'");
    expect_error("dofile('/etc/passwd')\n", "global 'dofile'");
    expect_error("loadfile('/etc/passwd')\n", "global 'loadfile'");
    expect_error("debug.getinfo(1)\n", "global 'debug'");
    expect_error("package.loadlib('libc.so.6', 'system')\n",
                 "global 'package'");
    expect_error("collectgarbage()\n", "global 'collectgarbage'");
    expect_error("print('hi')\n", "global 'print'");
    expect_error("coroutine.create(print)\n", "global 'coroutine'");
    expect_error("local f = string.dump(function() end)\n"
                 "local g = load(f)\n",
                 "orrery.site.lua:2: load: binary chunks (bytecode) are "
                 "refused");
    expect_error("load('\\27Lua' .. string.rep('x', 30), 'x', 't')\n",
                 "binary chunks");
    expect_error("load('return 1', 'x', 'b')\n", "binary chunks");
    expect_error("setmetatable(_G, nil)\n", "protected metatable");
    /* Text load still works, and its chunk writes the same globals. */
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    CHECK_INT(load_text("load('root = \"from-load\"')()\n", &s, &e), ORR_OK);
    CHECK_STR(s ? orr_cfg_str(s->root, "root", NULL) : NULL, "from-load");
    orr_site_free(s);
    /* rawset() past the proxy is still read. */
    CHECK_INT(load_text("rawset(_G, 'root', 'raw')\n", &s, &e), ORR_OK);
    CHECK_STR(s ? orr_cfg_str(s->root, "root", NULL) : NULL, "raw");
    orr_site_free(s);
    /* A precompiled file. */
    write_file("orrery.site.lua", "\x1bLuaT\x00\x19\x93\r\n");
    CHECK_INT(orr_site_load(&s, NULL, &e), ORR_ECONFIG);
    CHECK_CONTAINS(e.msg, "orrery.site.lua: precompiled Lua bytecode is "
                          "refused");
    teardown();
}

static void test_errors(void)
{
    setup();
    expect_error("root = 'x'\n"
                 "storage = {\n"
                 "  root = 'a' 'b'\n"
                 "}\n", "orrery.site.lua:3:");
    expect_error("root = 'x'\nlocal y = nil + 1\n",
                 "orrery.site.lua:2: attempt to perform arithmetic");
    expect_error("\n\nerror({})\n",
                 "orrery.site.lua:3: (error object is a table value)");
    expect_error("error('plain', 0)\n", "orrery.site.lua:1: plain");
    expect_error("return 5\n",
                 "orrery.site.lua:1: a site file returns a table or "
                 "nothing, not a number");
    expect_error("storag = { backend = 'fs' }\n",
                 "orrery.site.lua:1: unknown key 'storag' (did you mean "
                 "'storage'?)");
    expect_error("\nOrchestrator = {}\n",
                 "orrery.site.lua:2: unknown key 'Orchestrator' (did you "
                 "mean 'orchestrator'?)");
    expect_error("zzz = 1\n", "unknown key 'zzz'; a site file sets root, "
                              "plugin_path");
    expect_error("function helper() end\n",
                 "helper: functions are not allowed in a site file (make "
                 "helpers 'local')");
    expect_error("storage = {\n  x = function() end }\n",
                 "orrery.site.lua:1: storage.x: functions are not allowed "
                 "in a site file");
    expect_error("storage = 3\n",
                 "orrery.site.lua:1: storage must be a table, not an "
                 "integer");
    expect_error("root = true\n", "root must be a non-empty string");
    expect_error("log_level = 'loud'\n", "log_level must be one of");
    expect_error("storage = { backend = 5 }\n",
                 "storage.backend must be a string, not an integer");
    expect_error("storage = { backend = '../evil' }\n", "not a backend name");
    expect_error("plugin_path = { 1 }\n", "plugin_path[1] must be a "
                                          "non-empty string");
    expect_error("plugin_path = { a = 'x' }\n", "plugin_path must be a list");
    expect_error("metadata = { path = 3 }\n", "metadata.path must be");
    expect_error("local t = {}\nt.t = t\nstorage = t\n",
                 "nested too deeply");
    expect_error("storage = { [true] = 1 }\n",
                 "keys must be strings or integers");
    expect_error("storage = { ['a.b'] = 1 }\n", "without '.'");
    expect_error("storage = { x = 0/0 }\n", "storage.x: not a finite number");
    expect_error("storage = { x = '\\0' }\n", "NUL");
    /* Too large. */
    char *big = malloc(ORRI_SANDBOX_FILE_LIMIT + 10);
    memset(big, ' ', ORRI_SANDBOX_FILE_LIMIT + 9);
    big[ORRI_SANDBOX_FILE_LIMIT + 9] = '\0';
    expect_error(big, "site file too large");
    free(big);
    teardown();
}

static void test_limits(void)
{
    setup();
    orri_sandbox_set_limits(0, 1000000);
    expect_error("root = 'x'\nwhile true do end\n",
                 "orrery.site.lua:2: instruction limit exceeded");
    /* Catching the limit error does not buy more time. */
    expect_error("while true do\n"
                 "  pcall(function() while true do end end)\n"
                 "end\n", "instruction limit exceeded");
    expect_error("local function f() return f() end\nf()\n",
                 "instruction limit exceeded");
    orri_sandbox_set_limits(8u << 20, 0);
    expect_error("local t = {}\n"
                 "for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end\n",
                 "memory limit exceeded (8 MiB)");
    expect_error("local s = string.rep('x', 1e9)\n", "memory limit exceeded");
    /* Catching the memory error does not let the script go on (each
     * failed allocation costs a full collection). */
    expect_error("while true do pcall(string.rep, 'x', 1e9) end\n",
                 "orrery.site.lua:1: memory limit exceeded (8 MiB)");
    /* Deep recursion is a plain error (Lua's own C-stack guard). */
    expect_error("local function f(n) return 1 + f(n + 1) end\nf(1)\n",
                 "orrery.site.lua:");
    /* The default limits stop the same things. */
    orri_sandbox_set_limits(0, 0);
    expect_error("local t = {}\n"
                 "for i = 1, 1e9 do t[i] = string.rep('x', 4096) .. i end\n",
                 "memory limit exceeded (64 MiB)");
    expect_error("local n = 0\nwhile true do n = n + 1 end\n",
                 "orrery.site.lua:2: instruction limit exceeded "
                 "(100000000 instructions)");
    teardown();
}

static void test_plugin_path_and_log(void)
{
    setup();
    struct orr_site *s = NULL;
    struct orr_error e = {0};
    char p[1024], want[1200];
    snprintf(p, sizeof p, "%s/conf/site.lua", tmp);
    write_file(p, "plugin_path = { 'plugins', '/opt/orr/../p', './x/' }\n"
                  "log_level = 'debug'\n");
    CHECK_INT(orr_site_load(&s, p, &e), ORR_OK);
    const char *dirs[4] = {0};
    CHECK_INT(orr_site_plugin_paths(s, dirs, 4), 3);
    snprintf(want, sizeof want, "%s/conf/plugins", tmp);
    CHECK_STR(dirs[0], want);
    CHECK_STR(dirs[1], "/opt/p");
    snprintf(want, sizeof want, "%s/conf/x", tmp);
    CHECK_STR(dirs[2], want);
    CHECK_INT(orr_site_plugin_paths(s, dirs, 1), 1);
    CHECK_INT(orr_log_level(), ORR_LOG_DEBUG);
    orr_site_free(s);
    orr_log_set_level(ORR_LOG_WARN);
    /* ORRERY_LOG outranks the file. */
    setenv("ORRERY_LOG", "error", 1);
    CHECK_INT(orr_site_load(&s, p, &e), ORR_OK);
    CHECK_INT(orr_log_level(), ORR_LOG_WARN);
    orr_site_free(s);
    unsetenv("ORRERY_LOG");
    write_file(p, "plugin_path = '/one'\n");
    CHECK_INT(orr_site_load(&s, p, &e), ORR_OK);
    CHECK_INT(orr_site_plugin_paths(s, dirs, 4), 1);
    CHECK_STR(dirs[0], "/one");
    orr_site_free(s);
    /* A "#!" first line and a byte-order mark keep line numbers. */
    CHECK_INT(load_text("#!/usr/bin/env lua\nroot = 'x'\n", &s, &e), ORR_OK);
    CHECK_STR(s ? origin(s, "root") : NULL, "orrery.site.lua:2");
    orr_site_free(s);
    CHECK_INT(load_text("\xEF\xBB\xBF\nroot = 'x'\n", &s, &e), ORR_OK);
    CHECK_STR(s ? origin(s, "root") : NULL, "orrery.site.lua:2");
    orr_site_free(s);
    teardown();
}

TEST_MAIN({"defaults", test_defaults},
          {"lookup_order", test_lookup_order},
          {"merge_and_origins", test_merge_and_origins},
          {"root_and_backends", test_root_and_backends},
          {"secrets", test_secrets},
          {"sandbox_escapes", test_sandbox_escapes},
          {"errors", test_errors},
          {"limits", test_limits},
          {"plugin_path_and_log", test_plugin_path_and_log})
