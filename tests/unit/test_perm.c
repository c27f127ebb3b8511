/*
 * test_perm.c -- the sweep order (scanner/perm.c): every index exactly once,
 * the same order for the same seed (pinned by a golden sequence so that a
 * change of algorithm, which would break shards across versions, is seen),
 * shards and threads disjoint and complete, and --shard parsing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailhole/common.h"
#include "mailhole/target.h"

static bool naive_prime(uint64_t n)
{
	if (n < 2)
		return false;
	for (uint64_t d = 2; d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

/* Walks slice/nslices, counting each index into seen[] (n entries). Returns the steps. */
static uint64_t walk(const struct mh_perm *p, uint64_t slice, uint64_t nslices, uint8_t *seen)
{
	struct mh_perm_iter it;
	uint64_t idx, steps = 0;

	mh_perm_iter_init(&it, p, slice, nslices);
	while (mh_perm_next(&it, &idx)) {
		assert_true(idx < p->n);
		assert_true(seen[idx] < 255);
		seen[idx]++;
		steps++;
	}
	/* Exhausted stays exhausted. */
	assert_false(mh_perm_next(&it, &idx));
	return steps;
}

static const uint64_t sizes[] = {0, 1, 2, 3, 10, 255, 256, 1000, 65536, 100003};

static void test_prime_and_generator(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct mh_perm p;
		uint64_t n = sizes[i];

		assert_int_equal(mh_perm_init(&p, n, 7), 0);
		assert_int_equal(p.n, n);
		assert_true(naive_prime(p.prime));
		assert_true(p.prime > n && p.prime >= 3);
		for (uint64_t q = (n < 3 ? 3 : n + 1); q < p.prime; q++)
			assert_false(naive_prime(q)); /* the smallest such prime */
		assert_true(p.first >= 1 && p.first < p.prime);
		assert_true(p.gen >= 2 && p.gen < p.prime);
		/* g has order p-1: g^k != 1 for 0 < k < p-1, g^(p-1) = 1. */
		uint64_t x = 1;
		for (uint64_t k = 1; k < p.prime - 1; k++) {
			x = x * p.gen % p.prime;
			assert_int_not_equal(x, 1);
		}
		assert_int_equal(x * p.gen % p.prime, 1);
	}
}

static void test_every_index_once(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (uint64_t seed = 0; seed < 3; seed++) {
			uint64_t n = sizes[i];
			uint8_t *seen = calloc(n + 1, 1);
			struct mh_perm p;

			assert_non_null(seen);
			assert_int_equal(mh_perm_init(&p, n, seed * 0x1234567ull), 0);
			assert_int_equal(walk(&p, 0, 1, seen), n);
			for (uint64_t k = 0; k < n; k++)
				assert_int_equal(seen[k], 1);
			free(seen);
		}
	}
}

/* The first `count` indices of the whole walk. */
static void order(uint64_t n, uint64_t seed, uint64_t *out, size_t count)
{
	struct mh_perm p;
	struct mh_perm_iter it;

	assert_int_equal(mh_perm_init(&p, n, seed), 0);
	mh_perm_iter_init(&it, &p, 0, 1);
	for (size_t i = 0; i < count; i++)
		assert_true(mh_perm_next(&it, &out[i]));
}

static void test_seeds(void **state)
{
	uint64_t a[1000], b[1000], c[1000];
	int differ = 0;

	(void)state;
	order(1000, 1, a, 1000);
	order(1000, 1, b, 1000);
	order(1000, 2, c, 1000);
	assert_memory_equal(a, b, sizeof(a));
	for (size_t i = 0; i < 1000; i++)
		differ += a[i] != c[i];
	assert_true(differ > 900);
	/* Not the identity either. */
	differ = 0;
	for (size_t i = 0; i < 1000; i++)
		differ += a[i] != i;
	assert_true(differ > 900);
}

/*
 * A golden sequence: shards of one scan run on different machines and by
 * different versions must agree, so the algorithm is frozen. If this test
 * fails, the permutation changed; that is a compatibility break.
 */
