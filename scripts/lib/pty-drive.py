#!/usr/bin/env python3
"""Run a command on a pseudo-terminal and type into it as a user would.

    pty-drive.py [--timeout S] EXPECT SEND [EXPECT SEND ...] -- COMMAND ARGS...

Waits for each EXPECT text in the terminal's output, then types SEND (a
newline is added). Everything the program writes is copied to stdout as it
arrives, so the demo reads like a terminal session. Exits with the
program's exit code, or 124 when an EXPECT is not seen in time.
"""
import os
import pty
import select
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    timeout = 60.0
    if args[:1] == ["--timeout"]:
        timeout = float(args[1])
        args = args[2:]
    sep = args.index("--")
    script, cmd = args[:sep], args[sep + 1:]
    pairs = list(zip(script[0::2], script[1::2]))
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    seen = b""
    out = sys.stdout.buffer

    def read(deadline: float) -> bool:
        nonlocal seen
        r, _, _ = select.select([fd], [], [], max(0.0, min(0.2, deadline - time.time())))
        if not r:
            return True
        try:
            data = os.read(fd, 4096)
        except OSError:
            return False
        if not data:
            return False
        seen += data
        out.write(data)
        out.flush()
        return True

    for expect, send in pairs:
        deadline = time.time() + timeout
        while expect.encode() not in seen:
            if time.time() > deadline or not read(deadline):
                sys.stderr.write(f"\npty-drive: {expect!r} not seen\n")
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                return 124
        seen = seen[seen.index(expect.encode()) + len(expect):]
        os.write(fd, send.encode() + b"\n")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not read(deadline):
            break
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while read(time.time() + 0.1) and select.select([fd], [], [], 0)[0]:
                pass
            return os.waitstatus_to_exitcode(status)
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return 0
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
