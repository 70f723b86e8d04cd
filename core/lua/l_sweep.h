/*
 * lua/l_sweep.h - wf:sweep{...} (l_sweep.c), for l_workflow.c.
 */
#ifndef ORRI_LUA_L_SWEEP_H
#define ORRI_LUA_L_SWEEP_H

#include <lua.h>

#include "lua/lua_runtime.h"

/* wf:sweep(spec) -> the handle of the sweep's select step.  Declares one
 * step per trial and the select step; raises on a bad spec. */
int orri_lua_sweep(lua_State *L);

#endif
