"""Load ``dispatch.yaml`` keeping line numbers, so every problem names file, line, column, field."""

from __future__ import annotations

import io
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydantic
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from agent_dispatch.errors import PlanError, Problem
from agent_dispatch.plan.model import NAME_PATTERN, Plan

Loc = Sequence[str | int]


@dataclass(frozen=True)
class LoadedPlan:
    """A plan together with where each of its values was written."""

    path: str
    plan: Plan
    document: Any = field(repr=False, compare=False)
    warnings: tuple[Problem, ...] = ()

    def problem(self, loc: Loc, message: str, *, severity: str = "error") -> Problem:
        """A problem pointing at the value at ``loc`` (or the closest enclosing one)."""
        line, col = locate(self.document, loc)
        return Problem(self.path, line, col, field_name(loc), message, severity)  # type: ignore[arg-type]


def field_name(loc: Loc) -> str:
    """``("agents", 2, "chains", 0, "priority")`` → ``agents[2].chains[0].priority``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(plan)"


def locate(document: Any, loc: Loc) -> tuple[int, int]:
    """1-based (line, column) of the value at ``loc``; falls back to the nearest parent."""
    node, line, col = document, 0, 0
    if isinstance(node, (CommentedMap, CommentedSeq)):
        line, col = node.lc.line, node.lc.col
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line, col = node.lc.value(part) if node[part] is not None else node.lc.key(part)
            if not isinstance(node[part], (CommentedMap, CommentedSeq)) or node[part] is None:
                node = node[part]
                continue
            child = node[part]
            # A block mapping/sequence starts on the line after its key: point at the key.
            line, col = node.lc.key(part)
            node = child
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            line, col = node.lc.item(part)
            node = node[part]
        else:
            break
    return line + 1, col + 1


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def parse_yaml(text: str, path: str) -> Any:
    """Parse YAML text, turning syntax errors into a :class:`PlanError` with the position."""
    try:
        return _yaml().load(io.StringIO(text))
    except MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = (e.problem or "invalid YAML").strip()
        if e.context:
            what = f"{e.context.strip()}: {what}"
        raise PlanError([Problem(path, line, col, "(yaml)", f"YAML syntax error: {what}")]) from e
    except YAMLError as e:
        raise PlanError([Problem(path, 1, 1, "(yaml)", f"YAML error: {e}")]) from e
    except TypeError as e:
        # ruamel.yaml builds a complex mapping key (`? [a]: b`, `? : -`) and fails to hash it
        raise PlanError([Problem(path, 1, 1, "(yaml)", "YAML error: a mapping key must be a plain value, "
                                                       "not a list or a mapping")]) from e


_MESSAGES = {
    "missing": "required field is missing",
    "string_too_short": "must not be empty",
    "too_short": "must not be empty",
}


def _message(error: Any, loc: Loc) -> str:
    kind = error["type"]
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    got = error.get("input")
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"got {got!r}; expected one of {expected}"
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern")
        if pattern == NAME_PATTERN:
            return (f"got {got!r}; names are used in branch and directory names: use lowercase "
                    "letters, digits and '-' (e.g. 'backend')")
        return f"got {got!r}; must match {pattern}"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return f"expected a mapping, got {type(got).__name__} {got!r}"
    if kind in {"list_type", "tuple_type"}:
        return f"expected a list, got {type(got).__name__} {got!r}"
    return f"{error['msg'][0].lower()}{error['msg'][1:]} (got {got!r})"


def _clean_loc(document: Any, loc: Loc) -> list[str | int]:
    """Drop pydantic's internal union/validator tags from ``loc``, keeping real keys."""
    out: list[str | int] = []
    node = document
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            out.append(part)
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif node is None and isinstance(part, str) and not out:
            out.append(part)
    return out


def _model_of(annotation: Any) -> type[pydantic.BaseModel] | None:
    """The pydantic model inside ``annotation`` (through Optional, tuple, Annotated), if any."""
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _model_of(typing.get_args(annotation)[0])
    if origin in (tuple, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found:
                return found
    return None


def _unknown_keys(node: Any, model: type[pydantic.BaseModel], loc: list[str | int]):
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _unknown_keys(item, model, [*loc, i])
        return
    if not isinstance(node, dict):
        return
    fields = model.model_fields
    for key, value in node.items():
        if key not in fields:
            yield [*loc, key], f"unknown field {key!r} is ignored (known: {', '.join(fields)})"
            continue
        sub = _model_of(fields[key].annotation)
        if sub is not None:
            yield from _unknown_keys(value, sub, [*loc, key])


def load_text(text: str, path: str = "dispatch.yaml") -> LoadedPlan:
    """Parse and schema-check a plan; raise :class:`PlanError` listing every problem found."""
    document = parse_yaml(text, path)
    if document is None:
        raise PlanError([Problem(path, 1, 1, "(plan)", "the plan is empty")])
    if not isinstance(document, CommentedMap):
        raise PlanError([Problem(path, 1, 1, "(plan)",
                                 "the plan must be a mapping with keys sprint, agents, waves")])
    data = _plain(document)
    warnings = [
        Problem(path, *locate(document, loc), field_name(loc), msg, "warning")
        for loc, msg in _unknown_keys(data, Plan, [])
    ]
    try:
        plan = Plan.model_validate(data)
    except pydantic.ValidationError as e:
        problems = []
        for error in e.errors():
            loc = _clean_loc(data, error["loc"])
            line, col = locate(document, loc)
            problems.append(Problem(path, line, col, field_name(loc), _message(error, loc)))
        raise PlanError(sorted(set(problems)) + warnings) from None
    return LoadedPlan(path, plan, document, tuple(warnings))


def load_plan(path: str | Path) -> LoadedPlan:
    """Read and schema-check the plan file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError([Problem(str(path), 1, 1, "(file)", "plan file not found")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise PlanError([Problem(str(path), 1, 1, "(file)", f"cannot read plan: {e}")]) from None
    return load_text(text, str(path))


def dump_plan(plan: Plan) -> str:
    """The plan as YAML text that loads back into an equal plan."""
    data = plan.model_dump(mode="json", exclude_none=True)
    data["sprint"]["success_criteria"] = [
        c["text"] if set(c) == {"text"} else c for c in data["sprint"]["success_criteria"]
    ]
    return dump_yaml(data)


def dump_yaml(data: dict) -> str:
    """Plain data as block-style YAML text, one value a line (no wrapping)."""
    stream = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.default_flow_style = False
    yaml.width = 4096
    yaml.dump(data, stream)
    return stream.getvalue()
