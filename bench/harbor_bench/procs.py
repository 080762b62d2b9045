"""Process trees under /proc: RSS of a tree, the pid holding a listen socket, an RSS sampler thread."""

from __future__ import annotations

import os
import threading

PAGE = os.sysconf("SC_PAGE_SIZE")


def _proc_parents() -> dict[int, int]:
    parents = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                s = f.read()
            parents[int(d)] = int(s[s.rindex(b")") + 2 :].split(b" ", 2)[1])
        except (OSError, ValueError):
            continue
    return parents


def process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, ppid in _proc_parents().items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def tree_rss(root: int) -> tuple[int, int]:
    total, n = 0, 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE
                n += 1
        except (OSError, ValueError, IndexError):
            continue
    return total, n


def pid_listening_on(port: int) -> int | None:
    """Root pid of the process tree holding the TCP listen socket for 127.0.0.1:port."""
    inodes = set()
    for fn in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(fn) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    if not inodes:
        return None
    targets = {f"socket:[{i}]" for i in inodes}
    holders = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                try:
                    if os.readlink(f"/proc/{d}/fd/{fd}") in targets:
                        holders.add(int(d))
                        break
                except OSError:
                    continue
        except OSError:
            continue
    if not holders:
        return None
    parents = _proc_parents()
    roots = [p for p in holders if parents.get(p) not in holders]
    return min(roots) if roots else min(holders)


class RssSampler(threading.Thread):
    def __init__(self, root_pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.root, self.interval = root_pid, interval
        self.stop_ev = threading.Event()
        self.peak = 0
        self.peak_procs = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stop_ev.is_set():
            rss, n = tree_rss(self.root)
            if rss > self.peak:
                self.peak, self.peak_procs = rss, n
            self.samples += 1
            self.stop_ev.wait(self.interval)

    def stop(self) -> None:
        self.stop_ev.set()
        self.join()
