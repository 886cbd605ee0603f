"""LEAD's merge train: ordering, conflict rules, validation after merges, batching and speculation."""
