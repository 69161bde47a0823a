/* Opening beneath the served root when the kernel has no openat2 (before Linux 5.6; valgrind
 * does not know it either): a seccomp filter makes openat2 fail with ENOSYS, and the file
 * server must fall back to a walk that still never leaves the root, refusing every symlink.
 * Each Criterion test runs in its own process, so the filter ends with the test. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../support/seccomp.h"
#include "sockit/http_files.h"

/* The library's internal opener (src/lib/proto/http/files_internal.h). */
int sockit__files_openat(struct sockit_http_files *f, const char *name);

static int opened(struct sockit_http_files *f, const char *name)
{
    int fd = sockit__files_openat(f, name);

    if (fd >= 0)
        close(fd);
    return fd >= 0 ? 0 : fd;
}

Test(http_open, without_openat2_the_walk_stays_beneath_the_root)
{
    char root[] = "/tmp/sockit-open.XXXXXX", path[128];
    struct sockit_http_files *f;

    cr_assert_not_null(mkdtemp(root));
    snprintf(path, sizeof(path), "%s/sub", root);
    cr_assert_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/b.txt", root);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof(path), "%s/out", root);
    cr_assert_eq(symlink("/etc", path), 0);
    snprintf(path, sizeof(path), "%s/in", root);
    cr_assert_eq(symlink("sub", path), 0);
    cr_assert_eq(sockit_http_files_new(&f, &(struct sockit_http_files_options){ .root = root }), 0);
    h_fail_syscall(SYS_openat2, ENOSYS);
    cr_expect_eq(syscall(SYS_openat2, AT_FDCWD, ".", NULL, 0), -1, "the filter is on");
    cr_expect_eq(opened(f, ""), 0, "the root");
    cr_expect_eq(opened(f, "sub/b.txt"), 0);
    cr_expect_eq(opened(f, "sub"), 0);
    int out = opened(f, "out/passwd"), in = opened(f, "in/b.txt");
    /* a symlink is refused: ELOOP, or ENOTDIR where a folder was wanted (both answer 404) */
    cr_expect(out == -ELOOP || out == -ENOTDIR, "a symlink out of the root: %d", out);
    cr_expect(in == -ELOOP || in == -ENOTDIR, "every symlink, in the walk: %d", in);
    cr_expect_eq(opened(f, "out"), -ELOOP);
    cr_expect_eq(opened(f, "nope"), -ENOENT);
    cr_expect_eq(opened(f, "sub/b.txt/x"), -ENOTDIR);
    sockit_http_files_free(f);
    snprintf(path, sizeof(path), "rm -rf '%s'", root);
    cr_expect_eq(system(path), 0);
}
