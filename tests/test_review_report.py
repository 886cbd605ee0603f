"""red-team-findings.md: render → parse round trip, reviewer-written forms, invalid findings."""

from __future__ import annotations

from agent_dispatch.review.findings import Finding, merge_findings, number_findings, overall_recommendation
from agent_dispatch.review.report import agent_aliases, parse_findings, render_findings, split_location

BRANCHES = [("data", "sprint-01/data"), ("backend", "sprint-01/backend"), ("frontend", "sprint-01/frontend")]


def sample() -> list[Finding]:
    drafts = [
        Finding("", "CRITICAL", "Security", "backend", "sprint-01/backend", "app/api/keys.py", 3,
                "Possible secret (AWS Access Key) in added line", "detect-secrets reports AWS Access Key | twice",
                "Rotate it.\nRead it from the environment.", "automated", "git diff abc...sprint-01/backend -- app/api/keys.py",
                "Credential leak", ""),
        Finding("", "HIGH", "Edge Case", "backend", "sprint-01/backend", "app/api/views.py", 12,
                "sell() accepts quantity 0", "No lower bound on `quantity`.", "Reject quantity < 1.", "reviewer",
                "sell(inv, '1', 0)", "Negative stock", "tests/test_adv.py:test_zero_quantity"),
        Finding("", "LOW", "Territory Violation", "data", "sprint-01/data", "tests/__init__.py", None,
                "tests/__init__.py is outside data's territory", "", "", "automated"),
    ]
    return number_findings(drafts, "sprint-01", agent_order=[a for a, _ in BRANCHES])


def test_render_has_the_req_8_03_shape():
    text = render_findings(sample(), sprint_id="sprint-01", branches=BRANCHES, date="2025-05-01",
                           territories={"data": "app/models/"})
    for heading in ("## Summary", "## Findings by Agent Branch", "### sprint-01/backend", "## Regression Test Results",
                    "## Territory Violations", "## Merge Recommendations", "## Severity Reference"):
        assert heading in text
    assert "- Branches reviewed: 3 of 3" in text and "- CRITICAL (blocks merge): 1" in text
    assert "- Merge recommendation: BLOCKED" in text
    assert "#### RT-01-002: Possible secret (AWS Access Key) in added line" in text
    assert "| sprint-01/backend | BLOCKED | RT-01-002, RT-01-003 |" in text
    assert "| sprint-01/frontend | CLEAR | none |" in text
    assert "| data | `tests/__init__.py` | app/models/ | YES |" in text
    assert "### sprint-01/frontend\n\nNo findings." in text


def test_render_then_parse_gives_the_same_findings():
    findings = sample()
    text = render_findings(findings, sprint_id="sprint-01", branches=BRANCHES)
    parsed = parse_findings(text, sprint_id="sprint-01")
    assert parsed.invalid == [] and parsed.warnings == []
    assert parsed.findings == findings


def test_parse_reviewer_sections_with_aliases_and_loose_fields():
    text = """# RED TEAM Findings — Sprint 01

## Findings by Agent Branch

### Agent B — backend (sprint-01/backend)

#### RT-01-007: Discount accepts 150 %
| Field | Value |
|---|---|
| **Severity** | 🔴 **High** |
| **Category** | edge case |
| **File** | `app/pricing.py` (line 44) |
| **Description** | apply_discount(9.99, 150) returns a negative price |
| **Reproduction** | `python -c "..."` |

#### RT-01-008 — Token logged
- **Severity**: critical
- **File**: app/log.py#L9
- **Adversarial Test**: tests/test_log.py:test_no_token

#### RT-01-009: No severity here
- **File**: app/x.py:1

### sprint-01/data

#### RT-01-010: Missing file
**Severity:** MEDIUM

#### RT-[XX]-NNN: Title
| **Severity** | CRITICAL |
"""
    aliases = {"backend": "backend", "b": "backend", "agent b": "backend", "sprint-01/backend": "backend",
               "data": "data", "sprint-01/data": "data"}
    parsed = parse_findings(text, sprint_id="sprint-01", agents=aliases)
    by_id = {f.id: f for f in parsed.findings}
    assert set(by_id) == {"RT-01-007", "RT-01-008"}
    high = by_id["RT-01-007"]
    assert (high.severity, high.category, high.file, high.line, high.agent, high.branch, high.source) == (
        "HIGH", "Edge Case", "app/pricing.py", 44, "backend", "sprint-01/backend", "reviewer")
    assert high.title == "Discount accepts 150 %" and high.reproduction.startswith("`python")
    critical = by_id["RT-01-008"]
    assert (critical.severity, critical.file, critical.line, critical.title) == ("CRITICAL", "app/log.py", 9, "Token logged")
    assert critical.test == "tests/test_log.py:test_no_token"
    invalid = {i.id: i.reason for i in parsed.invalid}
    assert invalid == {"RT-01-009": "no severity (CRITICAL/HIGH/MEDIUM/LOW)", "RT-01-010": "no file"}
    assert [i.line for i in parsed.invalid] == [21, 26]
    assert parsed.warnings == ["RT-01-007: HIGH without adversarial test (REQ-8.05)",
                               "RT-01-008: CRITICAL without reproduction (REQ-8.05)"]


