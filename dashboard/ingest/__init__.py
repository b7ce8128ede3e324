"""Ingestion (docs/reports.md): validating, receiving and applying sync reports."""
