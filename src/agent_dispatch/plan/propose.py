"""Territory proposal for ``dispatch init``: one owner per tracked file (REQ-2.15, REQ-1.23).

Candidate patterns per role, from the most to the least trusted source:

3. framework presets, when a framework marker exists (``svelte.config.js``, ``next.config.js``);
2. the roster's stack presets (``STACK_PRESETS``), prefixed with the folder of each service in a
   multi-service repository;
1. module names, for flat layouts where one file is one layer (``bookshop/store.py``): the stems
   in ``MODULE_STEMS`` with any source extension, and the folders in ``HINT_DIRS``. They are not
   applied inside test, docs, example or vendored folders;
0. the roster's generic defaults, the INFRA/LEAD/DESIGN presets and ``EXTRA_PATTERNS``.

Each file goes to the role whose matching pattern is the most specific: exact file > glob >
deeper folder > shallower folder; ties go to the more trusted source, then by ``ROLE_ORDER``
(so a test file matched equally by QA and by a layer goes to QA). Only the patterns that won a
file are written; a role whose patterns also cover files it lost gets the winner's pattern (or
the exact path) in ``territory.exclude``. Dependency manifests and lockfiles become
``shared_files`` (REQ-1.25). Files nothing matches stay unassigned and are listed.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from agent_dispatch.plan.roster import (
    DESIGN_PRESET,
    EXTRA_PATTERNS,
    FRAMEWORK_ALIASES,
    FRAMEWORK_PRESETS,
    HINT_DIRS,
    INFRA_PRESET,
    LEAD_PRESET,
    LOCKFILES,
    MODULE_STEMS,
    ROLES,
    SHARED_MANIFESTS,
    STACK_PRESETS,
)
from agent_dispatch.plan.stack import Stack
from agent_dispatch.plan.territory import TerritoryMatcher

CODING_ROLES = frozenset({"DATA", "BACKEND", "SERVICES", "FRONTEND"})
ROLE_ORDER = ("QA", "DESIGN", "INFRA", "DATA", "BACKEND", "SERVICES", "FRONTEND", "LEAD")
SOURCE_EXTS = (".py", ".go", ".rs", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".vue", ".svelte", ".rb",
               ".ex", ".exs", ".java", ".kt", ".php", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs", ".swift")

HINT_SKIP_DIRS = frozenset({"tests", "test", "spec", "__tests__", "docs", "examples", "example", "samples",
                            "vendor", "third_party", "node_modules", "testdata", "fixtures", "migrations"})
# Entry points: printing is their job, and tests rarely import them.
ENTRY_STEMS = frozenset({"cli", "main", "__main__", "manage", "index", "server", "app"})
SKIPPED_PREFIX = "docs/agent-dispatch/"  # the tool's own sprint files: every agent may write them


@dataclass(frozen=True)
class Candidate:
    role: str
    pattern: str
    rank: int  # 3 framework preset, 2 stack preset, 1 module name, 0 generic default, -1 fallback


@dataclass
class Proposal:
    """Who owns what: territories per role, shared files, and the files nobody owns."""

    territories: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # role → include/exclude
    owners: dict[str, str] = field(default_factory=dict)  # file → role
    shared: dict[str, str] = field(default_factory=dict)  # path → policy (owner chosen by the caller)
    unassigned: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def files_of(self, role: str) -> list[str]:
        """The tracked files ``role`` owns, sorted."""
        return sorted(f for f, r in self.owners.items() if r == role)


def specificity(pattern: str) -> tuple[int, int]:
    """REQ-1.23 order: (3 exact file | 2 glob | 1 folder, depth of the literal part)."""
    parts = [p for p in pattern.strip("/").split("/") if p != "**"]
    depth = len(parts) - 1
    if any(c in pattern for c in "*?["):
        return 2, depth
    return (1, depth) if pattern.endswith("/") else (3, depth)


def in_skip_dir(path: str) -> bool:
    """True for paths inside test, docs, example or vendored folders (``HINT_SKIP_DIRS``)."""
    return bool(set(path.split("/")[:-1]) & HINT_SKIP_DIRS)


class FileIndex:
    """Tracked files indexed by path component, so each pattern is tested only where it can match
    (a literal segment of a gitignore pattern must equal a component of the path)."""

    def __init__(self, files: Sequence[str]) -> None:
        self.files = list(files)
        self.by_part: dict[str, list[str]] = defaultdict(list)
        for f in self.files:
            for part in set(f.split("/")):
                self.by_part[part].append(f)

    def matches(self, pattern: str) -> list[str]:
        """Files matching the gitignore-style ``pattern`` (same semantics as territories)."""
        parts = pattern.strip("/").split("/")
        literals = [p for p in parts if p and p != "**" and not set(p) & set("*?[\\")]
        pool = self.files
        if literals:
            pools = [self.by_part.get(p, []) for p in literals]
            pool = min(pools, key=len)
            if not pool:
                return []
        spec = pathspec.GitIgnoreSpec.from_lines([pattern])
        return [f for f in pool if spec.match_file(f)]


def _frameworks(files: Sequence[str]) -> list[Candidate]:
    """Framework presets, anchored at the folder holding the marker (``web/svelte.config.js``)."""
    out = []
    for f in sorted(files):
        p = PurePosixPath(f)
        preset = FRAMEWORK_PRESETS.get(FRAMEWORK_ALIASES.get(p.name, p.name))
        if preset and len(p.parts) <= 3 and not in_skip_dir(f):
            prefix = "" if len(p.parts) == 1 else f"{p.parent}/"
            out += [Candidate(role, prefix + pattern, 3) for role, ps in preset.items() for pattern in ps]
    return out


def candidates(stack: Stack, files: Sequence[str]) -> list[Candidate]:
    """Every role's candidate patterns, each with the rank of its source."""
    out = _frameworks(files)
    for part in (stack, *stack.components):
        for role, patterns in STACK_PRESETS.get(part.name, {}).items():
            out += [Candidate(role, part.path + p, 2) for p in patterns]
    exts = sorted({os.path.splitext(f)[1] for f in files} & set(SOURCE_EXTS))
    for role, stems in MODULE_STEMS.items():
        out += [Candidate(role, f"**/{stem}{ext}", 1) for stem in stems for ext in exts]
    for role, dirs in HINT_DIRS.items():
        out += [Candidate(role, d, 1) for d in dirs]
    for role in ROLE_ORDER:
        patterns = ROLES[role].territory + EXTRA_PATTERNS.get(role, ())
        patterns += {"INFRA": INFRA_PRESET, "LEAD": LEAD_PRESET, "DESIGN": DESIGN_PRESET}.get(role, ())
        out += [Candidate(role, p, 0) for p in patterns]
    return list(dict.fromkeys(out))


