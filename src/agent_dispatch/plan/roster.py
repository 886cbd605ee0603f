"""Role roster defaults: letters, waves, merge positions, domains and territory presets.

Letters are slots, not fixed domains: a plan may give any agent any letter. These are only the
defaults used when a plan leaves them out.
"""

from __future__ import annotations

from dataclasses import dataclass

NATO = (
    "ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO", "FOXTROT", "GOLF", "HOTEL", "INDIA", "JULIETT",
    "KILO", "LIMA", "MIKE", "NOVEMBER", "OSCAR", "PAPA", "QUEBEC", "ROMEO", "SIERRA", "TANGO",
    "UNIFORM", "VICTOR", "WHISKEY", "XRAY", "YANKEE", "ZULU",
)


@dataclass(frozen=True)
class Role:
    code: str
    letter: str
    wave: int | None
    merge_position: int | None  # None: never merges
    domain: str
    does_not_touch: str
    tempo: str
    territory: tuple[str, ...]  # generic default territory (fallback when no stack preset fits)


ROLES: dict[str, Role] = {
    r.code: r
    for r in (
        Role("ORCHESTRATOR", "O", None, None, "plan, dispatch, monitor, grade",
             "all application source (read-only)", "methodical", ()),
        Role("BACKEND", "A", 2, 3, "handlers, routes, services, middleware, request validation",
             "data layer, frontend, infra, specialised services", "moderate",
             ("handlers/", "routes/", "services/", "middleware/", "controllers/", "cmd/")),
        Role("FRONTEND", "B", 3, 5, "components, pages, stores, hooks, styling",
             "backend, infra, services", "fast, iterative",
             ("components/", "pages/", "hooks/", "stores/", "views/")),
        Role("INFRA", "C", 1, 6, "Docker, CI/CD, build, environment config, deploy",
             "application code, frontend routes, services", "fast, careful with pipelines",
             ("Dockerfile", "docker-compose.yml", ".github/", "Makefile", "config/", ".env*")),
        Role("SERVICES", "D", 2, 4, "integrations, workers, jobs, external API clients, AI/ML",
             "handlers, data layer, frontend, infra", "moderate, methodical",
             ("integrations/", "workers/", "modules/", "jobs/", "external/")),
        Role("QA", "E", 1, 7, "tests, security audit, dependency scanning",
             "application code (read-only)", "broad, scanning",
             ("test/", "tests/", "__tests__/", "*_test.*", "*.test.*", "*.spec.*")),
        Role("DATA", "F", 1, 1, "models, stores, migrations, queries, integrity",
             "handlers, frontend, infra, services", "slow, careful",
             ("models/", "store/", "repository/", "db/", "migrations/", "prisma/", "schema/")),
        Role("LEAD", "G", 5, 8, "final verification, docs, sprint summary, ship recommendation",
             "application code (read-only; the merge train merges)", "deliberate",
             ("docs/", "README.md", "CHANGELOG.md")),
        Role("DESIGN", "H", 1, 2, "tokens, component specs, accessibility, storybook",
             "backend, data, infra, tests, app logic", "deliberate",
             ("design/", "tokens/", "theme/", "styles/", ".storybook/", "style/")),
        Role("RED TEAM", "R", 4, None, "adversarial review of all branches",
             "application source (read-only)", "thorough", ()),
    )
}

# Roles whose chains the tool generates itself, so an empty chain list is fine.
CHAINLESS_ROLES = frozenset({"LEAD", "RED TEAM", "ORCHESTRATOR"})
NON_MERGING_ROLES = frozenset({"RED TEAM", "ORCHESTRATOR"})

DEFAULT_MERGE_ORDER = ("DATA", "DESIGN", "BACKEND", "SERVICES", "FRONTEND", "INFRA", "QA", "LEAD")

_ROLE_ALIASES = {"REDTEAM": "RED TEAM", "RED-TEAM": "RED TEAM", "RED_TEAM": "RED TEAM",
                 "RED": "RED TEAM", "ORCH": "ORCHESTRATOR"}


def base_role(role: str) -> str:
    """Canonical roster code of ``role``: ``"backend-api"`` → ``"BACKEND"``, ``"red-team"`` →
    ``"RED TEAM"``. Unknown roles come back upper-cased."""
    code = role.strip().upper().replace("_", " ")
    code = _ROLE_ALIASES.get(code.replace(" ", "-"), _ROLE_ALIASES.get(code, code))
    if code in ROLES:
        return code
    for sep in ("-", " "):
        head = code.split(sep, 1)[0]
        if head in ROLES:
            return head
        if head == "RED" and code.replace(sep, " ").startswith("RED TEAM"):
            return "RED TEAM"
    return code


def role_info(role: str) -> Role | None:
    """Roster entry for ``role`` (split and numbered variants map to their base role)."""
    return ROLES.get(base_role(role))


def default_letter(role: str) -> str | None:
    info = role_info(role)
    return info.letter if info else None


def codename_for(letter: str) -> str:
    """Letter-based NATO codename (D → DELTA); multi-character letters get their first."""
    index = ord(letter[0].upper()) - ord("A")
    return NATO[index] if 0 <= index < len(NATO) else letter.upper()


