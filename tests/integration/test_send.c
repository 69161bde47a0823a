/* sockit send -f: a file of any size is streamed through a window, not read into memory. The
 * test sends a 192 MiB sparse file through an echo server, reads the echo from send's stdout
 * on a pipe (every byte counted and checked), and compares send's peak RSS (wait4) with the
 * file: before streaming, send held the whole file (1.05 GB RSS for a 1 GB file). */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/harness.h"

#define FILE_BYTES (192ll << 20)

/* Run `sockit send ENDPOINT -f PATH` with stdout on a pipe; count what comes out (all zero
 * bytes, as the sparse file holds) and return the peak RSS in KiB. */
static long send_file_count(const char *endpoint, const char *path, long long *echoed, int *status)
{
    int out[2];
    cr_assert_eq(pipe(out), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(out[1], STDOUT_FILENO);
        close(out[0]);
        close(out[1]);
        execl(h_sockit(), h_sockit(), "send", endpoint, "-f", path, "-t", "30", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    static char buf[1 << 16];
    ssize_t n;
    *echoed = 0;
    while ((n = read(out[0], buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            cr_assert_eq(buf[i], 0, "byte %lld of the echo is %d", *echoed + i, buf[i]);
        *echoed += n;
    }
    close(out[0]);
    struct rusage ru;
    cr_assert_eq(wait4(pid, status, 0, &ru), pid);
    return ru.ru_maxrss;
}

Test(send, file_is_streamed_not_read_into_memory, .timeout = 120)
{
    struct proc server;
    char path[128], sock[128], endpoint[160];

    h_tmp_path(path, sizeof(path), "send-file");
    h_tmp_path(sock, sizeof(sock), "send-sock");
    snprintf(endpoint, sizeof(endpoint), "unix:%s", sock);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, FILE_BYTES), 0); /* sparse: no disk, reads as zeros */
    close(fd);
    h_start_echo(&server, "loop", endpoint, (const char *const[]){ "--quiet", NULL });
    long long echoed;
    int status;
    long rss_kib = send_file_count(endpoint, path, &echoed, &status);
    unlink(path);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "send exited with status %d", status);
    cr_expect_eq(echoed, FILE_BYTES, "echoed %lld of %lld bytes", echoed, FILE_BYTES);
    long limit = getenv("SOCKIT_SANITIZED") ? 128 * 1024 : 32 * 1024;
    cr_expect_lt(rss_kib, limit, "send's peak RSS was %ld KiB for a %lld MiB file", rss_kib,
                 FILE_BYTES >> 20);
    printf("send -f: %lld MiB file, peak RSS %ld KiB\n", FILE_BYTES >> 20, rss_kib);
    h_stop(&server, SIGTERM, 5000);
    h_cleanup(&server);
}

Test(send, file_too_big_for_one_datagram_is_refused, .timeout = 30)
{
    struct proc server;
    char path[128], endpoint[64];
    static char big[70000];

    h_tmp_path(path, sizeof(path), "send-dgram");
    snprintf(endpoint, sizeof(endpoint), "udp://127.0.0.1:%d", h_free_port());
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(big, 1, sizeof(big), f), sizeof(big));
    fclose(f);
    h_start_echo(&server, "loop", endpoint, (const char *const[]){ "--quiet", NULL });
    struct proc p;
    h_start(&p, (const char *const[]){ h_sockit(), "send", endpoint, "-f", path, NULL }, NULL, 0,
            NULL);
    cr_expect_eq(h_wait(&p, 10000), 1, "a 70,000-byte UDP datagram must fail with exit 1");
    cr_expect(h_wait_stderr(&p, "datagram", 1000), "stderr: %s", h_text_of(&p, true, NULL));
    unlink(path);
    h_cleanup(&p);
    h_stop(&server, SIGTERM, 5000);
    h_cleanup(&server);
}
