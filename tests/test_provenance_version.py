"""The report's code version: git's commit in a checkout, the installed version where there is none."""

from __future__ import annotations

import re
import subprocess

from smoke import REPO

from cddgan.report.provenance import CODE_ROOT, code_version, installed_version


def test_outside_a_checkout_the_installed_version_is_stated(tmp_path):
    info = code_version(tmp_path)
    assert info["commit"] == f"not a git checkout: cddgan-bench {installed_version()} installed in {tmp_path}"
    assert info["dirty"].startswith("not a git checkout") and info["version"] == installed_version()
    assert "unknown" not in " ".join(info.values())


def test_a_folder_inside_some_other_repository_is_not_taken_for_a_checkout(tmp_path):
    """site-packages of a virtual environment kept inside a user's repository is still no checkout."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    inner = tmp_path / ".venv" / "lib" / "site-packages"
    inner.mkdir(parents=True)
    assert code_version(inner)["commit"].startswith("not a git checkout")


def test_in_this_checkout_the_commit_is_gits():
    assert CODE_ROOT == REPO
    info = code_version(REPO)
    assert re.fullmatch(r"[0-9a-f]{40}", info["commit"]) and info["version"] == installed_version()


def test_where_git_fails_in_a_checkout_the_report_says_so(monkeypatch):
    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)  # the git calls live in cddgan.codeversion
    info = code_version(REPO)
    assert info["commit"] == info["dirty"] == f"unknown: git could not read the checkout {REPO} (is git installed?)"
