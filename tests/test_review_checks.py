"""Automated RED TEAM checks on real agent branches: each planted problem is found at its file and
line, clean branches give nothing, numbering is stable."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from agent_dispatch import git as gitlib
from agent_dispatch.naming.context import SprintContext, build_context
from agent_dispatch.plan.loader import load_plan
from agent_dispatch.plan.model import Plan
from agent_dispatch.review import checks
from agent_dispatch.review.context import write_review_context
from agent_dispatch.review.findings import Finding
from conftest import git, make_repo

PLAN = Path("docs/agent-dispatch/sprints/sprint-01/dispatch.yaml")
AWS_KEY = "AKIAZ3MSJV4WPIXQ7KD2"
GITHUB_TOKEN = "ghp_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
PRIVATE_KEY_HEADER = "-----BEGIN RSA " + "PRIVATE KEY-----"

BASE_FILES = {
    "app/__init__.py": "", "app/api/__init__.py": "", "app/models/__init__.py": "", "app/web/__init__.py": "",
    "app/api/views.py": "def list_users():\n    return []\n",
    "app/models/user.py": "class User:\n    name = ''\n",
    "app/web/page.py": "def page():\n    return '<p>'\n",
    "tests/test_api.py": "def test_one():\n    assert True\n\n\ndef test_two():\n    assert True\n",
    "tests/test_models.py": "def test_model():\n    assert True\n",
    "requirements.txt": "requests==2.31\n",
    "package.json": '{"devDependencies": {}}\n',
    "README.md": "# proj\n",
}


def _chain(fix_site: str) -> dict:
    return {"id": "chain-1", "priority": "P1", "title": f"Fix {fix_site}", "vector": "app.main() → app.api.views.list_users()",
            "signal": "list_users() returns [] with 3 users stored", "fix_site": fix_site,
            "verify": "`python -c 'import app'` exits 0"}


def _agent(name: str, role: str, include: list[str]) -> dict:
    return {"name": name, "role": role, "territory": {"include": include},
            "chains": [_chain(include[0])] if role != "RED TEAM" else []}


def review_repo(tmp_path: Path) -> Path:
    """A project with five agents (backend, data, qa, frontend, red-team) and nothing on their branches yet."""
    repo = tmp_path / "proj"
    for path, content in BASE_FILES.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(content)
    plan = {"sprint": {"id": "sprint-01", "theme": "review test", "base_branch": "main",
                       "build_command": "python -m compileall -q app", "test_command": "python -m pytest -q"},
            "agents": [_agent("backend", "BACKEND", ["app/api/"]), _agent("data", "DATA", ["app/models/", "package.json"]),
                       _agent("qa", "QA", ["tests/"]), _agent("frontend", "FRONTEND", ["app/web/"]),
                       _agent("red-team", "RED TEAM", ["docs/agent-dispatch/"])],
            "shared_files": [{"path": "requirements.txt", "owner": "data", "policy": "add-only"}],
            "waves": [{"number": 1, "agents": ["data", "qa"]},
                      {"number": 2, "agents": ["backend", "frontend"], "depends_on": [1]},
                      {"number": 4, "agents": ["red-team"], "depends_on": [2]}],
            "merge_order": ["data", "backend", "frontend", "qa"]}
    (repo / PLAN).parent.mkdir(parents=True, exist_ok=True)
    YAML().dump(plan, repo / PLAN)
    return make_repo(repo)


def load(repo: Path) -> tuple[Plan, SprintContext]:
    plan = load_plan(repo / PLAN).plan
    return plan, build_context(plan, repo, sprint_dir=str(PLAN.parent))


def commit_branch(repo: Path, agent: str, files: dict[str, str | bytes | None], *, report: bool = True) -> None:
    """Create ``sprint-01/<agent>`` from main with ``files`` written (None deletes) and its report."""
    plan, context = load(repo)
    git(repo, "checkout", "-q", "-b", f"sprint-01/{agent}", "main")
    if report:
        files = {**files, context.agent(agent).report: "# Report\nStatus: COMPLETE\nTODO: nothing\n"}
    for path, content in files.items():
        target = repo / path
        if content is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"{agent} work")
    git(repo, "checkout", "-q", "main")


KEYS = f'"""Keys."""\n\nAWS = "{AWS_KEY}"\n\nPEM = """{PRIVATE_KEY_HEADER}"""\n\nTOKEN = "{GITHUB_TOKEN}"\n'
VIEWS = ("def list_users():\n    # TODO: handle errors\n    return []\n\n\ndef delete_user(uid):\n"
         "    raise NotImplementedError\n\n\ndef audit():\n    pass  # stub\n")
QA_API = ("import pytest\n\n\ndef test_one():\n    assert True\n\n\n@pytest.mark.skip(reason='flaky')\n"
          "def test_three():\n    assert True\n")
WEB_TEST = "describe('users', () => {\n  it.skip('lists users', () => {});\n  xit('pages', () => {});\n});\n"


def plant(repo: Path) -> None:
    """One branch per kind of problem, plus a clean one (frontend) and the RED TEAM's own."""
    commit_branch(repo, "backend", {
        "app/api/views.py": VIEWS, "app/api/keys.py": KEYS,
        "app/models/user.py": "class User:\n    name = ''\n    email = ''\n",  # data's territory
        "app/api/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64),
        "app/api/big.json": "[" + ",".join(["1"] * 600_000) + "]\n",
        "requirements.txt": "requests==2.31\nflask>=3\n",  # shared add-only: allowed, but a new dependency
        "README.md": "# proj\n\nTODO: write docs\n",  # prose: no placeholder finding; lead's territory: violation
    })
    commit_branch(repo, "data", {
        "app/models/user.py": "class User:\n    name = ''\n    age = 0\n",
        "requirements.txt": "requests==2.31\nsqlalchemy>=2\n",
        "package.json": '{"devDependencies": {\n  "jest": "^29"\n}}\n',
    })
    commit_branch(repo, "qa", {"tests/test_api.py": QA_API, "tests/test_models.py": None,
                               "tests/web.test.js": WEB_TEST})
    commit_branch(repo, "frontend", {"app/web/page.py": "def page():\n    return '<p>users</p>'\n"})
    commit_branch(repo, "red-team", {"app/api/views.py": "# red team must not be reviewed\n"}, report=False)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> tuple[Path, list[Finding]]:
    repo = review_repo(tmp_path_factory.mktemp("review"))
    plant(repo)
    plan, context = load(repo)
    return repo, checks.run_checks(repo, plan, context)


