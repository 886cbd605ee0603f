"""The sprint plan: model, loading with positions, validation, roster defaults, territory."""
