/* engine/pipe.c: a sink on its own thread sees exactly the blocks, in exactly the order,
 * it would see called inline (split at the pipe's block size, which a sink must not
 * notice); a pass split in two, its dither driven by pushes on a pipe's thread
 * (lq_chain_feed), gives the bits one chain gives; a sink's error reaches the producer and the close, with no hang and no
 * block after it; and the master bus and the closed loop give the same bytes with the
 * pipes (two threads) as without (one). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pipe.h"
#include "stages/dither.h"
#include "stages/limiter.h"
#include "lqtest.h"

#define MAXB 64

typedef struct rec {
    uint64_t h;          /* FNV-1a over every sample's bits, in order */
    long long frames, calls;
    long long fail_at;   /* fail the call that would pass this frame (-1: never) */
    long long after_fail;
} rec;

static lq_error rec_sink(void *u, const double *const *buf, size_t n)
{
    rec *r = u;
    if (r->fail_at >= 0 && r->frames + (long long)n > r->fail_at) {
        r->after_fail++;   /* the test asserts 1: never called again after the error */
        return LQ_ERR_OUTPUT;
    }
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 2; c++) {
            uint64_t v;
            memcpy(&v, &buf[c][i], sizeof v);
            for (int b = 0; b < 8; b++) {
                r->h ^= (v >> (8 * b)) & 0xFF;
                r->h *= 0x100000001B3ull;
            }
        }
    r->frames += (long long)n;
    r->calls++;
    return LQ_OK;
}

/* Put 5000 frames of noise in blocks of 1..3*MAXB (pseudo-random) through a pipe. */
static lq_error run(int threads, rec *r, long long *put_ok)
{
    r->h = 0xCBF29CE484222325ull;
    r->frames = r->calls = r->after_fail = 0;
    double a[3 * MAXB], b[3 * MAXB];
    const double *pl[2] = {a, b};
    uint64_t s = 12345;
    lq_pipe *p = NULL;
    lq_diag d;
    lq_error e = lq_pipe_open(&p, rec_sink, r, 2, MAXB, threads, &d);
    assert_int_equal(e, LQ_OK);
    long long done = 0;
    *put_ok = 0;
    while (done < 5000 && !e) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = 1 + (size_t)((s >> 33) % (3 * MAXB));
        for (size_t i = 0; i < n; i++) {
            a[i] = (double)(done + (long long)i) * 0.25 - 3.0;
            b[i] = -a[i] * 0.5;
        }
        e = lq_pipe_put(p, pl, n);
        if (!e) *put_ok += (long long)n;
        done += (long long)n;
    }
    return lq_pipe_close(&p, e);
}

static void test_order(void **state)
{
    (void)state;
    rec inl = {.fail_at = -1}, thr = {.fail_at = -1};
    long long ok1, ok2;
    assert_int_equal(run(1, &inl, &ok1), LQ_OK);
    assert_int_equal(run(2, &thr, &ok2), LQ_OK);
    assert_true(inl.frames >= 5000);
    assert_int_equal(thr.frames, inl.frames);
    assert_true(inl.h == thr.h);
    /* the thread's blocks are at most MAXB frames: blocks longer than that were split */
    assert_true(thr.calls > inl.calls);
    printf("pipe: %lld frames, inline %lld calls, threaded %lld calls, same hash\n",
           thr.frames, inl.calls, thr.calls);
}

static void test_error(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        rec r = {.fail_at = 1000};
        long long ok;
        lq_error e = run(threads, &r, &ok);
        assert_int_equal(e, LQ_ERR_OUTPUT);
        /* the sink stopped at its error: nothing after it reached it */
        assert_int_equal(r.after_fail, 1);
        assert_true(r.frames <= 1000);
        /* the producer heard of it before the end */
        assert_true(ok < 5000);
        printf("threads %d: sink failed after %lld frames, producer stopped after %lld\n",
               threads, r.frames, ok);
    }
}

/* A pass split in two (engine/finish.c): the limiter run by lq_chain_run, the dither
 * (with auto_blank: 64 frames of latency; without: none) pushed through lq_chain_feed on
 * the limiter's output in random blocks, primed with the limiter's latency as silence.
 * Over 20000 frames of noise driving the limiter, with a stretch of digital silence,
 * the sink gets exactly the frames one chain of both stages gives (same count, same
 * bits), drained latency included; without the priming the dither's noise is not the
 * same (the check can fail). */
typedef struct noise_src {
    long long pos, n;
    uint64_t s;
} noise_src;

static double noise_at(uint64_t *s, long long pos)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    if (pos >= 8000 && pos < 9000) return 0.0;   /* digital silence: auto_blank keeps it */
    return ((double)(*s >> 11) / 9007199254740992.0 - 0.5) * 2.0;
}

static size_t noise_read(void *u, double *const *buf, size_t n, lq_error *err)
{
    (void)err;
    noise_src *ns = u;
    size_t k = 0;
    for (; k < n && ns->pos < ns->n; k++, ns->pos++) {
        buf[0][k] = noise_at(&ns->s, ns->pos);
        buf[1][k] = -0.5 * buf[0][k];
    }
    return k;
}

/* lq_chain_run(lim) -> lq_chain_feed(dit, lead) -> r; big: the limiter's blocks up to 3
 * times the fed chain's max_block (the feed splits them) */
