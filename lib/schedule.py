"""The build's scheduler: jobs (models to train, notebooks to execute) with dependencies,
started on free slots, the job heading the longest remaining chain first.

The same :class:`Scheduler` drives the real build (:mod:`lib.build`) and :func:`replay`,
which runs measured job times through it on a simulated clock: the wall time the build
would take with ``slots`` jobs side by side.  That is how the build predicts its wall time
on 4, 8 and 16 cores from the times it measured on this machine.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    name: str
    seconds: float  # expected (or, in a replay, measured) run time on one core
    needs: tuple[str, ...] = ()  # jobs that must have finished first
    group: str = ""  # jobs of a group with a limit (see Scheduler.limits) share one resource, e.g. a GPU


@dataclass
class Scheduler:
    """Hands out ready jobs (all needs finished), highest priority first: the length of the
    longest chain of work from the job to the end of the build (its own time included), so
    a model that a long job waits for starts before an equally long job nothing waits for."""

    jobs: list[Job]
    slots: int
    limits: dict[str, int] = field(default_factory=dict)  # group -> jobs of it running at once at most
    done: set[str] = field(default_factory=set)
    running: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        names = [job.name for job in self.jobs]
        if len(set(names)) != len(names):
            raise ValueError("two jobs have the same name; fix: de-duplicate the jobs before scheduling them")
        self._by_name = {job.name: job for job in self.jobs}
        for job in self.jobs:
            unknown = [need for need in job.needs if need not in self._by_name]
            if unknown:
                raise ValueError(f"job {job.name!r} needs {unknown[0]!r}, which is not a job of this build")
        self.priority = chain_lengths(self.jobs)

    def ready(self) -> list[Job]:
        """Jobs that could start now, highest priority first (name breaks ties: reproducible)."""
        waiting = [
            job
            for job in self.jobs
            if job.name not in self.done | self.running | self.failed and all(need in self.done for need in job.needs)
        ]
        return sorted(waiting, key=lambda job: (-self.priority[job.name], job.name))

    def take(self) -> list[Job]:
        """Mark as running, and return, the ready jobs that fit in the free slots (and
        within their group's limit)."""
        chosen = []
        in_group = {group: sum(self._by_name[n].group == group for n in self.running) for group in self.limits}
        for job in self.ready():
            if len(self.running) + len(chosen) >= self.slots:
                break
            if job.group in self.limits:
                if in_group[job.group] >= self.limits[job.group]:
                    continue
                in_group[job.group] += 1
            chosen.append(job)
        self.running |= {job.name for job in chosen}
        return chosen

    def finish(self, name: str, ok: bool = True) -> list[str]:
        """Record that job ``name`` ended; when it failed, every job that needs it (directly or
        not) fails too, and their names are returned."""
        self.running.discard(name)
        if ok:
            self.done.add(name)
            return []
        self.failed.add(name)
        blocked, changed = [], True
        while changed:
            changed = False
            for job in self.jobs:
                if job.name not in self.failed and any(need in self.failed for need in job.needs):
                    self.failed.add(job.name)
                    blocked.append(job.name)
                    changed = True
        return blocked

    def finished(self) -> bool:
        return len(self.done) + len(self.failed) == len(self.jobs)


def chain_lengths(jobs: Iterable[Job]) -> dict[str, float]:
    """For every job, the seconds of the longest chain of jobs from it to the end of the
    build, through the jobs that need it (its own seconds included)."""
    jobs = list(jobs)
    needed_by: dict[str, list[Job]] = {job.name: [] for job in jobs}
    for job in jobs:
        for need in job.needs:
            needed_by.setdefault(need, []).append(job)
    lengths: dict[str, float] = {}

    def length(job: Job, trail: tuple[str, ...] = ()) -> float:
        if job.name in trail:
            raise ValueError(f"jobs need each other in a cycle: {' -> '.join((*trail, job.name))}")
        if job.name not in lengths:
            after = [length(other, (*trail, job.name)) for other in needed_by[job.name]]
            lengths[job.name] = job.seconds + max(after, default=0.0)
        return lengths[job.name]

    for job in jobs:
        length(job)
    return lengths


def critical_path(jobs: Iterable[Job]) -> tuple[float, list[str]]:
    """The longest chain of jobs, each needing the previous one: no number of cores builds
    faster than its seconds.  Returns (seconds, job names in order)."""
    jobs = list(jobs)
    if not jobs:
        return 0.0, []
    lengths = chain_lengths(jobs)
    needed_by: dict[str, list[str]] = {job.name: [] for job in jobs}
    for job in jobs:
        for need in job.needs:
            needed_by[need].append(job.name)
    name = max(lengths, key=lambda n: (lengths[n], n))
    chain = [name]
    while needed_by[chain[-1]]:
        chain.append(max(needed_by[chain[-1]], key=lambda n: (lengths[n], n)))
    return lengths[name], chain


def replay(jobs: list[Job], slots: int, limits: dict[str, int] | None = None) -> tuple[float, dict[str, float]]:
    """Run ``jobs`` through :class:`Scheduler` with ``slots`` jobs side by side, each taking
    its ``seconds``; returns the wall time and every job's start time."""
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    scheduler = Scheduler(list(jobs), slots, dict(limits or {}))
    clock, starts, ends = 0.0, {}, []  # ends: heap of (end time, name)
    while not scheduler.finished():
        for job in scheduler.take():
            starts[job.name] = clock
            heapq.heappush(ends, (clock + job.seconds, job.name))
        if not ends:  # cannot happen: needs are checked to exist and to form no cycle
            raise RuntimeError("the replay stalled with jobs left and none running")
        clock, name = heapq.heappop(ends)
        scheduler.finish(name)
    return clock, starts
