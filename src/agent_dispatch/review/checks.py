"""The automated RED TEAM checks, run on every agent branch against its merge base with the base.

Checks (severity): territory audit (HIGH); a file changed by more than one branch (MEDIUM, HIGH
outside the changer's territory, LOW for a shared file its policy allows); secrets in added
lines, and in commits of the branch that a later commit removed them from (CRITICAL, HIGH for
heuristic hits); deleted test files, removed test definitions and new
skip/disable markers (HIGH); placeholders in added lines (MEDIUM); new dependencies (MEDIUM
runtime, LOW otherwise); binary or large files (MEDIUM). Each check turns facts into draft
findings; `run_checks` numbers them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import git
from agent_dispatch.naming.context import SprintContext
from agent_dispatch.plan.model import Agent, Plan
from agent_dispatch.plan.roster import NON_MERGING_ROLES, base_role
from agent_dispatch.plan.territory import territory_violations
from agent_dispatch.plan.validate import effective_merge_order
from agent_dispatch.review import dependencies, patterns, secret_scan
from agent_dispatch.review.findings import Finding, number_findings

LARGE_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class BranchDiff:
    """What one agent's branch changes since its merge base with the base."""

    agent: Agent
    branch: str
    base: str  # the merge base commit
    tip: str  # the branch tip commit
    files: tuple[git.FileDiff, ...]
    numstat: dict[str, tuple[int | None, int | None]]
    allowed: tuple[str, ...] = ()  # paths the agent may always write (its completion report)

    @property
    def paths(self) -> list[str]:
        """Changed paths, the allowed ones left out."""
        return [f.path for f in self.files if f.path not in self.allowed]

    def file(self, path: str) -> git.FileDiff | None:
        """The diff of ``path`` (None when the branch does not change it)."""
        return next((f for f in self.files if f.path == path), None)

    def first_added_line(self, path: str) -> int | None:
        """The first added line of ``path``, for findings about a whole file."""
        diff = self.file(path)
        return diff.added[0][0] if diff and diff.added else None


def reviewable_agents(plan: Plan, context: SprintContext) -> list[Agent]:
    """The dispatched agents whose branches are reviewed (all but RED TEAM and ORCHESTRATOR), in
    merge order; agents the merge order leaves out follow in wave order."""
    names = [c.name for c in context.dispatched_agents() if base_role(c.role) not in NON_MERGING_ROLES]
    order = [n for n in effective_merge_order(plan) if n in names]
    return [plan.agent(n) for n in order + [n for n in names if n not in order]]


def load_branch(root: Path, agent: Agent, branch: str, base: str, *, allowed: Sequence[str] = ()) -> BranchDiff | None:
    """Read ``branch`` against its merge base with ``base``; None when the branch does not exist."""
    tip = git.try_rev_parse(root, branch)
    if tip is None:
        return None
    fork = git.merge_base(root, base, tip) or tip
    return BranchDiff(agent, branch, fork, tip, tuple(git.diff_lines(root, fork, tip)),
                      git.numstat(root, fork, tip), tuple(allowed))


_IMPACT = {
    "Territory Violation": "Merge conflicts, or one agent silently undoing another's work.",
    "Security": "Anyone who can read the repository or its history gets the credential.",
    "Test Integrity": "A regression the removed or skipped test would catch ships unnoticed.",
    "Placeholder": "Unfinished code paths reach the base branch.",
    "Dependency": "More supply-chain and licence surface; install size and conflicts.",
    "Binary": "Repository size grows for every clone, forever; binary changes cannot be reviewed.",
}


def _draft(branch: BranchDiff, severity: str, category: str, file: str, line: int | None, title: str,
           description: str, recommendation: str) -> Finding:
    reproduction = f"git diff {branch.base[:12]}...{branch.branch} -- {file}"
    return Finding("", severity, category, branch.agent.name, branch.branch, file, line, title,
                   description, recommendation, "automated", reproduction, _IMPACT.get(category, ""))


