"""The session check in conftest.py (no test rewrites a tracked file) can fail: run on a
throw-away git repository, it reports a rewritten file, even one restored afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import rewritten_files, tracked_files_state


@pytest.fixture
def repo(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

    def git(*args):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tmp_path,
            env=env,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    (tmp_path / "tracked.txt").write_text("original\n")
    (tmp_path / "other.txt").write_text("other\n")
    git("add", "tracked.txt", "other.txt")
    git("commit", "-q", "-m", "init")
    return tmp_path


def test_untouched_tree_passes(repo):
    before = tracked_files_state(repo)
    (repo / "untracked.txt").write_text("a new untracked file is not a tracked file")
    assert set(before) == {"tracked.txt", "other.txt"}
    assert rewritten_files(before, tracked_files_state(repo)) == []


def test_rewritten_tracked_file_is_reported(repo):
    before = tracked_files_state(repo)
    (repo / "tracked.txt").write_text("edited\n")
    assert rewritten_files(before, tracked_files_state(repo)) == ["tracked.txt"]


def test_rewritten_and_restored_file_is_reported(repo):
    before = tracked_files_state(repo)
    original = (repo / "tracked.txt").read_bytes()
    (repo / "tracked.txt").write_text("edited\n")
    (repo / "tracked.txt").write_bytes(original)
    os.utime(repo / "tracked.txt", ns=(before["tracked.txt"][0] + 10**9, before["tracked.txt"][0] + 10**9))
    assert rewritten_files(before, tracked_files_state(repo)) == ["tracked.txt"]


def test_deleted_tracked_file_is_reported(repo):
    before = tracked_files_state(repo)
    (repo / "other.txt").unlink()
    assert rewritten_files(before, tracked_files_state(repo)) == ["other.txt"]


def test_outside_a_checkout_there_is_nothing_to_check(tmp_path):
    assert tracked_files_state(tmp_path) is None
