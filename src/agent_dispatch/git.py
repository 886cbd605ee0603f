"""All git knowledge lives here: one small function per question, machine-readable flags."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agent_dispatch import proc
from agent_dispatch.errors import GitError


def no_git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without GIT_* variables that would redirect git (hooks set them)."""
    keep = {"GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
            "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
            "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL",
            "GIT_TEMPLATE_DIR"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}
    if extra:
        env.update(extra)
    return env


def git(*args: str, cwd: str | Path, check: bool = True, input: str | None = None) -> proc.Result:
    """Run ``git args`` in ``cwd``; a failure becomes :class:`GitError` with git's own words."""
    result = proc.run("git", *args, cwd=cwd, env=no_git_env(), check=False, input=input)
    if check and not result.ok:
        detail = (result.stderr or result.stdout).strip()
        raise GitError(f"git {' '.join(args)} failed in {cwd}: {detail}")
    return result


def get_root(path: str | Path) -> Path:
    """Top level of the work tree containing ``path``."""
    result = git("rev-parse", "--show-toplevel", cwd=path, check=False)
    if not result.ok:
        raise GitError(f"{str(path)!r} is not inside a git repository\nhint: run `git init` first")
    return Path(result.stdout.strip())


def is_repo(path: str | Path) -> bool:
    """True when ``path`` is inside a git work tree."""
    return git("rev-parse", "--is-inside-work-tree", cwd=path, check=False).stdout.strip() == "true"


def list_tracked_files(root: str | Path) -> list[str]:
    """Every tracked file under ``root``, relative to ``root``, with forward slashes."""
    out = git("ls-files", "-z", "--cached", cwd=root).stdout
    return [p for p in out.split("\0") if p]


def current_branch(root: str | Path) -> str | None:
    """The checked-out branch name, or None when HEAD is detached or unborn."""
    result = git("symbolic-ref", "--quiet", "--short", "HEAD", cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def branch_exists(root: str | Path, branch: str) -> bool:
    """True when ``refs/heads/<branch>`` exists."""
    ref = f"refs/heads/{branch}"
    return git("show-ref", "--verify", "--quiet", ref, cwd=root, check=False).ok


# --- commits, diffs and plumbing merges used by the engine and the landing step -------------


def rev_parse(root: str | Path, rev: str) -> str:
    """The object id ``rev`` names (raises GitError when it names nothing)."""
    return git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root).stdout.strip()


def try_rev_parse(root: str | Path, rev: str) -> str | None:
    """Like :func:`rev_parse` but None when ``rev`` does not exist."""
    result = git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", cwd=root, check=False)
    return result.stdout.strip() if result.ok else None


def is_ancestor(root: str | Path, ancestor: str, descendant: str) -> bool:
    """True when ``ancestor`` is reachable from ``descendant``."""
    return git("merge-base", "--is-ancestor", ancestor, descendant, cwd=root, check=False).ok


def commits_between(root: str | Path, base: str, tip: str) -> list[str]:
    """Commit ids in ``base..tip``, oldest first."""
    out = git("rev-list", "--reverse", f"{base}..{tip}", cwd=root).stdout
    return out.split()


def changed_files(root: str | Path, base: str, tip: str) -> list[tuple[str, str]]:
    """(status letter, path) for files changed between ``base`` and ``tip`` (renames as add+delete)."""
    out = git("diff", "--no-ext-diff", "--no-renames", "--name-status", "-z", f"{base}...{tip}", cwd=root).stdout
    parts = [p for p in out.split("\0") if p]
    return [(parts[i][0], parts[i + 1]) for i in range(0, len(parts) - 1, 2)]


def shortstat(root: str | Path, base: str, tip: str) -> tuple[int, int]:
    """(lines added, lines removed) between ``base`` and ``tip``."""
    out = git("diff", "--no-ext-diff", "--numstat", f"{base}...{tip}", cwd=root).stdout
    added = removed = 0
    for line in out.splitlines():
        a, r, _ = line.split("\t", 2)
        added += int(a) if a.isdigit() else 0
        removed += int(r) if r.isdigit() else 0
    return added, removed


