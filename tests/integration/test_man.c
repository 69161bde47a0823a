/* The man page as a reader sees it (issue 16, "the man page"): rendered by man(1) from the
 * build's sockit.1 (SOCKIT_MAN, set by make test), one opening paragraph in DESCRIPTION, an
 * ENVIRONMENT section that does not begin with "None" before listing a variable, and
 * EXAMPLES one command per line instead of one filled paragraph. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char page[256 * 1024];

/* The page rendered 200 columns wide (no line of it wraps), neither justified nor
 * hyphenated, in PAGE. */
static void render(void)
{
    const char *path = getenv("SOCKIT_MAN");
    char cmd[4200];

    if (!path)
        cr_skip_test("SOCKIT_MAN is not set (make test sets it)");
    snprintf(cmd, sizeof(cmd), "MANWIDTH=200 man --nj --nh -l '%s' 2>&1", path);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    size_t n = fread(page, 1, sizeof(page) - 1, f);
    page[n] = '\0';
    cr_assert_eq(pclose(f), 0, "man -l %s: %s", path, page);
}

/* The text of section NAME (from its heading to the next heading), in a static buffer. */
static const char *section(const char *name)
{
    static char buf[64 * 1024];
    char heading[64];

    snprintf(heading, sizeof(heading), "\n%s\n", name);
    const char *start = strstr(page, heading);
    cr_assert_not_null(start, "no %s section in:\n%s", name, page);
    start += strlen(heading);
    const char *end = start;
    while ((end = strchr(end, '\n')) && end[1] && (end[1] == ' ' || end[1] == '\n'))
        end++; /* headings start in column 0 */
    size_t len = end ? (size_t)(end - start) : strlen(start);
    cr_assert_lt(len, sizeof(buf));
    memcpy(buf, start, len);
    buf[len] = '\0';
    return buf;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

Test(man, description_has_one_opening_paragraph)
{
    render();
    const char *d = section("DESCRIPTION");
    cr_expect_eq(count(d, "toolkit for network sockets"), 1, "DESCRIPTION:\n%s", d);
    cr_expect(strstr(d, "Each subcommand has a section of its own below") != NULL, "%s", d);
}

Test(man, environment_lists_the_variable_without_saying_none)
{
    render();
    const char *e = section("ENVIRONMENT");
    cr_expect(strstr(e, "None") == NULL, "ENVIRONMENT:\n%s", e);
    cr_expect(strstr(e, "SOCKIT_URING_BUFFERS") != NULL, "ENVIRONMENT:\n%s", e);
}

Test(man, examples_are_one_command_per_line)
{
    render();
    const char *x = section("EXAMPLES");
    int lines = 0;

    for (const char *p = x; (p = strstr(p, "sockit ")); p++) {
        const char *bol = p;
        while (bol > x && bol[-1] == ' ')
            bol--;
        cr_expect(bol == x || bol[-1] == '\n', "two commands on one line:\n%s", x);
        lines++;
    }
    cr_expect_geq(lines, 4, "EXAMPLES:\n%s", x);
}

Test(man, connect_and_listen_list_their_own_options)
{
    render();
    static char connect[64 * 1024];
    snprintf(connect, sizeof(connect), "%s", section("SOCKIT CONNECT"));
    const char *listen = section("SOCKIT LISTEN");
    cr_expect(strstr(connect, "--keep-open") == NULL, "connect lists -k:\n%s", connect);
    cr_expect(strstr(connect, "--timeout SEC") != NULL, "%s", connect);
    cr_expect(strstr(listen, "--timeout SEC") == NULL, "listen lists -t:\n%s", listen);
    cr_expect(strstr(listen, "--keep-open") != NULL, "%s", listen);
}
