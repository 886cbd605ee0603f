"""Property tests: valid plans round-trip; mutated plans never crash the loader or validator."""

from __future__ import annotations

import copy
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from agent_dispatch.errors import PlanError, Problem
from agent_dispatch.plan.loader import dump_plan, load_text
from agent_dispatch.plan.validate import validate

# Any text a plan may hold: upper and lower case, glob characters, tabs and newlines inside,
# and characters beyond the BMP (emoji, CJK extension B).
TEXT = st.text(
    alphabet=st.one_of(st.characters(whitelist_categories=("L", "N", "P", "S", "Zs")), st.sampled_from("\t\n*?[]!")),
    min_size=1,
    max_size=30,
).map(str.strip).filter(bool)
NAME = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)
# Territory patterns are gitignore globs: upper case, `*`, `**`, `?` and classes included.
PATH = st.from_regex(r"([a-zA-Z_][a-zA-Z0-9_-]{0,5}|\*|\*\*|[a-z]\?[a-z]|\*\.[a-z]{1,3}|\[a-c\][A-Z])"
                     r"(/([a-zA-Z_][a-zA-Z0-9_-]{0,5}|\*|\*\*|[a-z]\?[a-z]|\*\.[a-z]{1,3})){0,2}/?", fullmatch=True)
ROLE = st.sampled_from(["DATA", "BACKEND", "FRONTEND", "SERVICES", "QA", "INFRA", "DESIGN", "LEAD", "ML-TRAINING"])


def chain(chain_id: str):
    return st.fixed_dictionaries(
        {
            "id": st.just(chain_id),
            "priority": st.sampled_from(["P0", "P1", "P2", "P3"]),
            "title": TEXT,
            "vector": TEXT,
            "signal": TEXT,
            "fix_site": TEXT,
            "verify": TEXT,
        },
        optional={"depends_on": st.just([]), "hypothesis": TEXT},
    )


@st.composite
def agent(draw, name: str):
    n_chains = draw(st.integers(1, 3))
    data = {
        "name": name,
        "role": draw(ROLE),
        "territory": {"include": draw(st.lists(PATH, min_size=1, max_size=3))},
        "chains": [draw(chain(f"chain-{i + 1}")) for i in range(n_chains)],
    }
    if draw(st.booleans()):
        data["territory"]["exclude"] = draw(st.lists(PATH, max_size=2))
    if draw(st.booleans()):
        data["tool"] = draw(st.sampled_from(["claude", "codex", "aider", "opencode", "gemini", "qwen"]))
    if draw(st.booleans()):
        data["letter"] = draw(st.from_regex(r"[A-Z]", fullmatch=True))
    return data


@st.composite
def plan_data(draw):
    names = draw(st.lists(NAME, min_size=1, max_size=5, unique=True))
    agents = [draw(agent(n)) for n in names]
    n_waves = draw(st.integers(1, len(names)))
    waves = [{"number": i + 1, "agents": []} for i in range(n_waves)]
    for i, name in enumerate(names):
        waves[i % n_waves]["agents"].append(name)
    for i, wave in enumerate(waves[1:], start=1):
        wave["depends_on"] = [i]
    sprint = {
        "id": draw(st.from_regex(r"sprint-[0-9]{2}", fullmatch=True)),
        "theme": draw(TEXT),
        "base_branch": "main",
        "build_command": draw(TEXT),
        "test_command": draw(TEXT),
    }
    if draw(st.booleans()):
        sprint["success_criteria"] = draw(st.lists(TEXT, max_size=3))
    if draw(st.booleans()):
        sprint["tone"] = draw(st.sampled_from(["professional", "collaborative", "maximum"]))
    return {"sprint": sprint, "agents": agents, "waves": waves, "merge_order": list(names)}


def to_yaml(data) -> str:
    stream = io.StringIO()
    YAML(typ="rt").dump(data, stream)
    return stream.getvalue()


def assert_holds(actual, expected, where: str) -> None:
    """Every value of ``expected`` (the plan as written) is in ``actual`` (the loaded model's data)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not a mapping"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} dropped on load"
            assert_holds(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{where}: {actual!r} != {expected!r}"
        for index, (got, value) in enumerate(zip(actual, expected)):
            assert_holds(got, value, f"{where}[{index}]")
    elif isinstance(expected, str) and isinstance(actual, dict) and "text" in actual:
        assert actual["text"] == expected, f"{where}: {actual!r} != {expected!r}"  # a criterion's short form
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_data())
def test_valid_plans_round_trip(data):
    loaded = load_text(to_yaml(data), "plan.yaml")
    # Against the input itself, not only a second load: a field dropped on load fails here.
    assert_holds(loaded.plan.model_dump(mode="json"), data, "plan")
    again = load_text(dump_plan(loaded.plan), "plan.yaml")
    assert again.plan == loaded.plan
    assert dump_plan(again.plan) == dump_plan(loaded.plan)


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), TEXT, st.lists(st.integers(), max_size=2),
    st.dictionaries(TEXT, st.integers(), max_size=2), st.just("../up"), st.just("/abs"), st.just("P9"),
)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _apply(data, path, op, junk):
    if not path:
        return junk if op == "replace" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = junk
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[last]))
    elif op == "unknown" and isinstance(parent, dict):
        parent[f"x_{last}"] = junk
    return data


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan_data(), st.data())
def test_mutated_plans_never_crash(data, draw):
    mutated = copy.deepcopy(data)
    for _ in range(draw.draw(st.integers(1, 3))):
        paths = list(_paths(mutated))
        path = draw.draw(st.sampled_from(paths))
        op = draw.draw(st.sampled_from(["delete", "replace", "duplicate", "unknown"]))
        mutated = _apply(mutated, path, op, draw.draw(JUNK))
    text = to_yaml(mutated)
    if draw.draw(st.booleans()):  # also damage the text itself
        at = draw.draw(st.integers(0, max(0, len(text) - 1)))
        text = text[:at] + draw.draw(st.sampled_from(["", ":", "- ", "\t", "[", "'", "{", "\n  x"])) + text[at + 3:]
    try:
        loaded = load_text(text, "plan.yaml")
    except PlanError as e:
        assert e.problems and all(isinstance(p, Problem) and p.line >= 1 for p in e.problems)
        return
    problems = validate(loaded, ["a/b.py", "c/d/e.py", "up/x", "abs"])
    assert all(isinstance(p, Problem) and p.line >= 1 and p.col >= 1 for p in problems)