static void split_run(const lq_stage_spec *lim, const lq_stage_spec *dit,
                      const lq_stage_env *env, int prime, int big, rec *r)
{
    lq_diag d;
    lq_chain a, b;
    lq_stage_env ea = *env;
    if (big) ea.max_block = 3 * env->max_block;
    assert_int_equal(lq_chain_create(&a, lim, 1, &ea, &d), LQ_OK);
    assert_int_equal(lq_chain_create(&b, dit, 1, env, &d), LQ_OK);
    lq_chain_feed f;
    assert_int_equal(lq_chain_feed_init(&f, &b, prime ? a.latency : 0, rec_sink, r), LQ_OK);
    lq_blocker bl;
    lq_blocker_init(&bl, 0, ea.max_block);
    lq_run_ctl ctl = {.blocks = &bl};
    noise_src ns = {.n = 20000, .s = 7};
    long long out = 0;
    assert_int_equal(lq_chain_run(&a, noise_read, &ns, lq_chain_feed_put, &f, &ctl, &out),
                     LQ_OK);
    assert_int_equal(out, 20000);
    assert_int_equal(lq_chain_feed_end(&f), LQ_OK);
    lq_chain_feed_free(&f);
    lq_chain_destroy(&a);
    lq_chain_destroy(&b);
}

static void test_chain_feed(void **state)
{
    (void)state;
    for (int blank = 0; blank <= 1; blank++) {
        lq_dither_config dc;
        memset(&dc, 0, sizeof dc);
        lq_stage_dither.config_default(&dc);
        dc.auto_blank = blank;
        unsigned char lc[512];
        assert_true(lq_stage_limiter.config_size <= sizeof lc);
        lq_stage_limiter.config_default(lc);
        lq_stage_spec both[2] = {{.vt = &lq_stage_limiter, .cfg = lc},
                                 {.vt = &lq_stage_dither, .cfg = &dc}};
        lq_stage_env env = {.sample_rate = 44100, .channels = 2, .max_block = MAXB,
                            .seed = 99, .out_bits = 16};
        lq_diag d;
        /* the reference: one chain of both, run by lq_chain_run */
        lq_chain one;
        assert_int_equal(lq_chain_create(&one, both, 2, &env, &d), LQ_OK);
        assert_int_equal(one.n, 2);
        rec ref = {.fail_at = -1, .h = 0xCBF29CE484222325ull};
        lq_blocker bl;
        lq_blocker_init(&bl, 0, MAXB);
        lq_run_ctl ctl = {.blocks = &bl};
        noise_src ns = {.n = 20000, .s = 7};
        long long out = 0;
        assert_int_equal(lq_chain_run(&one, noise_read, &ns, rec_sink, &ref, &ctl, &out), LQ_OK);
        assert_int_equal(out, 20000);
        const size_t lat = one.latency;
        lq_chain_destroy(&one);
        /* split: the same bits */
        rec got = {.fail_at = -1, .h = 0xCBF29CE484222325ull};
        split_run(&both[0], &both[1], &env, 1, 0, &got);
        assert_int_equal(got.frames, 20000);
        assert_true(got.h == ref.h);
        /* blocks larger than the fed chain takes: split by the feed, the same bits */
        rec big = {.fail_at = -1, .h = 0xCBF29CE484222325ull};
        split_run(&both[0], &both[1], &env, 1, 1, &big);
        assert_int_equal(big.frames, 20000);
        assert_true(big.h == ref.h);
        /* not primed: the dither runs a different stretch of its noise */
        rec bare = {.fail_at = -1, .h = 0xCBF29CE484222325ull};
        split_run(&both[0], &both[1], &env, 0, 0, &bare);
        assert_int_equal(bare.frames, 20000);
        if (!blank) assert_true(bare.h != ref.h);
        printf("limiter | chain feed of the dither, auto_blank %d (latency %zu in all): 20000 "
               "frames, same bits as one chain; unprimed: %s\n", blank, lat,
               bare.h == ref.h ? "same" : "different");
    }
}

/* The same bytes with the pipes as without: a generated mix through a preset with an
 * EQ and a multiband compressor (the master bus's pipes) to cd (the closed loop's,
 * 16-bit dither) and spotify at --threads 1 and 2 (block size 4096 and random), and to
 * cd alone (a pass pipes when a core is free for it). */
static void test_master_identical(void **state)
{
    (void)state;
    char *dir = lqt_tmpdir();
    char *mix = lqt_join(dir, "mix.wav"), *o1 = lqt_join(dir, "t1"), *o2 = lqt_join(dir, "t2");
    assert_int_equal(lqt_write_mix(mix, 12.0, 7), 0);
    const char *targets[] = {"cd", "spotify"};
    assert_int_equal(lqt_master(mix, "gentle", targets, 2, o1, 1, -1), 0);
    assert_int_equal(lqt_master(mix, "gentle", targets, 2, o2, 2, 0), 0);
    /* both exports and nothing else (the reports hold timings) */
    assert_int_equal(lqt_exports_equal(o1, o2), 2);
    /* one target: every one of its passes has a core to pipe to */
    char *o3 = lqt_join(dir, "t3"), *o4 = lqt_join(dir, "t4");
    assert_int_equal(lqt_master(mix, "gentle", targets, 1, o3, 1, -1), 0);
    assert_int_equal(lqt_master(mix, "gentle", targets, 1, o4, 2, 0), 0);
    assert_int_equal(lqt_exports_equal(o3, o4), 1);
    free(o3);
    free(o4);
    lqt_rmrf(dir);
    free(mix);
    free(o1);
    free(o2);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_chain_feed),
        cmocka_unit_test(test_master_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
