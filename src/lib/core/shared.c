/* Shared buffers and files: one allocation each (header and bytes together), freed by the
 * last of its holders. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sockit/shared.h"

struct sockit_shared {
    atomic_size_t refs;
    size_t len;
    int fd; /* -1: a buffer, its bytes follow */
    _Alignas(16) unsigned char data[];
};

int sockit_shared_new(size_t len, struct sockit_shared **out)
{
    struct sockit_shared *sh;

    if (len > SIZE_MAX - sizeof(*sh) || !(sh = malloc(sizeof(*sh) + len)))
        return -ENOMEM;
    atomic_init(&sh->refs, 1);
    sh->len = len;
    sh->fd = -1;
    *out = sh;
    return 0;
}

int sockit_shared_copy(const void *data, size_t len, struct sockit_shared **out)
{
    int err = sockit_shared_new(len, out);

    if (!err && len)
        memcpy((*out)->data, data, len);
    return err;
}

int sockit_shared_file(int fd, struct sockit_shared **out)
{
    struct stat st;
    int err = fstat(fd, &st) < 0 ? -errno : 0;

    if (!err && !S_ISREG(st.st_mode))
        err = -EINVAL;
    if (!err)
        err = sockit_shared_new(0, out);
    if (err) {
        close(fd);
        return err;
    }
    (*out)->len = (size_t)st.st_size;
    (*out)->fd = fd;
    return 0;
}

void *sockit_shared_data(struct sockit_shared *sh)
{
    return sh->fd < 0 ? sh->data : NULL;
}

size_t sockit_shared_len(const struct sockit_shared *sh)
{
    return sh->len;
}

int sockit_shared_fd(const struct sockit_shared *sh)
{
    return sh->fd;
}

struct sockit_shared *sockit_shared_ref(struct sockit_shared *sh)
{
    atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
    return sh;
}

void sockit_shared_unref(struct sockit_shared *sh)
{
    if (!sh || atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (sh->fd >= 0)
        close(sh->fd);
    free(sh);
}
