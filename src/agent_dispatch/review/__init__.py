"""RED TEAM review: automated checks on agent branches, the findings report, gate 4."""
