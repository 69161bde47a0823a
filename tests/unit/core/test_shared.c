/* Unit tests for shared buffers and files (sockit/shared.h) on their own, without a loop:
 * creation, the file checks, and the reference counts, from one thread and from two. Whether
 * an fd is still open (fcntl F_GETFD) shows when a file object is freed. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/shared.h"

TestSuite(shared, .timeout = 10);

/* ---------------------------------------------------------------- helpers */

static bool fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void expect_closed(int fd, const char *what)
{
    errno = 0;
    cr_expect_eq(fcntl(fd, F_GETFD), -1, "%s: fd %d is still open", what, fd);
    cr_expect_eq(errno, EBADF, "%s: fcntl(%d): %s", what, fd, strerror(errno));
}

/* A regular file of LEN bytes (unlinked at once), opened read-only. */
static int temp_file(size_t len)
{
    char path[] = "/tmp/sockit-test-shared-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    cr_assert_eq(ftruncate(fd, (off_t)len), 0, "ftruncate: %s", strerror(errno));
    return fd;
}

/* ---------------------------------------------------------------- buffers */

Test(shared, new_gives_a_writable_buffer_of_len_bytes)
{
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_new(1000, &sh), 0);
    cr_assert_not_null(sh);
    cr_expect_eq(sockit_shared_len(sh), 1000);
    cr_expect_eq(sockit_shared_fd(sh), -1, "a buffer has no fd");
    unsigned char *p = sockit_shared_data(sh);
    cr_assert_not_null(p);
    memset(p, 0xab, 1000); /* all of it is ours (ASan checks the bounds) */
    cr_expect_eq(p[999], 0xab);
    sockit_shared_unref(sh);
}

Test(shared, new_of_zero_bytes_is_a_valid_empty_buffer)
{
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_new(0, &sh), 0);
    cr_expect_eq(sockit_shared_len(sh), 0);
    cr_expect_not_null(sockit_shared_data(sh), "a buffer's data is never NULL");
    sockit_shared_unref(sh);
}

Test(shared, new_of_an_impossible_size_is_enomem)
{
    struct sockit_shared *sh = NULL;
    cr_expect_eq(sockit_shared_new(SIZE_MAX, &sh), -ENOMEM);
    cr_expect_eq(sockit_shared_copy("x", SIZE_MAX, &sh), -ENOMEM);
}

Test(shared, copy_holds_its_own_copy_of_the_bytes)
{
    char src[64];
    memset(src, 'a', sizeof src);
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_copy(src, sizeof src, &sh), 0);
    memset(src, 'b', sizeof src); /* the caller's memory is its own again */
    cr_expect_eq(sockit_shared_len(sh), sizeof src);
    cr_expect_eq(sockit_shared_fd(sh), -1);
    char want[64];
    memset(want, 'a', sizeof want);
    cr_expect_arr_eq(sockit_shared_data(sh), want, sizeof want);
    sockit_shared_unref(sh);
}

Test(shared, copy_of_zero_bytes_may_name_no_data)
{
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_copy(NULL, 0, &sh), 0);
    cr_expect_eq(sockit_shared_len(sh), 0);
    sockit_shared_unref(sh);
}

Test(shared, unref_of_null_is_a_no_op)
{
    sockit_shared_unref(NULL);
}

/* ---------------------------------------------------------------- files */

Test(shared, file_records_the_size_and_keeps_the_fd)
{
    int fd = temp_file(12345);
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_file(fd, &sh), 0);
    cr_expect_eq(sockit_shared_len(sh), 12345);
    cr_expect_eq(sockit_shared_fd(sh), fd);
    cr_expect_null(sockit_shared_data(sh), "a file has no bytes in memory");
    /* the size is recorded now: a later change does not move it */
    cr_assert_eq(ftruncate(fd, 99), 0);
    cr_expect_eq(sockit_shared_len(sh), 12345);
    cr_expect(fd_open(fd));
    sockit_shared_unref(sh);
    expect_closed(fd, "the last unref of a file");
}

Test(shared, file_of_an_empty_file_has_length_zero)
{
    int fd = temp_file(0);
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_file(fd, &sh), 0);
    cr_expect_eq(sockit_shared_len(sh), 0);
    sockit_shared_unref(sh);
    expect_closed(fd, "the last unref of an empty file");
}