# Stack presets: role → territory patterns, for `dispatch init`. Checked in order; the first
# preset whose marker paths exist wins, else the generic roster defaults are used.
STACK_PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "go": {
        "BACKEND": ("internal/handler/", "internal/service/", "cmd/"),
        "SERVICES": ("internal/agent/", "internal/worker/", "internal/integration/"),
        "DATA": ("internal/store/", "internal/model/", "internal/repository/"),
        "QA": ("**/*_test.go",),
    },
    "node": {
        "BACKEND": ("src/routes/", "src/controllers/", "src/services/"),
        "FRONTEND": ("src/components/", "src/pages/", "src/hooks/", "src/stores/"),
        "SERVICES": ("src/workers/", "src/integrations/", "src/jobs/"),
        "DATA": ("src/models/", "src/repositories/", "prisma/", "drizzle/"),
        "QA": ("**/*.test.ts", "**/*.spec.ts", "**/*.test.js", "tests/", "__tests__/"),
    },
    "python": {
        "BACKEND": ("app/api/", "app/services/", "app/views/"),
        "SERVICES": ("app/tasks/", "app/integrations/", "app/ml/"),
        "DATA": ("app/models/", "app/repositories/", "migrations/"),
        "QA": ("tests/", "**/test_*.py", "**/*_test.py"),
    },
    "rails": {
        "BACKEND": ("app/controllers/", "app/services/"),
        "FRONTEND": ("app/views/", "app/javascript/", "app/assets/"),
        "SERVICES": ("app/jobs/", "app/mailers/", "lib/integrations/"),
        "DATA": ("app/models/", "db/migrate/"),
        "QA": ("spec/", "test/"),
    },
    "rust": {
        "BACKEND": ("src/handlers/", "src/services/"),
        "SERVICES": ("src/workers/", "src/integrations/"),
        "DATA": ("src/models/", "src/db/", "migrations/"),
        "QA": ("tests/", "benches/"),
    },
}

INFRA_PRESET = ("Makefile", "Dockerfile", "docker-compose.yml", ".github/workflows/",
                ".gitlab-ci.yml", "Jenkinsfile", ".env.example", "config/", "nginx.conf",
                "terraform/", "k8s/")
LEAD_PRESET = ("docs/", "README.md", "CHANGELOG.md", "CLAUDE.md")
DESIGN_PRESET = ("design/", "design-tokens/", "tokens/", "style-guide/", "src/styles/",
                 "tailwind.config.*", ".storybook/", "**/*.stories.tsx")

# `dispatch init` (plan/propose.py): module names that say which layer a file is in flat layouts
# (``bookshop/store.py`` → DATA), matched as ``**/<stem><source extension>``, and folder names.
MODULE_STEMS: dict[str, tuple[str, ...]] = {
    "DATA": ("models", "model", "store", "storage", "db", "database", "repository", "repositories",
             "schema", "schemas", "entities", "entity", "dao", "orm", "queries", "persistence"),
    "BACKEND": ("api", "views", "routes", "router", "handlers", "handler", "controllers", "controller",
                "serializers", "urls", "server", "middleware", "endpoints", "service", "services"),
    "SERVICES": ("integrations", "integration", "workers", "worker", "tasks", "jobs", "notifications",
                 "mailer", "mailers", "payments", "billing", "pricing", "webhooks", "scheduler"),
    "FRONTEND": ("cli", "ui", "tui", "gui"),
}
HINT_DIRS: dict[str, tuple[str, ...]] = {
    "DATA": ("entities/", "repositories/", "dao/"),
    "BACKEND": ("api/", "backend/", "server/", "endpoints/"),
    "SERVICES": ("tasks/", "clients/", "mailers/"),
    "FRONTEND": ("ui/", "templates/", "static/", "public/", "frontend/", "assets/"),
}
# Generic patterns beyond the roster defaults (REQ-1.32: QA fixtures/helpers, CI and deploy files).
EXTRA_PATTERNS: dict[str, tuple[str, ...]] = {
    "QA": ("test_*.py", "conftest.py", "*_spec.rb", "spec/", "e2e/", "cypress/", "fixtures/"),
    "INFRA": (".gitlab-ci.yml", ".circleci/", "Dockerfile*", "docker-compose*.yml", "compose.yaml",
              ".dockerignore", "Procfile", "helm/", "deploy/", ".pre-commit-config.yaml"),
    "LEAD": ("AGENTS.md", "CONTRIBUTING.md"),
}
# Framework presets (REQ-1.32/1.33), keyed by a marker file; anchored at the marker's folder.
FRAMEWORK_PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "svelte.config.js": {"FRONTEND": ("src/routes/", "src/lib/components/", "src/lib/stores/")},
    "next.config.js": {"BACKEND": ("src/app/api/", "app/api/", "src/server/"),
                       "FRONTEND": ("src/app/", "app/", "src/components/", "src/hooks/"),
                       "DATA": ("prisma/", "src/lib/db/")},
    "angular.json": {"FRONTEND": ("src/app/components/", "src/app/pages/")},
}
FRAMEWORK_ALIASES = {"svelte.config.ts": "svelte.config.js", "next.config.mjs": "next.config.js",
                     "next.config.ts": "next.config.js"}
# Shared files (REQ-1.25, SI-11): dependency manifests are add-only for non-owners; lockfiles are
# regenerated by their tools, so anyone may change them and LEAD regenerates them at merge.
SHARED_MANIFESTS = frozenset({
    "package.json", "go.mod", "go.work", "Cargo.toml", "pyproject.toml", "setup.py", "setup.cfg",
    "Pipfile", "Gemfile", "composer.json", "mix.exs", "pom.xml", "build.gradle", "build.gradle.kts",
    "requirements.txt", "requirements-dev.txt",
})
LOCKFILES = frozenset({
    "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lockb", "bun.lock", "go.sum", "go.work.sum",
    "Cargo.lock", "Pipfile.lock", "poetry.lock", "uv.lock", "Gemfile.lock", "composer.lock", "mix.lock",
})
