"""cddgan/machine.py: the record of the machine a number came from (run.json, model.pt, the report)."""

from __future__ import annotations

import json

import pytest
import torch

from cddgan import machine
from cddgan.machine import machine_info


def test_every_key_is_there_with_its_type_and_survives_json():
    info = machine_info(torch.device("cpu"))
    types = {
        "platform": str,
        "python": str,
        "cpu": str,
        "cpu_count": int,
        "cpu_capability": str,
        "torch": str,
        "cuda": (str, type(None)),
        "cudnn": (int, type(None)),
        "mkl": dict,
        "threads": int,
        "device": str,
        "gpus": list,
    }
    assert set(info) == set(types)
    for key, kind in types.items():
        assert isinstance(info[key], kind), key
    assert set(info["mkl"]) == {"available", "version"} and isinstance(info["mkl"]["available"], bool)
    assert info["device"] == "cpu" and info["torch"] == torch.__version__ and info["cpu"]
    assert info["threads"] == torch.get_num_threads()
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert json.loads(json.dumps(info)) == info


def test_without_cuda_the_gpu_fields_are_empty(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = machine_info("cpu")
    assert info["cuda"] is None and info["cudnn"] is None and info["gpus"] == []


def test_with_cuda_the_gpus_are_named(monkeypatch):
    """What the record says on a GPU node, without one: torch's answers faked."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU {i}")
    monkeypatch.setattr(torch.backends.cudnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.cudnn, "version", lambda: 91000)
    info = machine_info("cuda:1")
    assert info["gpus"] == ["GPU 0", "GPU 1"] and info["cudnn"] == 91000 and info["device"] == "cuda:1"
    assert info["cuda"] == torch.version.cuda


def test_mkl_version_is_read_from_torchs_build_summary(monkeypatch):
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: True)
    summary = "  - Intel(R) oneAPI Math Kernel Library Version 2024.2-Product Build 20240605"
    monkeypatch.setattr(torch.__config__, "show", lambda: summary)
    assert machine.mkl_info() == {"available": True, "version": "2024.2"}
    monkeypatch.setattr(torch.__config__, "show", lambda: "no such line")
    assert machine.mkl_info() == {"available": True, "version": None}
    monkeypatch.setattr(torch.backends.mkl, "is_available", lambda: False)
    assert machine.mkl_info() == {"available": False, "version": None}


@pytest.mark.parametrize("text", ["processor\t: 0\nmodel name\t: Some CPU @ 2GHz\n", ""])
def test_cpu_model_reads_cpuinfo_else_platform(tmp_path, monkeypatch, text):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(text)
    real = machine.Path

    monkeypatch.setattr(machine, "Path", lambda p: cpuinfo if p == "/proc/cpuinfo" else real(p))
    monkeypatch.setattr(machine.platform, "processor", lambda: "fallback-cpu")
    assert machine.cpu_model() == ("Some CPU @ 2GHz" if text else "fallback-cpu")
