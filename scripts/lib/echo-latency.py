#!/usr/bin/env python3
"""Echo latency through an engine's attach: runs CMD... (e.g. `rrun run -i
--rm busybox cat`), writes N lines to its stdin one at a time, and times each
line's way back on its stdout. Prints the median and the 90th percentile in
microseconds. For scripts/bench-daemon.sh's attach section; not a test."""
import os
import select
import statistics
import subprocess
import sys
import time

n = int(os.environ.get("ECHO_LINES", "40"))
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
fd = p.stdout.fileno()
samples = []
buf = b""
deadline = time.monotonic() + 60
try:
    # The first line also waits for the container to start: not counted.
    for i in range(n + 1):
        line = f"line-{i}\n".encode()
        t0 = time.monotonic()
        p.stdin.write(line)
        while line not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                sys.exit("echo-latency: no echo before the deadline")
            chunk = os.read(fd, 65536)
            if not chunk:
                sys.exit("echo-latency: the command ended early")
            buf += chunk
        if i > 0:
            samples.append((time.monotonic() - t0) * 1e6)
        buf = buf.split(line, 1)[1]
        time.sleep(0.02)
finally:
    p.stdin.close()
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
samples.sort()
print(int(statistics.median(samples)), int(samples[int(len(samples) * 0.9) - 1]))
