"""`rlpipe suite run --git-commit` adds only what git can take: not a .gitignore git ignores."""

from __future__ import annotations

import subprocess

from rlpipe.suite_git import _ignored_untracked


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_a_dvc_gitignore_inside_a_folder_ignored_whole_is_left_out(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "artifacts" / "crossq-pusher").mkdir(parents=True)
    (tmp_path / "artifacts" / ".gitignore").write_text("/crossq-pusher\n/crossq-hopper\n")
    (tmp_path / "artifacts" / "crossq-pusher" / ".gitignore").write_text("/seed-0\n")
    (tmp_path / "artifacts" / "crossq-hopper").mkdir()
    tracked = tmp_path / "artifacts" / "crossq-hopper" / ".gitignore"
    tracked.write_text("/seed-0\n")
    git(tmp_path, "add", "-f", "artifacts/crossq-hopper/.gitignore")  # tracked: git adds it
    paths = [
        "dvc.lock",
        "artifacts/.gitignore",
        "artifacts/crossq-pusher/.gitignore",
        "artifacts/crossq-hopper/.gitignore",
    ]
    assert _ignored_untracked(tmp_path, paths) == ["artifacts/crossq-pusher/.gitignore"]
    assert _ignored_untracked(tmp_path, []) == []
