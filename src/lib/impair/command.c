/* The control channel's commands (sockit_impair_command): one line in, one line out. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sockit/impair.h"

#define MAX_WORDS 5

static int answer(char *reply, size_t cap, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* FMT into REPLY; returns RC. */
static int answer(char *reply, size_t cap, int rc, const char *fmt, ...)
{
    va_list ap;

    if (cap) {
        va_start(ap, fmt);
        vsnprintf(reply, cap, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Split LINE (a copy in BUF) at spaces and tabs into at most MAX_WORDS words. */
static int words(const char *line, char *buf, size_t size, char *w[MAX_WORDS])
{
    int n = 0;
    char *save = NULL;

    if (strlen(line) >= size)
        return -1;
    strcpy(buf, line);
    for (char *t = strtok_r(buf, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
        if (n == MAX_WORDS)
            return -1;
        w[n++] = t;
    }
    return n;
}

/* "up", "down", or neither (both): the direction bits, and how many words it took. */
static unsigned direction(const char *w, int *used)
{
    *used = 1;
    if (w && strcmp(w, "up") == 0)
        return 1;
    if (w && strcmp(w, "down") == 0)
        return 2;
    *used = 0;
    return 3;
}

static int show(struct sockit_impair_options opts[2], char *reply, size_t cap)
{
    char up[256], down[256];

    if (sockit_impair_format(&opts[0], up, sizeof(up)) < 0 ||
        sockit_impair_format(&opts[1], down, sizeof(down)) < 0)
        return answer(reply, cap, -EINVAL, "error: settings too long to show");
    return answer(reply, cap, 0, "up: %s; down: %s", up, down);
}

static int set(struct sockit_impair_options opts[2], char **w, int n, char *reply, size_t cap,
               unsigned *changed)
{
    int used;
    unsigned dirs = direction(n > 1 ? w[1] : NULL, &used);
    struct sockit_impair_options next[2] = { opts[0], opts[1] };
    const char *why = NULL;

    w += 1 + used;
    n -= 1 + used;
    if (n < 1 || n > 2)
        return answer(reply, cap, -EINVAL, "error: usage: set [up|down] NAME VALUE");
    if (n == 1 && !sockit_impair_setting_is_flag(w[0]))
        return answer(reply, cap, -EINVAL, "error: %s: a value is missing", w[0]);
    for (int d = 0; d < 2; d++)
        if ((dirs & (1u << d)) && sockit_impair_setting(&next[d], w[0], n > 1 ? w[1] : NULL, &why))
            return answer(reply, cap, -EINVAL, "error: %s: %s", w[0], why);
    opts[0] = next[0];
    opts[1] = next[1];
    *changed = dirs;
    return answer(reply, cap, 0, "ok");
}

int sockit_impair_command(struct sockit_impair_options opts[2], const char *line, char *reply,
                          size_t cap, unsigned *changed)
{
    char buf[SOCKIT_IMPAIR_CMD_MAX + 1], *w[MAX_WORDS];
    int n = words(line, buf, sizeof(buf), w), used;

    *changed = 0;
    if (n < 0)
        return answer(reply, cap, -EINVAL, "error: a command is at most 512 bytes, 5 words");
    if (n == 0)
        return answer(reply, cap, -EINVAL, "error: empty command (try help)");
    if (strcmp(w[0], "set") == 0)
        return set(opts, w, n, reply, cap, changed);
    if (strcmp(w[0], "clear") == 0) {
        unsigned dirs = direction(n > 1 ? w[1] : NULL, &used);
        if (n != 1 + used)
            return answer(reply, cap, -EINVAL, "error: usage: clear [up|down]");
        for (int d = 0; d < 2; d++)
            if (dirs & (1u << d))
                opts[d] = (struct sockit_impair_options){ 0 };
        *changed = dirs;
        return answer(reply, cap, 0, "ok");
    }
    if (n == 1 && strcmp(w[0], "show") == 0)
        return show(opts, reply, cap);
    if (n == 1 && strcmp(w[0], "stats") == 0)
        return SOCKIT_IMPAIR_CMD_STATS;
    if (n == 1 && strcmp(w[0], "help") == 0)
        return answer(reply, cap, 0,
                      "commands: set [up|down] NAME VALUE; clear [up|down]; show; stats; help");
    return answer(reply, cap, -EINVAL, "error: unknown command '%s' (try help)", w[0]);
}
