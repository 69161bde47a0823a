/* sockit connect / sockit listen: what they say on stderr about a relay: the -v notes, the
 * counts at the end, a peer that closed, the failed operation named as netcat users know it. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay_cli.h"

void relay_note(const struct relay_config *cfg, const char *what, const struct sockit_addr *a)
{
    char where[SOCKIT_ADDR_STRLEN + 16];

    if (!cfg->verbose)
        return;
    cli_format_addr(cfg->ep.transport, a, where, sizeof(where));
    fprintf(stderr, "sockit %s: %s %s\n", cfg->cmd, what, where);
}

/* What failed, in the words of the old relay: the socket side's reads and writes are recv
 * and send, stdin's and stdout's are named (--exec: the program's side is a socket too). */
const char *relay_failed_op(const struct relay_config *cfg, const struct sockit_relay_end *end)
{
    bool sock = end->side == SOCKIT_RELAY_A;

    if (!sock && cfg->exec)
        return "relay to the program";
    if (strcmp(end->op, "read") == 0)
        return sock ? "recv" : "read stdin";
    if (strcmp(end->op, "write") == 0)
        return sock ? "send" : "write stdout";
    return strcmp(end->op, "stream") == 0 ? "relay" : end->op;
}

/* With -v, what went each way; datagrams never sent, always: they are lost without a word
 * otherwise. The socket is side A, stdin/stdout side B. */
void relay_report_counts(const struct relay_config *cfg, const struct sockit_relay_stats *st)
{
    const char *cmd = cfg->cmd;

    if (cfg->verbose && sockit_endpoint_is_stream(&cfg->ep))
        fprintf(stderr, "sockit %s: sent %llu bytes, received %llu bytes\n", cmd,
                (unsigned long long)st->b_to_a, (unsigned long long)st->a_to_b);
    else if (cfg->verbose)
        fprintf(stderr,
                "sockit %s: sent %llu datagrams (%llu bytes), received %llu datagrams (%llu "
                "bytes)\n",
                cmd, (unsigned long long)st->dgrams_sent[SOCKIT_RELAY_A],
                (unsigned long long)st->b_to_a,
                (unsigned long long)st->dgrams_received[SOCKIT_RELAY_A],
                (unsigned long long)st->a_to_b);
    if (st->dgrams_dropped[SOCKIT_RELAY_A])
        fprintf(stderr,
                "sockit %s: %llu datagrams were not sent (refused by the kernel, or "
                "still queued at the end)\n",
                cmd, (unsigned long long)st->dgrams_dropped[SOCKIT_RELAY_A]);
}

/* What stdin still held when the relay stopped reading it: knowable for a regular file
 * (its size less the offset read to), not for a pipe or a terminal (-1). */
static long long stdin_left(void)
{
    struct stat st;
    off_t at = lseek(STDIN_FILENO, 0, SEEK_CUR);

    if (fstat(STDIN_FILENO, &st) < 0 || !S_ISREG(st.st_mode) || at < 0)
        return -1;
    return st.st_size > at ? (long long)(st.st_size - at) : 0;
}

/* The peer closed (not half-closed) and refused what came after: netcat's peers do that when
 * they are done, so it is no failure, but stdin that did not reach it is said, always. */
void relay_report_peer_gone(const struct relay_config *cfg, const struct sockit_relay_end *end)
{
    long long left = end->input_ended[SOCKIT_RELAY_B] || cfg->exec ? 0 : stdin_left();
    unsigned long long lost = end->undelivered + (left > 0 ? (unsigned long long)left : 0);

    if (lost == 0 && left == 0 && !cfg->verbose)
        return;
    fprintf(stderr, "sockit %s: the peer closed; %llu bytes of %s were not sent%s\n", cfg->cmd,
            lost, cfg->exec ? "the program's output" : "stdin",
            left < 0 ? " (and stdin was not read to its end)" : "");
}

/* "listening on ADDRESS": with -v, and always when the kernel picked the port (port 0), since
 * the caller cannot know it otherwise. */
void relay_announce(const struct relay_config *cfg, const struct sockit_addr *local)
{
    char where[SOCKIT_ADDR_STRLEN + 16];

    if (!cfg->verbose && (sockit_endpoint_is_unix(&cfg->ep) || cfg->ep.port != 0))
        return;
    cli_format_addr(cfg->ep.transport, local, where, sizeof(where));
    fprintf(stderr, "sockit %s: listening on %s\n", cfg->cmd, where);
}
