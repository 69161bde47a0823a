/* io_uring when the kernel refuses a submission: with the submission queue full, the loop
 * submits to make room, and should that fail (io_uring_enter returns -EAGAIN under memory
 * pressure) it used to write the next request through a NULL slot. Here a seccomp filter
 * makes every io_uring_enter fail with EAGAIN after the loop is set up; more watches than the
 * queue holds must then fail with that error, and sockit_loop_run must return it. Each
 * Criterion test runs in a process of its own, so the filter ends with the test. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../support/seccomp.h"
#include "sockit/loop.h"

#define WATCHES 1100 /* more than the ring's 1024 submission slots */

static void never(struct sockit_loop *loop, int fd, unsigned events, void *data)
{
    (void)loop;
    (void)fd;
    (void)events;
    (void)data;
}

Test(loop_uring, a_refused_submission_fails_the_loop_not_the_process, .timeout = 20)
{
    static int fds[WATCHES];
    struct sockit_loop_options o = { .backend = SOCKIT_BACKEND_URING };
    struct sockit_loop *loop;
    int first_err = 0, watched = 0;

    if (sockit_loop_new(&loop, &o) < 0)
        cr_skip_test("io_uring is not available here");
    for (int i = 0; i < WATCHES; i++)
        cr_assert_geq(fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), 0);
    h_fail_syscall(__NR_io_uring_enter, EAGAIN);
    for (int i = 0; i < WATCHES && !first_err; i++) {
        int rc = sockit_loop_watch(loop, fds[i], SOCKIT_EV_READ, never, NULL);
        if (rc < 0)
            first_err = rc;
        else
            watched++;
    }
    cr_expect_eq(first_err, -EAGAIN, "watch failed with %d after %d watches", first_err, watched);
    cr_expect_geq(watched, 1024, "the queue's own slots were usable: %d", watched);
    cr_expect_eq(sockit_loop_run(loop), -EAGAIN);
    for (int i = 0; i < watched; i++)
        sockit_loop_unwatch(loop, fds[i]);
    sockit_loop_free(loop);
    for (int i = 0; i < WATCHES; i++)
        close(fds[i]);
}
