/* Fault injection for unit tests: make one system call fail from now on in this process (a
 * seccomp filter; Criterion runs each test in its own process, so it ends with the test). */
#ifndef SOCKIT_TEST_SECCOMP_H
#define SOCKIT_TEST_SECCOMP_H

/* System call NR fails with ERR (errno) from now on; every other call is let be. Fails the
 * test if the filter cannot be installed. */
void h_fail_syscall(long nr, int err);

#endif
