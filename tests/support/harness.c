/* Test harness: child processes with captured output and timeouts, tracked children,
 * loopback helpers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "sockit/socket.h"

const char *h_sockit(void)
{
    const char *bin = getenv("SOCKIT_BIN");
    return bin && *bin ? bin : "build/sockit";
}

const char *h_examples(void)
{
    const char *dir = getenv("SOCKIT_EXAMPLES");
    return dir && *dir ? dir : "build/examples";
}

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void h_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void h_tmp_path(char *buf, size_t size, const char *tag)
{
    static unsigned counter;
    snprintf(buf, size, "/tmp/sockit-test-%d-%u-%s", (int)getpid(), counter++, tag);
    unlink(buf);
}

static void child_exec(const struct proc *p, const char *const argv[], int in_fd,
                       void (*pre_exec)(void))
{
    int out = open(p->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (out < 0 || err < 0 || dup2(in_fd, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(126);
    close_range(3, ~0u, 0); /* only stdio: the runner's own fds stay with the runner */
    setpgid(0, 0);          /* its own group: a stray signal to the test runner never reaches it */
    if (pre_exec)
        pre_exec();
    execvp(argv[0], (char *const *)argv);
    _exit(127);
}

void h_start(struct proc *p, const char *const argv[], const void *stdin_data, size_t len,
             void (*pre_exec)(void))
{
    int in[2];

    memset(p, 0, sizeof(*p));
    p->status = -1;
    h_tmp_path(p->out_path, sizeof(p->out_path), "out");
    h_tmp_path(p->err_path, sizeof(p->err_path), "err");
    cr_assert_eq(pipe2(in, O_CLOEXEC), 0, "pipe: %s", strerror(errno));
    fflush(NULL);
    p->pid = fork();
    cr_assert_geq(p->pid, 0, "fork: %s", strerror(errno));
    if (p->pid == 0)
        child_exec(p, argv, in[0], pre_exec);
    close(in[0]);
    p->stdin_fd = in[1];
    if (stdin_data) {
        signal(SIGPIPE, SIG_IGN);
        /* A child may exit before it reads its input (a refused connect): EPIPE is its
         * business, not a failure of the harness. */
        int w = h_write_all(in[1], stdin_data, len);
        cr_assert(w == 0 || errno == EPIPE, "writing the child's stdin: %s", strerror(errno));
        close(in[1]);
        p->stdin_fd = -1;
    }
}

static int decode_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int h_wait(struct proc *p, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    int st;

    if (p->status >= 0)
        return p->status;
    if (p->stdin_fd >= 0) {
        close(p->stdin_fd);
        p->stdin_fd = -1;
    }
    while (h_now_ms() < deadline) {
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid)
            return p->status = decode_status(st);
        h_sleep_ms(2);
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, &st, 0);
    p->status = decode_status(st);
    return -1;
}

int h_stop(struct proc *p, int sig, int timeout_ms)
{
    if (p->pid <= 0)
        return -1; /* never kill(0): that is our own process group */
    if (p->status < 0)
        kill(p->pid, sig);
    return h_wait(p, timeout_ms);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (f) {
        for (;;) {
            if (cap - n < 65536) {
                cap = cap ? cap * 2 : 65536;
                buf = realloc(buf, cap + 1);
                cr_assert_not_null(buf);
            }
            size_t r = fread(buf + n, 1, cap - n, f);
            n += r;
            if (r == 0)
                break;
        }
        fclose(f);
    }
    if (!buf)
        buf = malloc(1);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *h_stdout(const struct proc *p, size_t *len)
{
    return slurp(p->out_path, len);
}

char *h_stderr(const struct proc *p, size_t *len)
{
    return slurp(p->err_path, len);
}

void h_cleanup(struct proc *p)
{
    if (p->status < 0 && p->pid > 0)
        h_stop(p, SIGKILL, 2000);
    unlink(p->out_path);
    unlink(p->err_path);
}

const char *h_text_of(const struct proc *p, bool err, size_t *len)
{
    static char bufs[4][65536];
    static int slot;
    char *b = bufs[slot++ % 4];
    size_t n;
    char *all = err ? h_stderr(p, &n) : h_stdout(p, &n);

    if (len)
        *len = n;
    if (n >= sizeof(bufs[0]))
        n = sizeof(bufs[0]) - 1;
    memcpy(b, all, n);
    b[n] = '\0';
    free(all);
    return b;
}

bool h_exited(const struct proc *p)
{
    siginfo_t si;

    if (p->status >= 0)
        return true;
    memset(&si, 0, sizeof(si));
    /* WNOWAIT: notice an exit without reaping it; h_wait collects the status. */
    return waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           si.si_pid == p->pid;
}

bool h_wait_stderr(const struct proc *p, const char *needle, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;

    for (;;) {
        bool gone = h_exited(p); /* before reading: what it wrote before exiting still counts */
        char *err = h_stderr(p, NULL);
        bool found = strstr(err, needle) != NULL;
        free(err);
        if (found)
            return true;
        if (gone || h_now_ms() >= deadline)
            return false;
        h_sleep_ms(5);
    }
}

bool h_wait_stdout(const struct proc *p, const char *want, int timeout_ms)
{
    long long deadline = h_now_ms() + timeout_ms;
    size_t want_len = strlen(want);

    for (;;) {
        bool gone = h_exited(p);
        size_t len;
        char *out = h_stdout(p, &len);
        bool equal = len == want_len && memcmp(out, want, len) == 0;
        free(out);
        if (len >= want_len)
            return equal;
        if (gone || h_now_ms() >= deadline)
            return false;
        h_sleep_ms(5);
    }
}

void h_die_with_parent(void)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGPIPE, SIG_DFL);
}

