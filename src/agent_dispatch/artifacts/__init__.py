"""Sprint artefacts: names and paths (``paths``), the per-sprint context (``context``), the
rendered documents (``render``) and the parsed completion reports (``completion``)."""
