"""Sprint artefacts: the rendered documents (``render``), the parsed completion reports
(``completion``) and SPRINT-SUMMARY.md (``summary``). Names and paths, and the per-sprint context,
live one layer down in ``agent_dispatch.naming``."""
