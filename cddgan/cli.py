"""`cddgan` command line: one subcommand per pipeline stage, usable with or without Snakemake.

The Snakemake rules only wire these commands; the commands only parse arguments and call the library.
Every `HarnessError` (bad config, bad image, bad dataset, divergence) becomes one clear line on stderr
and exit status 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cddgan.errors import ConfigError, HarnessError

if TYPE_CHECKING:  # imported lazily at run time: `cddgan --help` must not wait for torch
    import torch

    from cddgan.methods.base import Method
    from cddgan.training.loop import Trainer

EXECUTION_HELP = (
    "how the job executes, as JSON (device, threads, log_every, cuda_graph, ...: cddgan.config.EXECUTION_KEYS);"
    " kept apart from --spec so that Snakemake does not retrain when only these change"
)


def _json(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{what}: expected a JSON object")
    return value


def cmd_make_data(args: argparse.Namespace) -> None:
    from cddgan.data.adapters import build_manifest

    path = build_manifest(args.name, _json(args.spec, "--spec"), Path(args.out))
    print(f"wrote {path}", file=sys.stderr)


def _execution(args: argparse.Namespace) -> dict:
    """The `--execution` JSON (device, threads, CUDA options; cddgan.config.EXECUTION_KEYS), checked."""
    from cddgan.config import EXECUTION_KEYS

    execution = _json(args.execution, "--execution") if args.execution else {}
    unknown = sorted(set(execution) - EXECUTION_KEYS)
    if unknown:
        raise ConfigError(
            f"--execution: unknown key(s) {unknown}; it takes {', '.join(sorted(EXECUTION_KEYS))}"
            " (every other training setting belongs in --spec)"
        )
    return execution


DESCRIBE_HELP = (
    'facts of the run for model.pt\'s description, as JSON: {"config_digest": "...", "dataset": "<training '
    'dataset>", "protocol": "<its metric protocol name>" or {...}} (every key optional); untracked like --execution, '
    "so that it never retrains a run"
)


def _describe(args: argparse.Namespace) -> dict:
    """The `--describe` JSON (cddgan.modelfile.DESCRIBE_KEYS), checked."""
    from cddgan.modelfile import check_describe

    return check_describe(_json(args.describe, "--describe")) if args.describe else {}


def _record_divergence(trainer: Trainer, exc: Exception, outputs: Sequence[str | None], who: str) -> None:
    """A diverged run is a result: its model file (and run.json) says FAILED and why (the dehaze step then
    leaves the reason in the run's output folder, where the tables and the report find it); the sweep goes
    on. `outputs`: model, losses, validation, run info (the last two may be None)."""
    trainer.record_failure(f"diverged: {exc}", *outputs)
    print(f"{who} FAILED: {exc}\nrecorded in {outputs[0]}; the sweep goes on", file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> None:
    from cddgan.errors import DivergenceError
    from cddgan.training.loop import Trainer

    trainer = Trainer(
        _json(args.spec, "--spec"),
        args.manifest,
        args.checkpoint_dir,
        progress=not args.quiet,
        execution=_execution(args),
        about=_describe(args),
    )
    outputs = (args.model, args.losses, args.validation, args.run_info)
    try:
        trainer.run(*outputs)
    except DivergenceError as exc:
        if not args.record_divergence:
            raise
        _record_divergence(trainer, exc, outputs, "cddgan train: run")


def cmd_train_group(args: argparse.Namespace) -> None:
    from cddgan.training.group import GroupTrainer

    n = len(args.spec)
    lists = {"--model": args.model, "--losses": args.losses, "--checkpoint-dir": args.checkpoint_dir}
    optional = {"--validation": args.validation, "--run-info": args.run_info}  # none, or one per --spec
    lists.update({flag: v for flag, v in optional.items() if v})
    wrong = [f"{flag} ({len(v)})" for flag, v in lists.items() if len(v) != n]
    if wrong:
        raise ConfigError(f"train-group: give one of each per --spec ({n}); got {', '.join(wrong)}")
    specs = [_json(text, "--spec") for text in args.spec]
    validation = args.validation or [None] * n
    run_info = args.run_info or [None] * n
    outputs = list(zip(args.model, args.losses, validation, run_info, strict=True))
    for path in [*args.model, *args.losses, *filter(None, validation), *filter(None, run_info)]:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    group = GroupTrainer(
        specs, args.manifest, args.checkpoint_dir, progress=not args.quiet, execution=_execution(args),
        about=_describe(args),
    )
    failed = group.run(outputs)
    for i, exc in failed.items():
        if not args.record_divergence:
            raise exc
        who = f"cddgan train-group: seed {specs[i]['seed']}"
        _record_divergence(group.members[i], exc, outputs[i], who)


def _method_for(spec: dict, model: str | None, device_name: str) -> tuple[Method, torch.device]:
    from cddgan.methods.registry import build_method
    from cddgan.modelfile import load_trained
    from cddgan.training.loop import resolve_device

    device = resolve_device(device_name)
    if model:
        return load_trained(model, device, tuple(spec.get("plugins", ()))), device
    method = build_method(spec, device)
    if method.trainable:
        raise ConfigError(f"run {spec.get('run')!r}: method {spec['method']!r} is trainable; pass --model")
    return method, device


def cmd_dehaze(args: argparse.Namespace) -> None:
    from cddgan.dehaze import dehaze_split
    from cddgan.io import write_failed_marker
    from cddgan.modelfile import RunFailed

    spec = _json(args.spec, "--spec")
    try:
        method, device = _method_for(spec, args.model, args.device)
    except RunFailed as exc:
        write_failed_marker(args.out, str(exc))
        print(f"cddgan dehaze: run FAILED, no images: {exc}", file=sys.stderr)
        return
    count = dehaze_split(method, args.manifest, args.out, device, progress=not args.quiet)
    print(f"dehazed {count} images into {args.out}", file=sys.stderr)


def _tests(text: str) -> list[dict]:
    """`--tests`: a JSON list of the run's test sets, each {dataset, manifest, protocol}."""
    try:
        tests = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--tests: not valid JSON ({exc})") from exc
    if not isinstance(tests, list) or not all(isinstance(t, dict) and {"dataset", "manifest"} <= set(t) for t in tests):
        raise ConfigError("--tests: expected a JSON list of objects with `dataset` and `manifest` (and `protocol`)")
    return tests


def cmd_test(args: argparse.Namespace) -> None:
    from cddgan.dehaze import dehaze_test_sets
    from cddgan.evaluate import evaluate_test_sets
    from cddgan.io import write_failed_marker
    from cddgan.modelfile import RunFailed

    tests = _tests(args.tests)
    if args.spec:
        spec = _json(args.spec, "--spec")
        try:
            method, device = _method_for(spec, args.model, args.device)
        except RunFailed as exc:
            for test in tests:
                write_failed_marker(Path(args.outputs) / test["dataset"], str(exc))
            print(f"cddgan test: run FAILED, no images: {exc}", file=sys.stderr)
        else:
            counts = dehaze_test_sets(method, tests, args.outputs, device, progress=not args.quiet)
            print(f"dehazed {counts} images into {args.outputs}", file=sys.stderr)
    ids = {"experiment": args.experiment, "run": args.run, "seed": args.seed}
    weights = _json(args.weights, "--weights") if args.weights else {}
    frame = evaluate_test_sets(tests, args.outputs, ids, args.metrics, weights, progress=not args.quiet)
    print(f"scored {len(frame)} images of {len(tests)} test sets into {args.metrics}", file=sys.stderr)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from cddgan.evaluate import evaluate_outputs

    frame = evaluate_outputs(
        manifest=args.manifest,
        outputs=args.outputs,
        protocol=_protocol_arg(args.protocol),
        out=args.out,
        ids={"experiment": args.experiment, "dataset": args.dataset, "run": args.run, "seed": args.seed},
        weights=_json(args.weights, "--weights") if args.weights else {},
        progress=not args.quiet,
    )
    print(f"scored {len(frame)} images into {args.out}", file=sys.stderr)


def _protocol_arg(text: str) -> str | dict:
    """A protocol name or mapping, given as JSON (as the rules pass it) or as a bare name."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def cmd_efficiency(args: argparse.Namespace) -> None:
    import torch

    from cddgan.config import job_training
    from cddgan.efficiency import measure, summary
    from cddgan.io import write_text
    from cddgan.methods.registry import build_method
    from cddgan.training.loop import Trainer, resolve_device

    spec = _json(args.spec, "--spec")
    execution = _execution(args)
    training = job_training(spec, execution)
    device = resolve_device(training["device"] if args.device == "auto" else args.device)
    repeats = int(training["efficiency_iterations"])
    if spec.get("training"):
        with tempfile.TemporaryDirectory() as scratch:
            trainer = Trainer(spec, args.manifest, scratch, progress=False, execution=execution)
            hazy, clear = trainer.sampler.next()
            warmup = 1 + trainer.step.calls_before_replay  # with CUDA graphs, time replays, not warm-up/capture
            result = measure(
                trainer.method, trainer.device, lambda: trainer.train_step(hazy, clear), repeats, train_warmup=warmup
            )
    else:
        method = build_method(spec, device)
        with torch.inference_mode():
            result = measure(method, device, None, repeats)
    result["run"] = spec.get("run")
    result["method"] = spec["method"]
    write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(summary(result), file=sys.stderr)


def cmd_stage_inputs(args: argparse.Namespace) -> None:
    from cddgan.external import stage_test_inputs, stage_train_inputs

    if args.train:
        counts = stage_train_inputs(args.manifest, args.out)
        print(f"linked {counts} training images into {args.out}", file=sys.stderr)
    else:
        count = stage_test_inputs(args.manifest, args.out, progress=not args.quiet)
        print(f"staged {count} test inputs into {args.out}", file=sys.stderr)


def cmd_collect(args: argparse.Namespace) -> None:
    from cddgan.external import collect_outputs

    count = collect_outputs(args.raw, args.inputs, args.out, log=args.command_log or "")
    print(f"collected {count} outputs into {args.out}", file=sys.stderr)


def cmd_aggregate(args: argparse.Namespace) -> None:
    import yaml

    from cddgan.layout import Layout
    from cddgan.report.aggregate import write_tables

    text = Path(args.config).read_text()
    config = yaml.safe_load(text)
    layout = Layout.of(config)
    tables = write_tables(config, layout, text)
    print(
        f"wrote {len(tables['scores'])} scores, {len(tables['comparison'])} comparison cells and "
        f"{len(tables['failures'])} failed runs to {layout.tables_dir()}, with {layout.config_snapshot()}",
        file=sys.stderr,
    )


def cmd_report(args: argparse.Namespace) -> None:
    import yaml

    from cddgan.report.html import build_report

    config = yaml.safe_load(Path(args.config).read_text())
    index = build_report(config, Path(args.results), Path(args.out))
    print(f"report: {index}", file=sys.stderr)


def cmd_check_config(args: argparse.Namespace) -> None:
    import yaml

    from cddgan import config as cfg

    resolved = cfg.load(args.configfile)
    cfg.check_dataset_roots(resolved)
    if args.out:
        from cddgan.io import write_text

        write_text(args.out, yaml.safe_dump(resolved, sort_keys=False))
    else:
        runs = resolved["runs"]
        print(
            f"config OK: {len(resolved['datasets'])} datasets, {len(resolved['experiments'])} experiments, "
            f"{len(runs)} runs ({sum('ablation' in r for r in runs.values())} ablation variants)"
        )


def cmd_apply(args: argparse.Namespace) -> None:
    from cddgan.apply import apply, summary

    outcome = apply(
        args.model,
        args.inputs,
        args.out,
        recursive=args.recursive,
        suffix=args.suffix,
        overwrite=args.overwrite,
        device=args.device,
        max_pixels=args.max_pixels,
        tile=args.tile,
        overlap=args.overlap,
        settings=args.set,
        compare=args.compare,
        progress=not args.quiet,
    )
    print(summary(outcome), file=sys.stderr)
    if outcome.failed:
        raise HarnessError(f"{len(outcome.failed)} input(s) failed (named above); the others were written")


def cmd_info(args: argparse.Namespace) -> None:
    from cddgan.modelfile import read_model, render, summary

    info = summary(read_model(args.model))
    print(json.dumps(info, indent=2, default=str) if args.json else render(info, args.model))


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def cmd_methods(args: argparse.Namespace) -> None:
    from cddgan.methods import available, method_class

    if args.name is not None:
        from cddgan.methods.reference import render

        sys.stdout.write(render(args.name))
        return

    for name in available():
        cls = method_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        kind = "trainable" if cls.trainable else "training-free"
        print(f"{name:12s} {kind:13s} {doc}")


def cmd_datasets(args: argparse.Namespace) -> None:
    from cddgan.data.adapters.reference import render

    sys.stdout.write(render(args.name))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cddgan", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("make-data", help="build a dataset's manifest (and generate the synthetic benchmark)")
    p.add_argument("--name", required=True, help="dataset name (a key under `datasets:` in the config)")
    p.add_argument("--spec", required=True, help="the dataset's config entry as JSON")
    p.add_argument("--out", required=True, help="output folder; the manifest is OUT/manifest.csv")
    p.set_defaults(func=cmd_make_data)

    p = sub.add_parser("train", help="train one run with one seed (resumes from its checkpoint)")
    p.add_argument("--spec", required=True, help="run spec as JSON (cddgan.config.run_spec)")
    p.add_argument("--manifest", required=True, help="manifest of the training dataset")
    p.add_argument("--model", required=True, help="output model.pt")
    p.add_argument("--losses", required=True, help="output losses.csv")
    p.add_argument("--checkpoint-dir", required=True, help="folder for resumable checkpoints")
    p.add_argument("--validation", help="output validation.csv (iteration, psnr, ssim, n_images); none if absent")
    p.add_argument(
        "--run-info", help="output run.json (iterations, selected iteration, failure, machine); none if absent"
    )
    p.add_argument(
        "--record-divergence",
        action="store_true",
        help="record a diverged run as a FAILED model file (with the reason) and exit 0, so the sweep goes on; "
        "without it, divergence is an error",
    )
    p.add_argument("--execution", help=EXECUTION_HELP)
    p.add_argument("--describe", help=DESCRIBE_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "train-group",
        help="train several seeds of one run in one process, stepped together (one CUDA graph on a GPU)",
    )
    p.add_argument("--spec", required=True, action="append", help="one run spec (JSON) per seed, repeated")
    p.add_argument("--manifest", required=True, help="manifest of the training dataset")
    p.add_argument("--model", required=True, action="append", help="output model.pt, one per --spec")
    p.add_argument("--losses", required=True, action="append", help="output losses.csv, one per --spec")
    p.add_argument("--checkpoint-dir", required=True, action="append", help="checkpoint folder, one per --spec")
    p.add_argument("--validation", action="append", help="output validation.csv, one per --spec (or none)")
    p.add_argument("--run-info", action="append", help="output run.json, one per --spec (or none)")
    p.add_argument(
        "--record-divergence", action="store_true", help="record diverged seeds as FAILED model files, exit 0"
    )
    p.add_argument("--execution", help=EXECUTION_HELP)
    p.add_argument("--describe", help=DESCRIBE_HELP + " (one for every seed of the group)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_group)

    p = sub.add_parser("dehaze", help="dehaze a dataset's test split with a method or a trained model")
    p.add_argument("--spec", required=True, help="run spec as JSON")
    p.add_argument("--model", help="trained model.pt (trainable methods)")
    p.add_argument("--manifest", required=True, help="manifest of the test dataset")
    p.add_argument("--out", required=True, help="output folder, one PNG per hazy test image")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_dehaze)

    p = sub.add_parser(
        "test",
        help="dehaze every test set of a run (with --spec) and score the outputs, in one process (one row per image)",
    )
    p.add_argument("--tests", required=True, help="JSON list of test sets: [{dataset, manifest, protocol}, ...]")
    p.add_argument("--outputs", required=True, help="folder of the run's outputs, one sub-folder per test set")
    p.add_argument("--metrics", required=True, help="output CSV, one row per test image of every set")
    p.add_argument("--spec", help="run spec as JSON: dehaze first (without it, score outputs already there)")
    p.add_argument("--model", help="trained model.pt (trainable methods)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--weights", default="", help="JSON mapping metric -> local weights file")
    p.add_argument("--experiment", default="")
    p.add_argument("--run", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_test)

    p = sub.add_parser("evaluate", help="score dehazed images against ground truth (one row per image)")
    p.add_argument("--manifest", required=True)
    p.add_argument("--outputs", required=True, help="folder written by `cddgan dehaze`")
    p.add_argument("--protocol", default="rgb", help="metric protocol name or JSON (see docs/protocol.md)")
    p.add_argument("--weights", default="", help="JSON mapping metric -> local weights file")
    p.add_argument("--out", required=True, help="output CSV")
    p.add_argument("--experiment", default="")
    p.add_argument("--dataset", default="")
    p.add_argument("--run", default="")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("efficiency", help="parameters, MACs, train/inference time and memory of a run")
    p.add_argument("--spec", required=True)
    p.add_argument("--execution", help=EXECUTION_HELP)
    p.add_argument("--manifest", help="training manifest (trainable runs)")
    p.add_argument("--device", default="auto")
    p.add_argument("--out", required=True, help="output JSON")
    p.set_defaults(func=cmd_efficiency)

    p = sub.add_parser("stage-inputs", help="stage a dataset's images for external baselines")
    p.add_argument("--manifest", required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--train", action="store_true", help="link the training split (hazy/, clear/) instead")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_stage_inputs)

    p = sub.add_parser("collect", help="check an external baseline's outputs and convert them to PNG")
    p.add_argument("--raw", required=True, help="folder the program wrote")
    p.add_argument("--inputs", required=True, help="the staged inputs it was given")
    p.add_argument("--out", required=True, help="output folder, one PNG per input")
    p.add_argument("--command-log", help="the program's log, named in errors")
    p.set_defaults(func=cmd_collect)

    p = sub.add_parser(
        "aggregate", help="write every table of a config (results/tables/) and its config snapshot, together"
    )
    p.add_argument("--config", required=True, help="the resolved config YAML of the run (cddgan check-config --out)")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("report", help="render the HTML report, tables and plots")
    p.add_argument("--config", required=True, help="resolved config YAML (results/config.resolved.yaml)")
    p.add_argument("--results", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("check-config", help="validate a config and print a summary (or the resolved YAML)")
    p.add_argument("configfile", nargs="?", default=None, help="config YAML (default config/config.yaml)")
    p.add_argument("--out", help="write the resolved config here")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser(
        "methods", help="list the registered methods, or describe one: settings, defaults, schedule (docs/methods.md)"
    )
    p.add_argument("name", nargs="?", default=None, help="one method (e.g. negcut); the list without it")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser(
        "apply",
        help="dehaze your own photos (files, folders, globs) with a model.pt or a training-free method",
        description="Dehaze images of any size, mode and bit depth into PNGs named after them (docs/apply.md).",
    )
    p.add_argument("model", metavar="MODEL", help="a model.pt written by training, or a training-free method (dcp)")
    p.add_argument("inputs", metavar="INPUT", nargs="+", help="image files, folders or glob patterns (quoted or not)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (made if missing)")
    p.add_argument("--recursive", action="store_true", help="also the images in sub-folders of a folder INPUT")
    p.add_argument("--suffix", default="", help="added to each output's name: photo.jpg -> photo<SUFFIX>.png")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (default: keep and skip)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    p.add_argument(
        "--max-pixels", type=_positive, metavar="N",
        help="largest image dehazed in one pass; larger ones go in overlapping tiles (default: 2000000 on the "
        "CPU, 80%% of the free memory's worth on a GPU)",
    )
    p.add_argument("--tile", type=_positive, metavar="PX", help="tile side in pixels: tile every image larger than it")
    p.add_argument("--overlap", type=int, default=64, metavar="PX", help="overlap of neighbouring tiles (default 64)")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="a setting of a training-free method, repeated (e.g. --set omega=0.9)",
    )
    p.add_argument("--compare", action="store_true", help="also write DIR/compare.html: a before/after slider each")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_apply)

    p = sub.add_parser("info", help="what a model.pt is: method, settings, training, networks, code version")
    p.add_argument("model", metavar="MODEL", help="a model.pt written by training")
    p.add_argument("--json", action="store_true", help="everything but the weights, as JSON")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser(
        "datasets",
        help="the dataset adapters: what each reads, its folder tree, keys, splits and an example entry "
        "(docs/datasets.md)",
    )
    p.add_argument("name", nargs="?", default=None, help="one adapter (e.g. o-haze); all of them without it")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except HarnessError as exc:
        print(f"cddgan {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
