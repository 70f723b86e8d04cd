/*
 * data/numparse.h - the CSV loader's number reader.
 *
 * orri_parse_number accepts a plain decimal number
 * ([+-]digits[.digits][(e|E)[+-]digits], at least one digit) and nothing
 * else (no spaces, hex, inf or nan spellings).  Its value is always the
 * one strtod gives, bit for bit: mantissas of up to 2^53 with a decimal
 * exponent within +-22 are converted by Clinger's fast path (both
 * operands of the one multiplication or division are exact doubles, so
 * the result is the correctly rounded value), anything else by strtod.
 * tests/data/test_numparse.c checks this on millions of random values
 * and the edge cases.
 */
#ifndef ORR_DATA_NUMPARSE_H
#define ORR_DATA_NUMPARSE_H

#include <stddef.h>

/* Parse s[0..len) (s[len] must be readable and NUL, as strtod may run
 * past len otherwise).  Returns 1 and sets *out for a number, 0 if the
 * text is not a plain decimal number. */
int orri_parse_number(const char *s, size_t len, double *out);

#endif /* ORR_DATA_NUMPARSE_H */
