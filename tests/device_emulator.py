"""A stand-in for CuPy on a machine without a GPU: NumPy underneath, as strict as CuPy about
where an array lives.

The metric code is written once against the array namespace (:mod:`qc_metrics.xp`) and runs
on CuPy wherever a user has a CUDA device. What breaks such code on a GPU, and never shows on
NumPy, is a host/device mix-up; CuPy refuses each of these where NumPy quietly goes on:

* turning a device array into a NumPy array implicitly (``np.asarray(a)``, ``np.array``,
  any SciPy or NumPy-only routine, ``memoryview``): ``TypeError`` (CuPy's ``__array__``);
* a NumPy array (even 0-d) as an operand of a device ufunc or operator, or as an argument of
  a device routine, or assigned into a device array: ``TypeError`` ("Unsupported type");
* a reduction gives a 0-d *device array*, not a NumPy scalar: it cannot be rounded
  (``round``), used as an index or a ``range`` bound (no ``__index__``), hashed, or written
  to JSON; ``float()``, ``int()``, ``bool()``, ``format`` and ``.item()`` work, as on CuPy.

:func:`emulator` builds a module named ``cupy`` with these rules (each taken from CuPy's
``_core/core.pyx``, ``_kernel.pyx`` and ``_routines_indexing.pyx``); the ``device_xp``
fixture (``conftest.py``) puts it where ``import cupy`` finds it when no real CuPy with a
device is there, so the parity tests run the device path on every machine. What it cannot
tell: whether CuPy implements a routine, and anything about speed or float differences.
Those need the GPU machine (``benchmarks/device_check.sh``).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.fft

from courseware.report import Report

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")
#: what a ``cupy.ndarray`` has besides the attributes defined below (CuPy 14's
#: ``_ndarray_base``); NumPy's others (``resize``, ``itemset``, ``setflags``, ...) it lacks
_METHODS = frozenset((
    "all", "any", "argmax", "argmin", "argpartition", "argsort", "astype", "base",
    "byteswap", "choose", "clip", "compress", "conj", "conjugate", "copy", "cumprod",
    "cumsum", "data", "diagonal", "dot", "dump", "dumps", "fill", "flat", "flatten",
    "item", "max", "mean", "min", "nonzero", "partition", "prod", "ptp", "put", "ravel",
    "repeat", "reshape", "round", "searchsorted", "sort", "squeeze", "std", "sum",
    "swapaxes", "take", "tobytes", "tofile", "tolist", "trace", "transpose", "var", "view"))
_COMPARISONS = frozenset({"greater", "greater_equal", "less", "less_equal", "equal",
                          "not_equal"})


class ndarray:  # CuPy's name, which the code under test may look for
    """A device array: a NumPy array that only :meth:`get` hands to the host."""

    __slots__ = ("_a",)
    __array_priority__ = 100
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, array: np.ndarray) -> None:
        self._a = array

    # -- what CuPy gives without a transfer
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray(self._a.T))
    real = property(lambda self: ndarray(self._a.real))
    imag = property(lambda self: ndarray(self._a.imag))

    def get(self, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
        return np.array(self._a, order=order)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        raise TypeError(_IMPLICIT)

    def __getattr__(self, name: str) -> Any:
        if name not in _METHODS:        # nor __array_interface__, __array_struct__, buffers
            raise AttributeError(f"'cupy.ndarray' object has no attribute '{name}'")
        attr = getattr(self._a, name)
        if callable(attr):
            return _strict(attr, name)
        return _wrap(attr)

    # -- numpy's protocols: NumPy calls on device arrays run "on the device", as CuPy's do
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc.__name__ in _COMPARISONS:       # CuPy takes a 0-d NumPy array's item here
            inputs = tuple(x.item() if isinstance(x, np.ndarray) and x.ndim == 0 else x
                           for x in inputs)
        out = kwargs.get("out")
        for x in inputs + (tuple(out) if isinstance(out, tuple) else ()):
            _refuse_host(x, ufunc.__name__)
        if out is not None:
            kwargs["out"] = tuple(_unwrap(o) for o in out) if isinstance(out, tuple) else out
        return _wrap(getattr(ufunc, method)(*(_unwrap(x) for x in inputs), **kwargs))

    def __array_function__(self, func: Callable[..., Any], types_: Any, args: Any,
                           kwargs: Any) -> Any:
        return _strict(func, func.__name__)(*args, **kwargs)

    # -- containers and conversions (CuPy: __iter__, __len__, __nonzero__, __int__, ...)
    # CuPy takes NumPy arrays and lists as indices (it copies them to the device)
    def __getitem__(self, index: Any) -> ndarray:
        return ndarray(np.asarray(self._a[_unwrap(index)]))

    def __setitem__(self, index: Any, value: Any) -> None:
        _refuse_host(value, "__setitem__")
        self._a[_unwrap(index)] = _unwrap(value)

    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of unsized object")
        return len(self._a)

    def __iter__(self) -> Any:
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __bool__(self) -> bool:
        return bool(self._a)

    def __int__(self) -> int:
        return int(self._a)

    def __float__(self) -> float:
        return float(self._a)

    def __complex__(self) -> complex:
        return complex(self._a)

    def __format__(self, spec: str) -> str:
        return format(self._a, spec)

    def __repr__(self) -> str:
        return repr(self._a)

    def __str__(self) -> str:
        return str(self._a)

    def __copy__(self) -> ndarray:
        return ndarray(self._a.copy())

    def __deepcopy__(self, memo: Any) -> ndarray:
        return ndarray(self._a.copy())


def _operator(ufunc: np.ufunc, *, reflected: bool = False) -> Callable[..., Any]:
    if reflected:
        return lambda self, other: ufunc(other, self)
    return lambda self, other: ufunc(self, other)


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                      ("mod", np.remainder), ("pow", np.power), ("and", np.bitwise_and),
                      ("or", np.bitwise_or), ("xor", np.bitwise_xor),
                      ("lshift", np.left_shift), ("rshift", np.right_shift),
                      ("matmul", np.matmul)):
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
    setattr(ndarray, f"__r{_name}__", _operator(_ufunc, reflected=True))
for _name, _ufunc in (("lt", np.less), ("le", np.less_equal), ("eq", np.equal),
                      ("ne", np.not_equal), ("gt", np.greater), ("ge", np.greater_equal)):
    setattr(ndarray, f"__{_name}__", _operator(_ufunc))
for _name, _ufunc in (("neg", np.negative), ("pos", np.positive), ("abs", np.absolute),
                      ("invert", np.invert)):
    setattr(ndarray, f"__{_name}__", lambda self, _u=_ufunc: _u(self))
for _name, _ufunc in (("iadd", np.add), ("isub", np.subtract), ("imul", np.multiply),
                      ("itruediv", np.true_divide), ("ifloordiv", np.floor_divide),
                      ("ior", np.bitwise_or), ("iand", np.bitwise_and)):
    setattr(ndarray, f"__{_name}__",
            lambda self, other, _u=_ufunc: _u(self, other, out=(self,)))
ndarray.__module__ = "cupy"


def _refuse_host(x: Any, where: str) -> None:
    """CuPy's "Unsupported type": a NumPy array handed to the device."""
    if isinstance(x, np.ndarray):
        raise TypeError(f"Unsupported type {type(x)} (a host array given to {where} of a "
                        "device array; CuPy does not copy it implicitly)")
    if isinstance(x, (list, tuple)):
        for item in x:
            _refuse_host(item, where)