def _key(c: Candidate) -> tuple:
    return (*specificity(c.pattern), c.rank, -ROLE_ORDER.index(c.role))


def propose(files: Sequence[str], stack: Stack) -> Proposal:
    """Territories giving every matched tracked file exactly one owner; the rest is unassigned."""
    proposal = Proposal()
    pool = []
    for f in files:
        name = f.rsplit("/", 1)[-1]
        if f.startswith(SKIPPED_PREFIX):
            continue
        if name in LOCKFILES or name in SHARED_MANIFESTS:
            proposal.shared[f] = "any" if name in LOCKFILES else "add-only"
        else:
            pool.append(f)
    index = FileIndex(pool)
    hits = _match(index, candidates(stack, pool))
    best = _best(hits)
    if not {c.role for c in best.values()} & CODING_ROLES:  # no layer recognised: one owner for the code
        hits.update(_match(index, _whole_source(pool)))
        best = _best(hits)
        if any(c.rank < 0 for c in best.values()):
            proposal.notes.append("no layer folders or module names recognised: BACKEND owns all the "
                                  "source code; split it by feature if the sprint needs more agents")
    _territories(proposal, hits, best)
    proposal.unassigned = sorted(f for f in pool if f not in proposal.owners)
    return proposal


def _match(index: FileIndex, cands: Sequence[Candidate]) -> dict[Candidate, list[str]]:
    hits: dict[Candidate, list[str]] = {}
    for c in cands:
        found = index.matches(c.pattern)
        if c.rank == 1:
            found = [f for f in found if not in_skip_dir(f)]
        if found:
            hits[c] = found
    return hits


def _best(hits: dict[Candidate, list[str]]) -> dict[str, Candidate]:
    best: dict[str, Candidate] = {}
    for c, found in hits.items():
        for f in found:
            if f not in best or _key(c) > _key(best[f]):
                best[f] = c
    return best


def _whole_source(files: Sequence[str]) -> list[Candidate]:
    """Fallback for code without recognisable layers: BACKEND takes each top-level source folder."""
    tops = set()
    for f in files:
        if os.path.splitext(f)[1] in SOURCE_EXTS and not in_skip_dir(f):
            tops.add(f if "/" not in f else f"{f.split('/', 1)[0]}/")
    return [Candidate("BACKEND", t, -1) for t in sorted(tops)]


