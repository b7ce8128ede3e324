"""The sync's health (docs/dashboard.md, "Health"): is the engine running,
how often, and what went wrong lately."""
