/*
 * lua/l_registry.h - orrery.models and orrery.lineage, the Lua side of
 * the model registry and of lineage queries (l_models.c, l_lineage.c).
 *
 * Lookups that find nothing return nil, message, code (like
 * orrery.storage); writes (register, set_alias) raise, because a step
 * that could not register its model has failed.  Misuse raises.
 */
#ifndef ORRI_LUA_L_REGISTRY_H
#define ORRI_LUA_L_REGISTRY_H

#include <lua.h>

struct orr_meta;

/* Push the orrery.models / orrery.lineage tables. */
void orri_lua_open_models(lua_State *L);
void orri_lua_open_lineage(lua_State *L);

/* The core's metadata store for the state, or raise. */
struct orr_meta *orri_lua_meta(lua_State *L);

#endif
