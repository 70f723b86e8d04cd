/*
 * monitor/export.h - the monitor's figures as Prometheus text: the host
 * table's export_metrics member (ABI 1.2), which servers call while
 * answering /metrics, and which `orrery monitor serve` exposes alone.
 *
 * What is exported (docs/monitoring.md, "Prometheus", has the table):
 * for every (model, version) the latest stored monitor window, its
 * figures (drift scores, drifted flags, dataset drift share, data and
 * model quality, rows, labelled rows, end time) and the open alerts per
 * model and severity.  A version whose newest window is more than
 * ORRI_EXPORT_HORIZON_MS older than its model's newest window is not
 * exported any more (it no longer serves).
 *
 * Where the figures come from: the process attaches the site's metadata
 * store once (`orrery serve` and `orrery monitor serve` do, through
 * core/serve/serve.c and cli/cmd_monitor_serve.c); export then reads it
 * through its own read-only SQLite connection and two prepared
 * statements, so a scrape never waits on the prediction log's writer.
 * Attach and detach are counted (each attach needs one detach); every
 * function here is thread-safe.
 */
#ifndef ORRI_MONITOR_EXPORT_H
#define ORRI_MONITOR_EXPORT_H

#include <stddef.h>

#include <orrery/status.h>

struct orr_core;

/* Versions silent this long before their model's newest window drop out
 * of the export (7 days). */
#define ORRI_EXPORT_HORIZON_MS (7LL * 24 * 3600 * 1000)

/* Write the latest monitor figures of every monitored model in the
 * process's site metadata store (see docs/monitoring.md for the metric
 * names) through `write`.  ORR_OK with nothing written when the process
 * has no store open.  Each family is written by one call: its HELP and
 * TYPE lines and its samples, complete lines. */
int orri_monitor_export_metrics(void (*write)(void *ctx, const char *text,
                                              size_t len),
                                void *ctx, struct orr_error *e);

/* Attach the site metadata store of `core` (opened and migrated first if
 * it is not yet).  ORR_EBUSY if a different store is attached. */
int orri_monitor_export_attach(struct orr_core *core, struct orr_error *e);
/* The same for a database file (already migrated to the current
 * schema); for tests and embedders without a core. */
int orri_monitor_export_attach_path(const char *db_path,
                                    struct orr_error *e);
/* Undo one attach; the last one closes the connection.  A call without
 * an attach does nothing. */
void orri_monitor_export_detach(void);

#endif