def _territories(proposal: Proposal, hits: dict[Candidate, list[str]], best: dict[str, Candidate]) -> None:
    won: dict[str, set[str]] = defaultdict(set)
    for f, c in best.items():
        won[c.role].add(f)
    used = set(best.values())
    for role in ROLE_ORDER:
        # the patterns that won files, plus test folders holding only QA's files (``spec/``), so
        # helpers added there later are QA's too
        whole = {c.pattern for c, found in hits.items() if role == c.role == "QA"
                 and specificity(c.pattern)[0] == 1 and won[role].issuperset(found)}
        include = sorted({c.pattern for c in used if c.role == role} | whole)
        if not include:
            continue
        covered = {f for c in hits if c.role == role and c.pattern in include for f in hits[c]}
        exclude: set[str] = set()
        clean: dict[Candidate, bool] = {}  # the winner's pattern takes none of this role's files
        for f in sorted(covered - won[role]):
            winner = best[f]
            if winner not in clean:
                clean[winner] = won[role].isdisjoint(hits[winner])
            exclude.add(winner.pattern if clean[winner] else f)
        folders = [p for p in include if specificity(p)[0] == 1]
        if role in CODING_ROLES and folders:
            # tests and stories created later inside this role's folders belong to QA / DESIGN
            exclude |= {c.pattern for c in used if c.role in {"QA", "DESIGN"} and _name_glob(c.pattern)
                        and any(_may_meet(f, c.pattern) for f in folders) and won[role].isdisjoint(hits[c])}
        include = [p for p in include if not any(_inside(p, q) for q in include if q != p)]
        proposal.territories[role] = {"include": include, "exclude": sorted(exclude)}
    matchers = {r: TerritoryMatcher(tuple(t["include"]), tuple(t["exclude"]))
                for r, t in proposal.territories.items()}
    for f, c in best.items():  # keep only what the written territories really give (one owner each)
        owners = [r for r, m in matchers.items() if m.owns(f)]
        if owners == [c.role]:
            proposal.owners[f] = c.role
        elif len(owners) > 1:
            raise AssertionError(f"territory proposal gives {f!r} to {owners}")


def _name_glob(pattern: str) -> bool:
    """Globs that pick files by a name affix (``**/*_test.go``, ``test_*.py``, ``*.stories.tsx``)."""
    last = pattern.rstrip("/").rsplit("/", 1)[-1]
    return not pattern.endswith("/") and last.startswith(("*", "test_"))


def _anchor(pattern: str) -> str | None:
    """The literal folder a pattern is anchored at ("" for the root), None when it floats."""
    parts = pattern.strip("/").split("/")
    if len(parts) == 1 or parts[0] == "**":
        return None
    literal = []
    for part in parts[:-1]:
        if set(part) & set("*?["):
            break
        literal.append(part)
    return "/".join(literal)


def _may_meet(folder: str, glob: str) -> bool:
    """Whether files under ``folder`` can match ``glob`` (decides if a carve-out is worth writing)."""
    anchor, start = _anchor(glob), _anchor(folder)
    if not anchor:
        return True
    if start is None:  # a floating folder name such as ``store/``
        return folder.strip("/") in anchor.split("/") or anchor.split("/")[0] == folder.strip("/")
    return folder.startswith(anchor + "/") or (anchor + "/").startswith(folder)


def _inside(pattern: str, folder: str) -> bool:
    """True when ``folder`` (a folder pattern) already covers everything ``pattern`` names."""
    if not folder.endswith("/") or set(folder + pattern) & set("*?["):
        return False
    if _anchor(folder) is None:
        return folder.strip("/") in pattern.split("/")[:-1] or pattern.startswith(folder)
    return pattern.startswith(folder)


# Deterministic scans (REQ-2.09): candidate signals with file and line, never chains by themselves.
_MARKER = re.compile(r"(?:#|//|/\*|<!--|^\s*\*|^\s*--)[^\n]*?\b(TODO|FIXME|HACK|XXX|WORKAROUND)\b\W*(.*)")
_STUB = re.compile(r"^\s*raise NotImplementedError\b|\bnot (?:yet )?implemented\b"
                   r"|\b(?:todo|unimplemented)!\(", re.I)
_SWALLOW = re.compile(r"\bcatch\s*(?:\([^)]*\))?\s*\{\s*\}|\bif err != nil \{\s*\}"
                      r"|^\s*except\s*((Base)?Exception)?\s*:\s*pass\b")
