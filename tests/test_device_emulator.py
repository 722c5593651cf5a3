"""The CuPy stand-in refuses what CuPy refuses (``tests/device_emulator.py``): were it
lenient, the device-path tests would pass on code that fails on a GPU. Each case is one of
CuPy's rules, with the call that breaks it. On the GPU machine (``-m gpu``) the same cases
run on CuPy itself, which checks the rules the stand-in was written from."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import scipy.signal

from qc_metrics.xp import array_namespace, to_host

pytestmark = pytest.mark.gpu


@pytest.fixture
def cp(device_xp: Any) -> Any:
    return device_xp


def test_host_arrays_are_refused(cp: Any) -> None:
    a = cp.asarray(np.arange(12, dtype=np.float32).reshape(3, 4))
    host = np.ones(4, np.float32)
    for mix in (lambda: np.asarray(a),                        # __array__
                lambda: np.array([a[0, 0], a[0, 1]]),
                lambda: scipy.signal.lfilter([1.0], [1.0], a[0]),
                lambda: memoryview(a),                        # no buffer protocol
                lambda: a + host, lambda: host * a,           # operands
                lambda: a + np.asarray(1.0),                  # even 0-d
                lambda: cp.concatenate([a, host[None]]),      # routines
                lambda: cp.where(host > 1, a, 0.0),
                lambda: a.__setitem__(0, host)):              # assignment
        with pytest.raises(TypeError):
            mix()
    with pytest.raises(AttributeError):
        a.resize(12)                                          # not a cupy.ndarray method


def test_reductions_stay_on_the_device(cp: Any) -> None:
    a = cp.asarray(np.arange(12, dtype=np.float32))
    total = a.sum()
    assert type(total) is cp.ndarray and total.ndim == 0
    for use in (lambda: round(total, 2), lambda: [0, 1][a.argmax() // 11],
                lambda: range(a.argmax()), lambda: json.dumps(total), lambda: {total}):
        with pytest.raises(TypeError):
            use()
    # what CuPy allows: Python numbers, NumPy scalars, 0-d comparisons, explicit transfers
    assert float(total) == 66.0 and int(a.argmax()) == 11 and bool(a.any())
    assert f"{a.mean():.1f}" == "5.5" and a[3].item() == 3.0
    assert int((a > np.array(5.0)).sum()) == 6
    assert (a * np.float32(2.0) + 1).dtype == np.float32
    assert np.array_equal(to_host(np.sqrt(a)), np.sqrt(np.arange(12, dtype=np.float32)))
    assert array_namespace(a) is not np and type(np.mean(a)) is cp.ndarray
    assert np.array_equal(a[np.array([1, 3])].get(), [1.0, 3.0])    # host indices: copied
