"""The jinja2 environment: packaged templates, overridable from the project (REQ-1.04).

A template file of the same name in ``<repo>/docs/agent-dispatch/config/templates/`` wins over
the packaged one, so a team can reword a style block without forking the tool.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

import jinja2
import jinja2.bccache

from agent_dispatch.naming.paths import TEMPLATE_OVERRIDE_DIR

PROMPT_TEMPLATES = "agent_dispatch.prompts"


class _MemoryBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates shared by every environment of the process (keyed by file and source
    checksum, so an edited or overriding template is compiled afresh)."""

    def __init__(self) -> None:
        self._store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._store[bucket.key] = bucket.bytecode_to_string()


_BYTECODE_CACHE = _MemoryBytecodeCache()


def override_dir(repo_root: Path) -> Path:
    """Where the project's template overrides live."""
    return repo_root / TEMPLATE_OVERRIDE_DIR


def make_environment(
    repo_root: Path | None, packages: Sequence[str] = (PROMPT_TEMPLATES,)
) -> jinja2.Environment:
    """An environment loading the project's overrides first, then each package's ``templates/``."""
    loaders: list[jinja2.BaseLoader] = []
    if repo_root is not None and override_dir(repo_root).is_dir():
        loaders.append(jinja2.FileSystemLoader(str(override_dir(repo_root))))
    loaders += [jinja2.PackageLoader(package, "templates") for package in packages]
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        bytecode_cache=_BYTECODE_CACHE,
    )
    env.filters["sh"] = shlex.quote
    return env


def overridden(env: jinja2.Environment, repo_root: Path | None) -> list[str]:
    """Names of templates the project overrides (shown by ``dispatch render``)."""
    if repo_root is None or not override_dir(repo_root).is_dir():
        return []
    packaged = set()
    loader = env.loader
    if isinstance(loader, jinja2.ChoiceLoader):
        for child in loader.loaders:
            if isinstance(child, jinja2.PackageLoader):
                packaged |= set(child.list_templates())
    local = {p.name for p in override_dir(repo_root).iterdir() if p.is_file()}
    return sorted(local & packaged)
