"""What the line-based RED TEAM checks look for: test files, test definitions, skip markers, placeholders.

Plain data and tiny predicates, so the lists can grow without touching the checks.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

# Prose: these files describe patterns rather than use them (docs, reports, notes).
PROSE_SUFFIXES = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc", ".org", ".html", ".htm"})
# The sprint's own artefacts (task docs, completion reports, findings) are never audited as code.
ARTEFACT_PREFIXES = ("docs/agent-dispatch/",)

_TEST_NAME = re.compile(
    r"(^test_.*\.py$|.*_test\.py$|^conftest\.py$|.*_test\.go$|.*\.(test|spec)\.[cm]?[jt]sx?$"
    r"|.*_spec\.rb$|.*_test\.rb$|^test_.*\.rb$|.*Tests?\.(java|kt|cs|swift)$|.*_test\.(c|cc|cpp|exs)$)"
)
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "specs", "testing", "e2e"})


def is_prose(path: str) -> bool:
    """True for documentation-like files, where a pattern is usually being talked about."""
    return PurePosixPath(path).suffix.lower() in PROSE_SUFFIXES


def is_artefact(path: str) -> bool:
    """True for the sprint's generated or agent-written documents."""
    return path.startswith(ARTEFACT_PREFIXES)


def is_test_path(path: str) -> bool:
    """True when ``path`` looks like a test file (by name or by a test directory)."""
    pure = PurePosixPath(path)
    if is_prose(path):
        return False
    return bool(_TEST_NAME.match(pure.name)) or any(part in _TEST_DIRS for part in pure.parts[:-1])


_JS_RUBY = frozenset({".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".rb", ".coffee"})
_RUBY = frozenset({".rb"})

# (regex, label, file suffixes it applies to or None for any, only in test files). Conditional
# skips (skipif, skipIf, skipUnless) are left alone: they are routine for platform differences.
SKIP_MARKERS: tuple[tuple[re.Pattern[str], str, frozenset[str] | None, bool], ...] = (
    (re.compile(r"@pytest\.mark\.skip\b(?!if)"), "@pytest.mark.skip", None, False),
    (re.compile(r"@pytest\.mark\.xfail\b"), "@pytest.mark.xfail", None, False),
    (re.compile(r"\bpytest\.skip\s*\("), "pytest.skip()", None, False),
    (re.compile(r"\bunittest\.skip\b(?![A-Za-z])"), "unittest.skip", None, False),
    (re.compile(r"@unittest\.expectedFailure\b"), "unittest.expectedFailure", None, False),
    (re.compile(r"\bself\.skipTest\s*\("), "self.skipTest()", None, False),
    (re.compile(r"\b(?:it|test|describe|context|suite)\.skip\s*\("), ".skip()", _JS_RUBY, False),
    (re.compile(r"\b(?:it|test|describe|context|suite)\.only\s*\("), ".only() (disables every other test)",
     _JS_RUBY, False),
    (re.compile(r"(?<![.\w])x(?:it|test|describe|context|specify)\b"), "x-prefixed test", _JS_RUBY, True),
    (re.compile(r"(?<![.\w])f(?:it|describe|context)\s*\("), "focused test (disables every other test)",
     _JS_RUBY, True),
    (re.compile(r"\b[tb]\.Skip(?:f|Now)?\s*\("), "t.Skip()", frozenset({".go"}), False),
    (re.compile(r"#\[ignore\b"), "#[ignore]", frozenset({".rs"}), False),
    (re.compile(r"@Disabled\b"), "@Disabled", None, False),
    (re.compile(r"@Ignore\b"), "@Ignore", None, False),
    (re.compile(r"\[(?:Fact|Theory|Test)\s*\(\s*Skip\s*="), "Skip= attribute", frozenset({".cs"}), False),
    (re.compile(r"^\s*(?:pending|skip)\b(?:\s*\(|\s+['\"]|\s*$)"), "pending/skip", _RUBY, True),
)

# Test definitions (in test files) whose removal is reported; each has a ``name`` group.
TEST_DEFINITIONS: tuple[re.Pattern[str], ...] = (
    re.compile(r"^\s*(?:async\s+)?def\s+(?P<name>test\w*)\b"),
    re.compile(r"^\s*class\s+(?P<name>Test\w*)\b"),
    re.compile(r"^\s*func\s+(?P<name>(?:Test|Benchmark|Fuzz|Example)\w*)\s*\("),
    re.compile(r"^\s*(?:it|test|specify|scenario)\s*\(?\s*(?P<q>['\"`])(?P<name>.+?)(?P=q)"),
)
# Annotation-style tests (Rust, Java, Kotlin, C#): the marker line, then the function line.
TEST_ATTRIBUTES = re.compile(r"^\s*(?:#\[(?:\w+::)?test\b|@(?:Test|ParameterizedTest)\b|\[(?:Fact|Theory|Test)\b)")
FUNCTION_NAME = re.compile(r"\bfn\s+(?P<name>\w+)|(?P<jname>\w+)\s*\(")

PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(?:TODO|FIXME|XXX|HACK)\b"), "TODO/FIXME/XXX/HACK marker"),
    (re.compile(r"\bNotImplemented(?:Error|Exception)\b"), "NotImplementedError"),
    (re.compile(r"\b(?:todo|unimplemented)!\s*\("), "todo!/unimplemented! macro"),
    (re.compile(r"(?:#|//|/\*)\s*stub\b", re.I), "stub comment"),
    (re.compile(r"\bnot\s+(?:yet\s+)?implemented\b", re.I), "\"not implemented\""),
)


def skip_marker(path: str, line: str) -> str | None:
    """The label of the skip/disable marker on ``line`` of ``path``, or None."""
    test_file, suffix = is_test_path(path), PurePosixPath(path).suffix.lower()
    for pattern, label, suffixes, tests_only in SKIP_MARKERS:
        if (test_file or not tests_only) and (suffixes is None or suffix in suffixes) and pattern.search(line):
            return label
    return None


def placeholder(line: str) -> str | None:
    """The label of the placeholder on ``line``, or None."""
    for pattern, label in PLACEHOLDERS:
        if pattern.search(line):
            return label
    return None


def test_definitions(path: str, lines: list[tuple[int, str]]) -> dict[str, int]:
    """Test names defined in ``lines`` of ``path`` → the line number of the definition.

    Function-style tests count in test files only; attribute-style tests (``#[test]``,
    ``@Test``) count anywhere, named by the function on the next line.
    """
    found: dict[str, int] = {}
    test_file = is_test_path(path)
    by_number = dict(lines)
    for number, text in lines:
        if test_file:
            for pattern in TEST_DEFINITIONS:
                match = pattern.match(text)
                if match:
                    found.setdefault(match["name"], number)
                    break
        if TEST_ATTRIBUTES.match(text):
            for following in range(number + 1, number + 4):
                name = _function_name(by_number.get(following, ""))
                if name:
                    found.setdefault(name, number)
                    break
    return found


def _function_name(text: str) -> str | None:
    if not text.strip() or TEST_ATTRIBUTES.match(text) or text.strip().startswith(("#[", "@", "[")):
        return None
    match = FUNCTION_NAME.search(text)
    return (match["name"] or match["jname"]) if match else None
