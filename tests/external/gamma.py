"""A stand-in for an external dehazing program: gamma correction of every image in a folder.

Used by tests/test_external.py as a command baseline and from a user rule. Flags make it misbehave
the ways real programs do: too few outputs, wrong sizes, a crash. With `--train-hazy`/`--train-clear` it
"trains": it fits the gamma that maps the hazy training set's mean brightness onto the clear set's and
writes it, with the seed and threads it was given, to `--model/gamma.json`; `--model` at test time
reads it back.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input")
    parser.add_argument("--output")
    parser.add_argument("--train-hazy")
    parser.add_argument("--train-clear")
    parser.add_argument("--model", help="model folder: written when training, read when dehazing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gamma", type=float, default=1.6)
    parser.add_argument("--drop", type=int, default=0, help="skip this many images")
    parser.add_argument("--shrink", action="store_true", help="write images one pixel narrower")
    parser.add_argument("--crash", action="store_true", help="exit with an error")
    args = parser.parse_args()
    if args.crash:
        print("gamma.py: simulated crash", file=sys.stderr)
        return 3
    if args.train_hazy:
        return train(args)
    if args.model:
        args.gamma = json.loads((Path(args.model) / "gamma.json").read_text())["gamma"]
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(Path(args.input).glob("*.png"))[args.drop :]:
        image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        result = np.clip(image**args.gamma, 0, 1)
        if args.shrink:
            result = result[:, :-1]
        Image.fromarray((result * 255).round().astype(np.uint8)).save(out / f"{path.stem}.jpg", quality=95)
    print(f"gamma.py: wrote {len(list(out.iterdir()))} images", file=sys.stderr)
    return 0


def mean_brightness(folder: str) -> float:
    paths = sorted(Path(folder).iterdir())
    return float(np.mean([np.asarray(Image.open(p).convert("RGB"), dtype=np.float64).mean() / 255.0 for p in paths]))


def train(args: argparse.Namespace) -> int:
    gamma = np.log(mean_brightness(args.train_clear)) / np.log(mean_brightness(args.train_hazy))
    model = Path(args.model)
    model.mkdir(parents=True, exist_ok=True)
    (model / "gamma.json").write_text(json.dumps({"gamma": gamma, "seed": args.seed, "threads": args.threads}))
    print(f"gamma.py: fitted gamma {gamma:.3f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