static void test_golden(void **state)
{
	static const uint64_t want[] = {901, 401, 733, 787, 735, 374, 759, 463,
	                                38,  522, 467, 221, 570, 645, 797, 688};
	uint64_t got[sizeof(want) / sizeof(want[0])];
	struct mh_perm p;

	(void)state;
	assert_int_equal(mh_perm_init(&p, 1000, 42), 0);
	assert_int_equal(p.prime, 1009);
	assert_int_equal(p.gen, 298);
	assert_int_equal(p.first, 902);
	order(1000, 42, got, sizeof(got) / sizeof(got[0]));
	assert_memory_equal(got, want, sizeof(want));
}

static void test_shards(void **state)
{
	static const uint64_t shard_counts[] = {1, 2, 3, 7};
	static const uint64_t thread_counts[] = {1, 2, 3};
	static const uint64_t ns[] = {0, 1, 2, 10, 1000, 4099};

	(void)state;
	for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
		uint64_t n = ns[a];
		struct mh_perm p;
		/* owner1[i]: the shard that visits i when every shard runs one thread. */
		uint8_t *owner1 = calloc(n + 1, 1);

		assert_non_null(owner1);
		assert_int_equal(mh_perm_init(&p, n, 99), 0);
		for (size_t b = 0; b < sizeof(shard_counts) / sizeof(shard_counts[0]); b++) {
			uint64_t nshards = shard_counts[b];

			for (size_t c = 0; c < sizeof(thread_counts) / sizeof(thread_counts[0]);
			     c++) {
				uint64_t nthreads = thread_counts[c];
				uint8_t *seen = calloc(n + 1, 1);
				uint8_t *owner = calloc(n + 1, 1);
				uint64_t total = 0;

				assert_non_null(seen);
				assert_non_null(owner);
				for (uint64_t k = 1; k <= nshards; k++) {
					for (uint64_t t = 0; t < nthreads; t++) {
						uint64_t slice, nslices;
						uint8_t *mine = calloc(n + 1, 1);

						assert_non_null(mine);
						mh_shard_slice(k, nshards, t, nthreads, &slice,
						               &nslices);
						assert_int_equal(nslices, nshards * nthreads);
						assert_true(slice < nslices);
						total += walk(&p, slice, nslices, mine);
						for (uint64_t i = 0; i < n; i++) {
							if (!mine[i])
								continue;
							seen[i]++;
							owner[i] = (uint8_t)k;
						}
						free(mine);
					}
				}
				/* Disjoint and complete. */
				assert_int_equal(total, n);
				for (uint64_t i = 0; i < n; i++)
					assert_int_equal(seen[i], 1);
				/* Shard k covers the same indices whatever the thread count. */
				if (nthreads == 1)
					memcpy(owner1, owner, n);
				else
					assert_memory_equal(owner1, owner, n);
				free(seen);
				free(owner);
			}
		}
		free(owner1);
	}
}

/* More slices than steps in the cycle: some are empty, the union is still complete. */
static void test_more_slices_than_steps(void **state)
{
	struct mh_perm p;
	uint8_t seen[2] = {0, 0};
	uint64_t total = 0;

	(void)state;
	assert_int_equal(mh_perm_init(&p, 1, 5), 0);
	assert_int_equal(p.prime, 3);
	for (uint64_t s = 0; s < 8; s++)
		total += walk(&p, s, 8, seen);
	assert_int_equal(total, 1);
	assert_int_equal(seen[0], 1);
}