def find(findings: list[Finding], agent: str, category: str, file: str) -> list[Finding]:
    return [f for f in findings if (f.agent, f.category, f.file) == (agent, category, file)]


def test_clean_branch_and_red_team_branch_give_no_findings(planted):
    _, findings = planted
    assert not [f for f in findings if f.agent in ("frontend", "red-team")]
    assert all(f.source == "automated" and f.branch == f"sprint-01/{f.agent}" for f in findings)


def test_territory_audit_names_file_and_first_added_line(planted):
    _, findings = planted
    [violation] = [f for f in find(findings, "backend", "Territory Violation", "app/models/user.py")
                   if "territory" in f.title and "also changed" not in f.title]
    assert violation.severity == "HIGH" and violation.line == 3
    readme = [f for f in find(findings, "backend", "Territory Violation", "README.md") if f.severity == "HIGH"]
    assert readme and readme[0].line == 2
    assert not find(findings, "backend", "Territory Violation", "requirements.txt") or all(
        f.severity == "LOW" for f in find(findings, "backend", "Territory Violation", "requirements.txt"))


def test_file_changed_by_two_branches(planted):
    _, findings = planted
    overlap = {f.agent: f for f in findings if f.file == "app/models/user.py" and "also changed" in f.title}
    assert overlap["backend"].severity == "HIGH"  # outside its territory
    assert overlap["data"].severity == "MEDIUM" and overlap["data"].line == 3
    shared = {f.agent: f.severity for f in findings if f.file == "requirements.txt" and "also changed" in f.title}
    assert shared == {"backend": "LOW", "data": "LOW"}  # a shared add-only file both may extend


def test_secrets_found_by_detect_secrets_at_their_lines(planted):
    _, findings = planted
    secrets = {f.line: f for f in find(findings, "backend", "Security", "app/api/keys.py")}
    assert set(secrets) == {3, 5, 7}
    assert all(f.severity == "CRITICAL" for f in secrets.values())
    assert "AWS Access Key" in secrets[3].title and "Private Key" in secrets[5].title
    assert "GitHub Token" in secrets[7].title
    assert all(AWS_KEY not in f.description and GITHUB_TOKEN not in f.description for f in secrets.values())


