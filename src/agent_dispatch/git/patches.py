"""Diffs line by line, used by the RED TEAM checks (``review``): patches, parsed into added and
removed lines per file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_dispatch.git.runner import git


@dataclass(frozen=True)
class FileDiff:
    """One file of ``git diff -U0``: its added and removed lines with their line numbers."""

    path: str  # the new path (the old one for a deleted file)
    status: str  # A added, M modified, D deleted
    added: tuple[tuple[int, str], ...] = ()  # (line number in the new file, text)
    removed: tuple[tuple[int, str], ...] = ()  # (line number in the old file, text)
    binary: bool = False


_DIFF_FLAGS = ("--no-ext-diff", "--no-textconv", "--no-renames", "--no-color", "--src-prefix=a/",
               "--dst-prefix=b/")


def diff_lines(root: str | Path, base: str, tip: str) -> list[FileDiff]:
    """Every file ``tip`` changes since its merge base with ``base``, with added and removed lines."""
    out = git("-c", "core.quotePath=false", "diff", *_DIFF_FLAGS, "-U0", f"{base}...{tip}", cwd=root).stdout
    return parse_diff(out)


def commit_diffs(root: str | Path, base: str, tip: str) -> list[tuple[str, list[FileDiff]]]:
    """Each non-merge commit of ``base..tip``, oldest first, with the lines it adds and removes."""
    out = git("-c", "core.quotePath=false", "log", "--reverse", "--no-merges", "-p", *_DIFF_FLAGS, "-U0",
              "--format=%x00%H", f"{base}..{tip}", cwd=root).stdout
    commits = []
    for chunk in out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        commits.append((sha.strip(), parse_diff(patch)))
    return commits


def diff_patch(root: str | Path, base: str, tip: str) -> str:
    """The full patch of ``base...tip`` (three lines of context), for reviewer agents."""
    return git("-c", "core.quotePath=false", "diff", *_DIFF_FLAGS, f"{base}...{tip}", cwd=root).stdout


def parse_diff(text: str) -> list[FileDiff]:
    """Parse the output of ``git diff -U0 --no-renames`` (any context size works too)."""
    files: list[FileDiff] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        path, status, binary = _diff_header_path(lines[i]), "M", False
        added: list[tuple[int, str]] = []
        removed: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("diff --git "):
            line = lines[i]
            if line.startswith("new file mode"):
                status = "A"
            elif line.startswith("deleted file mode"):
                status = "D"
            elif line.startswith("Binary files "):
                binary = True
            elif line.startswith("@@ "):
                i = _read_hunk(lines, i, added, removed)
                continue
            i += 1
        files.append(FileDiff(path, status, tuple(added), tuple(removed), binary))
    return files


def _hunk_range(text: str) -> tuple[int, int]:
    """``-12,3`` or ``+7`` → (start, count); a missing count means one line."""
    start, _, count = text[1:].partition(",")
    return int(start), int(count) if count else 1


def _read_hunk(lines: list[str], i: int, added: list[tuple[int, str]], removed: list[tuple[int, str]]) -> int:
    """Collect one hunk starting at ``lines[i]`` (``@@ -a,b +c,d @@``); returns the index after it."""
    parts = lines[i].split(" ")
    try:
        (old, old_count), (new, new_count) = _hunk_range(parts[1]), _hunk_range(parts[2])
    except (IndexError, ValueError):
        return i + 1
    i += 1
    while i < len(lines) and (old_count > 0 or new_count > 0):
        line = lines[i]
        if line.startswith("-"):
            removed.append((old, line[1:]))
            old, old_count = old + 1, old_count - 1
        elif line.startswith("+"):
            added.append((new, line[1:]))
            new, new_count = new + 1, new_count - 1
        elif line.startswith(" "):
            old, new, old_count, new_count = old + 1, new + 1, old_count - 1, new_count - 1
        elif not line.startswith("\\"):  # "\ No newline at end of file" is not a line
            break
        i += 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    return i


def _diff_header_path(line: str) -> str:
    """The path of ``diff --git a/P b/P`` (both sides are equal without rename detection)."""
    rest = line[len("diff --git "):]
    if rest.startswith('"'):
        return _unquote_c(rest)[2:]
    return rest[2:2 + (len(rest) - 5) // 2] if len(rest) >= 5 else rest


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote_c(text: str) -> str:
    """The first C-quoted string of ``text`` (git's quoting of odd paths: ``"a/x\\ty"``), unquoted."""
    out, i = bytearray(), 1
    while i < len(text) and text[i] != '"':
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt.isdigit() and text[i + 1:i + 4].isdigit():
                out.append(int(text[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")
