"""Runs a command and writes what it cost as JSON: wall time, and the CPU (user, sys) and peak RSS of
its whole process tree (wait4's rusage: the process and every descendant it waited for), to
microseconds. stdin, stdout and stderr are the command's own; the exit code is passed on.

Usage: rusage.py OUT_JSON COMMAND [ARG...]
"""
import json
import os
import sys
import time


def main():
    out, argv = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        except OSError as e:
            os.write(2, f"rusage.py: {argv[0]}: {e.strerror}\n".encode())
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    with open(out, "w") as f:
        json.dump({
            "wallMs": wall * 1000,
            "userMs": usage.ru_utime * 1000,
            "sysMs": usage.ru_stime * 1000,
            "maxRssKiB": usage.ru_maxrss,
            "code": code,
        }, f)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