#define MAX_TRACKED 16

static struct {
    struct proc p; /* static storage: .fini runs after the test's stack frame is gone */
    char label[48];
} tracked[MAX_TRACKED];
static int ntracked;
static char tracked_paths[MAX_TRACKED][108];
static int ntracked_paths;

struct proc *h_start_tracked(const char *label, const char *const argv[], const void *stdin_data,
                             size_t len, void (*pre_exec)(void))
{
    cr_assert_lt(ntracked, MAX_TRACKED, "too many children");
    struct proc *p = &tracked[ntracked].p;
    snprintf(tracked[ntracked].label, sizeof(tracked[0].label), "%s", label);
    ntracked++;
    h_start(p, argv, stdin_data, len, pre_exec ? pre_exec : h_die_with_parent);
    return p;
}

int h_tracked_count(void)
{
    return ntracked;
}

struct proc *h_tracked(int i, const char **label)
{
    struct proc *p = &tracked[i].p;

    if (p->status < 0 && h_exited(p))
        h_wait(p, 1000); /* reap it for its exit status */
    if (label)
        *label = tracked[i].label;
    return p;
}

void h_track_path(const char *path)
{
    if (ntracked_paths < MAX_TRACKED)
        snprintf(tracked_paths[ntracked_paths++], sizeof(tracked_paths[0]), "%s", path);
}

void h_forget_children(void)
{
    for (int i = 0; i < ntracked; i++)
        h_cleanup(&tracked[i].p);
    ntracked = 0;
}

void h_cleanup_tracked(void)
{
    h_forget_children();
    for (int i = 0; i < ntracked_paths; i++)
        unlink(tracked_paths[i]);
    ntracked_paths = 0;
}

