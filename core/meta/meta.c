/* STUB - replaced by the metadata work. */
#include "meta/meta.h"
#include "util/error.h"
ORR_API int orr_meta_open(struct orr_meta **o, const char *p, struct orr_error *e) { *o = NULL; return orr_fail(e, ORR_EUNSUPPORTED, "metadata store %s", p); }
ORR_API void orr_meta_close(struct orr_meta *m) { (void)m; }
ORR_API int orr_meta_flush(struct orr_meta *m, struct orr_error *e) { (void)m; (void)e; return ORR_OK; }
ORR_API int orr_meta_run_begin(struct orr_meta *m, const struct orr_run_spec *s, char id[ORR_RUN_ID_SIZE], struct orr_error *e) { (void)m; (void)s; (void)id; return orr_fail(e, ORR_EUNSUPPORTED, "runs"); }
ORR_API int orr_meta_run_end(struct orr_meta *m, const char *id, enum orr_run_status st, struct orr_error *e) { (void)m; (void)id; (void)st; (void)e; return ORR_OK; }
ORR_API int orr_meta_step_begin(struct orr_meta *m, const char *id, const char *s, int64_t *sid, struct orr_error *e) { (void)m; (void)id; (void)s; *sid = 0; (void)e; return ORR_OK; }
ORR_API int orr_meta_step_end(struct orr_meta *m, int64_t sid, enum orr_run_status st, struct orr_error *e) { (void)m; (void)sid; (void)st; (void)e; return ORR_OK; }
ORR_API int orr_meta_log_param(struct orr_meta *m, const char *id, const char *k, const char *v, struct orr_error *e) { (void)m; (void)id; (void)k; (void)v; (void)e; return ORR_OK; }
ORR_API int orr_meta_set_tag(struct orr_meta *m, const char *id, const char *k, const char *v, struct orr_error *e) { (void)m; (void)id; (void)k; (void)v; (void)e; return ORR_OK; }
ORR_API int orr_meta_log_metric(struct orr_meta *m, const char *id, const char *k, double v, int64_t s, struct orr_error *e) { (void)m; (void)id; (void)k; (void)v; (void)s; (void)e; return ORR_OK; }
ORR_API int orr_meta_artifact(struct orr_meta *m, int64_t sid, enum orr_event_dir d, const char *dg, uint64_t sz, const char *k, const char *n, struct orr_error *e) { (void)m; (void)sid; (void)d; (void)dg; (void)sz; (void)k; (void)n; (void)e; return ORR_OK; }
ORR_API int orr_meta_run_summary(struct orr_meta *m, const char *id, struct orr_run_summary *o, struct orr_error *e) { (void)m; (void)id; (void)o; return orr_fail(e, ORR_EUNSUPPORTED, "summary"); }
