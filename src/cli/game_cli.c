/* What sockit game-server and game-client share (game_cli.h). */
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "game_cli.h"
#include "sockit/impair.h"

double game_cli_cpu_seconds(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) < 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int game_cli_room_for_files(size_t need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
        return -EMFILE;
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl) < 0 ? -errno : 0;
}

int game_cli_timeout(const char *cmd, const char *text, uint32_t *ms)
{
    uint64_t ns;

    if (sockit_impair_parse_time(text, &ns) < 0 || ns < 100000000ull || ns > 3600000000000ull)
        return cli_usage(cmd, "--timeout %s: a time with its unit, 100ms to 3600s", text);
    *ms = (uint32_t)(ns / 1000000);
    return 0;
}

int game_cli_watch_stop(struct sockit_loop *loop, sockit_loop_fn *fn, void *ud)
{
    int fd = cli_stop_signals(), err;

    if (fd < 0 || (err = sockit_loop_watch(loop, fd, SOCKIT_EV_READ, fn, ud)) < 0) {
        if (fd >= 0)
            close(fd);
        cli_fail("signalfd", NULL, fd < 0 ? fd : err);
        return -1;
    }
    return fd;
}

void game_cli_unwatch_stop(struct sockit_loop *loop, int fd)
{
    sockit_loop_unwatch(loop, fd);
    close(fd);
}
