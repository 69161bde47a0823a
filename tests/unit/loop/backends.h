/* The backend matrix for the loop's unit tests: every LOOP_TEST runs once per backend, as a
 * separate Criterion test named loop_<backend>::<name> (e.g. loop_epoll::timer_one_shot...).
 * The body gets the backend in BACKEND, and new_loop() creates loops on it.
 *
 * The list of backends is LOOP_BACKENDS, and only there. */
#ifndef SOCKIT_TEST_LOOP_BACKENDS_H
#define SOCKIT_TEST_LOOP_BACKENDS_H

#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sockit/error.h"
#include "sockit/loop.h"

/* X(short name, enum value, arg) once per backend under test. */
#define LOOP_BACKENDS(X, arg)                                                                      \
    X(epoll, SOCKIT_BACKEND_EPOLL, arg)                                                            \
    X(poll, SOCKIT_BACKEND_POLL, arg)                                                              \
    X(uring, SOCKIT_BACKEND_URING, arg)                                                            \
    X(uring_classic, SOCKIT_BACKEND_URING, arg)

/* The loop options of the running test's backend variant: uring_classic is io_uring with
 * the classic 4 KiB receive buffers that kernels before 6.12 get (this kernel has
 * incremental); uring_native (the datagram tests' extra variant) moves datagrams with
 * io_uring's own requests instead of the default recvmmsg/sendmmsg batches. */
static struct sockit_loop_options test_options;

static inline void backend_variant(const char *variant, enum sockit_backend b)
{
    test_options.backend = b;
    if (strcmp(variant, "uring_classic") == 0)
        test_options.uring_buffers = SOCKIT_URING_BUFFERS_CLASSIC;
    if (strcmp(variant, "uring_native") == 0)
        test_options.uring_datagrams = SOCKIT_URING_DATAGRAMS_NATIVE;
}

/* The running variant's options, on backend B. */
static inline const struct sockit_loop_options *opts_for(enum sockit_backend b)
{
    static struct sockit_loop_options o;
    o = test_options;
    o.backend = b;
    return &o;
}

/* The backend of the running test (each Criterion test runs in its own process). */
static enum sockit_backend test_backend = SOCKIT_BACKEND_AUTO;

/* Optional clean-up for the running test, run by the test's .fini even after a failed
 * assertion (e.g. to restore RLIMIT_NOFILE before the sanitizers need fds at exit). */
static void (*test_cleanup)(void);

static inline void loop_test_fini(void)
{
    void (*fn)(void) = test_cleanup;
    test_cleanup = NULL;
    if (fn)
        fn();
}

#define LOOP_TEST_ONE_(be, value, name)                                                            \
    Test(loop_##be, name, .timeout = 10, .fini = loop_test_fini)                                   \
    {                                                                                              \
        test_backend = value;                                                                      \
        backend_variant(#be, value);                                                               \
        name##_body(value);                                                                        \
    }

/* LOOP_TEST(name) { ... body using BACKEND ... } */
#define LOOP_TEST(name)                                                                            \
    static void name##_body(enum sockit_backend backend);                                          \
    LOOP_BACKENDS(LOOP_TEST_ONE_, name)                                                            \
    static void name##_body(enum sockit_backend backend __attribute__((unused)))

/* The name sockit_loop_backend_name gives for an explicit backend. */
static inline const char *backend_str(enum sockit_backend b)
{
    switch (b) {
    case SOCKIT_BACKEND_URING: return "uring";
    case SOCKIT_BACKEND_EPOLL: return "epoll";
    case SOCKIT_BACKEND_POLL: return "poll";
    case SOCKIT_BACKEND_AUTO: break;
    }
    return "auto";
}

/* A loop on the backend under test; it must really be that backend. */
static inline struct sockit_loop *new_loop(void)
{
    struct sockit_loop *loop = NULL;
    int rc = sockit_loop_new(&loop, &test_options);
    cr_assert_eq(rc, 0, "sockit_loop_new(%s): %d (%s)", backend_str(test_backend), rc,
                 sockit_strerror(rc));
    cr_assert_not_null(loop);
    cr_assert_str_eq(sockit_loop_backend_name(loop), backend_str(test_backend));
    return loop;
}

static inline int run_ok(struct sockit_loop *loop)
{
    int rc = sockit_loop_run(loop);
    cr_assert_eq(rc, 0, "sockit_loop_run: %d (%s)", rc, sockit_strerror(rc));
    return rc;
}

static inline void pair(int sv[2])
{
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0,
                 "socketpair: %s", strerror(errno));
}

/* CLOCK_MONOTONIC in nanoseconds: the loop's clock. */
static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread, in nanoseconds. */
static inline uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#define MS (1000000ull) /* nanoseconds per millisecond */

#endif
