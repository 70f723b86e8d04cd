/*
 * config/jail.h - the locked-down Lua state that user-written declaration
 * files run in: the site file (config/sandbox.c) and the triggers file
 * (lua/l_triggers.c).
 *
 * A jail is a lua_State with a memory ceiling (its allocator refuses
 * growth past the limit) and an instruction budget (a count hook), with
 * only the base (minus file and bytecode loading, print, collectgarbage,
 * warn, require, load), string, table, math and utf8 libraries.  Files
 * are read whole, bounded in size, as source text only.
 */
#ifndef ORRI_CONFIG_JAIL_H
#define ORRI_CONFIG_JAIL_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include <orrery/status.h>

/* The count hook runs every this many VM instructions. */
#define ORRI_JAIL_HOOK_EVERY 10000
/* Room left past the memory limit so the error itself can be raised. */
#define ORRI_JAIL_MEM_SLACK  ((size_t)1 << 20)

/* Embed as the FIRST member of the caller's state struct: the allocator's
 * user data is the jail, so `(struct mine *)orri_jail_of(L)` works. */
struct orri_jail {
    lua_State *L;
    size_t     used, limit;         /* bytes                              */
    int        mem_hit;
    uint64_t   instr, instr_limit;
    int        instr_hit;
    lua_Hook   hook;                /* the caller's count hook            */
};

/* Create the state with the process's sandbox limits (see
 * orri_sandbox_set_limits).  `hook` is the caller's hook: it calls
 * orri_jail_tick on count events.  NULL when out of memory. */
lua_State *orri_jail_new(struct orri_jail *j, lua_Hook hook);
struct orri_jail *orri_jail_of(lua_State *L);

/* For the hook's count events: 0 to go on, ORRI_JAIL_MEMORY when the
 * memory limit was hit, ORRI_JAIL_INSTRUCTIONS when the budget is spent
 * (from then on every instruction fails, so pcall cannot get past).  The
 * caller raises the error with its own wording. */
#define ORRI_JAIL_MEMORY       1
#define ORRI_JAIL_INSTRUCTIONS 2
int orri_jail_tick(struct orri_jail *j);
/* The limit as configured, in MiB, for messages. */
size_t orri_jail_limit_mib(const struct orri_jail *j);

/* Open the allowed libraries (in a protected call). */
void orri_jail_open_libs(lua_State *L);

/* Read the Lua source file `path` (named `display` in messages, a `what`
 * such as "site file"): a regular file of at most ORRI_SANDBOX_FILE_LIMIT
 * bytes; a UTF-8 byte-order mark is skipped, a "#!" first line blanked
 * (line numbers kept), precompiled bytecode refused.  *buf is the
 * allocation to free, *src and *len the text. */
int orri_jail_read(const char *path, const char *display, const char *what,
                   char **buf, char **src, size_t *len, struct orr_error *e);

#endif
