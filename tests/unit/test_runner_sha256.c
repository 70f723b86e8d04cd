/* Unit tests for core/runner/sha256.c: FIPS 180-4 test vectors, chunked
 * updates, and the length-prefixed fields the cache keys are built from. */
#include <stdlib.h>

#include "runner/orch_internal.h"
#include "test.h"

static void digest_of(const void *data, size_t len, size_t chunk,
                      char out[65])
{
    struct orri_sha256 c;
    orri_sha256_init(&c);
    const unsigned char *p = data;
    for (size_t off = 0; off < len; off += chunk)
        orri_sha256_update(&c, p + off, len - off < chunk ? len - off : chunk);
    orri_sha256_hex(&c, out);
}

static void test_vectors(void)
{
    char hex[65];
    digest_of("", 0, 1, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                   "27ae41e4649b934ca495991b7852b855");
    digest_of("abc", 3, 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223"
                   "b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    digest_of(two, strlen(two), 64, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039"
                   "a33ce45964ff2167f6ecedd419db06c1");
}

static void test_chunking_and_million_a(void)
{
    size_t n = 1000000;
    char *a = malloc(n);
    CHECK(a != NULL);
    if (!a)
        return;
    memset(a, 'a', n);
    char whole[65], bytes[65], odd[65];
    digest_of(a, n, n, whole);
    digest_of(a, n, 1, bytes);
    digest_of(a, n, 63, odd);
    CHECK_STR(whole, "cdc76e5c9914fb9281a1c7e284d73e67"
                     "f1809a48a497200e046d39ccc7112cd0");
    CHECK_STR(bytes, whole);
    CHECK_STR(odd, whole);
    free(a);
}

static void test_fields_are_unambiguous(void)
{
    /* ("ab","c") and ("a","bc") must not collide as cache-key fields. */
    struct orri_sha256 c;
    char x[65], y[65];
    orri_sha256_init(&c);
    orri_sha256_field(&c, "ab", 2);
    orri_sha256_field(&c, "c", 1);
    orri_sha256_hex(&c, x);
    orri_sha256_init(&c);
    orri_sha256_field(&c, "a", 1);
    orri_sha256_field(&c, "bc", 2);
    orri_sha256_hex(&c, y);
    CHECK(strcmp(x, y) != 0);
}

TEST_MAIN({"vectors", test_vectors},
          {"chunking_and_million_a", test_chunking_and_million_a},
          {"fields_are_unambiguous", test_fields_are_unambiguous})