_DEBUG = re.compile(r"\bbreakpoint\(\)|\bpdb\.set_trace\(\)|^\s*debugger;?\s*$|\bdbg!\(|\bbinding\.pry\b"
                    r"|\bvar_dump\(|\bIO\.inspect\b")
_PRINT = re.compile(r"^\s*print\(|\bconsole\.log\(|\bfmt\.Print(?:ln|f)?\(")
_DEF = re.compile(r"^\s*(?:export\s+)?(?:pub(?:\([\w:]+\))?\s+)?(?:async\s+)?"
                  r"(?:def|defp|fn|func|function)\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)")
PRIORITY = {"stub": "P1", "swallowed": "P2", "FIXME": "P2", "HACK": "P2", "XXX": "P2", "WORKAROUND": "P2",
            "TODO": "P3", "debug": "P3"}
MAX_SCAN_BYTES = 512_000


@dataclass(frozen=True)
class Hit:
    """One scan finding: ``kind`` is stub, swallowed, debug or a marker word (TODO, FIXME, ...)."""

    path: str
    line: int
    kind: str
    text: str  # the source line, stripped
    detail: str  # the marker's own words, or what the scan saw
    function: str | None  # the enclosing function, when one is found above the line

    @property
    def priority(self) -> str:
        return PRIORITY.get(self.kind, "P3")


def _enclosing(lines: list[str], i: int) -> str | None:
    """The function defined on line ``i`` or on the nearest less-indented definition above it."""
    indent = len(lines[i]) - len(lines[i].lstrip())
    for j in range(i, max(-1, i - 200), -1):
        match = _DEF.match(lines[j])
        if match and (j == i or len(lines[j]) - len(lines[j].lstrip()) < indent):
            return match.group(1)
    return None


