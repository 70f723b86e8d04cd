/*
 * alog.h - the server's structured access log: one JSON line per answered
 * request, written off the hot path.
 *
 * Serving threads copy a finished line into a shared buffer under a short
 * mutex and go on; one writer thread swaps the buffer for a second one and
 * writes it out (when it is half full, and at least every 100 ms).  When
 * the buffer is full a line is dropped and counted: a request never waits
 * for the disk.  alog_close writes what is buffered.
 */
#ifndef ORR_SERVER_HTTP_ALOG_H
#define ORR_SERVER_HTTP_ALOG_H

#include <stddef.h>

struct alog;

/* Open `path` for appending ("-": standard output) and start the writer.
 * NULL with `err` filled when the file cannot be opened. */
struct alog *alog_open(const char *path, char *err, size_t cap);
/* Queue one line (`n` bytes, its newline included). */
void alog_write(struct alog *a, const char *line, size_t n);
/* Lines dropped because the buffer was full. */
unsigned long long alog_dropped(struct alog *a);
/* Write what is queued, stop the writer, close the file.  NULL ok. */
void alog_close(struct alog *a);

#endif
