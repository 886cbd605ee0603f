"""The adapter protocol: how to start one agent session and how to read how it ended."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from agent_dispatch.agents.events import SessionSummary
from agent_dispatch.git import no_git_env
from agent_dispatch.redact import is_secret_name

# How a session ended, as far as the agent CLI tells us. "limit" means its context or turn
# budget ran out: the engine continues with a new session covering the chains still open.
# "no_tools" means the CLI offered its model no tools it could use (a rehearsal whose model the
# fake model server cannot drive): a setup fault, not the agent's attempt, and no session can work.
EndReason = Literal["ended", "failed", "limit", "no_tools", "timeout", "killed", "lost"]

# A `command` agent signals "my context/turn limit ran out" with this exit status (EX_TEMPFAIL).
LIMIT_EXIT_CODE = 75

# The main process died of SIGKILL: negative as the executor sees it, 128 + 9 under bubblewrap
# (which reports its child's death by a signal the way a shell does).
SIGKILL_EXIT_CODES = frozenset({-signal.SIGKILL, 128 + signal.SIGKILL})
# The detail of a "killed" outcome the orchestrator did not cause (a crash, the OOM killer, kill -9).
SIGKILLED_DETAIL = "killed by SIGKILL, not by the orchestrator"


def killed_by_sigkill(exit_code: int | None) -> bool:
    """True when a session's exit status says SIGKILL ended it: nobody asked it to stop, nothing
    in it could react, so it did not finish (recovered like a crash, never judged as a failure)."""
    return exit_code in SIGKILL_EXIT_CODES

# A finished session's output as an adapter gets it: the bytes its executor handed back
# (`Executor.read_output`), text, or the path of a local log file holding it (tests, tools).
SessionOutput = bytes | str | Path


def output_text(output: SessionOutput) -> str:
    """The session's output as text, read the way a log file is read in text mode.

    Bytes are decoded as UTF-8 (undecodable bytes replaced) with universal newlines; a path is
    read from disk, and a missing file is an empty output.
    """
    if isinstance(output, Path):
        return output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
    if isinstance(output, bytes):
        output = output.decode("utf-8", errors="replace")
        return output.replace("\r\n", "\n").replace("\r", "\n")
    return output


@dataclass(frozen=True)
class SessionRequest:
    """Everything an adapter needs to start one session of one agent."""

    sprint: str
    agent: str
    role: str
    branch: str
    base_branch: str
    worktree: Path
    prompt_file: Path
    report_path: str  # relative to the worktree
    attempt: int
    message_file: Path | None = None
    command: tuple[str, ...] | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    # Real agent CLIs only:
    resume_session: str | None = None  # the CLI's own session id to resume (None: start a new session)
    state_home: Path | None = None  # this agent's isolated HOME for its CLI, under .dispatch/<sprint>/homes/
    model: str | None = None
    base_url: str | None = None  # model API endpoint override (e.g. the fake model server)
    api_key: str | None = None  # only for endpoints that need a placeholder key (the fake server)
    test_command: str | None = None  # the sprint's test command, for CLIs that run it themselves (aider)

    def message_text(self) -> str | None:
        """The follow-up message of this session, if any."""
        return self.message_file.read_text(encoding="utf-8") if self.message_file else None

    @property
    def resuming(self) -> bool:
        """True when this session continues the CLI's own session with a follow-up message."""
        return self.resume_session is not None and self.message_file is not None

    def turn_text(self) -> str:
        """What this session sends: the follow-up message when resuming, else :meth:`initial_text`."""
        return (self.message_text() or "") if self.resuming else self.initial_text()

    def initial_text(self) -> str:
        """What to send as the first user turn of a new CLI session.

        A new session normally gets the activation prompt; a follow-up that cannot resume (no
        session id, or the tool changed to a fallback) gets the prompt and the message together.
        """
        prompt = self.prompt_file.read_text(encoding="utf-8")
        message = self.message_text()
        return prompt if message is None else f"{prompt}\n\n---\n\n{message}"


@dataclass(frozen=True)
class SessionOutcome:
    """The adapter's reading of a finished session (the engine still verifies the work itself)."""

    reason: EndReason
    exit_code: int | None
    detail: str = ""
    summary: SessionSummary | None = None  # real CLIs: session id, usage, denials, errors

    @property
    def cli_session(self) -> str | None:
        return self.summary.session_id if self.summary else None


