"""dataset_fingerprint: it must change with every change of a dataset's source, and with nothing else,
or Snakemake either misses a changed dataset or retrains everything for nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cddgan.data.fingerprint import dataset_fingerprint

REPO = Path(__file__).resolve().parent.parent
FILES = {"train/clear/1.png": b"a" * 10, "train/hazy/1.png": b"b" * 20, "test/hazy/1.png": b"c" * 30}


def make_tree(root: Path, files: dict[str, bytes] = FILES, mtime_ns: int = 1_600_000_000_000_000_000) -> Path:
    """The files with one fixed mtime, so two trees built apart have the same records."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return root


def fp(root: Path, exclude=(), **spec) -> str:
    return dataset_fingerprint("real", {"adapter": "folders", "root": str(root), **spec}, exclude)


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "data")


def test_an_unchanged_tree_keeps_its_digest_whatever_the_walk_order(tree):
    first = fp(tree)
    assert first == fp(tree) and len(first) == 16 and int(first, 16) >= 0
    shutil.rmtree(tree)
    make_tree(tree, dict(reversed(FILES.items())))  # same files, same root, created in the other order
    assert fp(tree) == first


def test_added_removed_edited_and_renamed_files_change_the_digest(tree):
    before = fp(tree)
    seen = {before}

    extra = tree / "train/clear/2.png"
    extra.write_bytes(b"new")
    seen.add(fp(tree))
    extra.unlink()
    assert fp(tree) == before  # back to the same records

    (tree / "train/hazy/1.png").unlink()
    seen.add(fp(tree))
    make_tree(tree)
    assert fp(tree) == before

    edited = tree / "test/hazy/1.png"
    edited.write_bytes(b"d" * 31)
    seen.add(fp(tree))
    make_tree(tree)

    stat = edited.stat()
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, same bytes, newer
    seen.add(fp(tree))
    make_tree(tree)

    os.rename(tree / "train/clear/1.png", tree / "train/clear/01.png")  # same size and mtime
    seen.add(fp(tree))
    assert len(seen) == 6


def test_hidden_files_and_the_excluded_results_folder_are_left_out(tree):
    before = fp(tree, exclude=[tree / "results"])
    (tree / ".DS_Store").write_bytes(b"x")
    (tree / "train/.hidden").mkdir()
    (tree / "train/.hidden/3.png").write_bytes(b"x")
    results = tree / "results"
    (results / "data/real").mkdir(parents=True)
    (results / "data/real/manifest.csv").write_text("a,b\n")
    assert fp(tree, exclude=[results]) == before
    assert fp(tree, exclude=[Path(os.path.relpath(results))]) == before  # relative, as in the config
    assert fp(tree) != before  # not excluded: it counts


def test_symlinks_count_by_target_and_loops_end(tmp_path, tree):
    target = make_tree(tmp_path / "elsewhere", {"4.png": b"e" * 4})
    (tree / "linked.png").symlink_to(target / "4.png")
    (tree / "loop").symlink_to(tree, target_is_directory=True)
    (tree / "outside").symlink_to(target, target_is_directory=True)
    (tree / "broken.png").symlink_to(tmp_path / "nowhere.png")
    before = fp(tree)
    os.utime(target / "4.png", ns=(1, 2))
    assert fp(tree) != before


def test_the_spec_is_part_of_the_digest(tree):
    assert fp(tree, limit=10) != fp(tree) != fp(tree, test_max_side=1024)
    assert fp(tree, limit=10, protocol="rgb") == fp(tree, protocol="rgb", limit=10)  # key order: no matter


def test_a_missing_root_gives_a_digest_not_an_error(tmp_path):
    assert len(fp(tmp_path / "nope")) == 16
    assert fp(tmp_path / "nope") != fp(make_tree(tmp_path / "nope"))
    assert len(dataset_fingerprint("x", {"adapter": "folders"})) == 16
    (tmp_path / "file").write_bytes(b"x")
    assert len(fp(tmp_path / "file")) == 16


def test_the_synthetic_digest_follows_its_settings_not_the_disk(tmp_path, monkeypatch):
    spec = {"adapter": "synthetic", "seed": 0, "size": 64}
    first = dataset_fingerprint("syn", spec)
    monkeypatch.chdir(tmp_path)
    assert dataset_fingerprint("syn", dict(reversed(spec.items()))) == first
    assert dataset_fingerprint("syn", {**spec, "seed": 1}) != first
    assert dataset_fingerprint("syn", {**spec, "limit": 5}) != first


def test_the_synthetic_digest_follows_the_generator_source(tmp_path, monkeypatch):
    import cddgan.data.fingerprint as module

    spec = {"adapter": "synthetic", "seed": 0}
    first = dataset_fingerprint("syn", spec)
    for name in module.GENERATOR_FILES:
        (tmp_path / name).write_bytes((module._HERE / name).read_bytes())
    monkeypatch.setattr(module, "_HERE", tmp_path)
    assert dataset_fingerprint("syn", spec) == first
    (tmp_path / "scenes.py").write_bytes((tmp_path / "scenes.py").read_bytes() + b"\n# edited\n")
    assert dataset_fingerprint("syn", spec) != first


def test_importing_it_does_not_import_torch_or_numpy():
    code = "import sys, cddgan.data.fingerprint; print(sorted({'torch', 'numpy'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == "[]"


def test_the_same_tree_gives_the_same_digest_in_another_process(tree):
    spec = {"adapter": "folders", "root": str(tree)}
    code = f"from cddgan.data.fingerprint import dataset_fingerprint as f; print(f('real', {spec!r}))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert done.stdout.strip() == fp(tree)


@pytest.mark.slow
def test_benchmark_prints_its_table():
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_fingerprint.py", "--files", "200"],
        capture_output=True, text=True, cwd=REPO, check=True, timeout=300,
    )
    header = "| files | build s | first fingerprint s | warm fingerprint s (median of 5) | files/s (warm) |"
    assert header in done.stdout.splitlines()
