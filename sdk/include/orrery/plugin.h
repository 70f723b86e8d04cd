/*
 * orrery/plugin.h - the plugin descriptor: the one header a plugin needs.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `orr_plugin_describe`, returning a static descriptor.  Write it with the
 * ORR_PLUGIN macro, which also stamps the SDK's ABI version:
 *
 *     #include <orrery/plugin.h>
 *
 *     static const struct orr_host *H;
 *     static const struct orr_storage_ops my_ops = { ORR_STORAGE_OPS_V1, ... };
 *
 *     static int my_init(const struct orr_host *h, struct orr_registry *r,
 *                        struct orr_error *e)
 *     {
 *         H = h;
 *         return h->add_storage(r, &my_ops, e);
 *     }
 *
 *     ORR_PLUGIN("storage-mine", "1.0.0", "Apache-2.0",
 *                "blobs in my store", my_init, NULL)
 *
 * The loader refuses, naming the file and the reason, a plugin whose
 * symbol is missing, whose ABI major differs from the core's, whose minor
 * is newer than the core's, whose name/version/license/summary/init is
 * empty, whose name is already loaded, or whose init registers a vtable
 * that is newer than the core knows or lacks a mandatory member.
 *
 * Naming: name the file <kind>-<name>.so (storage-s3.so) so the core can
 * load it lazily when a site first asks for that kind; other file names
 * work too but are loaded only when a lookup by kind has found nothing.
 *
 * See docs/plugin-abi.md for the full compatibility rules.
 */
#ifndef ORRERY_PLUGIN_H
#define ORRERY_PLUGIN_H

#include "host.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Major: bumped on any breaking change; the core refuses other majors.
 * Minor: bumped on append-only growth; the core accepts minors <= its own. */
#define ORR_ABI_MAJOR 1
#define ORR_ABI_MINOR 2

/* The SDK's release, for messages and `orrery version`. */
#define ORR_SDK_VERSION "0.1.0"

/* The backend kinds, in the order the core lists them. */
enum orr_kind {
    ORR_KIND_STORAGE = 0,
    ORR_KIND_ORCHESTRATOR,
    ORR_KIND_TRAINER,
    ORR_KIND_SERVER,
    ORR_KIND_MONITOR,
    ORR_KIND_COUNT          /* not a kind                                    */
};

struct orr_plugin_desc {
    unsigned    abi_major;  /* ORR_ABI_MAJOR at build time                   */
    unsigned    abi_minor;  /* ORR_ABI_MINOR at build time                   */
    const char *name;       /* unique, e.g. "storage-fs"                     */
    const char *version;    /* the plugin's own release, e.g. "1.2.0"        */
    const char *license;    /* SPDX identifier, e.g. "Apache-2.0"            */
    const char *summary;    /* one line                                       */
    /* Register backends through `h`.  On failure fill `e` and return a
     * status; the core then removes anything registered and unloads. */
    int  (*init)(const struct orr_host *h, struct orr_registry *r,
                 struct orr_error *e);
    /* Called once at exit, after every instance is closed.  May be NULL. */
    void (*fini)(void);
};

typedef const struct orr_plugin_desc *(*orr_plugin_describe_fn)(void);

#define ORR_PLUGIN_SYMBOL "orr_plugin_describe"

#if defined(_WIN32)
#define ORR_EXPORT __declspec(dllexport)
#else
#define ORR_EXPORT __attribute__((visibility("default")))
#endif

/* Define the descriptor and the exported entry point.  Arguments: name,
 * version, license, summary, init, fini. */
#define ORR_PLUGIN(name, version, license, summary, init, fini)              \
    static const struct orr_plugin_desc orr_plugin_desc_ = {                 \
        ORR_ABI_MAJOR, ORR_ABI_MINOR, (name), (version), (license),           \
        (summary), (init), (fini)};                                           \
    ORR_EXPORT const struct orr_plugin_desc *orr_plugin_describe(void);       \
    ORR_EXPORT const struct orr_plugin_desc *orr_plugin_describe(void)        \
    {                                                                         \
        return &orr_plugin_desc_;                                             \
    }

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_PLUGIN_H */