def uncommitted_files(worktree: str | Path) -> list[str]:
    """Paths with uncommitted changes (tracked or untracked, not ignored) in ``worktree``."""
    out = git("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=worktree).stdout
    entries = out.split("\0")
    paths, i = [], 0
    while i < len(entries):
        entry = entries[i]
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":
                i += 1  # the rename source follows
        i += 1
    return paths


def commit_all(worktree: str | Path, message: str) -> str | None:
    """Stage everything and commit with ``message``; None when there was nothing to commit.

    Hooks are skipped (``--no-verify``): this is the tool saving an agent's work, which gate 3
    audits anyway.
    """
    git("add", "-A", cwd=worktree)
    if git("diff", "--cached", "--quiet", cwd=worktree, check=False).ok:
        return None
    git("commit", "-q", "--no-verify", "-m", message, cwd=worktree)
    return rev_parse(worktree, "HEAD")


def merge_tree(root: str | Path, ours: str, theirs: str) -> tuple[str, list[str]]:
    """Merge two commits without a worktree: (tree id, conflicted paths).

    With conflicts the tree holds the conflicted files with conflict markers; callers either
    resolve them (see :func:`replace_in_tree`) or drop the merge.
    """
    result = git("merge-tree", "--write-tree", "--name-only", "--no-messages", ours, theirs, cwd=root, check=False)
    lines = result.stdout.splitlines()
    if result.returncode in (0, 1) and lines:
        return lines[0].strip(), sorted({ln for ln in lines[1:] if ln.strip()})
    raise GitError(f"git merge-tree {ours} {theirs} failed: {result.stderr.strip()}")


def merge_base(root: str | Path, a: str, b: str) -> str | None:
    """The best common ancestor of ``a`` and ``b`` (None when they share no history)."""
    result = git("merge-base", a, b, cwd=root, check=False)
    return result.stdout.strip() or None if result.ok else None


def hash_blob(root: str | Path, content: str) -> str:
    """Store ``content`` as a blob and return its id."""
    return git("hash-object", "-w", "--stdin", cwd=root, input=content).stdout.strip()


def replace_in_tree(root: str | Path, tree: str, blobs: dict[str, str]) -> str:
    """A new tree: ``tree`` with each path's content replaced by the given blob id."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        env = no_git_env({"GIT_INDEX_FILE": str(Path(tmp) / "index")})
        steps = [["read-tree", tree]] + [["update-index", "--add", "--cacheinfo", f"100644,{blob},{path}"]
                                          for path, blob in blobs.items()]
        for args in steps:
            result = proc.run("git", *args, cwd=root, env=env, check=False)
            if not result.ok:
                raise GitError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
        return proc.run("git", "write-tree", cwd=root, env=env).stdout.strip()


def commit_tree(root: str | Path, tree: str, parents: list[str], message: str) -> str:
    """Create a commit object for ``tree`` with ``parents``; returns its id."""
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    return git(*args, "-m", message, cwd=root).stdout.strip()


def tree_of(root: str | Path, rev: str) -> str:
    """The tree id of commit ``rev``."""
    return git("rev-parse", f"{rev}^{{tree}}", cwd=root).stdout.strip()


def update_ref(root: str | Path, ref: str, new: str, old: str | None = None, *, reason: str = "agent-dispatch") -> None:
    """Move ``ref`` to ``new``, atomically checking it still points at ``old`` when given."""
    args = ["update-ref", "-m", reason, ref, new]
    if old is not None:
        args.append(old)
    git(*args, cwd=root)


def checkout_detach(worktree: str | Path, commit: str) -> None:
    """Point ``worktree`` at ``commit`` (detached), discarding local changes and untracked files."""
    git("checkout", "-q", "--detach", "--force", commit, cwd=worktree)
    git("clean", "-q", "-fdx", cwd=worktree)


def fast_forward_checkout(worktree: str | Path, commit: str) -> None:
    """Fast-forward the branch checked out in ``worktree`` to ``commit``, updating its files."""
    git("merge", "-q", "--ff-only", commit, cwd=worktree)


def show_file(root: str | Path, rev: str, path: str) -> str | None:
    """Contents of ``path`` at ``rev``, or None when it does not exist there."""
    result = git("show", f"{rev}:{path}", cwd=root, check=False)
    return result.stdout if result.ok else None


def common_dir(path: str | Path) -> Path:
    """The repository's shared git directory (the main checkout's ``.git``), from any worktree."""
    out = git("rev-parse", "--path-format=absolute", "--git-common-dir", cwd=path).stdout.strip()
    return Path(out)


def add_info_exclude(root: str | Path, pattern: str) -> None:
    """Ignore ``pattern`` in this clone only (``.git/info/exclude``), never touching tracked files."""
    exclude = common_dir(root) / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    current = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if pattern not in current.splitlines():
        exclude.write_text(current + ("" if current.endswith("\n") or not current else "\n") + pattern + "\n",
                           encoding="utf-8")


def worktree_of_branch(root: str | Path, branch: str) -> Path | None:
    """The work tree that has ``branch`` checked out, if any (main checkout included)."""
    return next((w.path for w in list_worktrees(root) if w.branch == branch), None)


# --- worktrees, per-worktree config and batch plumbing used by ``workspace`` ---------------


@dataclass(frozen=True)
class Worktree:
    """One entry of ``git worktree list --porcelain``."""

    path: Path
    head: str | None
    branch: str | None  # short name (``sprint-01/data``); None when detached
    locked: bool = False
    prunable: bool = False


def list_worktrees(root: str | Path) -> list[Worktree]:
    """Every worktree of the repository, the main checkout first."""
    out = git("worktree", "list", "--porcelain", "-z", cwd=root).stdout
    result: list[Worktree] = []
    for block in out.split("\0\0"):
        fields: dict[str, str] = {}
        for item in block.split("\0"):
            key, _, value = item.partition(" ")
            if key:
                fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch", "")
        result.append(Worktree(
            path=Path(fields["worktree"]), head=fields.get("HEAD") or None,
            branch=branch.removeprefix("refs/heads/") or None,
            locked="locked" in fields, prunable="prunable" in fields,
        ))
    return result


def prune_worktrees(root: str | Path) -> None:
    """Forget worktrees whose directories were deleted by hand."""
    git("worktree", "prune", cwd=root)



def move_worktree(root: str | Path, source: str | Path, destination: str | Path) -> None:
    """Move a linked worktree (a rename, no files rewritten)."""
    git("worktree", "move", str(source), str(destination), cwd=root)


def remove_worktree(root: str | Path, path: str | Path, *, force: bool = False) -> None:
    """Delete a linked worktree and its administrative files (``force``: even with local changes)."""
    git("worktree", "remove", *(["--force"] if force else []), str(path), cwd=root)


def create_branch(root: str | Path, branch: str, start: str) -> None:
    """Create ``branch`` at ``start`` (fails when it exists)."""
    git("branch", "--no-track", branch, start, cwd=root)



def detach_head(worktree: str | Path) -> None:
    """Detach HEAD at its current commit, so the branch is free to be checked out elsewhere."""
    git("checkout", "-q", "--detach", cwd=worktree)


def clean_untracked(worktree: str | Path, *, ignored: bool) -> None:
    """Delete untracked files and directories (and ignored ones too when ``ignored``)."""
    git("clean", "-q", "-fd" + ("x" if ignored else ""), cwd=worktree)


def worktree_git_dir(worktree: str | Path) -> Path:
    """The per-worktree git directory (``.git/worktrees/<name>`` for a linked worktree)."""
    dot_git = Path(worktree) / ".git"
    if dot_git.is_file():  # "gitdir: <path>", written by `git worktree add`
        target = Path(dot_git.read_text(encoding="utf-8").partition("gitdir:")[2].strip())
        return target if target.is_absolute() else (Path(worktree) / target).resolve()
    return Path(git("rev-parse", "--absolute-git-dir", cwd=worktree).stdout.strip())


def hooks_dir(root: str | Path) -> Path:
    """Where hooks of ``root`` live without our override: ``core.hooksPath`` or ``.git/hooks``."""
    configured = get_config(root, "core.hooksPath")
    if configured:
        path = Path(configured).expanduser()
        return path if path.is_absolute() else Path(root) / path
    return common_dir(root) / "hooks"


def get_config(cwd: str | Path, key: str) -> str | None:
    """The effective value of ``key`` seen from ``cwd`` (per-worktree config included), or None."""
    result = git("config", "--get", key, cwd=cwd, check=False)
    return result.stdout.strip() if result.ok else None


def set_config(cwd: str | Path, key: str, value: str, *, worktree: bool = False) -> None:
    """Set ``key`` in the shared config, or only for the worktree at ``cwd`` when ``worktree``."""
    git("config", *(["--worktree"] if worktree else []), key, value, cwd=cwd)


def unset_config(cwd: str | Path, key: str, *, worktree: bool = False) -> None:
    """Remove ``key`` (no error when it is not set)."""
    result = git("config", *(["--worktree"] if worktree else []), "--unset-all", key, cwd=cwd, check=False)
    if result.returncode not in (0, 5):  # 5: the key was not set
        raise GitError(f"git config --unset-all {key} failed in {cwd}: {result.stderr.strip()}")


def has_commit_graph(root: str | Path) -> bool:
    """True when the repository has a commit-graph file (merge-base walks are then cheap)."""
    info = common_dir(root) / "objects" / "info"
    return (info / "commit-graph").exists() or (info / "commit-graphs" / "commit-graph-chain").exists()


def write_commit_graph(root: str | Path) -> None:
    """Write a commit-graph for every reachable commit."""
    git("commit-graph", "write", "--reachable", cwd=root)


def count_commits(root: str | Path, base: str, tip: str) -> int:
    """How many commits ``tip`` has that ``base`` has not."""
    return int(git("rev-list", "--count", f"{base}..{tip}", cwd=root).stdout.strip() or 0)


def last_commit_subject(root: str | Path, rev: str) -> str:
    """``<short id> <subject>`` of ``rev``."""
    return git("log", "-1", "--format=%h %s", rev, "--", cwd=root).stdout.strip()


def has_path(root: str | Path, rev: str, path: str) -> bool:
    """True when ``path`` exists in commit ``rev``."""
    return git("cat-file", "-e", f"{rev}:{path}", cwd=root, check=False).ok


def ref_values(root: str | Path, refs: list[str]) -> dict[str, str]:
    """Object id of each of the full ref names ``refs`` that exists (one process)."""
    if not refs:
        return {}
    out = git("for-each-ref", "--format=%(objectname) %(refname)", *refs, cwd=root).stdout
    wanted = set(refs)
    pairs = (line.split(" ", 1) for line in out.splitlines() if " " in line)
    return {ref: oid for oid, ref in pairs if ref in wanted}




def diff_many(root: str | Path, pairs: list[tuple[str, str]]) -> dict[str, list[tuple[str, str]]]:
    """(status letter, path) changed from ``old`` to ``new`` for each (old, new) commit pair, keyed
    by ``new``: one ``diff-tree --stdin`` process. Each ``new`` must appear once."""
    if not pairs:
        return {}
    lines = "".join(f"{new} {old}\n" for old, new in pairs)  # "<commit> <parent>": diff parent → commit
    out = git("diff-tree", "--stdin", "-r", "--name-status", "-z", "--no-renames", cwd=root, input=lines).stdout
    result: dict[str, list[tuple[str, str]]] = {new: [] for _, new in pairs}
    items, current, i = out.split("\0"), None, 0
    while i < len(items):
        item = items[i]
        if item in result:  # a header line: the commit the following entries belong to
            current, i = item, i + 1
        elif item and current is not None and i + 1 < len(items):
            result[current].append((item[0], items[i + 1]))
            i += 2
        else:
            i += 1
    return result


def merge_tree_many(root: str | Path, pairs: list[tuple[str, str]]) -> list[list[str] | None]:
    """Merge each (ours, theirs) pair without a worktree, all in one ``merge-tree --stdin`` process.

    Per pair: None when it merges cleanly, else the conflicted paths. Pass commit ids, not names:
    one unknown name ends the whole batch.
    """
    if not pairs:
        return []
    lines = "".join(f"{a} {b}\n" for a, b in pairs)
    result = git("merge-tree", "--stdin", "--name-only", "--no-messages", cwd=root, check=False, input=lines)
    items = result.stdout.split("\0")
    out: list[list[str] | None] = []
    i = 0
    while i + 1 < len(items) and items[i] in ("0", "1"):
        clean, i = items[i] == "1", i + 2  # status, tree id
        files: list[str] = []
        while i < len(items) and items[i]:
            files.append(items[i])
            i += 1
        i += 1  # the empty item ending this merge
        out.append(None if clean else sorted(set(files)))
    if len(out) != len(pairs):
        raise GitError(f"git merge-tree --stdin answered {len(out)} of {len(pairs)} merges: {result.stderr.strip()}")
    return out


def numstat_removed(worktree: str | Path, *args: str, index_file: str | None = None) -> dict[str, int]:
    """Lines removed per changed path for ``git diff --numstat <args>`` (-1 for binary files).

    ``index_file`` selects the index to read (a pre-commit hook passes its ``GIT_INDEX_FILE``).
    """
    counts = _numstat(worktree, args, index_file=index_file)
    return {path: -1 if removed is None else removed for path, (_, removed) in counts.items()}


def _numstat(cwd: str | Path, args: Sequence[str], *, index_file: str | None = None
             ) -> dict[str, tuple[int | None, int | None]]:
    """(lines added, lines removed) per path of ``git diff --numstat <args>``; None for binary files."""
    env = no_git_env({"GIT_INDEX_FILE": index_file} if index_file else None)
    result = proc.run("git", "diff", "--no-ext-diff", "--no-renames", "--numstat", "-z", *args,
                      cwd=cwd, env=env, check=False)
    if not result.ok:
        raise GitError(f"git diff --numstat {' '.join(args)} failed in {cwd}: {result.stderr.strip()}")
    counts: dict[str, tuple[int | None, int | None]] = {}
    for entry in result.stdout.split("\0"):
        parts = entry.split("\t", 2)
        if len(parts) == 3:
            counts[parts[2]] = (int(parts[0]) if parts[0].isdigit() else None,
                                int(parts[1]) if parts[1].isdigit() else None)
    return counts


def untracked_files(worktree: str | Path) -> list[str]:
    """Untracked, not ignored files in ``worktree``."""
    out = git("ls-files", "-z", "--others", "--exclude-standard", cwd=worktree).stdout
    return [p for p in out.split("\0") if p]


def is_merging(worktree: str | Path) -> bool:
    """True while a merge is in progress (``MERGE_HEAD`` exists; read, no git process)."""
    return (worktree_git_dir(worktree) / "MERGE_HEAD").is_file()


def is_tracked(worktree: str | Path, path: str) -> bool:
    """True when ``path`` is in the index of ``worktree``."""
    return bool(git("ls-files", "-z", "--", path, cwd=worktree).stdout.strip("\0"))


def commits_and_boundary(root: str | Path, tip: str, exclude: str) -> tuple[list[str], list[str]]:
    """(commits reachable from ``tip`` but not ``exclude``, their parents that ``exclude`` reaches)."""
    out = git("rev-list", "--boundary", tip, f"^{exclude}", cwd=root).stdout.split()
    return [c for c in out if not c.startswith("-")], [c[1:] for c in out if c.startswith("-")]


# --- diffs line by line, used by the RED TEAM checks (``review``) ------------------------------


@dataclass(frozen=True)
class FileDiff:
    """One file of ``git diff -U0``: its added and removed lines with their line numbers."""

    path: str  # the new path (the old one for a deleted file)
    status: str  # A added, M modified, D deleted
    added: tuple[tuple[int, str], ...] = ()  # (line number in the new file, text)
    removed: tuple[tuple[int, str], ...] = ()  # (line number in the old file, text)
    binary: bool = False


_DIFF_FLAGS = ("--no-ext-diff", "--no-textconv", "--no-renames", "--no-color", "--src-prefix=a/",
               "--dst-prefix=b/")


def diff_lines(root: str | Path, base: str, tip: str) -> list[FileDiff]:
    """Every file ``tip`` changes since its merge base with ``base``, with added and removed lines."""
    out = git("-c", "core.quotePath=false", "diff", *_DIFF_FLAGS, "-U0", f"{base}...{tip}", cwd=root).stdout
    return parse_diff(out)


def commit_diffs(root: str | Path, base: str, tip: str) -> list[tuple[str, list[FileDiff]]]:
    """Each non-merge commit of ``base..tip``, oldest first, with the lines it adds and removes."""
    out = git("-c", "core.quotePath=false", "log", "--reverse", "--no-merges", "-p", *_DIFF_FLAGS, "-U0",
              "--format=%x00%H", f"{base}..{tip}", cwd=root).stdout
    commits = []
    for chunk in out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        commits.append((sha.strip(), parse_diff(patch)))
    return commits


def parse_diff(text: str) -> list[FileDiff]:
    """Parse the output of ``git diff -U0 --no-renames`` (any context size works too)."""
    files: list[FileDiff] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("diff --git "):
            i += 1
            continue
        path, status, binary = _diff_header_path(lines[i]), "M", False
        added: list[tuple[int, str]] = []
        removed: list[tuple[int, str]] = []
        i += 1
        while i < len(lines) and not lines[i].startswith("diff --git "):
            line = lines[i]
            if line.startswith("new file mode"):
                status = "A"
            elif line.startswith("deleted file mode"):
                status = "D"
            elif line.startswith("Binary files "):
                binary = True
            elif line.startswith("@@ "):
                i = _read_hunk(lines, i, added, removed)
                continue
            i += 1
        files.append(FileDiff(path, status, tuple(added), tuple(removed), binary))
    return files


def _hunk_range(text: str) -> tuple[int, int]:
    """``-12,3`` or ``+7`` → (start, count); a missing count means one line."""
    start, _, count = text[1:].partition(",")
    return int(start), int(count) if count else 1


def _read_hunk(lines: list[str], i: int, added: list, removed: list) -> int:
    """Collect one hunk starting at ``lines[i]`` (``@@ -a,b +c,d @@``); returns the index after it."""
    parts = lines[i].split(" ")
    try:
        (old, old_count), (new, new_count) = _hunk_range(parts[1]), _hunk_range(parts[2])
    except (IndexError, ValueError):
        return i + 1
    i += 1
    while i < len(lines) and (old_count > 0 or new_count > 0):
        line = lines[i]
        if line.startswith("-"):
            removed.append((old, line[1:]))
            old, old_count = old + 1, old_count - 1
        elif line.startswith("+"):
            added.append((new, line[1:]))
            new, new_count = new + 1, new_count - 1
        elif line.startswith(" "):
            old, new, old_count, new_count = old + 1, new + 1, old_count - 1, new_count - 1
        elif not line.startswith("\\"):  # "\ No newline at end of file" is not a line
            break
        i += 1
    while i < len(lines) and lines[i].startswith("\\"):
        i += 1
    return i


def _diff_header_path(line: str) -> str:
    """The path of ``diff --git a/P b/P`` (both sides are equal without rename detection)."""
    rest = line[len("diff --git "):]
    if rest.startswith('"'):
        return _unquote_c(rest)[2:]
    return rest[2:2 + (len(rest) - 5) // 2] if len(rest) >= 5 else rest


_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def _unquote_c(text: str) -> str:
    """The first C-quoted string of ``text`` (git's quoting of odd paths: ``"a/x\\ty"``), unquoted."""
    out, i = bytearray(), 1
    while i < len(text) and text[i] != '"':
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt.isdigit() and text[i + 1:i + 4].isdigit():
                out.append(int(text[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_C_ESCAPES.get(nxt, ord(nxt) if ord(nxt) < 128 else 63))
            i += 2
            continue
        out += char.encode("utf-8")
        i += 1
    return out.decode("utf-8", "replace")


def numstat(root: str | Path, base: str, tip: str) -> dict[str, tuple[int | None, int | None]]:
    """(lines added, lines removed) per path changed in ``base...tip``; None twice for binary files."""
    return _numstat(root, [f"{base}...{tip}"])


def blob_sizes(root: str | Path, rev: str, paths: list[str]) -> dict[str, int]:
    """Size in bytes of each of ``paths`` in commit ``rev`` (paths missing there are left out)."""
    wanted = [p for p in paths if "\n" not in p]
    if not wanted:
        return {}
    out = git("cat-file", "--batch-check=%(objectsize)", cwd=root,
              input="".join(f"{rev}:{p}\n" for p in wanted)).stdout.splitlines()
    return {p: int(size) for p, size in zip(wanted, out) if size.strip().isdigit()}


def diff_stat(root: str | Path, base: str, tip: str) -> str:
    """``git diff --stat`` of ``base...tip``, for people and reviewer agents."""
    return git("diff", "--no-ext-diff", "--no-renames", "--no-color", "--stat=120", f"{base}...{tip}",
               cwd=root).stdout


def diff_patch(root: str | Path, base: str, tip: str) -> str:
    """The full patch of ``base...tip`` (three lines of context), for reviewer agents."""
    return git("-c", "core.quotePath=false", "diff", *_DIFF_FLAGS, f"{base}...{tip}", cwd=root).stdout


def add_worktree_unpopulated(root: str | Path, path: str | Path, branch: str, *, start: str | None = None) -> None:
    """Register a worktree at ``path`` on ``branch`` without writing its files (see
    :func:`populate_worktree`); with ``start``, create the branch there."""
    args = ["-b", branch, str(path), start] if start is not None else [str(path), branch]
    git("worktree", "add", "-q", "--no-checkout", *args, cwd=root)


def populate_worktree(worktree: str | Path) -> None:
    """Write every file of HEAD into ``worktree`` and its index, overwriting what is there."""
    git("read-tree", "-u", "--reset", "HEAD", cwd=worktree)


def point_head(worktree: str | Path, branch: str) -> None:
    """Make ``branch`` the checked-out branch of ``worktree`` without touching files or index."""
    git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=worktree)


def reset_hard(worktree: str | Path) -> None:
    """Make index and files of ``worktree`` match HEAD (rewrites only what differs)."""
    git("reset", "-q", "--hard", cwd=worktree)


def _config_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def set_worktree_configs(worktree: str | Path, values: dict[str, str]) -> None:
    """Set several ``section.key`` values in the per-worktree config of ``worktree`` at once.

    ``config.worktree`` is rewritten in one go (one small file instead of one process per key),
    keeping what is already there; settings git would write with subsections fall back to
    ``git config --worktree`` per key.
    """
    path = worktree_git_dir(worktree) / "config.worktree"
    listed = git("config", "--worktree", "--list", cwd=worktree, check=False).stdout.splitlines() if path.exists() else []
    existing = [line.split("=", 1) for line in listed if "=" in line]
    keys = [key for key, _ in existing] + [key.lower() for key in values]
    if len(existing) != len(listed) or len({k for k, _ in existing}) != len(existing) or any(
            key.count(".") != 1 for key in keys):
        for key, value in values.items():  # subsections, multi-valued or bare keys: let git edit
            set_config(worktree, key, value, worktree=True)
        return
    merged = dict(existing) | {key.lower(): value for key, value in values.items()}
    sections: dict[str, list[str]] = {}
    for key, value in merged.items():
        section, name = key.split(".")
        sections.setdefault(section, []).append(f"\t{name} = {_config_quote(value)}\n")
    tmp = path.with_name("config.worktree.dispatch-tmp")
    tmp.write_text("".join(f"[{s}]\n" + "".join(lines) for s, lines in sections.items()), encoding="utf-8")
    tmp.replace(path)


def drop_empty_worktree_config(worktree: str | Path) -> None:
    """Delete ``config.worktree`` of ``worktree`` when no setting is left in it."""
    path = worktree_git_dir(worktree) / "config.worktree"
    if path.exists() and not git("config", "--worktree", "--list", cwd=worktree, check=False).stdout.strip():
        path.unlink()


def index_file(worktree: str | Path) -> Path:
    """The index of ``worktree`` (in its own git directory)."""
    return worktree_git_dir(worktree) / "index"


def is_pristine(worktree: str | Path) -> bool:
    """True when ``worktree`` has no changes and no untracked or ignored files at all."""
    out = git("status", "--porcelain", "--untracked-files=all", "--ignored", cwd=worktree, check=False)
    return out.ok and not out.stdout.strip()


def add_detached_worktree_unpopulated(root: str | Path, path: str | Path, commit: str) -> None:
    """Register a worktree at ``path`` with a detached HEAD at ``commit``, without writing its files."""
    git("worktree", "add", "-q", "--no-checkout", "--detach", str(path), commit, cwd=root)


def rewrite_index(worktree: str | Path) -> None:
    """Refresh the index of ``worktree`` against its files and write it out even if nothing changed
    (a fresh index file mtime: entries older than it are no longer "racily clean")."""
    git("update-index", "-q", "--refresh", "--force-write-index", cwd=worktree, check=False)
