/*
 * tests/data/same_ds.h - the CSV tests' comparison of two loaded
 * datasets: names, kinds, values bit for bit, missing masks,
 * dictionaries and codes (the loader's paths must agree in all of it).
 */
#ifndef ORR_TESTS_SAME_DS_H
#define ORR_TESTS_SAME_DS_H

#include "data/table.h"

/* 1 if a and b hold the same table, 0 otherwise. */
int same_ds(const struct orr_dataset *a, const struct orr_dataset *b);

#endif
