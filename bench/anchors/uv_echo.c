/* Anchor: a TCP echo server written the way the libuv guide teaches (uvbook "echo server"):
 * one loop, a malloc'd buffer per read, a uv_write_t per echo, freed in the write callback.
 * Usage: uv_echo PORT   (listens on 127.0.0.1) */
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

struct write_req {
    uv_write_t req;
    uv_buf_t buf;
};

static void alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)handle;
    buf->base = malloc(suggested);
    buf->len = buf->base ? suggested : 0;
}

static void close_cb(uv_handle_t *handle)
{
    free(handle);
}

static void write_cb(uv_write_t *req, int status)
{
    struct write_req *wr = (struct write_req *)req;
    (void)status;
    free(wr->buf.base);
    free(wr);
}

static void read_cb(uv_stream_t *client, ssize_t nread, const uv_buf_t *buf)
{
    if (nread > 0) {
        struct write_req *wr = malloc(sizeof(*wr));
        wr->buf = uv_buf_init(buf->base, (unsigned)nread);
        uv_write(&wr->req, client, &wr->buf, 1, write_cb);
        return;
    }
    if (nread < 0)
        uv_close((uv_handle_t *)client, close_cb);
    free(buf->base);
}

static void connection_cb(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    uv_tcp_t *client = malloc(sizeof(*client));
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) == 0)
        uv_read_start((uv_stream_t *)client, alloc_cb, read_cb);
    else
        uv_close((uv_handle_t *)client, close_cb);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    struct sockaddr_in addr;
    int port = argc > 1 ? atoi(argv[1]) : 7000;

    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    int err = uv_listen((uv_stream_t *)&server, 1024, connection_cb);
    if (err) {
        fprintf(stderr, "uv_echo: listen 127.0.0.1:%d: %s\n", port, uv_strerror(err));
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
