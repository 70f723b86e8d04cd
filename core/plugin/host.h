/*
 * plugin/host.h - the host table the core hands to plugins.
 *
 * There is one table per process.  Members that need the site (artifact
 * storage, metadata) act on the core bound with orri_host_bind(); before a
 * core is bound they fail with ORR_EUNSUPPORTED.
 */
#ifndef ORRI_PLUGIN_HOST_H
#define ORRI_PLUGIN_HOST_H

#include <orrery/host.h>

struct orr_core;

/* The table, filled once.  Valid for the life of the process. */
const struct orr_host *orri_host_table(void);

/* Make `core` the one host members act on (NULL to unbind). */
void orri_host_bind(struct orr_core *core);

#endif
