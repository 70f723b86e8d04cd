/* STUB - replaced by the loader work. */
#include "plugin/host.h"
#include <stddef.h>
const struct orr_host *orri_host_table(void) { return NULL; }
void orri_host_bind(struct orr_core *c) { (void)c; }