def test_deleted_removed_and_skipped_tests(planted):
    _, findings = planted
    integrity = {(f.file, f.line, f.title) for f in findings if f.category == "Test Integrity"}
    assert ("tests/test_models.py", None, "Test file tests/test_models.py deleted") in integrity
    assert ("tests/test_api.py", 5, "Test test_two removed") in integrity  # line at the base
    assert ("tests/test_api.py", 8, "Test disabled with @pytest.mark.skip") in integrity
    assert ("tests/web.test.js", 2, "Test disabled with .skip()") in integrity
    assert ("tests/web.test.js", 3, "Test disabled with x-prefixed test") in integrity
    assert all(f.severity == "HIGH" and f.agent == "qa" for f in findings if f.category == "Test Integrity")


def test_placeholders_in_code_but_not_in_prose_or_reports(planted):
    _, findings = planted
    placeholders = {(f.file, f.line) for f in findings if f.category == "Placeholder"}
    assert placeholders == {("app/api/views.py", 2), ("app/api/views.py", 7), ("app/api/views.py", 11)}
    assert all(f.severity == "MEDIUM" for f in findings if f.category == "Placeholder")


def test_new_dependencies_named_with_group(planted):
    _, findings = planted
    deps = {(f.agent, f.file, f.line, f.title, f.severity) for f in findings if f.category == "Dependency"}
    assert deps == {("backend", "requirements.txt", 2, "New runtime dependency flask", "MEDIUM"),
                    ("data", "requirements.txt", 2, "New runtime dependency sqlalchemy", "MEDIUM"),
                    ("data", "package.json", 2, "New dev dependency jest", "LOW")}


def test_binary_and_large_files(planted):
    _, findings = planted
    binaries = {f.file: f.title for f in findings if f.category == "Binary"}
    assert binaries["app/api/logo.png"].startswith("Binary file")
    assert binaries["app/api/big.json"].startswith("Large file")
    assert all(f.severity == "MEDIUM" and f.line is None for f in findings if f.category == "Binary")


def test_ids_are_sequential_and_stable_across_runs(planted):
    repo, findings = planted
    assert [f.id for f in findings] == [f"RT-01-{n:03d}" for n in range(1, len(findings) + 1)]
    plan, context = load(repo)
    again = checks.run_checks(repo, plan, context)
    assert again == findings
    order = [f.agent for f in findings]
    assert order == sorted(order, key=["data", "backend", "qa"].index)  # merge order
    first_backend = [f.severity for f in findings if f.agent == "backend"]
    assert first_backend[0] == "CRITICAL"


def test_review_context_has_diffs_reports_and_findings(planted, tmp_path):
    repo, findings = planted
    plan, context = load(repo)
    branches = checks.load_branches(repo, plan, context)
    path = write_review_context(repo, context, branches, findings, tmp_path / "ctx.md", max_diff_chars=2000)
    text = path.read_text()
    assert [b.branch for b in branches] == ["sprint-01/data", "sprint-01/backend", "sprint-01/frontend", "sprint-01/qa"]
    assert "## sprint-01/qa" in text and "tests/test_models.py" in text
    assert "+@pytest.mark.skip(reason='flaky')" in text  # the diff itself
    assert "Status: COMPLETE" in text  # completion reports, read from the branch tip
    assert findings[0].id in text and f"from RT-01-{len(findings) + 1:03d} on" in text
    assert "more characters left out" in text  # backend's diff is over the cap
    assert "red-team" not in [b.agent.name for b in branches]


def test_missing_branch_is_skipped_and_base_can_be_a_commit(tmp_path):
    repo = review_repo(tmp_path)
    start = gitlib.rev_parse(repo, "main")
    commit_branch(repo, "frontend", {"app/web/page.py": "def page():\n    return ''  # FIXME\n"})
    plan, context = load(repo)
    findings = checks.run_checks(repo, plan, context, base=start)
    assert [(f.agent, f.category, f.line) for f in findings] == [("frontend", "Placeholder", 2)]
    assert dataclasses.replace(findings[0], id="") != findings[0]


def test_per_branch_base_leaves_out_work_landed_before_the_branch_started(tmp_path):
    repo = review_repo(tmp_path)
    start = gitlib.rev_parse(repo, "main")
    commit_branch(repo, "data", {"app/models/user.py": "class User:\n    name = ''  # HACK\n"})
    git(repo, "merge", "-q", "--ff-only", "sprint-01/data")  # wave 1 landed (wave_base: merged)
    fork = gitlib.rev_parse(repo, "main")
    commit_branch(repo, "frontend", {"app/web/page.py": "def page():\n    return '<p>'  # XXX\n"})
    plan, context = load(repo)
    wrong = checks.run_checks(repo, plan, context, base=start)
    assert ("frontend", "app/models/user.py") in {(f.agent, f.file) for f in wrong}
    right = checks.run_checks(repo, plan, context, base=start, bases={"frontend": fork})
    assert {(f.agent, f.file, f.line) for f in right} == {("data", "app/models/user.py", 2),
                                                          ("frontend", "app/web/page.py", 2)}


