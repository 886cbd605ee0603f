"""Views of a sprint: the rich status board (the TUI and web dashboard come later)."""
