/* The namespace harness itself (tests/support/netns.c): a pair is made with both veth ends
 * up and addressed, IPv4 and IPv6 cross the link, and destroy leaves nothing behind. The raw
 * socket tests (capture, ping, inject) all stand on it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../support/netns.h"

Test(netns, a_pair_links_two_namespaces_and_is_removed_after, .timeout = 30)
{
    struct h_netpair p;
    char path[96];

    if (!h_netns_available())
        cr_skip_test("network namespaces need root");
    h_netpair_create(&p);
    cr_expect_eq(h_netns_sh(p.ns_a, "ping -c 1 -W 2 %s >/dev/null", p.ip_b), 0, "IPv4 ping");
    cr_expect_eq(h_netns_sh(p.ns_b, "ping -6 -c 1 -W 2 %s >/dev/null", p.ip6_a), 0, "IPv6 ping");
    cr_expect_eq(strlen(p.mac_a), 17, "MAC of %s: '%s'", p.if_a, p.mac_a);
    h_netpair_destroy(&p);
    snprintf(path, sizeof(path), "/run/netns/%s", p.ns_a);
    cr_expect_neq(access(path, F_OK), 0, "%s is still there", p.ns_a);
}
