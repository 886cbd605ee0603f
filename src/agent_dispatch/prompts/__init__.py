"""Activation prompts: the 7-part prompt per agent (``activation``), TEAM MODE sub-agent planning
(``team``), the prompt lint (``lint``), and the jinja2 environment with project overrides
(``environment``). Wording lives in ``templates/*.j2``."""