void h_fail_tracked(const char *fmt, ...)
{
    static char msg[16384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (int i = 0; i < h_tracked_count(); i++) {
        size_t n = strlen(msg), len;
        const char *label;
        struct proc *p = h_tracked(i, &label);
        const char *err = h_text_of(p, true, &len);
        size_t kept = strlen(err); /* h_text_of keeps the first 64 KiB */
        const char *tail = kept > 3000 ? err + kept - 3000 : err;
        snprintf(msg + n, sizeof(msg) - n,
                 "\n--- stderr of %s (pid %d, status %d)%s ---\n%.3000s--- its stdout ---\n%.500s",
                 label, (int)p->pid, p->status, len > 3000 ? ", last 3000 bytes" : "", tail,
                 h_text_of(p, false, NULL));
    }
    cr_assert_fail("%s", msg);
    abort(); /* not reached */
}

void h_start_echo_pre(struct proc *p, const char *model, const char *endpoint,
                      const char *const extra[], void (*pre_exec)(void))
{
    const char *argv[32] = { h_sockit(), "echo", endpoint, "--model", model };
    size_t n = 5;

    for (size_t i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    h_start(p, argv, NULL, 0, pre_exec);
    if (!h_wait_stderr(p, "listening on", 5000)) {
        char *err = h_stderr(p, NULL);
        cr_assert_fail("sockit echo %s --model %s did not start; stderr:\n%s", endpoint, model,
                       err);
    }
}

void h_start_echo(struct proc *p, const char *model, const char *endpoint,
                  const char *const extra[])
{
    h_start_echo_pre(p, model, endpoint, extra, NULL);
}

int h_free_port(void)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
        socklen_t len = sizeof(a);
        int t = socket(AF_INET6, SOCK_STREAM, 0), u = socket(AF_INET6, SOCK_DGRAM, 0);
        int ok = t >= 0 && u >= 0 && bind(t, (struct sockaddr *)&a, sizeof(a)) == 0 &&
                 getsockname(t, (struct sockaddr *)&a, &len) == 0 &&
                 bind(u, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(t);
        close(u);
        if (ok)
            return ntohs(a.sin6_port);
    }
    cr_assert_fail("no free port");
    return -1;
}

void h_expect_send_echo(const char *endpoint, const char *msg, int timeout_ms)
{
    struct proc c;
    const char *argv[] = { h_sockit(), "send", endpoint, msg, NULL };

    h_start(&c, argv, "", 0, NULL);
    int rc = h_wait(&c, timeout_ms);
    char *out = h_stdout(&c, NULL), *err = h_stderr(&c, NULL);
    cr_expect_eq(rc, 0, "sockit send %s exit %d; stderr:\n%s", endpoint, rc, err);
    cr_expect_str_eq(out, msg, "echo of '%s' over %s", msg, endpoint);
    free(out);
    free(err);
    h_cleanup(&c);
}

int h_connect(const char *endpoint)
{
    struct sockit_endpoint ep;
    struct sockit_sockopts o = { .timeout_ms = 5000 };

    cr_assert_eq(sockit_endpoint_parse(endpoint, &ep), 0, "endpoint %s", endpoint);
    return sockit_socket_connect(&ep, &o, NULL);
}

static int wait_ready(int fd, short ev, long long deadline)
{
    struct pollfd p = { .fd = fd, .events = ev };
    long long left = deadline - h_now_ms();
    return left > 0 && poll(&p, 1, (int)left) == 1 ? 0 : -1;
}

int h_write_all(int fd, const void *buf, size_t len)
{
    long long deadline = h_now_ms() + 10000;
    const char *p = buf;

    while (len > 0) {
        if (wait_ready(fd, POLLOUT, deadline) < 0)
            return -1;
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == ENOTSOCK)
            n = write(fd, p, len);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

int h_read_exact(int fd, void *buf, size_t len)
{
    long long deadline = h_now_ms() + 10000;
    char *p = buf;

    while (len > 0) {
        if (wait_ready(fd, POLLIN, deadline) < 0)
            return -1;
        ssize_t n = recv(fd, p, len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (n > 0) {
            p += n;
            len -= (size_t)n;
        }
    }
    return 0;
}

ssize_t h_read_within(int fd, int ms, void *buf, size_t cap)
{
    if (wait_ready(fd, POLLIN, h_now_ms() + ms) < 0)
        return -ETIMEDOUT;
    ssize_t n = recv(fd, buf, cap, MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

void h_fill(void *buf, size_t len, unsigned seed)
{
    unsigned char *p = buf;
    unsigned x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
}

long h_cpu_ms(pid_t pid)
{
    char path[64], buf[1024];
    unsigned long utime = 0, stime = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *close_paren = strrchr(buf, ')'); /* the name may contain spaces */
    if (!close_paren ||
        sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
               &stime) != 2)
        return -1;
    return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

ssize_t h_ping(int fd)
{
    char buf[8];

    if (send(fd, "ping", 4, MSG_NOSIGNAL) != 4)
        return -errno;
    ssize_t n = h_read_within(fd, 3000, buf, sizeof(buf));
    if (n == 4)
        cr_expect_eq(memcmp(buf, "ping", 4), 0, "the echo");
    return n;
}

char *h_node(int *rc, const char *fmt, ...)
{
    char args[512], cmd[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "node tests/node/%s 2>&1", args);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f, "%s", cmd);
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    cr_assert_not_null(out);
    while ((n = fread(out + len, 1, cap - len - 1, f)) > 0)
        len += n;
    out[len] = '\0';
    *rc = pclose(f);
    return out;
}
