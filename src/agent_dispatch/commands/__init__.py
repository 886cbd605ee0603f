"""One module per CLI verb; each exposes plain typed functions returning an exit code."""
