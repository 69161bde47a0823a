/* Test harness: run the real sockit binary (and real peers such as socat) as child processes
 * with timeouts, capture their output in files, and talk to them over loopback sockets.
 * Every helper cleans up after itself; a test that times out kills its children. */
#ifndef SOCKIT_TEST_HARNESS_H
#define SOCKIT_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int stdin_fd;      /* write end of the child's stdin, or -1 */
    char out_path[64]; /* the child's stdout, captured in a file */
    char err_path[64]; /* the child's stderr, captured in a file */
    int status;        /* exit code, 128+signal, or -1 while running */
};

/* Path of the sockit binary under test ($SOCKIT_BIN, default build/sockit). */
const char *h_sockit(void);

/* Path of the examples directory ($SOCKIT_EXAMPLES, default build/examples). */
const char *h_examples(void);

/* Start ARGV (NULL-terminated). STDIN_DATA: NULL gives a pipe left open in p->stdin_fd,
 * otherwise the child reads those LEN bytes then end of file. PRE_EXEC (may be NULL) runs in
 * the child just before exec (for rlimits, setuid...). Aborts the test on failure. */
void h_start(struct proc *p, const char *const argv[], const void *stdin_data, size_t len,
             void (*pre_exec)(void));

/* Wait up to TIMEOUT_MS for P to exit; returns its exit code (128+signal if killed by one),
 * or -1 after killing it with SIGKILL when it did not exit in time. */
int h_wait(struct proc *p, int timeout_ms);

/* Send SIG and wait (up to TIMEOUT_MS) for the exit code. */
int h_stop(struct proc *p, int sig, int timeout_ms);

/* True once P has exited, without reaping it: h_wait still collects its status. */
bool h_exited(const struct proc *p);

/* Wait up to TIMEOUT_MS until P's stderr contains NEEDLE; false if it does not or P exits
 * first. */
bool h_wait_stderr(const struct proc *p, const char *needle, int timeout_ms);

/* Wait up to TIMEOUT_MS until P's stdout holds strlen(WANT) bytes; true if it then equals WANT
 * (false if P exits or time runs out first). */
bool h_wait_stdout(const struct proc *p, const char *want, int timeout_ms);

/* Read all of P's stdout / stderr (malloc'd, NUL-terminated; *LEN may be NULL). */
char *h_stdout(const struct proc *p, size_t *len);
char *h_stderr(const struct proc *p, size_t *len);

/* P's stderr (ERR) or stdout as text, cut to 64 KiB (*LEN, may be NULL, gets the full length),
 * in one of four rotating static buffers owned by the harness: nothing to free, so a failing
 * assertion leaks nothing. */
const char *h_text_of(const struct proc *p, bool err, size_t *len);

/* Remove the capture files (h_wait does not, so a failing test can still print them). */
void h_cleanup(struct proc *p);

/* A PRE_EXEC for h_start: the child dies with the test process, whatever ends it (a timeout
 * too), and gets SIGPIPE back to its default: an ignored signal survives exec, and the test
 * process ignores it (so does h_start), which would hide a child that dies of SIGPIPE. A
 * credential change clears the death signal: call it after setuid. */
void h_die_with_parent(void);

/* Tracked children: h_start_tracked starts ARGV as h_start does (PRE_EXEC NULL: h_die_with_parent)
 * into a struct proc the harness owns, in static storage, so that a suite's .fini (which
 * Criterion runs after a failed assertion too) can still kill it with h_cleanup_tracked. LABEL
 * names it in failure messages. At most 16 at once. */
struct proc *h_start_tracked(const char *label, const char *const argv[], const void *stdin_data,
                             size_t len, void (*pre_exec)(void));

/* How many tracked children there are, and the I-th of them (its label in *LABEL, which may be
 * NULL), reaped first if it has exited so that its status is known. */
int h_tracked_count(void);
struct proc *h_tracked(int i, const char **label);

/* Have h_cleanup_tracked remove PATH (copied; at most 16 paths). */
void h_track_path(const char *path);

/* h_cleanup every tracked child and forget them (between the rounds of a test); tracked paths
 * stay. */
void h_forget_children(void);

/* h_forget_children, then remove and forget every tracked path: a suite's .fini. */
void h_cleanup_tracked(void);

/* Fail the test with the printf-style message, then, for every tracked child, its label, pid
 * and exit status (-1: still running), the last 3000 bytes of its stderr and the first 500 of
 * its stdout. Does not return. */
__attribute__((format(printf, 1, 2), noreturn)) void h_fail_tracked(const char *fmt, ...);

/* Check COND; if it is false, h_fail_tracked(...). */
#define H_CHECK(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            h_fail_tracked(__VA_ARGS__);                                                           \
    } while (0)

/* Start "sockit echo ENDPOINT --model MODEL [EXTRA...]" and wait for "listening on".
 * EXTRA is NULL-terminated (may be NULL). Aborts the test if it does not come up. */
void h_start_echo(struct proc *p, const char *model, const char *endpoint,
                  const char *const extra[]);

/* h_start_echo with a PRE_EXEC for the child, as h_start takes (NULL: h_die_with_parent). */
void h_start_echo_pre(struct proc *p, const char *model, const char *endpoint,
                      const char *const extra[], void (*pre_exec)(void));

/* A port free for both TCP and UDP on loopback right now. */
int h_free_port(void);

/* Run "node tests/node/ARGS" (ARGS printf-style: a script and its arguments) to its end; its
 * output, stderr included (malloc'd, NUL-terminated, at most 64 KiB), and exit status in *RC
 * (pclose's). */
char *h_node(int *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A unique path in /tmp for this process and TAG, removed first if it exists. */
void h_tmp_path(char *buf, size_t size, const char *tag);

/* Run "sockit send ENDPOINT MSG" (up to TIMEOUT_MS) and expect exit 0 with MSG, exactly, as
 * its output: one echo through a real client process. Failures show the client's stderr. */
void h_expect_send_echo(const char *endpoint, const char *msg, int timeout_ms);

/* Connect a blocking client socket to ENDPOINT (sockit syntax) with a 5 s timeout. */
int h_connect(const char *endpoint);

/* Write all LEN bytes to FD / read exactly LEN bytes (both with a 10 s deadline).
 * Return 0 on success, -1 on error, timeout or early end of stream. */
int h_write_all(int fd, const void *buf, size_t len);
int h_read_exact(int fd, void *buf, size_t len);

/* Wait up to MS for FD to become readable; then what one read of up to CAP bytes gives: a
 * byte count, 0 at end of stream, or -errno (-ETIMEDOUT: nothing happened in time). */
ssize_t h_read_within(int fd, int ms, void *buf, size_t cap);

/* Send "ping" on FD and read the answer within 3 s: 4 when echoed (the bytes checked), 0 or
 * -errno when the server closed, -ETIMEDOUT when nothing came. */
ssize_t h_ping(int fd);

/* Fill BUF with LEN reproducible pseudo-random bytes from SEED. */
void h_fill(void *buf, size_t len, unsigned seed);

/* Milliseconds on the monotonic clock. */
long long h_now_ms(void);

/* Sleep MS milliseconds, through signals. */
void h_sleep_ms(int ms);

/* CPU time (user+system) used so far by process PID, in milliseconds. */
long h_cpu_ms(pid_t pid);

#endif
