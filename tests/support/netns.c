/* Network namespaces and veth pairs for tests (see netns.h). Made and removed with iproute2's
 * `ip`, the tool a reader would use by hand. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"

#define PREFIX "sockit-t"

static int sh(const char *cmd)
{
    int rc = system(cmd);
    return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

bool h_netns_available(void)
{
    return geteuid() == 0 && sh("ip netns list >/dev/null 2>&1") == 0;
}

void h_netns_sweep(void)
{
    DIR *d = opendir("/run/netns");
    struct dirent *e;
    char cmd[320];

    if (!d)
        return;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, PREFIX "%d-", &pid) == 1 && pid > 0 && kill(pid, 0) < 0) {
            snprintf(cmd, sizeof(cmd), "ip netns del '%s' 2>/dev/null", e->d_name);
            sh(cmd);
        }
    }
    closedir(d);
}

int h_netns_sh(const char *ns, const char *fmt, ...)
{
    char inner[2048], cmd[2200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(inner, sizeof(inner), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "ip netns exec '%s' sh -c '%s'", ns, inner);
    return sh(cmd);
}

/* The MAC address of IFNAME inside NS into MAC ("" if it cannot be read). */
static void read_mac(const char *ns, const char *ifname, char mac[18])
{
    char cmd[256];
    FILE *f;

    mac[0] = '\0';
    snprintf(cmd, sizeof(cmd), "ip netns exec '%s' cat /sys/class/net/%s/address", ns, ifname);
    if ((f = popen(cmd, "r"))) {
        if (!fgets(mac, 18, f))
            mac[0] = '\0';
        pclose(f);
    }
}

void h_netpair_create(struct h_netpair *p)
{
    static int count;
    int n = (int)(getpid() % 200) + 20 + count; /* 10.N.0.0/24: a subnet per pair */
    int pid = getpid();
    char cmd[1024];

    cr_assert(h_netns_available(), "network namespaces need root");
    h_netns_sweep();
    memset(p, 0, sizeof(*p));
    snprintf(p->ns_a, sizeof(p->ns_a), PREFIX "%d-%da", pid, count);
    snprintf(p->ns_b, sizeof(p->ns_b), PREFIX "%d-%db", pid, count);
    snprintf(p->if_a, sizeof(p->if_a), "skv%da%d", pid % 100000, count % 10);
    snprintf(p->if_b, sizeof(p->if_b), "skv%db%d", pid % 100000, count % 10);
    snprintf(p->ip_a, sizeof(p->ip_a), "10.%d.0.1", n % 250);
    snprintf(p->ip_b, sizeof(p->ip_b), "10.%d.0.2", n % 250);
    snprintf(p->ip6_a, sizeof(p->ip6_a), "fd00:%x::1", n);
    snprintf(p->ip6_b, sizeof(p->ip6_b), "fd00:%x::2", n);
    count++;
    snprintf(cmd, sizeof(cmd),
             "set -e; ip netns add %s; ip netns add %s;"
             " ip link add %s netns %s type veth peer name %s netns %s;"
             " ip -n %s link set lo up; ip -n %s link set lo up;"
             " ip -n %s addr add %s/24 dev %s; ip -n %s addr add %s/24 dev %s;"
             " ip -n %s addr add %s/64 dev %s nodad; ip -n %s addr add %s/64 dev %s nodad;"
             " ip -n %s link set %s up; ip -n %s link set %s up",
             p->ns_a, p->ns_b, p->if_a, p->ns_a, p->if_b, p->ns_b, p->ns_a, p->ns_b, p->ns_a,
             p->ip_a, p->if_a, p->ns_b, p->ip_b, p->if_b, p->ns_a, p->ip6_a, p->if_a, p->ns_b,
             p->ip6_b, p->if_b, p->ns_a, p->if_a, p->ns_b, p->if_b);
    p->up = true;
    if (sh(cmd) != 0) {
        h_netpair_destroy(p);
        cr_assert_fail("could not make namespaces %s and %s", p->ns_a, p->ns_b);
    }
    read_mac(p->ns_a, p->if_a, p->mac_a);
    read_mac(p->ns_b, p->if_b, p->mac_b);
}

void h_netpair_destroy(struct h_netpair *p)
{
    char cmd[160];

    if (!p->up)
        return;
    snprintf(cmd, sizeof(cmd), "ip netns del '%s' 2>/dev/null; ip netns del '%s' 2>/dev/null",
             p->ns_a, p->ns_b);
    sh(cmd);
    p->up = false;
}
