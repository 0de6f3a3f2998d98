"""A cheap fingerprint of a dataset's source, so that Snakemake rebuilds a manifest when the data change.

The `make_data` rule has no file inputs (a dataset is a whole tree, not a list of files Snakemake could
track), so the rule carries `dataset_fingerprint(...)` as a `params:` value: Snakemake records it with
every output and reruns the job, and everything downstream of the manifest, when it changes.

This module runs while Snakemake parses the workflow, on every `snakemake` call, so it imports only the
standard library (no torch, no numpy) and never raises for a missing or unreadable root: the config check
reports those with a proper message.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

# Bumped when the scheme changes, so an old recorded fingerprint never matches a new one by accident.
_VERSION = b"cddgan-dataset-fingerprint-1"
# The synthetic benchmark's generator: a change to any of these changes the images it writes.
GENERATOR_FILES = ("synthetic.py", "scenes.py", "noise.py")
_HERE = Path(__file__).resolve().parent

_FileRecord = tuple[str, int, int]  # (relative path, size, st_mtime_ns)
_DirId = tuple[int, int]  # (st_dev, st_ino)


def dataset_fingerprint(name: str, spec: Mapping[str, Any], exclude: Sequence[Path] = ()) -> str:
    """A short hex digest of dataset `name` that changes when its source changes, and only then.

    The digest covers the name and the spec as canonical JSON (limit, protocol, test_max_side change what
    make_data writes), plus:

    - for the synthetic benchmark (adapter "synthetic"): the bytes of its generator's source
      (`GENERATOR_FILES`), so editing the generator rebuilds the images;
    - for a real dataset: the relative path, size and st_mtime_ns of every regular file under `root`,
      sorted, so the order of the walk does not matter. Names, sizes and mtimes rather than content
      hashes: reading 100,000 images would take minutes on every `snakemake` call, while an edited,
      added, removed or renamed file changes a name, a size or an mtime. Hidden files and folders (name
      starting with ".", e.g. .DS_Store, which editors and OSes drop anywhere) are left out, and so are
      the folders in `exclude` (the harness's own results folder, should it lie inside the root, which
      make_data itself writes to). Symlinked files count by their target's size and mtime; symlinked
      folders are followed, except into a folder that is already being walked (a loop).

    A missing root (or none in the spec) gives a fingerprint too: the config check reports it.
    """
    digest = hashlib.blake2b(_VERSION, digest_size=8)
    _feed(digest, b"name", name.encode("utf-8", "surrogateescape"))
    _feed(digest, b"spec", _canonical_json(spec))
    if spec.get("adapter") == "synthetic":
        for filename in GENERATOR_FILES:
            _feed(digest, filename.encode(), (_HERE / filename).read_bytes())
    else:
        _feed(digest, b"tree", _tree_state(spec.get("root"), exclude))
    return digest.hexdigest()


def _feed(digest: Any, label: bytes, data: bytes) -> None:
    """A labelled, length-prefixed field: no two different field lists can feed the same bytes."""
    digest.update(b"%s:%d:" % (label, len(data)))
    digest.update(data)


def _canonical_json(spec: Mapping[str, Any]) -> bytes:
    """The spec as JSON with sorted keys and fixed separators; anything JSON lacks (a YAML date) as str."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str).encode()


def _tree_state(root: Any, exclude: Sequence[Path]) -> bytes:
    """Every file record under `root`, sorted and joined; a fixed word for a missing or odd root."""
    if not isinstance(root, str | os.PathLike) or not str(root):
        return b"no root"
    top = os.path.expanduser(os.fspath(root))
    try:
        info = os.stat(top)
    except OSError:
        return b"missing"
    if not stat.S_ISDIR(info.st_mode):
        return b"not a folder:%d:%d" % (info.st_size, info.st_mtime_ns)
    records: list[_FileRecord] = []
    problems: list[str] = []
    _walk(top, "", {(info.st_dev, info.st_ino)}, _dir_ids(exclude), records, problems)
    records.sort()
    parts = [b"%s\0%d\0%d\0" % (os.fsencode(rel), size, mtime) for rel, size, mtime in records]
    parts += [b"unreadable\0%s\0" % os.fsencode(rel) for rel in sorted(problems)]
    return b"".join(parts)


def _dir_ids(paths: Sequence[Path]) -> frozenset[_DirId]:
    """(device, inode) of each existing folder in `paths`: matches it however the walk reaches it
    (relative or absolute, through a symlink or not). A folder not there yet holds nothing to leave out."""
    ids = set()
    for path in paths:
        try:
            info = os.stat(os.path.expanduser(os.fspath(path)))
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode):
            ids.add((info.st_dev, info.st_ino))
    return frozenset(ids)


def _walk(
    folder: str,
    prefix: str,
    ancestors: set[_DirId],
    excluded: frozenset[_DirId],
    records: list[_FileRecord],
    problems: list[str],
) -> None:
    """Append (relative path, size, mtime_ns) of the files under `folder`; `ancestors` are the folders
    being walked (by device and inode), which a symlinked folder must not lead back into."""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                rel = prefix + entry.name
                try:
                    if entry.is_file():  # follows a symlink: its target's size and mtime
                        info = entry.stat()
                        records.append((rel, info.st_size, info.st_mtime_ns))
                    elif entry.is_dir():
                        info = entry.stat()
                        key = (info.st_dev, info.st_ino)
                        if key in ancestors or key in excluded:
                            continue
                        ancestors.add(key)
                        _walk(entry.path, rel + "/", ancestors, excluded, records, problems)
                        ancestors.discard(key)
                except OSError:  # vanished between listing and stat, or a broken link: as if absent
                    continue
    except OSError:  # an unreadable folder: recorded, so that making it readable changes the digest
        problems.append(prefix or ".")
