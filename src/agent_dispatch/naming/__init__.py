"""What everything in a sprint is called and where it lives: artefact names and paths (``paths``),
and the per-sprint context derived from the plan — each agent's letter, codename, branch, worktree
and documents (``context``). Below ``prompts`` and ``artifacts`` so both can use it."""
