/* STUB - replaced by the site-configuration work. */
#include "config/site.h"
#include <stdlib.h>
#include <string.h>
#include "util/error.h"
static const char *const kinds[] = {"storage", "orchestrator", "trainer", "server", "monitor"};
ORR_API const char *orr_kind_name(enum orr_kind k) { return (unsigned)k < ORR_KIND_COUNT ? kinds[k] : "?"; }
ORR_API int orr_kind_from_name(const char *n) { for (int i = 0; i < ORR_KIND_COUNT; i++) if (!strcmp(n, kinds[i])) return i; return -1; }
ORR_API int orr_site_load(struct orr_site **out, const char *p, struct orr_error *e)
{ (void)p; struct orr_site *s = calloc(1, sizeof *s); if (!s) return orr_fail(e, ORR_ENOMEM, "oom");
  s->root = orr_cfg_new_table(); s->dir = strdup(".orrery"); s->db_path = strdup(".orrery/orrery.db"); *out = s; return ORR_OK; }
ORR_API void orr_site_free(struct orr_site *s) { if (!s) return; orr_cfg_free(s->root); free(s->path); free(s->dir); free(s->db_path); free(s); }
ORR_API const char *orr_site_backend(const struct orr_site *s, enum orr_kind k) { (void)s; return k == ORR_KIND_STORAGE ? "fs" : k == ORR_KIND_ORCHESTRATOR ? "local" : NULL; }
ORR_API const struct orr_cfg *orr_site_backend_cfg(const struct orr_site *s, enum orr_kind k, const char *n) { (void)s; (void)k; (void)n; return NULL; }
ORR_API size_t orr_site_plugin_paths(const struct orr_site *s, const char **o, size_t c) { (void)s; (void)o; (void)c; return 0; }
