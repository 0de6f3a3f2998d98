"""`python -P -m cddgan.config IN OUT`: the child process of `resolve_cached` on a cache miss.

Reads a raw config (JSON) from IN and writes the resolved config (JSON) to OUT; on a ConfigError it writes
the message to OUT instead and exits with CONFIG_ERROR_EXIT, so the parent raises the same error without
a traceback. Files rather than stdout: a method module that prints while it is imported cannot garble them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cddgan.config.cache import CONFIG_ERROR_EXIT
from cddgan.config.resolve import resolve
from cddgan.errors import ConfigError


def main(argv: list[str]) -> int:
    given, out = argv[:2]
    try:
        resolved = resolve(json.loads(Path(given).read_text()))
    except ConfigError as exc:
        Path(out).write_text(str(exc))
        return CONFIG_ERROR_EXIT
    Path(out).write_text(json.dumps(resolved))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
