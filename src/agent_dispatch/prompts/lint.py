"""Prompt lint (REQ-3.07): the checks an activation prompt must pass before anything is written.

A prompt is a sequence of ``=== PART n: NAME ===`` sections; part 6 holds the four style blocks
as ``=== NAME ===`` headers. :func:`split_parts` is the parser the checks (and tests) use.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

PART_NAMES = (
    "IDENTITY",
    "CONTEXT",
    "DOMAIN",
    "TASK SUMMARY",
    "TERRITORY",
    "EXECUTION",
    "COMPLETION",
)
STYLE_BLOCKS = ("OPENING KEYWORDS", "INTENSITY PROTOCOL", "EXECUTION PROTOCOL", "OPTIMAL PATH")
EXECUTION_PART = 6

_PART = re.compile(r"^=== PART (\d+): ([A-Z][A-Z ]*?) ===[ \t]*$", re.M)
_BLOCK = re.compile(r"^=== (?!PART )([A-Z][A-Z ]*?) ===[ \t]*$", re.M)
# Unfilled template tokens: jinja leftovers, TODO, [XX]/[AGENT]-style and [lower case] tokens.
# Priority tags such as [P1] are content, and "[text](url)" is a markdown link.
_PLACEHOLDER = re.compile(
    r"\{\{.*?\}\}|\{%.*?%\}|\bTODO\b|\[(?!P[0-3]\])[A-Z][A-Z0-9_-]*\]|\[[a-z][a-z0-9 _-]*\](?!\()"
)

# Part 2's reading list: "1. <path> (why)"; and any path-like token (for the sprint's documents).
_READING_ITEM = re.compile(r"^\d+\. (\S+) \(", re.M)
_PATH_TOKEN = re.compile(r"[\w./@+-]+")


def part_header(number: int) -> str:
    """The header line of part ``number`` (1-based)."""
    return f"=== PART {number}: {PART_NAMES[number - 1]} ==="


def block_header(name: str) -> str:
    """The header line of a block inside a part, e.g. ``=== OPTIMAL PATH ===``."""
    return f"=== {name} ==="


@dataclass(frozen=True)
class Part:
    number: int
    name: str
    body: str


def split_parts(text: str) -> list[Part]:
    """The ``=== PART n: NAME ===`` sections of ``text`` in the order they appear."""
    marks = list(_PART.finditer(text))
    return [
        Part(
            int(m.group(1)),
            m.group(2),
            text[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(text)],
        )
        for i, m in enumerate(marks)
    ]


def block_names(body: str) -> list[str]:
    """Names of the ``=== NAME ===`` blocks inside one part's body, in order."""
    return [m.group(1) for m in _BLOCK.finditer(body)]


def placeholders(text: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """Unfilled placeholder tokens in ``text``; text from ``allowed`` (plan values) is ignored."""
    for value in sorted({v for v in allowed if v}, key=len, reverse=True):
        text = text.replace(value, " ")
    return list(dict.fromkeys(m.group(0) for m in _PLACEHOLDER.finditer(text)))


def lint_prompt(
    text: str,
    *,
    build_command: str,
    test_command: str,
    report_path: str,
    allowed: Iterable[str] = (),
) -> list[str]:
    """Every problem with one activation prompt (empty when it passes)."""
    problems = _part_problems(split_parts(text))
    for label, command in (("build", build_command), ("test", test_command)):
        if command not in text:
            problems.append(f"{label} command {command!r} does not appear")
    if report_path not in text:
        problems.append(f"completion report path {report_path!r} does not appear")
    for token in placeholders(text, allowed=allowed):
        problems.append(f"unfilled placeholder {token!r}")
    return problems


def named_paths(text: str, *, sprint_dir: str, worktree: Path | None = None) -> list[str]:
    """The repository-relative paths a prompt tells its agent to read: every entry of part 2's
    reading list, and every path under the sprint's folder (its documents), wherever it is named.
    Absolute paths inside ``worktree`` (the style of some tools) count by their relative part."""
    found = []
    context = next((p for p in split_parts(text) if p.number == 2), None)
    if context is not None:
        found += _READING_ITEM.findall(context.body)
    prefix = sprint_dir.rstrip("/") + "/"
    tokens = (_relative(t.rstrip(".,;:"), worktree) for t in _PATH_TOKEN.findall(text))
    found += [t for t in tokens if t.startswith(prefix) and len(t) > len(prefix)]
    return list(dict.fromkeys(_relative(p, worktree) for p in found))


def missing_paths(
    text: str,
    *,
    present: Collection[str],
    sprint_dir: str,
    worktree: Path | None = None,
    outputs: Collection[str] = (),
) -> list[str]:
    """Problems for every path the prompt names that will not exist in the agent's worktree when
    its session starts: ``present`` is what the worktree will hold (the base branch's files plus
    the sprint documents placed into it); ``outputs`` are files agents write (reports, findings)."""
    return [
        f"names {p!r}, which will not exist in the agent's worktree when its session starts"
        for p in named_paths(text, sprint_dir=sprint_dir, worktree=worktree)
        if p not in present and p not in outputs
    ]


def _relative(path: str, worktree: Path | None) -> str:
    root = f"{worktree}/" if worktree is not None else None
    return path[len(root):] if root and path.startswith(root) else path


def lint_counts(*, agents: int, prompts: int, task_docs: int) -> list[str]:
    """Problems when prompts, task docs and dispatched agents are not one-to-one."""
    if agents == prompts == task_docs:
        return []
    return [
        f"{agents} dispatched agent(s) but {prompts} prompt(s) and {task_docs} task doc(s); "
        "every dispatched agent needs exactly one of each"
    ]


def _part_problems(parts: list[Part]) -> list[str]:
    found = [(p.number, p.name) for p in parts]
    expected = list(enumerate(PART_NAMES, start=1))
    problems = []
    missing = [f"PART {n}: {name}" for n, name in expected if (n, name) not in found]
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if len(found) != len(set(found)):
        problems.append("a part appears more than once")
    present = [pair for pair in found if pair in expected]
    if not missing and present != expected:
        problems.append(f"parts out of order: {', '.join(str(n) for n, _ in present)}")
    unknown = [f"PART {n}: {name}" for n, name in found if (n, name) not in expected]
    if unknown:
        problems.append(f"unknown part header(s): {', '.join(unknown)}")
    execution = next((p for p in parts if p.number == EXECUTION_PART), None)
    if execution is not None:
        blocks = [b for b in block_names(execution.body) if b in STYLE_BLOCKS]
        absent = [b for b in STYLE_BLOCKS if b not in blocks]
        if absent:
            problems.append(f"part {EXECUTION_PART} lacks style block(s): {', '.join(absent)}")
        elif blocks != list(STYLE_BLOCKS):
            problems.append(
                f"style blocks out of order in part {EXECUTION_PART}: {', '.join(blocks)}"
            )
    return problems
