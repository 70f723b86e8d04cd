/*
 * lua/l_lineage.c - orrery.lineage.up(x [, depth]) and .down(x [, depth]):
 * the lineage graph (meta/lineage.h) as a Lua table
 *   { root = id, nodes = { {id=, kind=, name=, ...}, ... },
 *     edges = { {from=id, to=id, label=}, ... } }
 * or nil, message, code when x names nothing.  x is a digest or prefix, a
 * run id, a model URI, or an artifact ref table (what ctx:store returns).
 */
#include <lauxlib.h>

#include "lua/l_registry.h"
#include "lua/lua_runtime.h"
#include "meta/lineage.h"

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static void push_node(lua_State *L, const struct orr_lineage_node *n)
{
    lua_createtable(L, 0, 8);
    set_str(L, "id", n->id);
    set_str(L, "kind", orr_lineage_kind_name(n->kind));
    lua_pushinteger(L, n->depth);
    lua_setfield(L, -2, "depth");
    set_str(L, "name", n->name);
    switch (n->kind) {
    case ORR_LINEAGE_ARTIFACT:
        set_str(L, "digest", n->ref);
        set_str(L, "artifact_kind", n->detail);
        lua_pushinteger(L, (lua_Integer)n->size);
        lua_setfield(L, -2, "size");
        break;
    case ORR_LINEAGE_STEP:
        set_str(L, "status", n->detail);
        set_str(L, "run_id", n->ref);
        set_str(L, "workflow", n->extra);
        break;
    case ORR_LINEAGE_RUN:
        set_str(L, "status", n->detail);
        set_str(L, "run_id", n->ref);
        set_str(L, "params_json", n->extra);
        break;
    case ORR_LINEAGE_MODEL:
        set_str(L, "flavor", n->detail);
        lua_pushinteger(L, (lua_Integer)n->version);
        lua_setfield(L, -2, "version");
        break;
    }
}

static int query(lua_State *L, int dir)
{
    const char *x = NULL;
    lua_Integer depth = luaL_optinteger(L, 2, 0);
    luaL_argcheck(L, depth >= 0 && depth <= ORR_LINEAGE_DEPTH_MAX, 2,
                  "depth out of range");
    lua_settop(L, 1);
    if (lua_type(L, 1) == LUA_TTABLE) {
        lua_getfield(L, 1, "artifact");
        x = lua_tostring(L, -1);
        if (x) {
            lua_pushfstring(L, "artifact:%s", x);
            x = lua_tostring(L, -1);
        }
    } else {
        x = luaL_checkstring(L, 1);
    }
    luaL_argcheck(L, x != NULL, 1, "expected a digest, run id, model URI "
                  "or artifact ref");
    struct orr_meta *m = orri_lua_meta(L);
    struct orr_lineage_graph *g = NULL;
    struct orr_error e = {0};
    if (orr_lineage_query(m, x, dir, (int)depth, &g, &e)) {
        luaL_pushfail(L);
        lua_pushstring(L, e.msg);
        lua_pushinteger(L, e.code);
        return 3;
    }
    /* Only a memory error can raise below; it would leak g, which is
     * the least of the process's troubles then. */
    lua_createtable(L, 0, 3);
    lua_createtable(L, (int)g->n_nodes, 0);
    for (size_t i = 0; i < g->n_nodes; i++) {
        push_node(L, &g->nodes[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "nodes");
    lua_createtable(L, (int)g->n_edges, 0);
    for (size_t i = 0; i < g->n_edges; i++) {
        lua_createtable(L, 0, 3);
        set_str(L, "from", g->nodes[g->edges[i].from].id);
        set_str(L, "to", g->nodes[g->edges[i].to].id);
        set_str(L, "label", g->edges[i].label);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "edges");
    set_str(L, "root", g->nodes[g->root].id);
    orr_lineage_free(g);
    return 1;
}

static int l_up(lua_State *L)
{
    return query(L, ORR_LINEAGE_UP);
}

static int l_down(lua_State *L)
{
    return query(L, ORR_LINEAGE_DOWN);
}

void orri_lua_open_lineage(lua_State *L)
{
    static const luaL_Reg funcs[] = {
        {"up", l_up}, {"down", l_down}, {NULL, NULL}
    };
    luaL_newlib(L, funcs);
}