def _unwrap(x: Any) -> Any:
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, list):
        return [_unwrap(i) for i in x]
    if isinstance(x, tuple):
        return tuple(_unwrap(i) for i in x)
    return x


def _wrap(x: Any) -> Any:
    """Results live on the device: arrays, and the NumPy scalars reductions give (CuPy
    gives 0-d arrays)."""
    if isinstance(x, np.ndarray):
        return ndarray(x)
    if isinstance(x, np.generic):
        return ndarray(np.asarray(x))
    if isinstance(x, tuple):
        return tuple(_wrap(i) for i in x)
    if isinstance(x, list):
        return [_wrap(i) for i in x]
    return x


def _strict(func: Callable[..., Any], name: str) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        for x in list(args) + list(kwargs.values()):
            _refuse_host(x, name)
        return _wrap(func(*_unwrap(args), **{k: _unwrap(v) for k, v in kwargs.items()}))
    return run


def _asarray(x: Any, dtype: Any = None, order: Any = None, *, copy: Any = None,
             **_: Any) -> ndarray:
    if isinstance(x, ndarray):
        return x if dtype is None or x.dtype == dtype else ndarray(x._a.astype(dtype))
    return ndarray(np.array(_unwrap(x), dtype=dtype, order=order or "K"))


def _asnumpy(x: Any, stream: Any = None, order: str = "C", out: Any = None) -> np.ndarray:
    return x.get(order=order) if isinstance(x, ndarray) else np.asarray(x, order=order)


class _Namespace(types.ModuleType):
    """A module of device routines over a NumPy-like module: arrays in and out on the device,
    host arrays refused."""

    def __init__(self, name: str, host: types.ModuleType) -> None:
        super().__init__(name)
        self._host = host

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._host, name)
        if isinstance(attr, types.ModuleType):
            value: Any = _Namespace(f"{self.__name__}.{name}", attr)
        elif isinstance(attr, type) or not callable(attr):
            value = attr                          # dtypes, scalar types, constants
        else:
            value = _strict(attr, name)
        setattr(self, name, value)
        return value


class _Runtime:
    @staticmethod
    def getDeviceCount() -> int:  # CUDA's name
        return 1


def emulator() -> types.ModuleType:
    """A module that passes for ``cupy`` (see the module doc)."""
    cupy = _Namespace("cupy", np)
    cupy.ndarray = ndarray                                       # type: ignore[attr-defined]
    cupy.asarray = cupy.array = cupy.ascontiguousarray = _asarray  # type: ignore[attr-defined]
    cupy.asnumpy = _asnumpy                                      # type: ignore[attr-defined]
    cupy.fft = _Namespace("cupy.fft", scipy.fft)  # type: ignore[attr-defined]
    cupy.cuda = types.SimpleNamespace(runtime=_Runtime())        # type: ignore[attr-defined]
    cupy.__version__ = "emulated"                                # type: ignore[attr-defined]
    cupy.emulated = True                                         # type: ignore[attr-defined]
    return cupy


def assert_same_report(device: Report, host: Report) -> None:
    """One file's reports from the device and from the host: the same checks, verdicts and
    event counts, measured values within 1e-3 (float32 sums on the GPU)."""
    cpu = {c.id: c for c in host.checks}
    assert [c.id for c in device.checks] == list(cpu)
    for check in device.checks:
        ref = cpu[check.id]
        assert check.status == ref.status, (check, ref)
        if isinstance(ref.measured, float) and isinstance(check.measured, float):
            assert check.measured == pytest.approx(ref.measured, rel=1e-3, abs=1e-3), check.id
        assert len(check.events) == len(ref.events), check.id
