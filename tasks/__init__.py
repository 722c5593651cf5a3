"""Units of work, each a plain function wrapped as a Prefect task."""
