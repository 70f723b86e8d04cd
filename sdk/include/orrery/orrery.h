/*
 * orrery/orrery.h - the whole plugin SDK in one include.
 */
#ifndef ORRERY_ORRERY_H
#define ORRERY_ORRERY_H

#include "status.h"
#include "table.h"
#include "storage.h"
#include "orchestrator.h"
#include "trainer.h"
#include "server.h"
#include "monitor.h"
#include "host.h"
#include "plugin.h"

#endif /* ORRERY_ORRERY_H */
