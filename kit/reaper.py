"""Run a command so that it, and everything it starts, stops with the kit however the kit stops.

Usage: `subprocess.Popen(reaped(cmd))` (`tvkit ui` runs `mlflow ui` so). As a program:
`python -m kit.reaper <kit pid> -- <command ...>`.

Why: a server such as `mlflow ui` starts its own workers (uvicorn, job consumers). PR_SET_PDEATHSIG
reaches only a direct child, so a kit killed with SIGKILL would leave those workers serving. The
reaper takes a process group of its own (`setsid`), starts the command in it, and watches: when
the command ends, when it is told to stop (SIGTERM, SIGINT), or when its parent is gone (its
parent pid changes: the kit died, even by SIGKILL; polled twice a second), it sends SIGTERM to the
whole group, then SIGKILL to what is left after `GRACE_S`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE_S = 5.0


def reaped(cmd: list[str]) -> list[str]:
    """`cmd` wrapped in the reaper, bound to this process."""
    return [sys.executable, "-m", "kit.reaper", str(os.getpid()), "--", *cmd]


def _stop_group(proc: subprocess.Popen) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)     # the group's SIGTERM reaches the reaper too
    os.killpg(0, signal.SIGTERM)
    try:
        proc.wait(GRACE_S)
    except subprocess.TimeoutExpired:
        pass
    time.sleep(0.5)                                   # its workers were told at the same moment
    os.killpg(0, signal.SIGKILL)                      # what is left, the reaper with it


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m kit.reaper <parent pid> -- <command ...>", file=sys.stderr)
        return 2
    parent = int(argv[0])
    os.setsid()
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    proc = subprocess.Popen(argv[2:])
    while proc.poll() is None and not stop and os.getppid() == parent:
        time.sleep(0.5)
    _stop_group(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
