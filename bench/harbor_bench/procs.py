"""Process trees under /proc: RSS and CPU of a tree, CPU by command name, the pid of a listen socket, RssSampler."""

from __future__ import annotations

import os
import threading

PAGE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def _stat_cpu(pid: int | str) -> tuple[str, int] | None:
    """(comm, utime+stime+cutime+cstime in clock ticks) of one process, None when it is gone.

    The children's times (cutime, cstime) count a worker that exits between two samples: its
    CPU moves from its own utime into its parent's cutime when reaped, so the sum stays whole.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index(b"(") + 1 : s.rindex(b")")].decode(errors="replace")
    fields = s[s.rindex(b")") + 2 :].split()
    # after ")": state(0) ... utime(11) stime(12) cutime(13) cstime(14), proc(5) numbering minus 3
    return comm, sum(int(x) for x in fields[11:15])


def tree_cpu_ticks(root: int) -> int:
    """CPU (clock ticks) used so far by the process tree under root."""
    return sum(c[1] for pid in process_tree(root) if (c := _stat_cpu(pid)))


def comm_cpu_ticks(comm: str) -> int:
    """CPU (clock ticks) used so far by every process whose command name is comm (e.g. all of PostgreSQL)."""
    total = 0
    for d in os.listdir("/proc"):
        if d.isdigit() and (c := _stat_cpu(d)) and c[0] == comm:
            total += c[1]
    return total


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
