"""Samples for the parts of complex numbers (distjit/ops/complex_parts.py), merged into `samples.SAMPLES`."""
from __future__ import annotations

import numpy as np

from tests.ops.samples import Sample, arr


def _set_real(base, value):
    out = base.copy()
    out.real = value
    return out


def _set_imag(base, value):
    out = base.copy()
    out.imag = value
    return out


SAMPLES_COMPLEX = {
    "np.real": [Sample(np.real, (arr("c16", 3, 4),)), Sample(np.real, (arr("c8", 5),)), Sample(np.real, (arr("f8", 3),)),
                Sample(np.real, (arr("i8", 2, 2),))],
    "np.imag": [Sample(np.imag, (arr("c16", 3, 4),)), Sample(np.imag, (arr("c8", 5),)), Sample(np.imag, (arr("f4", 3),))],
    "np.angle": [Sample(np.angle, (arr("c16", 3, 4),)), Sample(np.angle, (arr("f8", 4),), {"deg": True}),
                 Sample(np.angle, (arr("i8", 3),))],
    "complex.set_real": [Sample(_set_real, (arr("c16", 3, 4), arr("f8", 4))), Sample(_set_real, (arr("f8", 3), 2.0))],
    "complex.set_imag": [Sample(_set_imag, (arr("c16", 3, 4), arr("f8", 3, 4))), Sample(_set_imag, (arr("c8", 2), 1.5))],
}
