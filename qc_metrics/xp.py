"""The array namespace: NumPy on the CPU, CuPy on the GPU, picked from the input array.

CuPy is never imported at module level (cuCIM forked scikit-image over exactly that).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np


def array_namespace(*arrays: Any) -> ModuleType:
    """The module (numpy or cupy) that owns the given arrays."""
    for a in arrays:
        if type(a).__module__.startswith("cupy"):
            return importlib.import_module("cupy")
    return np


def to_host(a: Any) -> np.ndarray:
    """A NumPy copy of any array (no-op for NumPy input)."""
    if type(a).__module__.startswith("cupy"):
        return a.get()
    return np.asarray(a)


def gpu_namespace() -> ModuleType | None:
    """CuPy when it imports and sees a CUDA device; otherwise None (say so in reports)."""
    try:
        cupy = importlib.import_module("cupy")
        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy
    except Exception:
        return None
    return None


def fft_namespace(xp: ModuleType) -> ModuleType:
    """The FFT module for ``xp``: ``cupy.fft`` on the GPU; on the CPU ``scipy.fft``, which
    keeps float32 input in single precision (``numpy.fft`` always computes in double) and
    is about twice as fast at the sizes used here. Same calls (rfft2, irfft2, rfft, irfft)."""
    if xp is np:
        return importlib.import_module("scipy.fft")
    return xp.fft


def backend_name(xp: ModuleType) -> str:
    return "cupy" if xp.__name__.startswith("cupy") else "numpy"
