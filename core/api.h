/*
 * api.h - visibility of liborrery's symbols.
 *
 * liborrery is built with hidden visibility: only functions marked ORR_API
 * (the public C API, prefix orr_) are exported from liborrery.so.  Helpers
 * shared between core files use the orri_ prefix and stay hidden.
 */
#ifndef ORRI_API_H
#define ORRI_API_H
#define ORR_API __attribute__((visibility("default")))
#endif
