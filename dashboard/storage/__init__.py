"""Storage over time (SPEC 5): day partitions and retention."""
