"""Additive resolution of conflicts in shared dependency files (R-11).

When two agents each add dependencies to the same manifest, both sets belong in the result. The
resolution only ever adds: a conflict that would need a line removed or a version changed is not
additive, so it is left to the merge-order rule (the earlier agent wins, the later one redoes).
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

LINE_MANIFESTS = ("requirements*.txt", "requirements/*.txt", "constraints*.txt", "Gemfile", "go.mod",
                  "Pipfile", ".env.example", "Makefile")
JSON_MANIFESTS = ("package.json", "composer.json")
_JSON_SECTIONS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies", "require",
                  "require-dev", "scripts")


def is_dependency_file(path: str) -> bool:
    """True for manifests whose conflicts may be resolved additively."""
    pure = PurePosixPath(path)
    return any(pure.match(p) for p in LINE_MANIFESTS + JSON_MANIFESTS)


def resolve_additive(path: str, base: str | None, ours: str, theirs: str) -> str | None:
    """The union of both sides' additions to ``path``, or None when that is not purely additive."""
    if PurePosixPath(path).name in JSON_MANIFESTS:
        return _resolve_json(base, ours, theirs)
    return _resolve_lines(base, ours, theirs)


def _resolve_lines(base: str | None, ours: str, theirs: str) -> str | None:
    base_lines = (base or "").splitlines()
    ours_lines, theirs_lines = ours.splitlines(), theirs.splitlines()
    # Purely additive: neither side removed a line of the base.
    if not set(base_lines) <= set(ours_lines) or not set(base_lines) <= set(theirs_lines):
        return None
    merged = list(ours_lines)
    position = 0  # insert each new line of theirs after the last line both sides share before it
    for line in theirs_lines:
        if line in merged:
            position = merged.index(line) + 1
        else:
            merged.insert(position, line)
            position += 1
    return "\n".join(merged) + "\n"


def _resolve_json(base: str | None, ours: str, theirs: str) -> str | None:
    try:
        mine, other = json.loads(ours), json.loads(theirs)
        original = json.loads(base) if base else {}
    except json.JSONDecodeError:
        return None
    result = dict(mine)
    for key, value in other.items():
        if key not in result:
            result[key] = value
        elif result[key] == value:
            continue
        elif key in _JSON_SECTIONS and isinstance(value, dict) and isinstance(result[key], dict):
            section = dict(result[key])
            for name, version in value.items():
                if name in section and section[name] != version:
                    return None  # both sides pin the same package differently: not additive
                section[name] = version
            result[key] = section
        elif original.get(key) == result[key]:
            result[key] = value  # only theirs changed it
        elif original.get(key) != value:
            return None
    indent = 2 if "\n  \"" in ours else None
    return json.dumps(result, indent=indent) + ("\n" if ours.endswith("\n") else "")
