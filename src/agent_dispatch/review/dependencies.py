"""New dependencies: the names a manifest declares at the branch tip and not at the base.

Manifests are parsed (TOML, JSON, line formats), not grepped, so a reordered or reformatted file
reports nothing and a new entry is reported once, with its group: ``runtime`` dependencies ship
to users; ``dev``, ``optional`` and ``build`` ones do not.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

Deps = dict[str, str]  # normalised name → group (runtime | dev | optional | build | indirect)

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EGG = re.compile(r"#egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_GEM = re.compile(r"""^\s*gem\s+['"]([^'"]+)['"]""")
_GEM_GROUP = re.compile(r"^\s*group\s+(.+?)\s+do\b")


def manifest_kind(path: str) -> str | None:
    """Which manifest format ``path`` is (requirements, pyproject, package.json, go.mod, cargo, gemfile)."""
    name = PurePosixPath(path).name
    parent = PurePosixPath(path).parent.name
    if name.endswith(".txt") and ("requirements" in name or "constraints" in name or parent == "requirements"):
        return "requirements"
    return {"pyproject.toml": "pyproject", "package.json": "package.json", "go.mod": "go.mod",
            "Cargo.toml": "cargo", "Gemfile": "gemfile"}.get(name)


def normalize(name: str) -> str:
    """PEP 503 style: case-insensitive, runs of ``-_.`` equal (harmless for other ecosystems)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(text: str, path: str) -> Deps:
    group = "dev" if re.search(r"dev|test|lint|doc", PurePosixPath(path).name) else "runtime"
    out: Deps = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        egg = _EGG.search(line)
        if egg:
            out[normalize(egg[1])] = group
        elif not line.startswith(("-", "http:", "https:", "git+", "file:", ".", "/")):
            match = _REQ_NAME.match(line)
            if match:
                out[normalize(match[1])] = group
    return out


def _pep508_names(items: Any, group: str, out: Deps) -> None:
    for item in items if isinstance(items, list) else []:
        match = _REQ_NAME.match(item) if isinstance(item, str) else None
        if match:
            out.setdefault(normalize(match[1]), group)


def _table_keys(table: Any, group: str, out: Deps, skip: frozenset[str] = frozenset()) -> None:
    for name in table if isinstance(table, dict) else {}:
        if name not in skip:
            out.setdefault(normalize(name), group)


def _pyproject(text: str, path: str) -> Deps:
    data = tomllib.loads(text)
    out: Deps = {}
    project = data.get("project", {})
    _pep508_names(project.get("dependencies"), "runtime", out)
    for items in (project.get("optional-dependencies") or {}).values():
        _pep508_names(items, "optional", out)
    for items in (data.get("dependency-groups") or {}).values():
        _pep508_names(items, "dev", out)
    _pep508_names((data.get("build-system") or {}).get("requires"), "build", out)
    poetry = (data.get("tool") or {}).get("poetry") or {}
    _table_keys(poetry.get("dependencies"), "runtime", out, frozenset({"python"}))
    _table_keys(poetry.get("dev-dependencies"), "dev", out)
    for group in (poetry.get("group") or {}).values():
        _table_keys((group or {}).get("dependencies"), "dev", out)
    return out


def _package_json(text: str, path: str) -> Deps:
    data = json.loads(text)
    out: Deps = {}
    if isinstance(data, dict):
        for key, group in (("dependencies", "runtime"), ("peerDependencies", "runtime"),
                           ("devDependencies", "dev"), ("optionalDependencies", "optional")):
            _table_keys(data.get(key), group, out)
    return out


def _go_mod(text: str, path: str) -> Deps:
    out: Deps = {}
    block = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("require ("):
            block = True
            continue
        if block and line == ")":
            block = False
            continue
        entry = line[len("require "):].strip() if line.startswith("require ") else line if block else ""
        parts = entry.split()
        if len(parts) >= 2 and not entry.startswith("//"):
            out[parts[0]] = "indirect" if "// indirect" in entry else "runtime"
    return out


def _cargo(text: str, path: str) -> Deps:
    data = tomllib.loads(text)
    out: Deps = {}
    tables = [data] + [t for t in (data.get("target") or {}).values() if isinstance(t, dict)]
    for table in tables:
        _table_keys(table.get("dependencies"), "runtime", out)
        _table_keys(table.get("dev-dependencies"), "dev", out)
        _table_keys(table.get("build-dependencies"), "build", out)
    _table_keys((data.get("workspace") or {}).get("dependencies"), "runtime", out)
    return out


def _gemfile(text: str, path: str) -> Deps:
    out: Deps = {}
    groups: list[str] = []
    for raw in text.splitlines():
        group = _GEM_GROUP.match(raw)
        if group:
            groups.append("runtime" if ":production" in group[1] else "dev")
        elif raw.strip() == "end" and groups:
            groups.pop()
        gem = _GEM.match(raw)
        if gem:
            out.setdefault(gem[1], groups[-1] if groups else "runtime")
    return out


_PARSERS: dict[str, Callable[[str, str], Deps]] = {
    "requirements": _requirements, "pyproject": _pyproject, "package.json": _package_json,
    "go.mod": _go_mod, "cargo": _cargo, "gemfile": _gemfile,
}


def dependencies(path: str, text: str | None) -> Deps | None:
    """The dependencies ``text`` (the manifest at ``path``) declares; None when it does not parse."""
    kind = manifest_kind(path)
    if kind is None:
        return None
    if text is None:
        return {}
    try:
        return _PARSERS[kind](text, path)
    except (ValueError, TypeError, AttributeError):  # TOMLDecodeError and JSONDecodeError are ValueErrors
        return None


def new_dependencies(path: str, old: str | None, new: str | None) -> list[tuple[str, str]]:
    """(name, group) of every dependency ``new`` declares that ``old`` did not, sorted by name."""
    before, after = dependencies(path, old), dependencies(path, new)
    if after is None:
        return []
    before = before or {}
    return sorted((name, group) for name, group in after.items() if name not in before)


def line_of(name: str, added: Mapping[int, str]) -> int | None:
    """The first added line that names ``name`` (None when the name is not on an added line)."""
    pattern = re.compile(r"(?<![A-Za-z0-9_.-])" + re.escape(name).replace(r"\-", r"[-_.]") + r"(?![A-Za-z0-9_])", re.I)
    return next((n for n, text in sorted(added.items()) if pattern.search(text)), None)
