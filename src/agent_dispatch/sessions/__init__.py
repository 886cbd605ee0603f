"""Agent sessions on their own: start one from a request, wait for it, read how it ended."""
