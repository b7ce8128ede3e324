"""The Sync Status tab (docs/dashboard.md): the steps page, its export and its read API."""