def test_secret_removed_later_is_still_found_in_the_branch_history(tmp_path: Path):
    """The tip is clean, but the multi-parent landing keeps every agent commit reachable."""
    repo = review_repo(tmp_path)
    commit_branch(repo, "backend", {"app/api/keys.py": f'AWS = "{AWS_KEY}"\n'})
    git(repo, "checkout", "-q", "sprint-01/backend")
    (repo / "app/api/keys.py").write_text('import os\n\nAWS = os.environ["AWS"]\n')
    git(repo, "commit", "-qam", "read the key from the environment")
    first = git(repo, "rev-parse", "sprint-01/backend~1").strip()
    # frontend adds a token and keeps it: reported once, by the tip check, not again from history
    git(repo, "checkout", "-q", "-b", "sprint-01/frontend", "main")
    (repo / "app/web/token.py").write_text(f'TOKEN = "{GITHUB_TOKEN}"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "token")
    (repo / "app/web/page.py").write_text("def page():\n    return '<p>x</p>'\n")
    git(repo, "commit", "-qam", "page")
    git(repo, "checkout", "-q", "main")
    plan, context = load(repo)
    findings = checks.run_checks(repo, plan, context)

    [history] = find(findings, "backend", "Security", "app/api/keys.py")
    assert history.severity == "CRITICAL" and history.line == 1
    assert "branch history" in history.title and first[:12] in history.description
    assert history.reproduction == f"git show {first[:12]} -- app/api/keys.py"
    assert AWS_KEY not in history.description + history.recommendation
    token = find(findings, "frontend", "Security", "app/web/token.py")
    assert len(token) == 1 and "history" not in token[0].title


def test_findings_differing_only_in_line_keep_their_own_ids_across_runs(tmp_path: Path):
    """Two placeholders in one file share a fingerprint; each keeps its own id, run after run."""
    from agent_dispatch.review.findings import stable_ids

    repo = review_repo(tmp_path)
    twice = "def a():\n    # TODO: errors\n    return 1\n\n\ndef b():\n    # TODO: errors\n    return 2\n"
    commit_branch(repo, "backend", {"app/api/views.py": VIEWS, "app/api/more.py": twice})
    plan, context = load(repo)
    drafts = [dataclasses.replace(f, id="") for f in checks.run_checks(repo, plan, context)]
    first = stable_ids(drafts, [], "sprint-01")
    again = stable_ids(drafts, first, "sprint-01")
    placeholders = [f for f in first if f.category == "Placeholder"]
    assert len(placeholders) == 5 and len({f.id for f in placeholders}) == 5
    assert [f.id for f in again] == [f.id for f in first]
    assert len({f.id for f in first}) == len(first)


def test_review_pass_records_findings_once_and_decides_gate4(planted, tmp_path):
    """review.run.review_branches, the pass the engine and `dispatch review` share, as a plain call."""
    from agent_dispatch.review.run import review_branches
    from agent_dispatch.store.log import EventLog

    repo, findings = planted
    plan, context = load(repo)
    with EventLog(tmp_path / "events.db", sprint="sprint-01") as log:
        dry = review_branches(repo, plan, context, log, record=False)
        assert log.read(types=["finding"]) == []
        first = review_branches(repo, plan, context, log)
        assert first.findings == dry.findings
        assert {(f.agent, f.category, f.file, f.line) for f in first.findings} == \
            {(f.agent, f.category, f.file, f.line) for f in findings}
        recorded = len(log.read(types=["finding"]))
        assert recorded == len(findings)
        again = review_branches(repo, plan, context, log)
        assert again.findings == first.findings and len(log.read(types=["finding"])) == recorded
        assert [b.agent.name for b in first.branches] == ["data", "backend", "frontend", "qa"]
        assert not first.decisions["backend"].allowed and first.decisions["frontend"].allowed
        only = review_branches(repo, plan, context, log, agents=["frontend"])
        assert [b.agent.name for b in only.branches] == ["frontend"] and list(only.decisions) == ["frontend"]
        later = review_branches(repo, plan, context, log, skip={"backend"}, record=False)
        assert "backend" not in later.decisions and all(f.agent != "backend" for f in later.findings)
