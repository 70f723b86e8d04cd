/*
 * util/log.h - the core's diagnostic log (stderr), also host->log.
 *
 * One line per message: "orrery: <level>: [who] message".  The threshold
 * comes from ORRERY_LOG (error|warn|info|debug) or orr_log_set_level();
 * the default shows warnings and errors.  Never log secrets.
 */
#ifndef ORRI_UTIL_LOG_H
#define ORRI_UTIL_LOG_H

#include <orrery/host.h>   /* enum orr_log_level */

#include "api.h"

ORR_API void orr_log(int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ORR_API void orr_log_set_level(int level);
ORR_API int  orr_log_level(void);
/* Parse "error", "warn", "info", "debug"; -1 if unknown. */
ORR_API int  orr_log_level_from_name(const char *name);

#endif
