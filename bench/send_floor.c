/* send_floor: the kernel's cost of one small TCP send per recipient on loopback, the floor
 * under a chat server's CPU per delivery when each round carries one message. N connected
 * pairs; a reader process on CPU 1 drains them with epoll; this process on CPU 0 writes one
 * SIZE-byte frame to each of the N sockets, ROUNDS times a second for 3 s (sleeping until each
 * round is due), and prints its own CPU time per send.
 * Usage: send_floor ROUNDS_PER_S [N [SIZE]] */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_N 4096

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

static double cpu_seconds(void)
{
    struct rusage r;

    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_stime.tv_sec +
           ((double)r.ru_utime.tv_usec + (double)r.ru_stime.tv_usec) / 1e6;
}

static void reader(const int *fds, int n)
{
    int ep = epoll_create1(0);
    struct epoll_event ev[256];
    static char buf[65536];
    time_t end = time(NULL) + 5;

    pin(1);
    for (int i = 0; i < n; i++) {
        struct epoll_event e = { .events = EPOLLIN, .data.fd = fds[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e);
    }
    while (time(NULL) < end) {
        int k = epoll_wait(ep, ev, 256, 100);
        for (int i = 0; i < k; i++)
            if (read(ev[i].data.fd, buf, sizeof(buf)) == 0)
                end = 0;
    }
    _exit(0);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 1000, n = argc > 2 ? atoi(argv[2]) : 100;
    size_t size = argc > 3 ? (size_t)atoi(argv[3]) : 66;
    static int cli[MAX_N], srv[MAX_N];
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(a);
    char msg[65536] = { 0 };
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    if (rounds < 1 || n < 1 || n > MAX_N || size < 1 || size > sizeof(msg)) {
        fprintf(stderr, "usage: send_floor ROUNDS_PER_S [N<=%d [SIZE]]\n", MAX_N);
        return 2;
    }
    if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, n) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &alen) < 0) {
        perror("send_floor: listen");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(cli[i], (struct sockaddr *)&a, sizeof(a)) < 0 ||
            (srv[i] = accept(l, NULL, NULL)) < 0) {
            perror("send_floor: connect");
            return 1;
        }
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    pid_t child = fork();
    if (child == 0)
        reader(cli, n);
    pin(0);
    struct timespec due;
    clock_gettime(CLOCK_MONOTONIC, &due);
    double before = cpu_seconds();
    long sends = 0;
    for (int r = 0; r < rounds * 3; r++) {
        due.tv_nsec += 1000000000L / rounds;
        if (due.tv_nsec >= 1000000000L) {
            due.tv_sec++;
            due.tv_nsec -= 1000000000L;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);
        for (int i = 0; i < n; i++, sends++)
            if (write(srv[i], msg, size) != (ssize_t)size) {
                perror("send_floor: write");
                return 1;
            }
    }
    double cpu = cpu_seconds() - before;
    for (int i = 0; i < n; i++)
        close(srv[i]);
    waitpid(child, NULL, 0);
    printf("{\"rounds_per_s\":%d,\"n\":%d,\"size\":%zu,\"sends\":%ld,\"cpu_s\":%.3f,"
           "\"cpu_us_per_send\":%.2f}\n",
           rounds, n, size, sends, cpu, cpu * 1e6 / (double)sends);
    return 0;
}