def _code_files(branch: BranchDiff) -> Iterable[git.FileDiff]:
    """Changed files that hold code, not prose or sprint artefacts."""
    return (f for f in branch.files if f.path not in branch.allowed
            and not patterns.is_prose(f.path) and not patterns.is_artefact(f.path))


def check_territory(plan: Plan, branch: BranchDiff) -> list[Finding]:
    """HIGH for every changed file outside the agent's territory (shared-file policies apply)."""
    removed = {p: r or 0 for p, (_, r) in branch.numstat.items()}
    include = ", ".join(branch.agent.territory.include)
    out = []
    for path, owner in territory_violations(plan, branch.agent, branch.paths, allowed=branch.allowed,
                                            removed_lines=removed):
        out.append(_draft(branch, "HIGH", "Territory Violation", path, branch.first_added_line(path),
                          f"{path} is outside {branch.agent.name}'s territory",
                          f"The branch changes {path}; {branch.agent.name}'s territory is {include}."
                          + (f" It belongs to {owner}." if owner else " No agent owns it."),
                          f"Revert the change on {branch.branch}" + (f" and hand it to {owner}." if owner else ".")))
    return out


def check_overlaps(plan: Plan, branches: Sequence[BranchDiff]) -> list[Finding]:
    """One finding per branch for each file that more than one branch changes."""
    changers: dict[str, list[BranchDiff]] = defaultdict(list)
    for branch in branches:
        for path in branch.paths:
            changers[path].append(branch)
    shared = {s.path for s in plan.shared_files}
    out = []
    for path, group in sorted(changers.items()):
        if len(group) < 2:
            continue
        for branch in group:
            names = [b.agent.name for b in group if b is not branch]
            others = ", ".join(names)
            verb = "changes" if len(names) == 1 else "change"
            removed = {path: branch.numstat.get(path, (0, 0))[1] or 0}
            outside = bool(territory_violations(plan, branch.agent, [path], removed_lines=removed))
            severity = "HIGH" if outside else "LOW" if path in shared else "MEDIUM"
            note = (" outside its territory" if outside else
                    " (a shared file; merge both sets of changes)" if path in shared else "")
            out.append(_draft(branch, severity, "Territory Violation", path, branch.first_added_line(path),
                              f"{path} is also changed by {others}",
                              f"{branch.agent.name} changes {path}{note}; {others} {verb} it too, so the "
                              "merges can conflict or one change can silently undo the other.",
                              "Merge both sets of additions and run the install and the tests after both."
                              if path in shared and not outside else
                              "Keep the territorial owner's version and let the other agent redo its part "
                              "through the owner; run the tests after merging both."))
    return out


def check_secrets(branch: BranchDiff, hits: Iterable[secret_scan.SecretHit]) -> list[Finding]:
    """CRITICAL (HIGH for heuristic hits) for every added line with a suspected secret (``hits``:
    the scan of the branch diff's added lines)."""
    out = []
    for hit in hits:
        kinds = ", ".join(hit.types)
        out.append(_draft(branch, hit.severity, "Security", hit.path, hit.line,
                          f"Possible secret ({kinds}) in added line",
                          f"detect-secrets reports {kinds} at {hit.path}:{hit.line} (value digest "
                          f"sha256:{hit.digest}; the value is not repeated here).",
                          "Remove the secret from the branch history, rotate it, and read it from the "
                          "environment or a secret store; if it is a test fixture, accept the finding "
                          "with that reason."))
    return out