def contract_env(request: SessionRequest) -> dict[str, str]:
    """The stable ``DISPATCH_*`` environment every session gets (see docs/agent-contract.md)."""
    env = {
        "DISPATCH_SPRINT": request.sprint,
        "DISPATCH_AGENT": request.agent,
        "DISPATCH_ROLE": request.role,
        "DISPATCH_BRANCH": request.branch,
        "DISPATCH_WORKTREE": str(request.worktree),
        "DISPATCH_BASE_BRANCH": request.base_branch,
        "DISPATCH_PROMPT_FILE": str(request.prompt_file),
        "DISPATCH_REPORT_PATH": request.report_path,
        "DISPATCH_ATTEMPT": str(request.attempt),
    }
    if request.message_file is not None:
        env["DISPATCH_MESSAGE_FILE"] = str(request.message_file)
    return env


# What every session takes from the operator's environment (docs/security.md, "## Secrets"): what a
# shell, git and a project's own build and test tools need. A secret-named variable (`redact`)
# matching one of these is still dropped; an adapter lists the keys its CLI needs (`env_allow`).
BASE_ENV_ALLOW = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_*", "TERM", "COLORTERM", "NO_COLOR",
    "FORCE_COLOR", "TZ", "TMPDIR", "TEMP", "TMP", "CI", "SOURCE_DATE_EPOCH",
    "http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS",
    "GIT_*",  # identity, editor, config files (those naming another repository are already gone)
    "XDG_*", "VIRTUAL_ENV", "CONDA_*", "PYENV_*", "PYTHON*", "NVM_*", "NODE_OPTIONS", "NODE_PATH",
    "GOPATH", "GOROOT", "GOFLAGS", "GOCACHE", "GOMODCACHE", "CARGO_HOME", "RUSTUP_HOME", "JAVA_HOME",
    "COVERAGE_*",
)
# The operator's own additions: names or `PREFIX*` patterns, comma-separated (also secret ones).
PASS_ENV_VAR = "DISPATCH_SESSION_ENV"


def _allowed(name: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(name == p or (p.endswith("*") and name.startswith(p[:-1])) for p in patterns)


def allowed_env(environ: Mapping[str, str], allow: tuple[str, ...] = ()) -> dict[str, str]:
    """The variables of ``environ`` a session may see: `BASE_ENV_ALLOW` without secret-named
    ones, plus ``allow`` (the adapter's own: its CLI's keys and settings) and the operator's
    ``DISPATCH_SESSION_ENV`` list; no ``DISPATCH_*`` variable of the controller."""
    extra = [p.strip() for p in environ.get(PASS_ENV_VAR, "").split(",") if p.strip()]
    return {k: v for k, v in environ.items() if not k.startswith("DISPATCH_") and (
        (_allowed(k, BASE_ENV_ALLOW) and not is_secret_name(k)) or _allowed(k, allow) or _allowed(k, extra))}


def session_env(request: SessionRequest, allow: tuple[str, ...] = ()) -> dict[str, str]:
    """The full environment: the allowed part of ours (`allowed_env`, minus variables that would
    confuse git), plus the contract.

    The directory of the running Python goes first on PATH so ``dispatch chain`` works inside the
    session even when the tool was started from a virtualenv that is not activated.
    """
    env = allowed_env(no_git_env(keep_settings=True), allow)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    # Some CLIs take their project directory from $PWD before the real cwd (OpenCode did): the
    # controller's own PWD would point them at the user's checkout instead of the worktree.
    env["PWD"] = str(request.worktree)
    env.update(request.extra_env)
    env.update(contract_env(request))
    return env


class Adapter(Protocol):
    """One agent CLI. Implementations live one per module and are listed in ``all_agents``."""

    name: str
    supports_sub_agents: bool

    def argv(self, request: SessionRequest) -> list[str]:
        """The command line that starts (or, with a message file, resumes) a session."""

    def env(self, request: SessionRequest) -> dict[str, str]:
        """The session's environment."""

    def prepare(self, request: SessionRequest) -> None:
        """Write whatever the CLI needs before it starts (isolated config, quiet settings); idempotent."""

    def outcome(self, exit_code: int | None, output: SessionOutput, *, timed_out: bool,
                killed: bool) -> SessionOutcome:
        """How the session ended, read from its exit status and its output (stdout and stderr
        together, see `output_text`)."""
