"""The build's scheduler and its replay: order, dependencies, failures, limits, predictions."""

from __future__ import annotations

import pytest

from lib import schedule
from lib.schedule import Job, Scheduler, critical_path, replay


def test_replay_of_independent_jobs_packs_them_longest_chain_first():
    jobs = [Job("a", 4), Job("b", 3), Job("c", 2), Job("d", 1)]
    assert replay(jobs, 1)[0] == 10
    wall, starts = replay(jobs, 2)
    assert wall == 5  # a and b start; c takes b's core at 3, d takes a's at 4
    assert starts == {"a": 0, "b": 0, "c": 3, "d": 4}
    assert replay(jobs, 8)[0] == 4


def test_a_job_that_others_wait_for_starts_first():
    # "base" is short, but three jobs need it: its chain (2 + 5) is longer than the free job's 6.
    jobs = [Job("free", 6), Job("base", 2), *(Job(f"x{i}", 5, ("base",)) for i in range(3))]
    assert [job.name for job in Scheduler(jobs, 1).take()] == ["base"]
    wall, starts = replay(jobs, 2)
    assert starts == {"base": 0, "free": 0, "x0": 2, "x1": 6, "x2": 7}
    assert wall == 12


def test_replay_never_starts_a_job_before_its_needs_end():
    jobs = [Job("ae", 3), Job("gan", 1, ("ae",)), Job("notebook", 2, ("ae", "gan")), Job("other", 9)]
    wall, starts = replay(jobs, 4)
    assert starts["gan"] >= 3 and starts["notebook"] >= 4
    assert wall == 9
    assert critical_path(jobs) == (9, ["other"])
    assert critical_path(jobs[:3]) == (6, ["ae", "gan", "notebook"])


def test_a_failed_job_fails_everything_that_needs_it():
    jobs = [Job("ae", 1), Job("gan", 1, ("ae",)), Job("p2", 1, ("gan",)), Job("p1", 1)]
    scheduler = Scheduler(jobs, 2)
    assert {job.name for job in scheduler.take()} == {"ae", "p1"}
    assert sorted(scheduler.finish("ae", ok=False)) == ["gan", "p2"]
    scheduler.finish("p1")
    assert scheduler.finished() and scheduler.take() == []


def test_a_group_limit_makes_gpu_jobs_take_turns():
    jobs = [Job("g1", 2, group="cuda"), Job("g2", 2, group="cuda"), Job("cpu", 1)]
    scheduler = Scheduler(jobs, 3, {"cuda": 1})
    assert sorted(job.name for job in scheduler.take()) == ["cpu", "g1"]
    assert replay(jobs, 3, {"cuda": 1})[0] == 4
    assert replay(jobs, 3)[0] == 2


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ([Job("a", 1), Job("a", 2)], "same name"),
        ([Job("a", 1, ("missing",))], "not a job"),
        ([Job("a", 1, ("b",)), Job("b", 1, ("a",))], "cycle"),
    ],
)
def test_bad_job_lists_are_named(jobs, message):
    with pytest.raises(ValueError, match=message):
        Scheduler(jobs, 1)


def test_replay_needs_a_slot():
    with pytest.raises(ValueError, match="at least 1"):
        schedule.replay([Job("a", 1)], 0)