def check_secret_history(root: Path, branch: BranchDiff,
                         at_tip: Iterable[secret_scan.SecretHit]) -> list[Finding]:
    """Secrets that a commit of the branch added and a later one removed: the tip is clean, but
    landing keeps the agent's commits reachable from the base branch, so the value ships anyway.
    ``at_tip``: the hits in the branch diff (reported by :func:`check_secrets`)."""
    commits = git.commit_diffs(root, branch.base, branch.tip)
    if len(commits) < 2:
        return []  # one commit: its lines are the branch diff, which check_secrets scanned
    # One scan for all commits: each commit's files under a folder named after it (file names,
    # which the scanner's filters look at, stay the same).
    added = {f"{sha}/{path}": lines for sha, files in commits for path, lines in _added(files).items()}
    order = {sha: n for n, (sha, _) in enumerate(commits)}
    hits = sorted(secret_scan.scan_added_lines(added),
                  key=lambda h: (order[h.path.split("/", 1)[0]], h.path, h.line))
    out, seen = [], {hit.digest for hit in at_tip}
    for commit_hit in hits:
        sha, path = commit_hit.path.split("/", 1)
        hit = dataclasses.replace(commit_hit, path=path)
        if hit.digest in seen or hit.severity == "MEDIUM":
            continue
        seen.add(hit.digest)
        kinds = ", ".join(hit.types)
        draft = _draft(branch, hit.severity, "Security", hit.path, hit.line,
                       f"Possible secret ({kinds}) in the branch history, removed at the tip",
                       f"Commit {sha[:12]} adds {kinds} at {hit.path}:{hit.line} (value digest "
                       f"sha256:{hit.digest}); a later commit removes it, but landing the branch keeps "
                       "every commit of it reachable from the base branch.",
                       f"Rewrite {branch.branch} so no commit holds the value (e.g. `git reset --soft "
                       f"{branch.base[:12]}` and commit again), and rotate the secret.")
        out.append(dataclasses.replace(draft, reproduction=f"git show {sha[:12]} -- {hit.path}"))
    return out


def _added(files: Iterable[git.FileDiff]) -> dict[str, list[tuple[int, str]]]:
    return {f.path: list(f.added) for f in files if f.added and not f.binary}


def check_tests(branch: BranchDiff) -> list[Finding]:
    """HIGH for deleted test files, removed test definitions and new skip/disable markers."""
    out = []
    defined_anywhere: set[str] = set()
    for diff in branch.files:
        defined_anywhere |= set(patterns.test_definitions(diff.path, list(diff.added)))
    for diff in _code_files(branch):
        if diff.status == "D" and patterns.is_test_path(diff.path):
            out.append(_draft(branch, "HIGH", "Test Integrity", diff.path, None, f"Test file {diff.path} deleted",
                              f"The branch deletes the test file {diff.path} ({len(diff.removed)} lines).",
                              "Restore the tests, or record why they are obsolete when accepting."))
            continue
        for name, line in sorted(patterns.test_definitions(diff.path, list(diff.removed)).items()):
            if name not in defined_anywhere:
                out.append(_draft(branch, "HIGH", "Test Integrity", diff.path, line, f"Test {name} removed",
                                  f"The test {name} (line {line} of {diff.path} at the base) is removed and "
                                  "not defined again anywhere on the branch.",
                                  "Restore the test, or fix the code so it passes."))
        for line, text in diff.added:
            marker = patterns.skip_marker(diff.path, text)
            if marker:
                out.append(_draft(branch, "HIGH", "Test Integrity", diff.path, line, f"Test disabled with {marker}",
                                  f"Added line {line} of {diff.path} skips or disables tests: `{text.strip()[:120]}`.",
                                  "Make the test pass instead of skipping it, or accept with the reason."))
    return out


def check_placeholders(branch: BranchDiff) -> list[Finding]:
    """MEDIUM for TODO/FIXME/XXX/HACK, NotImplementedError, stubs and "not implemented" in added lines."""
    out = []
    for diff in _code_files(branch):
        for line, text in diff.added:
            label = patterns.placeholder(text)
            if label:
                out.append(_draft(branch, "MEDIUM", "Placeholder", diff.path, line, f"Placeholder ({label}) added",
                                  f"Added line {line} of {diff.path}: `{text.strip()[:120]}`.",
                                  "Finish the work or park the chain with a reason; no placeholders on merge."))
    return out


