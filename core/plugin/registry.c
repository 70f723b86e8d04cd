/* STUB - replaced by the loader work. */
#include "plugin/registry.h"
#include <stdlib.h>
#include "util/error.h"
struct orr_registry { int unused; };
ORR_API int orr_registry_new(struct orr_registry **out, const char *const *d, size_t n, struct orr_error *e)
{ (void)d; (void)n; *out = calloc(1, sizeof **out); return *out ? ORR_OK : orr_fail(e, ORR_ENOMEM, "oom"); }
ORR_API void orr_registry_free(struct orr_registry *r) { free(r); }
ORR_API int orr_registry_load_file(struct orr_registry *r, const char *p, struct orr_error *e) { (void)r; return orr_fail(e, ORR_EUNSUPPORTED, "%s: not implemented", p); }
ORR_API void orr_registry_load_all(struct orr_registry *r) { (void)r; }
ORR_API int orr_registry_find(struct orr_registry *r, enum orr_kind k, const char *n, const struct orr_backend **o, struct orr_error *e)
{ (void)r; (void)k; (void)o; return orr_fail(e, ORR_ENOTFOUND, "unknown backend '%s'", n); }
ORR_API size_t orr_registry_plugin_count(const struct orr_registry *r) { (void)r; return 0; }
ORR_API const struct orr_plugin_info *orr_registry_plugin_at(const struct orr_registry *r, size_t i) { (void)r; (void)i; return NULL; }
ORR_API size_t orr_registry_backend_count(const struct orr_registry *r) { (void)r; return 0; }
ORR_API const struct orr_backend *orr_registry_backend_at(const struct orr_registry *r, size_t i) { (void)r; (void)i; return NULL; }
ORR_API size_t orr_registry_refusal_count(const struct orr_registry *r) { (void)r; return 0; }
ORR_API const struct orr_refusal *orr_registry_refusal_at(const struct orr_registry *r, size_t i) { (void)r; (void)i; return NULL; }
ORR_API size_t orr_registry_dir_count(const struct orr_registry *r) { (void)r; return 0; }
ORR_API const char *orr_registry_dir_at(const struct orr_registry *r, size_t i) { (void)r; (void)i; return NULL; }
