/* What sockit game-server and game-client share: traffic counters and the process's CPU. */
#ifndef SOCKIT_GAME_CLI_H
#define SOCKIT_GAME_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "sockit/loop.h"

/* Datagrams and UDP payload bytes each way. */
struct game_cli_io {
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
};

/* User plus system CPU time of this process so far, in seconds. */
double game_cli_cpu_seconds(void);

/* Make room for NEED open files: raise the soft limit toward the hard one. Returns 0, or
 * -EMFILE when even the hard limit is too low. */
int game_cli_room_for_files(size_t need);

/* --timeout TEXT for command CMD (a time with its unit, 100ms to 3600s) into *MS: 0, or
 * CLI_USAGE with a message. */
int game_cli_timeout(const char *cmd, const char *text, uint32_t *ms);

/* Watch SIGINT and SIGTERM on LOOP: FN (with UD) runs when one comes. Returns the signal fd,
 * for game_cli_unwatch_stop after the loop; or -1 after printing why it could not. */
int game_cli_watch_stop(struct sockit_loop *loop, sockit_loop_fn *fn, void *ud);
void game_cli_unwatch_stop(struct sockit_loop *loop, int fd);

int cmd_game_server(int argc, char **argv);
int cmd_game_client(int argc, char **argv);

#endif
