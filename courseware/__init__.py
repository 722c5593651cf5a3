"""courseware-pipeline: shared domain code (course model, media I/O, stores, CLI)."""

__version__ = "0.1.0"
