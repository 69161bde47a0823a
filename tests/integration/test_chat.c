/* sockit chat with clients we did not write: node's ws (rooms, history, nicknames, every
 * refusal, a member that stops reading while the room floods) and two headless Chromium
 * pages (the page escapes what users type, reconnects after a drop); its --json summary and
 * its usage errors. Each test runs its own chat on a free loopback port. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../support/harness.h"

static struct proc *chat;
static char base[64];

/* Start "sockit chat -l tcp://127.0.0.1:PORT EXTRA..." and wait until it listens. */
static void start_chat(const char *const extra[])
{
    static char ep[64];
    const char *argv[16] = { h_sockit(), "chat", "--json", "-l", ep };
    size_t n = 5;
    int port = h_free_port();

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
    snprintf(base, sizeof(base), "ws://127.0.0.1:%d", port);
    for (size_t i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    chat = h_start_tracked("sockit chat", argv, "", 0, NULL);
    H_CHECK(h_wait_stderr(chat, "listening on", 5000), "sockit chat did not start");
}

static void stop_all(void)
{
    h_cleanup_tracked();
    chat = NULL;
}

TestSuite(chat, .fini = stop_all, .timeout = 90);

static void expect_scenario(const char *scenario, const char *last_ok)
{
    int rc;
    char *out = h_node(&rc, "chat_client.js %s %s", base, scenario);

    cr_expect_eq(rc, 0, "%s:\n%s", scenario, out);
    cr_expect(strstr(out, last_ok) != NULL, "%s:\n%s", scenario, out);
    cr_expect(strstr(out, "FAIL") == NULL, "%s:\n%s", scenario, out);
    free(out);
}

Test(chat, rooms_history_nicknames_and_notices)
{
    start_chat(NULL);
    expect_scenario("rooms", "ok leave notice");
}

Test(chat, every_refusal_answered_and_binary_closed)
{
    start_chat(NULL);
    expect_scenario("limits", "ok binary message closed with 1003");
}

/* A member that stops reading is dropped with 1008 and counted; the room misses nothing. */
Test(chat, a_member_that_does_not_read_is_dropped)
{
    const char *extra[] = { "--rate", "2000", NULL };

    start_chat(extra);
    expect_scenario("slow", "ok the others get every message");
    cr_assert_eq(h_stop(chat, SIGTERM, 5000), 0);
    const char *out = h_text_of(chat, false, NULL);
    cr_expect(strstr(out, "\"dropped_slow\":1") != NULL, "%s", out);
    cr_expect(strstr(h_text_of(chat, true, NULL), "lazy: not reading, output queue full: "
                                                  "closed (1008)") != NULL,
              "%s", h_text_of(chat, true, NULL));
}

/* The README's and the protocol document's example, with sockit ws as the client. */
Test(chat, sockit_ws_speaks_the_protocol)
{
    char url[96];
    const char in[] = "{\"type\":\"join\",\"nick\":\"bob\"}\n{\"type\":\"say\",\"text\":\"hi\"}\n";

    start_chat(NULL);
    snprintf(url, sizeof(url), "%s/lobby", base);
    const char *argv[] = { h_sockit(), "ws", "-q", "-n", "3", url, NULL };
    struct proc *c = h_start_tracked("sockit ws", argv, in, sizeof(in) - 1, NULL);
    cr_assert_eq(h_wait(c, 10000), 0, "%s", h_text_of(c, true, NULL));
    const char *out = h_text_of(c, false, NULL);
    const char *want = "{\"type\":\"welcome\",\"room\":\"/lobby\",\"nick\":\"bob\",\"users\":"
                       "[\"bob\"],\"history\":[]}\n{\"type\":\"join\",\"nick\":\"bob\",\"time\":";
    cr_expect(strncmp(out, want, strlen(want)) == 0, "%s", out);
    cr_expect(strstr(out, "{\"type\":\"message\",\"nick\":\"bob\",\"text\":\"hi\",\"time\":") !=
                  NULL,
              "%s", out);
    cr_assert_eq(h_stop(chat, SIGTERM, 5000), 0);
    cr_expect(strstr(h_text_of(chat, false, NULL),
                     "{\"joined\":1,\"messages\":1,\"deliveries\":2,\"refused\":0,"
                     "\"dropped_slow\":0,\"relayed_out\":0,\"relayed_in\":0,"
                     "\"not_relayed\":0}") != NULL,
              "%s", h_text_of(chat, false, NULL));
}

/* Two Chromium pages chat; hostile text stays text; both reconnect after a restart. The
 * screenshot shows the page: its dark header and text, its blue buttons. */
Test(chat, two_browser_pages_chat, .timeout = 120)
{
    char shot[256], cmd[512];
    int rc, w, h, dark, blue;

    h_tmp_path(shot, sizeof(shot), "chat.png");
    h_track_path(shot);
    char *out = h_node(&rc, "chat_browser.js %s %d %s", h_sockit(), h_free_port(), shot);
    cr_expect_eq(rc, 0, "%s", out);
    cr_expect(strstr(out, "ok shown as text, not run as HTML") != NULL, "%s", out);
    cr_expect(strstr(out, "ok both pages reconnected and joined again") != NULL, "%s", out);
    free(out);
    snprintf(cmd, sizeof(cmd), "python3 tests/support/png_stats.py '%s'", shot);
    FILE *f = popen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_eq(fscanf(f, "%d %d %d %d", &w, &h, &dark, &blue), 4, "no screenshot read");
    pclose(f);
    cr_expect(w == 800 && h == 500, "%dx%d", w, h);
    cr_expect_gt(dark, 20000, "%d dark pixels: the header bar and the text", dark);
    cr_expect_gt(blue, 1000, "%d blue pixels: the send button", blue);
}

Test(chat, usage_errors)
{
    const char *bad[][6] = {
        { "--rate", "0", NULL },
        { "--history", "1001", NULL },
        { "-l", "udp://127.0.0.1:9", NULL },
        { "extra-argument", NULL },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *argv[8] = { h_sockit(), "chat" };
        size_t n = 2;
        for (size_t k = 0; bad[i][k]; k++)
            argv[n++] = bad[i][k];
        argv[n] = NULL;
        struct proc *c = h_start_tracked("sockit chat", argv, "", 0, NULL);
        cr_expect_eq(h_wait(c, 5000), 2, "%s: %s", bad[i][0], h_text_of(c, true, NULL));
    }
}

/* On a terminal (script(1)'s), a line each second counts clients, rooms and messages. */
Test(chat, a_terminal_gets_a_live_line)
{
    char cmd[512], out[256], url[96];
    int port = h_free_port();
    const char in[] = "{\"type\":\"join\",\"nick\":\"tty\"}\n{\"type\":\"say\",\"text\":\"hi\"}\n";

    h_tmp_path(out, sizeof(out), "chat-tty.txt");
    h_track_path(out);
    snprintf(cmd, sizeof(cmd), "timeout -s INT 3 %s chat -l tcp://127.0.0.1:%d", h_sockit(), port);
    const char *argv[] = { "script", "-qfc", cmd, out, NULL };
    struct proc *tty = h_start_tracked("script sockit chat", argv, "", 0, NULL);
    h_sleep_ms(700);
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/room", port);
    const char *ws[] = { h_sockit(), "ws", "-q", "-n", "3", url, NULL };
    struct proc *c = h_start_tracked("sockit ws", ws, in, sizeof(in) - 1, NULL);
    cr_assert_eq(h_wait(c, 5000), 0, "%s", h_text_of(c, true, NULL));
    cr_assert_eq(h_wait(tty, 10000), 0);
    FILE *f = fopen(out, "r");
    cr_assert_not_null(f);
    char text[8192] = "";
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    cr_expect(strstr(text, "clients in") && strstr(text, "deliveries/s") &&
                  strstr(text, "stopped: 1 joined, 1 messages"),
              "%s", text);
}
