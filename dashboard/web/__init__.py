"""Web plumbing: access, login, middleware, health check, error answers, the ingest API."""