Test(shared, file_of_a_directory_is_einval_and_closes_the_fd)
{
    int fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    cr_assert_geq(fd, 0, "open /tmp: %s", strerror(errno));
    struct sockit_shared *sh = NULL;
    cr_expect_eq(sockit_shared_file(fd, &sh), -EINVAL);
    expect_closed(fd, "sockit_shared_file of a directory");
}

Test(shared, file_of_a_socket_is_einval_and_closes_the_fd)
{
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    struct sockit_shared *sh = NULL;
    cr_expect_eq(sockit_shared_file(sv[0], &sh), -EINVAL);
    expect_closed(sv[0], "sockit_shared_file of a socket");
    close(sv[1]);
}

Test(shared, file_of_a_pipe_is_einval_and_closes_the_fd)
{
    int p[2];
    cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
    struct sockit_shared *sh = NULL;
    cr_expect_eq(sockit_shared_file(p[0], &sh), -EINVAL);
    expect_closed(p[0], "sockit_shared_file of a pipe");
    close(p[1]);
}

Test(shared, file_of_a_closed_fd_is_ebadf)
{
    int fd = temp_file(1);
    close(fd);
    struct sockit_shared *sh = NULL;
    cr_expect_eq(sockit_shared_file(fd, &sh), -EBADF);
}

/* ---------------------------------------------------------------- references */

Test(shared, the_last_of_several_references_closes_the_file)
{
    int fd = temp_file(10);
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_file(fd, &sh), 0);
    cr_expect_eq(sockit_shared_ref(sh), sh, "ref returns its argument");
    cr_expect_eq(sockit_shared_ref(sh), sh);
    sockit_shared_unref(sh); /* the creator's */
    cr_expect(fd_open(fd), "closed with two references left");
    sockit_shared_unref(sh);
    cr_expect(fd_open(fd), "closed with one reference left");
    sockit_shared_unref(sh);
    expect_closed(fd, "the last unref");
}

/* Two threads take and drop references to one file object at the same time; each holds one of
 * its own throughout and drops it last. The fd must stay open while any reference is held and
 * be closed once, when the last one goes (a lost decrement leaks it; an extra one frees the
 * object early, which ASan reports). */
#define SPINS 200000

struct racer {
    struct sockit_shared *sh;
    int fd;
    pthread_barrier_t *start;
    int closed_early; /* times the fd was seen closed while this thread held a reference */
};

static void *race(void *arg)
{
    struct racer *r = arg;
    pthread_barrier_wait(r->start);
    for (int i = 0; i < SPINS; i++) {
        struct sockit_shared *mine = sockit_shared_ref(r->sh);
        if (i % 4096 == 0 && !fd_open(r->fd))
            r->closed_early++;
        sockit_shared_unref(mine);
    }
    sockit_shared_unref(r->sh); /* this thread's own reference: one of them is the last */
    return NULL;
}

/* Start two racers on SH and FD at once and wait for both; returns the times they saw the fd
 * closed while holding a reference. Each drops one reference of the caller's at its end. */
static int race_two_threads(struct sockit_shared *sh, int fd)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, 2);
    struct racer r[2] = { { sh, fd, &start, 0 }, { sh, fd, &start, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    return r[0].closed_early + r[1].closed_early;
}

Test(shared, references_from_two_threads_free_the_object_once)
{
    for (int round = 0; round < 20; round++) {
        int fd = temp_file(100);
        struct sockit_shared *sh = NULL;
        cr_assert_eq(sockit_shared_file(fd, &sh), 0);
        sockit_shared_ref(sh); /* two references: one per thread; the creator keeps none */
        cr_expect_eq(race_two_threads(sh, fd), 0,
                     "round %d: the fd was closed while references were held", round);
        expect_closed(fd, "after both threads dropped their references");
    }
}

/* The creator holds on while two threads race: the fd outlives them, and the creator's unref
 * is the last. */
Test(shared, references_from_two_threads_leave_the_creators_reference)
{
    int fd = temp_file(100);
    struct sockit_shared *sh = NULL;
    cr_assert_eq(sockit_shared_file(fd, &sh), 0);
    sockit_shared_ref(sh);
    sockit_shared_ref(sh); /* one per thread */
    race_two_threads(sh, fd);
    cr_expect(fd_open(fd), "closed although the creator still holds a reference");
    cr_expect_eq(sockit_shared_len(sh), 100);
    sockit_shared_unref(sh);
    expect_closed(fd, "the creator's unref, the last");
}
