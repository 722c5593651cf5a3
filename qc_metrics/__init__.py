"""QC metrics: pure functions and per-frame detectors over arrays.

No Prefect, no file or network I/O. Written once against the array namespace, so the same
code runs on NumPy (CPU) and CuPy (GPU); see :func:`qc_metrics.xp.array_namespace`.
"""
