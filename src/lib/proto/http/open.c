/* Opening what a request names, beneath the served root and nowhere else: the path is
 * normalized first (sockit_http_path_normalize), then opened with openat2 and
 * RESOLVE_BENEATH, so the kernel refuses any symlink that leads out of the root (unless
 * follow_symlinks), and with O_NONBLOCK, so a FIFO in the tree cannot stall the loop. Where
 * openat2 is missing (Linux before 5.6, or valgrind, which does not know it), the name is
 * walked a segment at a time with O_NOFOLLOW: stricter, as no symlink is followed at all. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/error.h"

#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

static int open_plain(int dir, const char *name, int extra)
{
    int fd = openat(dir, name, OPEN_FLAGS | extra);

    return fd < 0 ? -errno : fd;
}

/* NAME (normalized: no empty, "." or ".." segment) beneath ROOT one segment at a time,
 * refusing every symlink (ELOOP): fd or -errno. */
static int open_walk(int root, const char *name)
{
    char seg[256];
    int dir = root, fd;

    if (!name[0])
        return open_plain(root, ".", 0);
    for (const char *s = name;; s = strchr(s, '/') + 1) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n >= sizeof(seg))
            fd = -ENAMETOOLONG;
        else {
            memcpy(seg, s, n);
            seg[n] = '\0';
            fd = open_plain(dir, seg, O_NOFOLLOW | (slash ? O_DIRECTORY : 0));
        }
        if (dir != root)
            close(dir);
        if (fd < 0 || !slash)
            return fd;
        dir = fd;
    }
}

int sockit__files_openat(struct sockit_http_files *f, const char *name)
{
    struct open_how how = {
        .flags = OPEN_FLAGS,
        .resolve = RESOLVE_NO_MAGICLINKS | (f->o.follow_symlinks ? 0 : RESOLVE_BENEATH),
    };
    const char *path = name[0] ? name : ".";
    long fd = syscall(SYS_openat2, f->root, path, &how, sizeof(how));

    if (fd < 0 && errno == ENOSYS) /* no openat2 here */
        return f->o.follow_symlinks ? open_plain(f->root, path, 0) : open_walk(f->root, name);
    return fd < 0 ? -errno : (int)fd;
}

/* The status for a failed open. */
static int open_status(int err)
{
    switch (-err) {
    case EACCES:
    case EPERM: return 403;
    case ENAMETOOLONG: return 414;
    case EMFILE:
    case ENFILE:
    case ENOMEM: return 503;
    }
    return 404; /* ENOENT, ENOTDIR, ELOOP, EXDEV (a symlink out of the root)... */
}

int sockit__files_open(struct sockit_http_files *f, struct sockit__target *t, bool slash)
{
    if ((t->fd = sockit__files_openat(f, t->name)) < 0)
        return open_status(t->fd);
    if (fstat(t->fd, &t->st) < 0) {
        close(t->fd);
        return 500;
    }
    if (S_ISREG(t->st.st_mode))
        return 0;
    if (!S_ISDIR(t->st.st_mode)) { /* FIFOs, devices, sockets: never served */
        close(t->fd);
        return 403;
    }
    if (!slash) {
        close(t->fd);
        return 301;
    }
    return 0;
}
