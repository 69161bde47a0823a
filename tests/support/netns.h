/* Network namespaces for tests that need a real link: two namespaces joined by a veth pair,
 * made by the test and removed after it (also after a failed assertion, from the suite's
 * .fini). Names carry the test process's pid, so parallel tests never meet, and namespaces
 * left by a killed run are removed by the next one. Needs root (CAP_SYS_ADMIN). */
#ifndef SOCKIT_TEST_NETNS_H
#define SOCKIT_TEST_NETNS_H

#include <stdbool.h>

/* Two namespaces A and B, the veth ends IF_A (in A) and IF_B (in B), both up with
 * 10.N.0.1/24 and 10.N.0.2/24, fd00:N::1/64 and fd00:N::2/64 (no DAD wait), and loopback up. */
struct h_netpair {
    char ns_a[32], ns_b[32];
    char if_a[16], if_b[16];
    char ip_a[32], ip_b[32];
    char ip6_a[48], ip6_b[48];
    char mac_a[18], mac_b[18];
    bool up;
};

/* True if this process may make namespaces (root, `ip netns` works). */
bool h_netns_available(void);

/* Make the pair described above; aborts the test on failure. */
void h_netpair_create(struct h_netpair *p);

/* Remove both namespaces (the veth pair goes with them). A no-op for a pair not up. */
void h_netpair_destroy(struct h_netpair *p);

/* Run the shell command FMT... inside namespace NS and wait: its exit status (-1 if it could
 * not run). Output goes to the test's stderr. */
int h_netns_sh(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Namespaces named by this harness whose process is gone: removed. Called by create. */
void h_netns_sweep(void);

#endif
