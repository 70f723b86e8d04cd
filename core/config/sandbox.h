/*
 * config/sandbox.h - evaluating a site file in a Lua sandbox.
 *
 * The file runs in a fresh lua_State with a memory ceiling and an
 * instruction budget, with only the base (minus file and bytecode
 * loading, print, collectgarbage), string, table, math and utf8
 * libraries, plus `env(NAME [, default])`.  What it assigns as globals, or
 * the table it returns, becomes a plain orr_cfg tree; the Lua state is
 * closed before this returns, so nothing of Lua outlives the call.
 *
 * Used by site.c; the file-level schema (which top-level keys exist, their
 * types) is checked there, not here.
 */
#ifndef ORRI_CONFIG_SANDBOX_H
#define ORRI_CONFIG_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <orrery/status.h>

#include "config/cfg.h"

/* Defaults of the limits below. */
#define ORRI_SANDBOX_MEM_LIMIT   ((size_t)64 << 20)      /* bytes          */
#define ORRI_SANDBOX_INSTR_LIMIT ((uint64_t)100000000)   /* VM instructions */
#define ORRI_SANDBOX_FILE_LIMIT  ((size_t)1 << 20)       /* source bytes   */

/* Evaluate the site file `path`.  `display` is the name used in origins
 * ("display:LINE") and error messages.  On success *out is a new table
 * whose top-level children carry the line of their assignment (of the
 * `return` statement when the file returns a table); nested values
 * inherit it.  Values obtained through env(), and values under keys that
 * look like credentials (secret, password, token, key...), are marked
 * secret.  Errors are ORR_ECONFIG "display:LINE: message" (syntax,
 * runtime, limits, unconvertible values), ORR_ENOTFOUND / ORR_EIO when the
 * file cannot be read; error text never contains an env() value. */
int orri_sandbox_eval(const char *path, const char *display,
                      struct orr_cfg **out, struct orr_error *e);

/* Override the limits for this process (tests use small ones so a
 * runaway script is stopped quickly).  0 restores a default. */
void orri_sandbox_set_limits(size_t mem_bytes, uint64_t instructions);
/* The limits in force (config/jail.c starts every jailed state with
 * them: the triggers file runs under the site file's limits). */
void orri_sandbox_limits(size_t *mem_bytes, uint64_t *instructions);

/* 1 if a key name looks like it holds a credential ("secret_key",
 * "api_token", "Password"...): such values are masked. */
int orri_cfg_key_is_secret(const char *key);

#endif
