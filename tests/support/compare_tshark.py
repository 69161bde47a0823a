#!/usr/bin/env python3
"""compare_tshark.py SOCKIT FILE [KIND...]

Read FILE with `SOCKIT capture -r FILE --json` and with `tshark -r FILE -T fields`, and compare
them frame by frame: lengths, Ethernet addresses, IPv4/IPv6 addresses, protocol and TTL, TCP
ports, raw sequence and acknowledgment numbers and window, UDP ports and length, ICMP and
ICMPv6 type and code, ARP operation and addresses. Each KIND (arp, icmp, icmp6, tcp, udp;
default all five) must appear at least once, so a comparison cannot pass on traffic that lacks
it. Prints each difference; exits 0 when there is none, 1 otherwise."""
import json
import subprocess
import sys

FIELDS = [
    "frame.len", "frame.cap_len", "eth.src", "eth.dst",
    "ip.src", "ip.dst", "ip.proto", "ip.ttl",
    "ipv6.src", "ipv6.dst", "ipv6.hlim",
    "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value",
    "udp.srcport", "udp.dstport", "udp.length",
    "icmp.type", "icmp.code", "icmpv6.type", "icmpv6.code",
    "arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
]


def ours(sockit, path):
    out = subprocess.run([sockit, "capture", "-q", "-r", path, "--json"], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    frames = [json.loads(line) for line in out]
    if not frames or "summary" not in frames[-1]:
        sys.exit("no summary object at the end of the JSON output")
    return frames[:-1]


def theirs(path):
    cmd = ["tshark", "-r", path, "-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    return [dict(zip(FIELDS, line.split("\t"))) for line in out]


def expected(frame):
    """What tshark's fields should say for one of our frames."""
    want = {"frame.len": frame["len"], "frame.cap_len": frame["caplen"]}
    if "eth" in frame:
        want["eth.src"] = frame["eth"]["src"]
        want["eth.dst"] = frame["eth"]["dst"]
    ip = frame.get("ip")
    if ip and ip["version"] == 4:
        want.update({"ip.src": ip["src"], "ip.dst": ip["dst"], "ip.proto": ip["proto"],
                     "ip.ttl": ip["ttl"]})
    elif ip:
        want.update({"ipv6.src": ip["src"], "ipv6.dst": ip["dst"], "ipv6.hlim": ip["ttl"]})
    if "tcp" in frame:
        t = frame["tcp"]
        want.update({"tcp.srcport": t["sport"], "tcp.dstport": t["dport"],
                     "tcp.seq_raw": t["seq"], "tcp.ack_raw": t["ack"] if "." in t["flags"]
                     else None, "tcp.window_size_value": t["win"]})
    if "udp" in frame:
        u = frame["udp"]
        want.update({"udp.srcport": u["sport"], "udp.dstport": u["dport"],
                     "udp.length": u["len"]})
    if "icmp" in frame:
        want.update({"icmp.type": frame["icmp"]["type"], "icmp.code": frame["icmp"]["code"]})
    if "icmp6" in frame:
        want.update({"icmpv6.type": frame["icmp6"]["type"],
                     "icmpv6.code": frame["icmp6"]["code"]})
    if "arp" in frame:
        a = frame["arp"]
        want.update({"arp.opcode": a["op"], "arp.src.proto_ipv4": a["spa"],
                     "arp.dst.proto_ipv4": a["tpa"]})
    return want


def kinds_of(frame):
    return {k for k in ("arp", "icmp", "icmp6", "tcp", "udp") if k in frame}


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sockit, path = sys.argv[1], sys.argv[2]
    need = set(sys.argv[3:]) or {"arp", "icmp", "icmp6", "tcp", "udp"}
    a, b = ours(sockit, path), theirs(path)
    problems = []
    if len(a) != len(b):
        problems.append(f"we read {len(a)} frames, tshark {len(b)}")
    seen = set()
    for i, (mine, other) in enumerate(zip(a, b), 1):
        seen |= kinds_of(mine)
        for field, value in expected(mine).items():
            if value is None:
                continue
            got = other.get(field, "")
            if str(value).lower() != got.lower():
                problems.append(f"frame {i}: {field}: ours {value!r}, tshark {got!r}")
    for kind in sorted(need - seen):
        problems.append(f"no {kind} frame in the file: the traffic lacks that kind")
    for p in problems[:50]:
        print(p)
    print(f"compared {min(len(a), len(b))} frames, {len(problems)} differences")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
