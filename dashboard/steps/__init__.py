"""The Sync Status tab (SPEC 4): the steps page, its export and its read API."""
