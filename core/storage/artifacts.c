/* STUB - replaced by the storage work. */
#include "storage/artifacts.h"
#include "util/error.h"
ORR_API int orr_storage_put_file(struct orr_instance *st, const char *p, char d[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e) { (void)st; (void)d; return orr_fail(e, ORR_EUNSUPPORTED, "put %s", p); }
ORR_API int orr_storage_put_buf(struct orr_instance *st, const void *b, size_t n, char d[ORR_DIGEST_HEX_LEN + 1], struct orr_error *e) { (void)st; (void)b; (void)n; (void)d; return orr_fail(e, ORR_EUNSUPPORTED, "put"); }
ORR_API int orr_storage_get_file(struct orr_instance *st, const char *d, const char *p, struct orr_error *e) { (void)st; (void)d; return orr_fail(e, ORR_EUNSUPPORTED, "get %s", p); }
ORR_API int orr_storage_get_buf(struct orr_instance *st, const char *d, size_t m, void **b, size_t *n, struct orr_error *e) { (void)st; (void)d; (void)m; (void)b; (void)n; return orr_fail(e, ORR_EUNSUPPORTED, "get"); }
ORR_API int orr_storage_stat(struct orr_instance *st, const char *d, struct orr_blob_info *i, struct orr_error *e) { (void)st; (void)d; (void)i; return orr_fail(e, ORR_EUNSUPPORTED, "stat"); }
ORR_API int orr_storage_list(struct orr_instance *st, const char *p, orr_blob_fn f, void *c, struct orr_error *e) { (void)st; (void)p; (void)f; (void)c; return orr_fail(e, ORR_EUNSUPPORTED, "list"); }
ORR_API int orr_storage_remove(struct orr_instance *st, const char *d, struct orr_error *e) { (void)st; (void)d; return orr_fail(e, ORR_EUNSUPPORTED, "remove"); }
ORR_API int orr_digest_is_valid(const char *s) { (void)s; return 0; }
