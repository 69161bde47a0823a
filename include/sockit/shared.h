/* sockit/shared.h — reference-counted buffers and files that many streams send at once.
 *
 * A chat server builds one broadcast frame and queues it on a thousand streams; an HTTP server
 * opens a file once and sends ranges of it to every client that asks. A shared object is
 * created with one reference (the creator's); each stream that queues it takes its own and
 * drops it when the bytes are sent or the stream closes, so the object is freed when the last
 * holder lets go, whichever that is. Its bytes must not change once it has been queued.
 * Reference counts are atomic: a shared object may be queued on loops in several threads. */
#ifndef SOCKIT_SHARED_H
#define SOCKIT_SHARED_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockit_shared;

/* A buffer of LEN bytes (uninitialised: fill it through sockit_shared_data before queueing
 * it). Returns 0 and the buffer in *OUT with one reference, or -ENOMEM. */
int sockit_shared_new(size_t len, struct sockit_shared **out);

/* A buffer holding a copy of LEN bytes at DATA. Returns 0 or -ENOMEM. */
int sockit_shared_copy(const void *data, size_t len, struct sockit_shared **out);

/* An open regular file, for sockit_stream_send_file. The object takes FD (it is closed when
 * the last reference goes, and also on failure here) and records its size now. Returns 0,
 * -EINVAL when FD is not a regular file, or -errno. */
int sockit_shared_file(int fd, struct sockit_shared **out);

/* The bytes of a buffer (NULL for a file). Writable until the buffer is first queued. */
void *sockit_shared_data(struct sockit_shared *sh);

/* Bytes in a buffer, or the file's size when it was wrapped. */
size_t sockit_shared_len(const struct sockit_shared *sh);

/* The file's descriptor (still owned by the object), or -1 for a buffer. */
int sockit_shared_fd(const struct sockit_shared *sh);

/* Take one more reference; returns SH. */
struct sockit_shared *sockit_shared_ref(struct sockit_shared *sh);

/* Drop one reference; the last one frees the object (and closes a file). NULL is a no-op. */
void sockit_shared_unref(struct sockit_shared *sh);

#ifdef __cplusplus
}
#endif

#endif