static void test_degenerate_iters(void **state)
{
	struct mh_perm p;
	struct mh_perm_iter it;
	uint64_t idx;

	(void)state;
	assert_int_equal(mh_perm_init(&p, 100, 1), 0);
	mh_perm_iter_init(&it, &p, 0, 0); /* no slices */
	assert_false(mh_perm_next(&it, &idx));
	mh_perm_iter_init(&it, &p, 3, 3); /* slice out of range */
	assert_false(mh_perm_next(&it, &idx));
	assert_int_equal(mh_perm_init(&p, 0, 1), 0);
	mh_perm_iter_init(&it, &p, 0, 1);
	assert_false(mh_perm_next(&it, &idx));
	assert_int_equal(mh_perm_init(NULL, 1, 1), MH_EINVAL);
	assert_int_equal(mh_perm_init(&p, UINT64_MAX, 1), MH_ELIMIT);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Primes above 2^32 take the 128-bit multiplication path; p-1 needs Pollard rho. */
static void test_large(void **state)
{
	static const uint64_t ns[] = {5000000000ull, (1ull << 44) + 12345, 1ull << 62,
	                              UINT64_MAX - 59};
	enum { STEPS = 20000 };
	uint64_t *got = malloc(STEPS * sizeof(*got));

	(void)state;
	assert_non_null(got);
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		struct mh_perm p;
		struct mh_perm_iter it;

		assert_int_equal(mh_perm_init(&p, ns[i], 3), 0);
		assert_true(p.prime > ns[i]);
		assert_true(p.first >= 1 && p.first < p.prime);
		assert_true(p.gen >= 2 && p.gen < p.prime);
		mh_perm_iter_init(&it, &p, 1, 4);
		for (size_t k = 0; k < STEPS; k++) {
			assert_true(mh_perm_next(&it, &got[k]));
			assert_true(got[k] < ns[i]);
		}
		qsort(got, STEPS, sizeof(*got), cmp_u64);
		for (size_t k = 1; k < STEPS; k++)
			assert_true(got[k - 1] != got[k]);
	}
	free(got);
}

static void test_shard_slice(void **state)
{
	uint64_t slice, nslices;

	(void)state;
	mh_shard_slice(1, 1, 0, 1, &slice, &nslices);
	assert_int_equal(slice, 0);
	assert_int_equal(nslices, 1);
	mh_shard_slice(3, 7, 2, 4, &slice, &nslices);
	assert_int_equal(slice, 2 + 7 * 2);
	assert_int_equal(nslices, 28);
}

static void test_shard_parse(void **state)
{
	static const char *bad[] = {"",
	                            "/",
	                            "1",
	                            "0/1",
	                            "2/1",
	                            "1/0",
	                            "1/65537",
	                            "a/b",
	                            "1/2/3",
	                            "/2",
	                            "1/",
	                            "+1/2",
	                            " 1/2",
	                            "1/2 ",
	                            "-1/2",
	                            "1/-2",
	                            "1.0/2",
	                            "0x1/2",
	                            "99999999999999999999999/1",
	                            "1/99999999999999999999999"};
	uint64_t k = 77, n = 77;

	(void)state;
	assert_int_equal(mh_shard_parse("1/1", &k, &n), 0);
	assert_int_equal(k, 1);
	assert_int_equal(n, 1);
	assert_int_equal(mh_shard_parse("3/7", &k, &n), 0);
	assert_int_equal(k, 3);
	assert_int_equal(n, 7);
	assert_int_equal(mh_shard_parse("65536/65536", &k, &n), 0);
	assert_int_equal(k, 65536);
	assert_int_equal(n, 65536);
	assert_int_equal(mh_shard_parse("007/010", &k, &n), 0);
	assert_int_equal(k, 7);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		k = n = 77;
		if (mh_shard_parse(bad[i], &k, &n) != MH_EINVAL)
			fail_msg("mh_shard_parse accepted '%s'", bad[i]);
		assert_int_equal(k, 77); /* untouched on failure */
		assert_int_equal(n, 77);
	}
	assert_int_equal(mh_shard_parse(NULL, &k, &n), MH_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prime_and_generator),
	    cmocka_unit_test(test_every_index_once),
	    cmocka_unit_test(test_seeds),
	    cmocka_unit_test(test_golden),
	    cmocka_unit_test(test_shards),
	    cmocka_unit_test(test_more_slices_than_steps),
	    cmocka_unit_test(test_degenerate_iters),
	    cmocka_unit_test(test_large),
	    cmocka_unit_test(test_shard_slice),
	    cmocka_unit_test(test_shard_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