def check_dependencies(root: Path, branch: BranchDiff) -> list[Finding]:
    """MEDIUM for a new runtime dependency, LOW for a new dev/optional/build/indirect one."""
    out = []
    for diff in branch.files:
        if diff.status == "D" or dependencies.manifest_kind(diff.path) is None:
            continue
        old = git.show_file(root, branch.base, diff.path)
        new = git.show_file(root, branch.tip, diff.path)
        added = dict(diff.added)
        for name, group in dependencies.new_dependencies(diff.path, old, new):
            severity = "MEDIUM" if group == "runtime" else "LOW"
            out.append(_draft(branch, severity, "Dependency", diff.path, dependencies.line_of(name, added),
                              f"New {group} dependency {name}",
                              f"{diff.path} adds the {group} dependency {name}.",
                              "Justify it in the completion report (INT-23): why it is needed and why "
                              "nothing already in the project does the job."))
    return out


def check_binaries(root: Path, branch: BranchDiff) -> list[Finding]:
    """MEDIUM for binary files and files over 1 MiB the branch adds or changes."""
    candidates = [f.path for f in branch.files if f.status != "D"]
    sizes = git.blob_sizes(root, branch.tip, candidates)
    out = []
    for path in candidates:
        binary = branch.numstat.get(path, (0, 0)) == (None, None)
        size = sizes.get(path, 0)
        if not binary and size <= LARGE_FILE_BYTES:
            continue
        kind = "Large binary file" if binary and size > LARGE_FILE_BYTES else "Binary file" if binary else "Large file"
        out.append(_draft(branch, "MEDIUM", "Binary", path, None, f"{kind} {path} ({size:,} bytes)",
                          f"The branch adds or changes {path}, {size:,} bytes" + (", binary." if binary else "."),
                          "Keep generated or large artefacts out of the repository (build them, or use "
                          "Git LFS); accept if the file belongs in the source tree."))
    return out


def check_branch(root: Path, plan: Plan, branch: BranchDiff) -> list[Finding]:
    """All single-branch checks on ``branch`` (drafts, not numbered)."""
    secrets = secret_scan.scan_added_lines(_added(branch.files))
    return (check_territory(plan, branch) + check_secrets(branch, secrets)
            + check_secret_history(root, branch, secrets) + check_tests(branch) + check_placeholders(branch) + check_dependencies(root, branch) + check_binaries(root, branch))


def load_branches(root: Path, plan: Plan, context: SprintContext, *, base: str | None = None,
                  bases: Mapping[str, str] | None = None) -> list[BranchDiff]:
    """The reviewable agents' branches that exist, in merge order.

    Each branch is compared with its merge base with ``bases[agent]`` when given (the commit the
    engine created the branch from: with ``wave_base: merged`` later waves start from a base that
    already holds earlier waves), else with ``base`` (default: the plan's base branch).
    """
    base = base or plan.sprint.base_branch
    out = []
    for agent in reviewable_agents(plan, context):
        ctx = context.agent(agent.name)
        branch = load_branch(root, agent, ctx.branch, (bases or {}).get(agent.name, base), allowed=[ctx.report])
        if branch is not None:
            out.append(branch)
    return out


def run_checks(root: Path, plan: Plan, context: SprintContext, *, base: str | None = None,
               bases: Mapping[str, str] | None = None, branches: Sequence[BranchDiff] | None = None) -> list[Finding]:
    """Every automated check on every reviewable branch, numbered ``RT-XX-001``... in a stable order
    (branch in merge order, then severity, category, file, line).

    ``base`` and ``bases`` are as in `load_branches`. Pass ``branches`` (from `load_branches`) to
    reuse diffs already read.
    """
    branches = list(branches) if branches is not None else load_branches(root, plan, context, base=base, bases=bases)
    drafts = [f for branch in branches for f in check_branch(root, plan, branch)]
    drafts += check_overlaps(plan, branches)
    return number_findings(drafts, plan.sprint.id, agent_order=[b.agent.name for b in branches])
