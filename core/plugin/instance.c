/* STUB - replaced by the loader work. */
#include "plugin/instance.h"
#include "util/error.h"
ORR_API int orr_instance_open(struct orr_core *c, enum orr_kind k, const char *n, const struct orr_cfg *cfg, struct orr_instance **o, struct orr_error *e)
{ (void)c; (void)k; (void)cfg; *o = NULL; return orr_fail(e, ORR_EUNSUPPORTED, "cannot open backend %s yet", n ? n : "(site)"); }
ORR_API void orr_instance_close(struct orr_instance *i) { (void)i; }
