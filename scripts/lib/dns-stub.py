#!/usr/bin/env python3
"""An upstream DNS server that answers every query with NXDOMAIN.

    dns-stub.py [ADDRESS [PORT]]      (default 127.0.0.1 53)

What the demo and the benchmarks give rrund (and the engines compared with
it) as their only upstream resolver, so no query ever leaves the machine.
"""
import socket
import sys

addr = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 53
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
while True:
    try:
        q, peer = s.recvfrom(1500)
    except OSError:
        # An ICMP error from an earlier reply (a client that went away)
        # surfaces here on Linux; it is no reason to stop answering.
        continue
    if len(q) < 12:
        continue
    # Header and question only; QR, RD kept, RA, RCODE 3; no records.
    i = 12
    while i < len(q) and q[i]:
        i += 1 + q[i]
    r = bytearray(q[: i + 5])
    r[2] = 0x80 | (r[2] & 0x79)
    r[3] = 0x83
    r[6:12] = bytes(6)
    try:
        s.sendto(bytes(r), peer)
    except OSError:
        pass
