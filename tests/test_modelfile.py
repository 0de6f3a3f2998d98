"""The model file describes itself (format 2): what `cddgan train --describe` passes, the networks, the code;
`cddgan info` prints it; files of earlier versions, failed runs and files that are no model files get a clear
word instead of a traceback, and nothing in a model file handed to cddgan is run as code."""

from __future__ import annotations

import json
import re

import pytest
import torch
import toy_method  # noqa: F401  (registers toy-gan)
from PIL import Image

import cddgan
from cddgan.cli import main
from cddgan.config.defaults import TRAINING_DEFAULTS
from cddgan.errors import ConfigError
from cddgan.modelfile import (
    FORMAT,
    ModelFileError,
    check_describe,
    load_trained,
    model_payload,
    read_model,
    save_payload,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ABOUT = {"config_digest": "9f2c61d0a4b7e3c8", "dataset": "synthetic", "protocol": "rgb-ds-crop0"}


def spec(seed=0, iterations=4):
    training = {**TRAINING_DEFAULTS, "iterations": iterations, "batch_size": 2, "crop": 16, "load_size": None,
                "checkpoint_every": 100, "log_every": 2, "device": "cpu", "threads": 1, "eval_every": 0}
    return {"experiment": "exp", "run": "toy", "seed": seed, "method": "toy-gan", "settings": {"width": 4},
            "training": training, "plugins": ["toy_method"]}


def train(tmp_path, manifest, *extra):
    args = ["train", "--spec", json.dumps(spec()), "--manifest", str(manifest), "--model", str(tmp_path / "model.pt"),
            "--losses", str(tmp_path / "losses.csv"), "--checkpoint-dir", str(tmp_path / "ckpt"), "--quiet", *extra]
    return main(args)


@pytest.fixture(scope="module")
def described(tmp_path_factory, tiny_synthetic):
    """A model.pt from `cddgan train --describe` (4 iterations of the toy GAN)."""
    out = tmp_path_factory.mktemp("described")
    assert train(out, tiny_synthetic, "--describe", json.dumps(ABOUT)) == 0
    return out / "model.pt"


def test_train_describe_reaches_the_model_file(described):
    payload = torch.load(described, weights_only=False)
    about = payload["description"]
    assert payload["format"] == FORMAT == 2
    assert {k: about[k] for k in ABOUT} == ABOUT
    assert (about["experiment"], about["run"], about["seed"], about["select"]) == ("exp", "toy", 0, "last")
    assert payload["selected_iteration"] == payload["iterations"] == 4
    assert about["code"]["version"] == cddgan.__version__
    assert re.fullmatch(r"[0-9a-f]{40}", about["code"]["commit"]) or about["code"]["commit"].startswith("not a git")
    networks = about["networks"]
    assert set(networks) == {"G", "D"}
    for name, net in networks.items():
        assert net["class"] == "Sequential"
        weights = {k.removeprefix(f"{name}."): v for k, v in payload["state_dict"].items() if k.startswith(f"{name}.")}
        assert net["tensors"] == {k: list(v.shape) for k, v in weights.items()}
        assert net["parameters"] == sum(v.numel() for v in weights.values())


def test_info_prints_the_description(described, capsys):
    assert main(["info", str(described)]) == 0
    text = capsys.readouterr().out
    expected_lines = ("format 2", "toy-gan", "width=4", "exp/toy, seed 0", "synthetic", "rgb-ds-crop0",
                      "9f2c61d0a4b7e3c8", "weights of iteration 4", "network G", "Sequential",
                      f"cddgan-bench {cddgan.__version__}")
    for expected in expected_lines:
        assert expected in text, expected
    assert "note:" not in text
    assert main(["info", str(described), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["status"] == "ok" and info["description"]["dataset"] == "synthetic" and "state_dict" not in info
    assert info["weights"]["tensors"] == len(torch.load(described, weights_only=False)["state_dict"])


def test_train_group_describes_every_seed(tmp_path, tiny_synthetic):
    args = ["train-group", "--manifest", str(tiny_synthetic), "--describe", json.dumps(ABOUT), "--quiet"]
    for seed in (0, 1):
        args += ["--spec", json.dumps(spec(seed)), "--model", str(tmp_path / f"{seed}.pt"),
                 "--losses", str(tmp_path / f"{seed}.csv"), "--checkpoint-dir", str(tmp_path / f"ck{seed}")]
    assert main(args) == 0
    for seed in (0, 1):
        about = torch.load(tmp_path / f"{seed}.pt", weights_only=False)["description"]
        assert about["seed"] == seed and {k: about[k] for k in ABOUT} == ABOUT


def test_describe_is_checked(tmp_path, tiny_synthetic, capsys):
    assert train(tmp_path, tiny_synthetic, "--describe", '{"datset": "x"}') == 1
    assert "unknown key(s) ['datset']" in capsys.readouterr().err
    assert train(tmp_path, tiny_synthetic, "--describe", '{"dataset": 3}') == 1
    assert "dataset must be a string" in capsys.readouterr().err
    assert not (tmp_path / "model.pt").exists()
    assert check_describe({"protocol": {"colour": "rgb"}}) == {"protocol": {"colour": "rgb"}}
    with pytest.raises(ConfigError):
        check_describe({"protocol": 1})


def test_without_describe_the_facts_are_null(tmp_path, tiny_synthetic):
    assert train(tmp_path, tiny_synthetic) == 0
    about = torch.load(tmp_path / "model.pt", weights_only=False)["description"]
    assert about["dataset"] is None and about["config_digest"] is None and about["networks"]


def _legacy(path, failed=None, weights=None):
    """A model file as cddgan-bench 0.1 wrote it: no `format`, no `description`."""
    payload = model_payload(spec(), {}, 4, weights, failed=failed)
    del payload["format"], payload["description"]
    save_payload(path, payload)
    return path


def test_a_file_from_before_0_2_is_named_and_still_applies(tmp_path, described, capsys):
    weights = torch.load(described, weights_only=False)["state_dict"]
    legacy = _legacy(tmp_path / "old.pt", weights=weights)
    assert main(["info", str(legacy)]) == 0
    text = capsys.readouterr().out
    assert "format 1" in text and "before 0.2" in text and "`cddgan apply` can still use it" in text
    assert load_trained(legacy, torch.device("cpu")).settings["width"] == 4
    Image.new("RGB", (12, 10), (180, 190, 200)).save(tmp_path / "a.png")
    assert main(["apply", str(legacy), str(tmp_path / "a.png"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert (tmp_path / "out" / "a.png").is_file()


def test_a_failed_runs_file_says_to_retrain(tmp_path, capsys):
    failed = _legacy(tmp_path / "old-failed.pt", failed="diverged: loss G became NaN")
    assert main(["info", str(failed)]) == 0
    text = capsys.readouterr().out
    assert "FAILED: diverged" in text and "Retrain" in text and "no weights either" in text
    save_payload(tmp_path / "failed.pt", model_payload(spec(), {}, 2, None, failed="diverged: NaN"))
    assert main(["info", str(tmp_path / "failed.pt")]) == 0
    text = capsys.readouterr().out
    assert "format 2" in text and "FAILED" in text and "before 0.2" not in text


def test_files_that_are_no_model_files(tmp_path, tiny_synthetic, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    cases = {"notes.txt": "not a model file", "other.pt": "not a cddgan-bench model file", "missing.pt": "no such file"}
    for name, message in cases.items():
        assert main(["info", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, name
    from cddgan.training.loop import Trainer

    trainer = Trainer(spec(), tiny_synthetic, tmp_path / "ckpt", log=lambda _: None, progress=False)
    trainer.save_checkpoint()
    assert main(["info", str(tmp_path / "ckpt" / "last.pt")]) == 1
    assert "a training checkpoint" in capsys.readouterr().err


class Payload:
    """Anything a pickle could bring along; unpickling it would run code of the file's choosing."""

    ran = False

    def __setstate__(self, state):
        Payload.ran = True


def test_no_code_runs_from_a_model_file(tmp_path):
    payload = model_payload(spec(), {}, 1, {"w": torch.zeros(1)})
    payload["extra"] = Payload()
    torch.save(payload, tmp_path / "odd.pt")
    with pytest.raises(ModelFileError, match=r"test_modelfile\.Payload"):
        read_model(tmp_path / "odd.pt")
    assert not Payload.ran
