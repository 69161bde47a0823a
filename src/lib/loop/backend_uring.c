/* io_uring backend: placeholder until the completion-based backend lands (see docs). */
#include <errno.h>

#include "loop_internal.h"

static int ur_init(struct sockit_loop *loop)
{
    (void)loop;
    return -ENOSYS;
}

const struct sockit__backend sockit__backend_uring = {
    .name = "uring",
    .init = ur_init,
};
