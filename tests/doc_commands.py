"""The shell commands that README.md and docs/*.md tell a user to type, found where they are written: in
fenced code blocks (bash, sh, console or unlabelled) and in inline code spans, one command per line after
joining `\\` continuations and splitting `&&` / `;` chains. Used by tests/test_doc_commands.py."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PROGRAMS = ("snakemake", "cddgan", "python", "python3", "pytest", "pip")
FENCE = re.compile(r"^( *)```(\w*)\n(.*?)^\1```", re.M | re.S)
SHELL_LABELS = ("", "bash", "sh", "shell", "console")
INLINE = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
ENV = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*$")


@dataclass(frozen=True)
class Command:
    """One documented command: where it is written and its words (environment assignments dropped)."""

    source: str
    line: int
    text: str
    words: tuple[str, ...]

    @property
    def program(self) -> str:
        return self.words[0]

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.text}"


def _commands_in(text: str) -> list[str]:
    """Single commands of a shell snippet: comments dropped, continuations joined, chains split."""
    text = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in text.splitlines():
        line = line.strip().removeprefix("$ ")
        if not line or line.startswith("#"):
            continue
        for part in re.split(r"\s*(?:&&|;|\|\|)\s*", line):
            out.append(part.split(" | ")[0])  # a pipeline: the project's program comes first
    return out


def _words(command: str) -> tuple[str, ...] | None:
    """The command's words without leading VAR=value assignments and `export`, or None if it is not one
    of the project's programs (or not shell at all)."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        return None
    while words and (ENV.match(words[0]) or words[0] == "export"):
        words = words[1:]
    if not words or words[0] not in PROGRAMS:
        return None
    runs_ours = words[1:2] == ["-m"] or (len(words) > 1 and words[1].startswith("benchmarks/"))
    if words[0] in ("python", "python3") and not runs_ours:
        return None
    return tuple(words)


def documented_commands() -> list[Command]:
    """Every command of the project's programs in the docs, in file order."""
    found: list[Command] = []
    for path in DOCS:
        text = path.read_text()
        source = str(path.relative_to(REPO))
        fenced = []
        for match in FENCE.finditer(text):
            fenced.append((match.start(), match.end()))
            if match.group(2) not in SHELL_LABELS:
                continue
            first = text.count("\n", 0, match.start(3)) + 1
            for command in _commands_in(match.group(3)):
                words = _words(command)
                if words:
                    line = first + next((i for i, row in enumerate(match.group(3).splitlines())
                                         if command.split()[0] in row), 0)
                    found.append(Command(source, line, command, words))
        for match in INLINE.finditer(text):
            if any(start <= match.start() < end for start, end in fenced):
                continue
            for command in _commands_in(match.group(1)):
                words = _words(command)
                if words and len(words) > 1:
                    found.append(Command(source, text.count("\n", 0, match.start()) + 1, command, words))
    return found


if __name__ == "__main__":
    for command in documented_commands():
        print(command)
