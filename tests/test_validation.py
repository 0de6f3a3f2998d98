"""Validation curves and checkpoint selection (`training.eval_every`, `val_images`, `select`) and the run
record beside model.pt (run.json): rows at the right iterations, scoring that changes nothing of training,
the best evaluation's weights kept (ties: the earliest) and carried through a kill, clear refusals, and the
CLI flags the rules pass."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
import toy_method  # noqa: F401  (registers toy-gan)
from interrupt import kill_at_iteration
from test_train import assert_same_weights, spec

from cddgan.cli import main
from cddgan.data.manifest import read_manifest
from cddgan.errors import DivergenceError, HarnessError
from cddgan.modelfile import load_trained
from cddgan.training import loop as loop_module
from cddgan.training.loop import Trainer
from cddgan.training.validation import COLUMNS, Validator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RUN_INFO_KEYS = {"iterations", "select", "selected_iteration", "failed", "elapsed_s", "machine"}
TINY_CUT = {"ngf": 4, "n_blocks": 1, "ndf": 4, "num_patches": 16, "nce_layers": [0, 4, 8, 12]}


def validated(seed=0, iterations=12, eval_every=4, val_images=3, select="last", **settings) -> dict:
    run = spec(seed=seed, iterations=iterations, **settings)
    run["training"].update(eval_every=eval_every, val_images=val_images, select=select)
    return run


def outputs(tmp_path, name: str) -> tuple:
    out = tmp_path / name
    return out / "model.pt", out / "losses.csv", out / "validation.csv", out / "run.json"


def train(tmp_path, name, run_spec, manifest, logs=None):
    paths = outputs(tmp_path, name)
    log = logs.append if logs is not None else (lambda m: None)
    Trainer(run_spec, manifest, tmp_path / name / "ckpt", log=log, progress=False).run(*paths)
    model, _, validation, run_info = paths
    return torch.load(model, weights_only=False), pd.read_csv(validation), json.loads(run_info.read_text())


@pytest.fixture
def no_val_manifest(tmp_path, tiny_synthetic):
    """The tiny dataset without its val split (absolute paths, so the CSV may live elsewhere)."""
    frame = read_manifest(tiny_synthetic)
    path = tmp_path / "noval" / "manifest.csv"
    path.parent.mkdir()
    frame[frame["split"] != "val"].to_csv(path, index=False)
    return path


def test_the_tiny_dataset_has_a_val_split(tiny_synthetic):
    assert len(Validator(read_manifest(tiny_synthetic), 100).pairs) >= 3


def test_curve_has_a_row_every_eval_every_iterations_and_at_the_last(tmp_path, tiny_synthetic):
    model, curve, info = train(tmp_path, "a", validated(iterations=10, eval_every=4), tiny_synthetic)
    assert list(curve.columns) == COLUMNS
    assert list(curve["iteration"]) == [4, 8, 10]
    assert list(curve["n_images"]) == [3, 3, 3]
    assert curve["psnr"].between(5, 80).all() and curve["ssim"].between(-1, 1).all()
    assert info["selected_iteration"] == model["selected_iteration"] == 10  # select: last
    assert set(info) == RUN_INFO_KEYS and info["failed"] is None and info["iterations"] == 10


def test_the_subset_is_the_first_val_pairs_in_manifest_order(tiny_synthetic):
    frame = read_manifest(tiny_synthetic)
    val = frame[frame["split"] == "val"]
    hazy = val[val["domain"] == "hazy"]
    pairs = Validator(frame, 2).pairs
    assert [h for h, _ in pairs] == list(hazy["path"][:2])
    clear = val[val["domain"] == "clear"].set_index("pair_id")["path"]
    assert [c for _, c in pairs] == [clear[p] for p in hazy["pair_id"][:2]]


def test_scoring_leaves_random_states_and_train_eval_flags_as_they_were(tiny_synthetic, monkeypatch):
    """Even a method whose inference draws random numbers, scored while one module is in eval mode."""
    trainer = Trainer(validated(), tiny_synthetic, "unused-ckpt", log=lambda m: None, progress=False)
    trainer.method.train()
    trainer.method.D.eval()  # a mixed state must come back module by module
    original = trainer.method.translate

    def noisy(hazy):
        random.random(), np.random.rand(), torch.rand(1)
        return original(hazy)

    monkeypatch.setattr(trainer.method, "translate", noisy)
    flags = [m.training for m in trainer.method.modules()]
    before = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    trainer.iteration = 4
    trainer.validate()
    after = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    assert before[0] == after[0]
    assert all(np.array_equal(a, b) for a, b in zip(before[1], after[1], strict=True))
    assert torch.equal(before[2], after[2])
    assert [m.training for m in trainer.method.modules()] == flags
    assert len(trainer.val_rows) == 1


def test_select_last_weights_are_bit_identical_with_validation_on_and_off(tmp_path, tiny_synthetic):
    """A method with random draws of its own (CUT's patch positions): scoring every 2 iterations changes
    neither the weights nor the loss log."""

    def cut(eval_every: int) -> dict:
        run = validated(iterations=6, eval_every=eval_every)
        run.update(method="cut", settings=TINY_CUT, plugins=[])
        run["training"]["crop"] = 32  # the discriminator's 70 px receptive field needs more than 16
        return run

    off, _, _ = train(tmp_path, "off", cut(0), tiny_synthetic)
    on, curve, _ = train(tmp_path, "on", cut(2), tiny_synthetic)
    assert list(curve["iteration"]) == [2, 4, 6]
    assert_same_weights(off["state_dict"], on["state_dict"])
    losses = [pd.read_csv(tmp_path / name / "losses.csv").drop(columns="time_s") for name in ("off", "on")]
    pd.testing.assert_frame_equal(*losses)


def test_best_val_keeps_the_weights_of_the_best_evaluation(tmp_path, tiny_synthetic, monkeypatch):
    """The real scores of this toy rise to the end; a PSNR that peaks at iteration 6 shows the selection."""
    seen: dict[int, dict[str, torch.Tensor]] = {}
    score = Validator.score
    psnr = {2: 10.0, 4: 12.0, 6: 30.0, 8: 20.0, 10: 25.0, 12: 29.0}

    def spy(self, method, device, iteration):
        seen[iteration] = {k: v.clone() for k, v in method.state_dict().items()}
        return {**score(self, method, device, iteration), "psnr": psnr[iteration]}

    monkeypatch.setattr(Validator, "score", spy)
    model, curve, info = train(tmp_path, "best", validated(eval_every=2, select="best_val"), tiny_synthetic)
    assert list(curve["psnr"]) == list(psnr.values())
    assert info["selected_iteration"] == model["selected_iteration"] == 6
    assert info["select"] == "best_val" and info["iterations"] == model["iterations"] == 12
    assert_same_weights(model["state_dict"], seen[6])
    assert any(not torch.equal(seen[6][k], seen[12][k]) for k in seen[6])  # not the last weights


def test_best_val_ties_keep_the_earliest_evaluation(tmp_path, tiny_synthetic, monkeypatch):
    monkeypatch.setattr(
        Validator, "score", lambda self, m, d, it: {"iteration": it, "psnr": 20.0, "ssim": 0.5, "n_images": 3}
    )
    model, curve, info = train(tmp_path, "tie", validated(eval_every=3, select="best_val"), tiny_synthetic)
    assert list(curve["iteration"]) == [3, 6, 9, 12]
    assert info["selected_iteration"] == model["selected_iteration"] == 3


def test_a_killed_run_resumes_with_its_whole_curve_and_its_best_weights(tmp_path, tiny_synthetic, monkeypatch):
    """Checkpoints every 4 iterations carry the curve so far and the best weights yet: the resumed run's
    outputs are those of the run never killed."""
    run = validated(eval_every=2, select="best_val")
    reference, ref_curve, ref_info = train(tmp_path, "full", run, tiny_synthetic)

    kill_at_iteration(7, run, tiny_synthetic, tmp_path / "killed", monkeypatch)
    state = torch.load(tmp_path / "killed" / "ckpt" / "last.pt", weights_only=False)
    assert [r["iteration"] for r in state["validation"]] == [2, 4] and state["best"]["iteration"] in (2, 4)
    logs: list[str] = []
    resumed, curve, info = train(tmp_path, "killed", run, tiny_synthetic, logs)
    assert any("resumed from checkpoint" in line for line in logs)
    pd.testing.assert_frame_equal(ref_curve, curve)
    assert info["selected_iteration"] == ref_info["selected_iteration"]
    assert_same_weights(reference["state_dict"], resumed["state_dict"])


def test_without_a_val_split_it_warns_once_and_writes_an_empty_curve(tmp_path, no_val_manifest):
    logs: list[str] = []
    model, curve, info = train(tmp_path, "a", validated(eval_every=2), no_val_manifest, logs)
    assert sum("no val split" in line for line in logs) == 1
    assert list(curve.columns) == COLUMNS and curve.empty
    assert model["failed"] is None and info["selected_iteration"] == 12


@pytest.mark.parametrize("case", ["eval_every 0", "no val split"])
def test_best_val_that_cannot_be_followed_is_refused_before_training(tmp_path, tiny_synthetic, no_val_manifest, case):
    run = validated(eval_every=0 if case == "eval_every 0" else 2, select="best_val")
    manifest = tiny_synthetic if case == "eval_every 0" else no_val_manifest
    with pytest.raises(HarnessError, match=r"training\.select: best_val"):
        Trainer(run, manifest, tmp_path / "ckpt", log=lambda m: None, progress=False)


def test_validation_off_writes_a_header_only_curve_and_nothing_when_not_asked(tmp_path, tiny_synthetic):
    _, curve, info = train(tmp_path, "a", validated(eval_every=0), tiny_synthetic)
    assert curve.empty and list(curve.columns) == COLUMNS and info["select"] == "last"
    out = tmp_path / "plain"
    Trainer(spec(), tiny_synthetic, out / "ckpt", log=lambda m: None, progress=False).run(
        out / "model.pt", out / "losses.csv"
    )
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["losses.csv", "model.pt"]


def test_a_diverged_run_records_its_failure_and_its_curve_so_far(tmp_path, tiny_synthetic):
    model, losses, validation, run_info = outputs(tmp_path, "nan")
    trainer = Trainer(validated(eval_every=2, nan_after=5), tiny_synthetic, tmp_path / "ckpt", progress=False)
    with pytest.raises(DivergenceError) as failure:
        trainer.run(model, losses, validation, run_info)
    trainer.record_failure(f"diverged: {failure.value}", model, losses, validation, run_info)
    info = json.loads(run_info.read_text())
    assert set(info) == RUN_INFO_KEYS and info["failed"].startswith("diverged: ") and info["selected_iteration"] is None
    assert list(pd.read_csv(validation)["iteration"]) == [2, 4]  # the NaN window is caught before scoring 6
    payload = torch.load(model, weights_only=False)
    assert payload["failed"] and payload["state_dict"] is None and payload["machine"]["device"] == "cpu"


def test_a_nan_output_is_a_divergence(tiny_synthetic):
    trainer = Trainer(validated(), tiny_synthetic, "unused-ckpt", log=lambda m: None, progress=False)
    trainer.method.translate = lambda hazy: hazy * float("nan")
    with pytest.raises(DivergenceError, match="validation images became NaN"):
        trainer.validator.score(trainer.method, trainer.device, 4)


def test_a_model_write_that_fails_leaves_neither_curve_nor_record(tmp_path, tiny_synthetic, monkeypatch):
    """validation.csv and run.json describe model.pt: they are renamed into place with it or not at all
    (losses.csv, the log so far, comes first and stands alone)."""
    model, losses, validation, run_info = outputs(tmp_path, "disk-full")
    trainer = Trainer(validated(eval_every=2), tiny_synthetic, tmp_path / "ckpt", log=lambda m: None, progress=False)

    def full(path, payload):
        raise OSError("No space left on device")

    monkeypatch.setattr(loop_module, "save_payload", full)  # the model file's write; checkpoints still work
    with pytest.raises(OSError, match="No space"):
        trainer.run(model, losses, validation, run_info)
    monkeypatch.undo()
    assert not model.exists() and not validation.exists() and not run_info.exists()
    assert list(pd.read_csv(losses)["iteration"])[-1] == 12
    assert [p.name for p in model.parent.iterdir()] == ["losses.csv"]  # no temporary file left behind


def test_model_files_from_before_the_run_record_still_load(tmp_path, tiny_synthetic):
    model, _, _ = train(tmp_path, "a", validated(eval_every=0), tiny_synthetic)
    old = {k: v for k, v in model.items() if k not in ("selected_iteration", "machine")}
    torch.save(old, tmp_path / "old.pt")
    method = load_trained(tmp_path / "old.pt", torch.device("cpu"))
    assert method.dehaze(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


# ---------------------------------------------------------------- the command line the rules call


def cli_spec(seed: int) -> str:
    return json.dumps(validated(seed=seed, iterations=4, eval_every=2))


def test_cddgan_train_writes_the_curve_and_the_run_record(tmp_path, tiny_synthetic, toy_env):
    model, losses, validation, run_info = outputs(tmp_path, "cli")
    args = ["train", "--spec", cli_spec(0), "--manifest", str(tiny_synthetic), "--model", str(model)]
    args += ["--losses", str(losses), "--checkpoint-dir", str(tmp_path / "ckpt"), "--quiet"]
    assert main([*args, "--validation", str(validation), "--run-info", str(run_info)]) == 0
    assert list(pd.read_csv(validation)["iteration"]) == [2, 4]
    assert json.loads(run_info.read_text())["selected_iteration"] == 4


def test_cddgan_train_group_takes_one_curve_and_record_per_spec(tmp_path, tiny_synthetic, toy_env):
    paths = [outputs(tmp_path, f"s{i}") for i in range(2)]
    args = ["train-group", "--manifest", str(tiny_synthetic), "--quiet"]
    for i, (model, losses, validation, run_info) in enumerate(paths):
        args += ["--spec", cli_spec(i), "--model", str(model), "--losses", str(losses)]
        args += ["--checkpoint-dir", str(tmp_path / f"c{i}"), "--validation", str(validation)]
        args += ["--run-info", str(run_info)]
    assert main(args) == 0
    for _, _, validation, run_info in paths:
        assert list(pd.read_csv(validation)["iteration"]) == [2, 4]
        assert set(json.loads(run_info.read_text())) == RUN_INFO_KEYS
    one_short = args[: args.index("--run-info")] + args[args.index("--run-info") + 2 :]
    assert main(one_short) == 1  # one --run-info for two --spec