def test_parse_short_table_form():
    text = """## Findings

| ID | Severity | Agent | File | Description | Reproduction | Test name | Recommendation |
|----|----------|-------|------|-------------|--------------|-----------|----------------|
| RT-01-004 | HIGH | backend | app/api.py:17 | Race on stock \\| counter | two sells at once | tests/t.py:test_race | lock it |
| RT-01-005 | LOW | frontend | app/cli.py:3 | Typo in help | run --help | — | fix typo |
| RT-01-006 | HIGH | nobody | app/cli.py:3 | Who? | — | — | — |
| RT-01-007 | MEDIUM | backend | — | No file | — | — | — |
"""
    parsed = parse_findings(text, sprint_id="sprint-01", agents={"backend": "backend", "frontend": "frontend"})
    assert [(f.id, f.severity, f.agent, f.file, f.line) for f in parsed.findings] == [
        ("RT-01-004", "HIGH", "backend", "app/api.py", 17), ("RT-01-005", "LOW", "frontend", "app/cli.py", 3)]
    race = parsed.findings[0]
    assert race.description == "Race on stock | counter" and race.test == "tests/t.py:test_race"
    assert race.title == "Race on stock | counter" and race.branch == "sprint-01/backend"
    assert {i.id: i.reason for i in parsed.invalid} == {"RT-01-006": "names no known agent branch",
                                                        "RT-01-007": "no file"}


def test_split_location_forms():
    assert split_location("`a/b.py:12`") == ("a/b.py", 12)
    assert split_location("a/b.py:12-20") == ("a/b.py", 12)
    assert split_location("a/b.py#L7") == ("a/b.py", 7)
    assert split_location("a/b.py, line 3") == ("a/b.py", 3)
    assert split_location("a/b.py") == ("a/b.py", None)
    assert split_location("—") == ("", None)


def test_merge_findings_keeps_reviewer_ids_and_renumbers_clashes():
    automated = sample()
    reviewer = [
        Finding("RT-01-002", "HIGH", "Security", "backend", "sprint-01/backend", "app/x.py", 1, "Clash", source="reviewer"),
        Finding("RT-01-010", "MEDIUM", "Edge Case", "data", "sprint-01/data", "app/y.py", 2, "Own id", source="reviewer"),
        Finding("", "LOW", "Edge Case", "data", "sprint-01/data", "app/z.py", 3, "No id", source="reviewer"),
        automated[0],  # the reviewer repeated an automated finding
    ]
    merged = merge_findings(automated, reviewer, "sprint-01")
    assert [f.id for f in merged] == ["RT-01-001", "RT-01-002", "RT-01-003", "RT-01-010", "RT-01-011", "RT-01-012"]
    assert [f.title for f in merged[3:]] == ["Own id", "Clash", "No id"]
    assert overall_recommendation(merged) == "BLOCKED"


def test_agent_aliases_from_sprint_context(tmp_path):
    from test_review_checks import load, review_repo

    _, context = load(review_repo(tmp_path))
    aliases = agent_aliases(context.agents)
    backend = context.agent("backend")
    assert aliases["backend"] == aliases[backend.branch] == aliases[f"agent {backend.letter.lower()}"] == "backend"
    assert aliases[backend.codename.lower()] == "backend" and aliases["red team"] == "red-team"


def test_short_table_right_after_a_finding_section_is_read_too():
    text = """### sprint-01/backend

#### RT-01-007: sell() accepts quantity 0
- **Severity**: HIGH
- **File**: `app/api/views.py:12`
- **Adversarial Test**: `tests/test_adv.py:test_zero`

| ID | Severity | Agent | File | Description | Reproduction | Test name | Recommendation |
|----|----------|-------|------|-------------|--------------|-----------|----------------|
| RT-01-008 | CRITICAL | backend | app/api/auth.py:40 | Token compared with == | timing | t.py:test_ct | compare_digest |
"""
    parsed = parse_findings(text, sprint_id="sprint-01")
    assert [(f.id, f.severity, f.location, f.test) for f in parsed.findings] == [
        ("RT-01-007", "HIGH", "app/api/views.py:12", "tests/test_adv.py:test_zero"),
        ("RT-01-008", "CRITICAL", "app/api/auth.py:40", "t.py:test_ct")]
