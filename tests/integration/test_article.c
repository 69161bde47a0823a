/* The article's exchange, end to end: the server prints "Hello from client" and answers
 * "Hello from server"; --trace shows the socket calls in the article's order; the standalone
 * examples/ programs do the same with the plain socket API. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../support/harness.h"

Test(article, server_prints_message_and_client_prints_reply, .timeout = 20)
{
    struct proc srv, cli;
    char ep[64];
    static const char *const extra[] = { "--reply", "Hello from server", "--show", "--clients", "1",
                                         NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    h_start_echo(&srv, "iterative", ep, extra);
    const char *argv[] = { h_sockit(), "send", ep, "Hello from client", NULL };
    h_start(&cli, argv, "", 0, NULL);
    cr_assert_eq(h_wait(&cli, 5000), 0, "client failed");
    cr_assert_eq(h_wait(&srv, 5000), 0, "server did not exit after --clients 1");
    char *reply = h_stdout(&cli, NULL), *shown = h_stdout(&srv, NULL);
    cr_expect_str_eq(reply, "Hello from server");
    cr_expect_str_eq(shown, "Hello from client\n");
    free(reply);
    free(shown);
    h_cleanup(&cli);
    h_cleanup(&srv);
}

/* Find each needle in order in TEXT; returns the first one missing, or NULL. */
static const char *missing_in_order(const char *text, const char *const needles[])
{
    for (size_t i = 0; needles[i]; i++) {
        const char *at = strstr(text, needles[i]);
        if (!at)
            return needles[i];
        text = at + strlen(needles[i]);
    }
    return NULL;
}

Test(article, trace_shows_socket_calls_in_order, .timeout = 20)
{
    struct proc srv, cli;
    char ep[64], bind_line[64], connect_line[64];
    int port = h_free_port();
    static const char *const extra[] = { "--trace", "--clients", "1", NULL };

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", port);
    h_start_echo(&srv, "iterative", ep, extra);
    const char *argv[] = { h_sockit(), "send", "--trace", ep, "hi", NULL };
    h_start(&cli, argv, "", 0, NULL);
    cr_assert_eq(h_wait(&cli, 5000), 0);
    cr_assert_eq(h_wait(&srv, 5000), 0);
    char *strace = h_stderr(&srv, NULL), *ctrace = h_stderr(&cli, NULL);
    /* fd numbers depend on what the process inherited: match around them. */
    snprintf(bind_line, sizeof(bind_line), ", 127.0.0.1:%d) = 0", port);
    const char *const server_calls[] = { "socket(AF_INET, SOCK_STREAM, 0) = ",
                                         "SO_REUSEADDR, 1) = 0",
                                         "bind(",
                                         bind_line,
                                         "listen(",
                                         ", 3) = 0",
                                         "accept(",
                                         " from 127.0.0.1:",
                                         "recv(",
                                         ", 65536) = 2",
                                         "send(",
                                         ", 2) = 2",
                                         "close(",
                                         NULL };
    snprintf(connect_line, sizeof(connect_line), ", 127.0.0.1:%d) = 0", port);
    const char *const client_calls[] = { "socket(AF_INET, SOCK_STREAM, 0) = ",
                                         "connect(",
                                         connect_line,
                                         ", 2) = 2",
                                         ", SHUT_WR) = 0",
                                         ", 65536) = 2",
                                         ", 65536) = 0",
                                         "close(",
                                         NULL };
    const char *miss = missing_in_order(strace, server_calls);
    cr_expect_null(miss, "server trace lacks '%s' (in order):\n%s", miss, strace);
    miss = missing_in_order(ctrace, client_calls);
    cr_expect_null(miss, "client trace lacks '%s' (in order):\n%s", miss, ctrace);
    free(strace);
    free(ctrace);
    h_cleanup(&cli);
    h_cleanup(&srv);
}

Test(article, standalone_examples_exchange_hello, .timeout = 20)
{
    struct proc srv, cli;
    char port[16], server[256], client[256];

    snprintf(port, sizeof(port), "%d", h_free_port());
    snprintf(server, sizeof(server), "%s/echo_server", h_examples());
    snprintf(client, sizeof(client), "%s/echo_client", h_examples());
    const char *sargv[] = { server, port, NULL };
    h_start(&srv, sargv, NULL, 0, NULL);
    /* The example prints "Listening on" on stdout; poll for it. */
    for (int i = 0; i < 500; i++) {
        char *out = h_stdout(&srv, NULL);
        bool up = strstr(out, "Listening on") != NULL;
        free(out);
        if (up)
            break;
        usleep(10000);
    }
    const char *cargv[] = { client, "127.0.0.1", port, NULL };
    h_start(&cli, cargv, "", 0, NULL);
    cr_assert_eq(h_wait(&cli, 5000), 0, "echo_client failed");
    char *reply = h_stdout(&cli, NULL);
    cr_expect_str_eq(reply, "Server: Hello from server\n");
    h_stop(&srv, SIGTERM, 2000);
    char *shown = h_stdout(&srv, NULL);
    cr_expect(strstr(shown, "Client: Hello from client") != NULL, "server printed:\n%s", shown);
    free(reply);
    free(shown);
    h_cleanup(&cli);
    h_cleanup(&srv);
}

Test(article, client_without_server_prints_one_error_line, .timeout = 20)
{
    struct proc cli;
    char ep[64], want[128];

    snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", h_free_port());
    const char *argv[] = { h_sockit(), "send", ep, "Hello from client", NULL };
    h_start(&cli, argv, "", 0, NULL);
    cr_assert_eq(h_wait(&cli, 5000), 1);
    char *err = h_stderr(&cli, NULL);
    snprintf(want, sizeof(want), "sockit: connect %s: Connection refused\n", ep);
    cr_expect_str_eq(err, want);
    free(err);
    h_cleanup(&cli);
}
