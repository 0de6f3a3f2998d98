"""A stand-in for an external dehazing program: gamma correction of every image in a folder.

Used by tests/test_external.py as a command baseline and from a user rule. Flags make it misbehave
the ways real programs do: too few outputs, wrong sizes, a crash.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--gamma", type=float, default=1.6)
    parser.add_argument("--drop", type=int, default=0, help="skip this many images")
    parser.add_argument("--shrink", action="store_true", help="write images one pixel narrower")
    parser.add_argument("--crash", action="store_true", help="exit with an error")
    args = parser.parse_args()
    if args.crash:
        print("gamma.py: simulated crash", file=sys.stderr)
        return 3
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


if __name__ == "__main__":
    sys.exit(main())
