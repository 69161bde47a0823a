/* Opening what a request names, beneath the served root and nowhere else: the path is
 * normalized first (sockit_http_path_normalize), then opened with openat2 and
 * RESOLVE_BENEATH, so the kernel refuses any symlink that leads out of the root (unless
 * follow_symlinks), and with O_NONBLOCK, so a FIFO in the tree cannot stall the loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files_internal.h"
#include "sockit/error.h"

int sockit__files_openat(struct sockit_http_files *f, const char *name)
{
    struct open_how how = {
        .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
        .resolve = RESOLVE_NO_MAGICLINKS | (f->o.follow_symlinks ? 0 : RESOLVE_BENEATH),
    };
    long fd = syscall(SYS_openat2, f->root, name[0] ? name : ".", &how, sizeof(how));

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
