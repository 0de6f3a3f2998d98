"""resolve_cached: the Snakefile's resolution, cached on disk and resolved in a child process on a miss.

Each miss starts a Python that imports torch (seconds on a shared CPU), so these tests keep misses few.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from cddgan import config as cfg
from cddgan.config import cache
from cddgan.config.shipped import PACKAGE_DIR
from cddgan.errors import ConfigError

RAW = {
    "seeds": [0, 1],
    "datasets": {"synth": {"adapter": "synthetic", "size": 32}},
    "experiments": {"e": {"train": "synth", "test": ["synth"]}},
    "training": {"iterations": 10, "crop": 16},
    "runs": {"identity": {"method": "identity"}, "cut": {"method": "cut", "settings": {"ngf": 8}}},
}

PLUGIN = '''
from cddgan.methods import Method, register


@register("cache-probe")
class Probe(Method):
    """Training-free; its default is what the test edits."""

    defaults = {{"strength": {strength}}}

    def dehaze(self, hazy):
        return hazy
'''


def as_json(value):
    return json.loads(json.dumps(value))


def cached_files(folder):
    return sorted(folder.glob("resolved-*.json"))


def test_a_miss_resolves_in_a_child_and_a_hit_reads_the_file(tmp_path, monkeypatch):
    expected = as_json(cfg.resolve(RAW))  # cut's default nce_layers is a tuple: the JSON form has a list
    first = cache.resolve_cached(RAW, tmp_path)
    assert first == expected and list(first) == list(expected)  # key order kept
    assert isinstance(first["runs"]["cut"]["settings"]["nce_layers"], list)
    assert len(cached_files(tmp_path)) == 1

    def no_child(raw):
        raise AssertionError("a hit must not start a child process")

    monkeypatch.setattr(cache, "resolve_in_subprocess", no_child)
    assert cache.resolve_cached(RAW, tmp_path) == expected
    assert cache.resolve_cached(json.loads(json.dumps(RAW)), tmp_path) == expected  # an equal copy hits too


def test_the_key_follows_the_raw_config_its_key_order_and_the_code():
    assert cache.cache_key(RAW) == cache.cache_key(as_json(RAW))
    assert cache.cache_key(RAW) != cache.cache_key({**RAW, "seeds": [0]})
    reordered = {key: RAW[key] for key in reversed(RAW)}  # resolves to another key order
    assert cache.cache_key(reordered) != cache.cache_key(RAW)
    files = cache.dependencies()
    assert set(PACKAGE_DIR.rglob("*.py")) | set(PACKAGE_DIR.rglob("*.yaml")) <= set(files)
    assert any(p.parent.name == "baselines" and p.name == "cut.py" for p in files)
    assert cfg.SCHEMA_PATH in files and cfg.DEFAULT_CONFIG in files


def test_a_changed_method_file_is_resolved_anew(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    module = plugins / "cache_probe_method.py"
    module.write_text(PLUGIN.format(strength=1))
    monkeypatch.syspath_prepend(str(plugins))  # the child gets this process's import path
    raw = {**RAW, "plugins": ["cache_probe_method"], "runs": {"probe": {"method": "cache-probe"}}}
    assert cache.module_file("cache_probe_method") == module and "cache_probe_method" not in sys.modules
    folder = tmp_path / "cache"
    assert cache.resolve_cached(raw, folder)["runs"]["probe"]["settings"] == {"strength": 1}
    module.write_text(PLUGIN.format(strength=2))
    stat = module.stat()
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a clock too coarse must not hide it
    assert cache.resolve_cached(raw, folder)["runs"]["probe"]["settings"] == {"strength": 2}
    assert len(cached_files(folder)) == 2


def test_a_config_error_comes_back_with_its_message_and_nothing_is_cached(tmp_path):
    bad = {**RAW, "runs": {"cut": {"method": "cut", "settings": {"ngf": "eight"}}}}
    with pytest.raises(ConfigError) as direct:
        cfg.resolve(bad)
    with pytest.raises(ConfigError) as cached:
        cache.resolve_cached(bad, tmp_path)
    assert str(cached.value) == str(direct.value) and "Traceback" not in str(cached.value)
    assert not cached_files(tmp_path)


def test_a_garbled_cache_file_is_resolved_anew(tmp_path, monkeypatch):
    path = tmp_path / f"resolved-{cache.cache_key(RAW)}.json"
    path.write_text('{"half a file')
    monkeypatch.setattr(cache, "resolve_in_subprocess", lambda raw: as_json(cfg.resolve(raw)))
    assert cache.resolve_cached(RAW, tmp_path) == as_json(cfg.resolve(RAW))
    assert json.loads(path.read_text())["runs"]


def test_values_json_cannot_carry_are_refused_by_name():
    import datetime as dt

    with pytest.raises(ConfigError, match=r"datetime\.date\(2024, 1, 1\).*not plain data"):
        cache.cache_key({**RAW, "title": dt.date(2024, 1, 1)})


def test_the_caller_never_imports_torch(tmp_path):
    """What the Snakefile does at every parse: a miss and then a hit, and torch stays out of its process."""
    code = textwrap.dedent(
        f"""
        import sys
        from cddgan.config import DEFAULT_CONFIG, load_yaml, resolve_cached
        for _ in range(2):
            config = resolve_cached(load_yaml(DEFAULT_CONFIG), {str(tmp_path)!r})
            assert "torch" not in sys.modules, "torch imported"
        print(len(config["runs"]))
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout) == len(cfg.load()["runs"]) and len(cached_files(tmp_path)) == 1
