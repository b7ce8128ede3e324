"""Storage over time (docs/architecture.md, Retention): day partitions and retention."""
