/*
 * orrery/status.h - status codes and the caller-owned error record.
 *
 * Every fallible call in Orrery, in the core and in plugins, returns an
 * `int` that is ORR_OK (0) or one of the enum orr_status values below, and
 * writes a human-readable detail into a `struct orr_error` that the caller
 * owns.  Library code never prints: it fills the error and returns.
 *
 * Compatibility: values are append-only.  A value is never renumbered,
 * reused or removed; a retired value stays as a placeholder.
 */
#ifndef ORRERY_STATUS_H
#define ORRERY_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

enum orr_status {
    ORR_OK = 0,         /* success                                          */
    ORR_ENOMEM,         /* out of memory                                    */
    ORR_EINVAL,         /* invalid argument or malformed input              */
    ORR_ENOTFOUND,      /* no such key, file, backend, run, ...             */
    ORR_EIO,            /* an operating-system or device I/O error          */
    ORR_ETIMEDOUT,      /* a deadline passed                                */
    ORR_EUNSUPPORTED,   /* the backend does not implement this operation    */
    ORR_EABI,           /* a plugin is not binary compatible                */
    ORR_EBACKEND,       /* a backend failed for a reason of its own         */
    ORR_ECORRUPT,       /* stored data failed its integrity check           */
    ORR_EEXIST,         /* the thing being created exists already           */
    ORR_EPERM,          /* refused: permission, sandbox or path escape      */
    ORR_ECONFIG,        /* the site configuration is invalid                */
    ORR_ESCRIPT,        /* a Lua script raised an error                     */
    ORR_ECANCELED,      /* the operation was cancelled                      */
    ORR_EBUSY,          /* a resource is in use                             */
    ORR_ENETWORK,       /* a network peer could not be reached              */
    ORR_STATUS_LAST     /* not a status: one past the last value            */
};

/* Size of the message buffer in struct orr_error, terminator included. */
#define ORR_ERROR_MSG_SIZE 256

/*
 * The error record.  Caller-owned, usually on the stack; never allocated
 * by the callee.  `code` repeats the returned status; `msg` is a complete
 * sentence fragment such as "put sha256/ab12...: No space left on device",
 * truncated (never overflowed) at ORR_ERROR_MSG_SIZE - 1 bytes.
 */
struct orr_error {
    int  code;
    char msg[ORR_ERROR_MSG_SIZE];
};

/* Static English text for a status code ("unknown status" if out of range).
 * Provided by liborrery; plugins use the host table's `strerror` member. */
const char *orr_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif /* ORRERY_STATUS_H */
