"""CPU-seconds and peak memory of a process and every process it starts.

`cpu_seconds()` adds, for every live process of the tree, its own user + system time and
its `children_user` + `children_system` (the times of descendants it has already reaped,
which the kernel folds into their parent when it waits for them). A short-lived fork that
was reaped is therefore counted through its parent; one still running is counted itself.
A process that left the tree (re-parented to init) but is still alive is counted too, as
long as the sampler saw it once; one that left the tree and exited unseen is lost (none do
today: airflow-sc reaps its workers and parsing children).

`sample()` runs every `interval` seconds in a thread and keeps the peak of the summed RSS.
RSS counts pages shared between forked workers once per process, so the sum is an upper
bound of the memory the tree really holds.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import psutil

__all__ = ["ProcessTreeMeter", "TreeCpu"]

_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)
#: The module zygotes run (`airflow_sc.children`); their role is their program's.
_ZYGOTE = "airflow_sc.children.zygote"


@dataclass(frozen=True)
class TreeCpu:
    """CPU-seconds (user + system) of a process tree at one instant, in total and by role.

    A role is `root` for the root process and the module a child runs otherwise (for a
    zygote, its program's: `python -m airflow_sc.children.zygote
    airflow_sc.executors._worker:PROGRAM pipe` -> `_worker`); reaped children count for
    the role of the process that reaped them.
    """

    seconds: float
    processes: int
    by_role: dict[str, float]

    def minus(self, earlier: TreeCpu) -> dict[str, float]:
        """CPU-seconds per role spent since `earlier`."""
        roles = self.by_role.keys() | earlier.by_role.keys()
        return {r: self.by_role.get(r, 0.0) - earlier.by_role.get(r, 0.0) for r in sorted(roles)}


class ProcessTreeMeter:
    """Measures the tree rooted at `pid`; use as a context manager to run the sampler."""

    def __init__(self, pid: int, *, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.peak_processes = 0
        self.samples = 0
        self._seen: dict[int, psutil.Process] = {}
        self._roles: dict[int, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tree-sampler", daemon=True)

    def __enter__(self) -> ProcessTreeMeter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def tree(self) -> list[psutil.Process]:
        """The root and its live descendants (remembered for `cpu_seconds`)."""
        members = [self.root]
        with contextlib.suppress(*_GONE):
            members += self.root.children(recursive=True)
        with self._lock:
            for process in members:
                self._seen.setdefault(process.pid, process)
        return members

    def cpu_seconds(self) -> TreeCpu:
        """Total CPU of the tree so far; see the module docstring for what it covers."""
        members = {p.pid: p for p in self.tree()}
        with self._lock:
            escaped = [p for pid, p in self._seen.items() if pid not in members]
        total = 0.0
        counted = 0
        by_role: dict[str, float] = {}
        for process in [*members.values(), *escaped]:
            seconds = _cpu_of(process)
            if seconds is not None:
                total += seconds
                counted += 1
                role = self._role(process)
                by_role[role] = by_role.get(role, 0.0) + seconds
        return TreeCpu(seconds=total, processes=counted, by_role=by_role)

    def _role(self, process: psutil.Process) -> str:
        if process.pid == self.root.pid:
            return "root"
        role = self._roles.get(process.pid)
        if role is None:
            role = "other"
            with contextlib.suppress(*_GONE):
                argv = process.cmdline()
                module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else None
                if module == _ZYGOTE and argv[-1] != module:
                    # a zygote is named for its program: `module:PROGRAM [args]`
                    module = argv[argv.index(module) + 1].partition(":")[0]
                role = module.rsplit(".", 1)[-1] if module else process.name()
            self._roles[process.pid] = role
        return role

    def pss_bytes(self) -> int:
        """Proportional set size of the tree now: shared pages split between their users.

        Reads every process's smaps, so it is too slow to sample; it complements the
        RSS peak, which counts a page shared by forked workers once per process.
        """
        total = 0
        for process in self.tree():
            with contextlib.suppress(*_GONE):
                total += process.memory_full_info().pss
        return total

    def sample(self) -> None:
        rss = 0
        members = self.tree()
        for process in members:
            with contextlib.suppress(*_GONE):
                rss += process.memory_info().rss
        self.samples += 1
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_processes = max(self.peak_processes, len(members))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def _cpu_of(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except _GONE:
        return None
    return float(times.user + times.system + times.children_user + times.children_system)
