/*
 * monitor/export.h - the monitor's figures as Prometheus text: the host
 * table's export_metrics member (ABI 1.2), which servers call while
 * answering /metrics, and which `orrery monitor serve` exposes alone.
 */
#ifndef ORRI_MONITOR_EXPORT_H
#define ORRI_MONITOR_EXPORT_H

#include <stddef.h>

#include <orrery/status.h>

/* Write the latest monitor figures of every monitored model in the
 * process's site metadata store (see docs/monitoring.md for the metric
 * names) through `write`.  ORR_OK with nothing written when the process
 * has no store open. */
int orri_monitor_export_metrics(void (*write)(void *ctx, const char *text,
                                              size_t len),
                                void *ctx, struct orr_error *e);

#endif
