"""Ingestion (SPEC 3): validating, receiving and applying sync reports."""
