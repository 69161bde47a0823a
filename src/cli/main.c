/* sockit: one program, git-style subcommands. main() owns configuration and exit codes. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "game_cli.h"

#define SOCKIT_VERSION "0.1.0"

static const struct cli_command commands[] = {
    { "echo", cmd_echo, "echo server: iterative, fork, thread or event-loop model" },
    { "send", cmd_send, "send one message, print the reply (the article's client)" },
    { "connect", cmd_connect, "connect and relay stdin/stdout (like nc HOST PORT)" },
    { "listen", cmd_listen, "listen and relay stdin/stdout with the client (like nc -l)" },
    { "bench", cmd_bench, "load generator: msgs/s, MB/s, latency percentiles (like wrk)" },
    { "http", cmd_http, "HTTP/1.1 static file server (like nginx, python3 -m http.server)" },
    { "capture", cmd_capture,
      "capture frames with a packet ring, print or write pcap (like tcpdump)" },
    { "inject", cmd_inject, "send whole frames on an interface, from hex or a pcap file" },
    { "ping", cmd_ping, "ICMP and ICMPv6 echo: replies, RTTs, loss (like iputils ping)" },
    { "ws", cmd_ws, "WebSocket client: stdin lines to messages, messages to stdout (websocat)" },
    { "chat", cmd_chat, "WebSocket chat with its own web page: rooms, nicknames, history" },
    { "impair", cmd_impair, "UDP proxy with seeded loss, delay, jitter, reordering, bandwidth" },
    { "game-server", cmd_game_server,
      "authoritative UDP game server: fixed tick, delta snapshots" },
    { "game-client", cmd_game_client, "game bots: inputs, snapshots, hash checks, RTT, latency" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("Usage: sockit COMMAND [OPTIONS] ENDPOINT ...\n"
          "A toolkit for network sockets, grown out of the BSD socket API (socket, bind,\n"
          "listen, accept, connect, send, recv, close): servers, clients, relays and a load\n"
          "generator over TCP, UDP and Unix sockets, IPv4 and IPv6, ping over ICMP, packet\n"
          "capture and injection on AF_PACKET raw sockets, and WebSocket servers and clients:\n"
          "each a small, strict and fast tool, with every socket call traceable (--trace).\n\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fputs("\nEndpoints:\n"
          "  tcp://HOST:PORT, HOST:PORT   TCP over IPv4 or IPv6 (IPv6 in brackets: [::1]:8080)\n"
          "  tcp://:PORT                  any address (listen) / this host (connect)\n"
          "  udp://HOST:PORT              UDP datagrams\n"
          "  unix:/PATH, unix:@NAME       Unix stream socket (file, or abstract name)\n"
          "  unix-dgram:/PATH, unix-dgram:@NAME\n"
          "                               Unix datagram socket (file, or abstract name)\n"
          "  packet:IFACE, packet:any     every frame of an interface, or of all (capture,\n"
          "                               inject: -i IFACE)\n"
          "  ws://HOST[:PORT][/PATH]      WebSocket over TCP (echo, ws); port 80 if left out\n\n"
          "Options:\n"
          "  -h, --help      show this help (also: sockit COMMAND --help)\n"
          "  -V, --version   show the version\n\n"
          "Exit status:\n"
          "  0  success, or a server stopped by SIGINT/SIGTERM\n"
          "  1  failure at run time (refused, address in use, timeout, lost peer...)\n"
          "  2  usage error (unknown option, invalid endpoint or number)\n"
          "  (sockit ping keeps iputils ping's: 1 no reply, 2 any other error)\n\n"
          "Environment:\n"
          "  SOCKIT_URING_BUFFERS=classic   the default of --uring-buffers: io_uring event\n"
          "                                 loops use 1024 receive buffers of 4 KiB, as on\n"
          "                                 kernels before 6.12, instead of 64 shared 64 KiB\n"
          "                                 buffers consumed incrementally\n\n"
          "Examples:\n"
          "  sockit echo tcp://:8080 --model thread\n"
          "  sockit send tcp://127.0.0.1:8080 'Hello from client'\n"
          "  sockit listen unix:/tmp/chat.sock\n"
          "  sockit connect unix:/tmp/chat.sock\n"
          "  sockit echo udp://[::1]:9000 --trace\n"
          "  sockit ping -c 3 ::1\n"
          "  sockit capture -i any -c 10 icmp or icmp6\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    char *help_argv[] = { argv[0], argc > 2 ? argv[2] : NULL, "--help", NULL };
    if (strcmp(name, "help") == 0 && argc > 2) { /* "sockit help echo" = "sockit echo --help" */
        name = argv[2];
        argv = help_argv;
        argc = 3;
    }
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
        printf("sockit %s\n", SOCKIT_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(name, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "sockit: unknown %s '%s'\nTry 'sockit --help' for the list.\n",
            name[0] == '-' ? "option" : "command", name);
    return CLI_USAGE;
}