def _python_stub(lines: list[str], i: int) -> bool:
    """``pass`` as the whole body of a function (after an optional one-line docstring)."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j >= 0 and re.match(r"^\s*[rbuRBU]?(\"\"\"|''').*\1\s*$", lines[j]):
        j -= 1
    # the line before is the ``def`` itself, or the ``) -> T:`` closing a multi-line signature
    opener = j >= 0 and re.match(r"^\s*((async\s+)?def\s|\))", lines[j])
    return bool(opener) and lines[j].rstrip().endswith(":")


_CLASS = re.compile(r"^\s*class\s+\w+")
_ABSTRACT_BASE = re.compile(r"\b(ABC|ABCMeta|Protocol)\b")
_DEF_LINE = re.compile(r"^\s*(async\s+)?def\s")
_LEFT_TO_SUBCLASSES = re.compile(r"\bsubclass(es)?\b|\boverrid|\bmust\s+(be\s+)?implement", re.I)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _opener_above(lines: list[str], i: int, pattern: re.Pattern[str]) -> int | None:
    """Index of the nearest line above ``i`` matching ``pattern`` and indented less than line ``i``."""
    indent = _indent(lines[i])
    for j in range(i - 1, -1, -1):
        if lines[j].strip() and _indent(lines[j]) < indent:
            if pattern.match(lines[j]):
                return j
            if not lines[j].lstrip().startswith(("@", "#", ")")) and _indent(lines[j]) == 0:
                return None  # left the top-level statement without finding one
    return None


def _abstract(lines: list[str], i: int) -> bool:
    """Line ``i`` lies in an abstract method: one decorated ``@abstractmethod``, one whose docstring
    or error message leaves it to subclasses, or any method of an abstract class (an ABC or Protocol
    base, ``metaclass=ABCMeta``, a class with abstract methods, or one its docstring calls abstract). Its ``raise NotImplementedError`` is
    the interface, not unfinished work."""
    if any("abstractmethod" in lines[k] for k in range(max(0, i - 8), i)):
        return True
    start = _opener_above(lines, i, _DEF_LINE)
    if start is None:
        return False
    k = start - 1
    while k >= 0 and lines[k].lstrip().startswith("@"):
        if "abstract" in lines[k]:
            return True
        k -= 1
    # the docstring, or the raise's own message, leaves it to subclasses ("must be implemented")
    if any(_LEFT_TO_SUBCLASSES.search(lines[k]) for k in range(start + 1, min(len(lines), i + 4))):
        return True
    cls = _opener_above(lines, start, _CLASS)
    if cls is None:
        return False
    header = " ".join(lines[cls:cls + 3]).split(":")[0]
    if _ABSTRACT_BASE.search(header):
        return True
    # a class whose docstring calls it abstract (a plain ``object`` base used as an interface)
    if any(re.search(r"\babstract\b", line, re.I) for line in lines[cls + 1:min(start, cls + 12)]):
        return True
    body = []
    for line in lines[cls + 1:]:
        if line.strip() and _indent(line) <= _indent(lines[cls]):
            break
        body.append(line)
    return any("abstractmethod" in line for line in body)


def _documented(lines: list[str], i: int) -> bool:
    """A comment on line ``i``, on a comment line just before it or (for an ``except`` / ``catch``
    line) on the line after it says why: an intentional fallback, not a silently lost error."""
    near = [lines[i]]
    if i and re.match(r"^\s*(#|//|/\*)", lines[i - 1]):
        near.append(lines[i - 1])
    if i + 1 < len(lines) and re.match(r"^\s*(except\b|\}?\s*catch\b)", lines[i]):
        near.append(lines[i + 1])
    return any(re.search(r"(#|//|/\*)\s*\w", line) for line in near)


def _print_is_debug(path: str, text: str) -> bool:
    """print()/console.log/fmt.Print count only where the module has a logger or is a library."""
    p = PurePosixPath(path)
    if p.stem in ENTRY_STEMS or set(p.parts[:-1]) & {"scripts", "bin", "tools", "cmd", "examples"}:
        return False
    if p.suffix == ".py":
        return bool(re.search(r"^\s*(import logging|from logging|\w+ = logging\.getLogger)", text, re.M))
    if p.suffix == ".go":
        return not re.search(r"^package main\b", text, re.M)
    return p.suffix in {".js", ".jsx", ".ts", ".tsx", ".mjs", ".vue", ".svelte"}


def _classify(path: str, lines: list[str], i: int, debug_prints: bool) -> tuple[str, str] | None:
    line = lines[i]
    marker = _MARKER.search(line)
    if marker and not (line[:marker.start()].count('"') % 2 or line[:marker.start()].count("'") % 2):
        detail = re.sub(r"\s*(\*/|-->)\s*$", "", marker.group(2)).strip()
        return marker.group(1), detail or line.strip()
    if _STUB.search(line) and not (path.endswith(".py") and _abstract(lines, i)):
        return "stub", "unfinished code: " + line.strip()
    if path.endswith(".py") and re.match(r"^\s*pass\s*(#.*)?$", line):
        if _python_stub(lines, i):
            return "stub", "function body is only `pass`"
        prev = next((lines[k] for k in range(i - 1, -1, -1) if lines[k].strip()), "")
        broad = re.match(r"^\s*except\s*(\((Base)?Exception\)|(Base)?Exception)?\s*(as \w+)?:", prev)
        if not broad:
            return None
        prev_index = max(k for k in range(i) if lines[k].strip())
        documented = _documented(lines, i) or _documented(lines, prev_index)
        return None if documented else ("swallowed", "exception silently ignored")
    if _SWALLOW.search(line) and not _documented(lines, i):
        return "swallowed", "error silently ignored"
    if _DEBUG.search(line) or debug_prints and _PRINT.search(line):
        return "debug", "leftover debug output: " + line.strip()
    return None


def scan_file(root: Path, path: str) -> list[Hit]:
    """Scan hits in one tracked source file (empty for large, binary or unreadable files)."""
    if PurePosixPath(path).suffix not in SOURCE_EXTS or path.endswith(".min.js"):
        return []
    try:
        data = (root / path).read_bytes()[:MAX_SCAN_BYTES]
    except OSError:
        return []
    if b"\0" in data[:4096]:
        return []
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    debug_prints = _print_is_debug(path, text) and not re.search(r"(^|/)(tests?|spec|__tests__)/", path)
    hits = []
    for i in range(len(lines)):
        found = _classify(path, lines, i, debug_prints)
        if found:
            kind, detail = found
            hits.append(Hit(path, i + 1, kind, lines[i].strip()[:160], detail[:160], _enclosing(lines, i)))
    return hits


def scan(root: Path, proposal: Proposal, *, per_role: int = 3) -> dict[str, list[Hit]]:
    """The best scan hits per role, most urgent first, at most one per file."""
    out: dict[str, list[Hit]] = {}
    for role in proposal.territories:
        if role == "LEAD":
            continue
        found = [h for f in proposal.files_of(role) for h in scan_file(root, f)]
        found.sort(key=lambda h: (h.priority, h.path, h.line))
        seen: set[str] = set()
        picked: list[Hit] = []
        for hit in found:
            if hit.path not in seen and len(picked) < per_role:
                seen.add(hit.path)
                picked.append(hit)
        if picked:
            out[role] = picked
    return out
