"""Points outside the domain (adcli._numerics.domain): refused with exit 2 and a way out."""

from __future__ import annotations

import re

import numpy as np
import pytest

from adcli._errors import UsageError
from adcli._numerics.domain import require_finite


def test_a_finite_value_and_gradient_pass() -> None:
    require_finite("f", 1.0, np.array([1.0, 2.0]), at=" at point 0")
    require_finite("f", np.array(2.0))


def test_a_value_that_is_not_finite_is_refused() -> None:
    message = (
        "f: f(x) = nan at point 0 (seed 0): the point is outside the function's domain; "
        "choose another --point or --seed, or an init that keeps the inputs inside it"
    )
    with pytest.raises(UsageError, match=re.escape(message)):
        require_finite("f", np.array([np.nan, 1.0]), at=" at point 0 (seed 0)")


def test_a_gradient_that_is_not_finite_names_its_first_bad_entry() -> None:
    grad = np.array([[1.0, np.inf], [2.0, np.nan]])
    with pytest.raises(UsageError) as info:
        require_finite("g", 0.5, grad)
    assert str(info.value) == (
        "g: the gradient is not finite (2 of 4 entries, first at flat index 1: inf); "
        "choose another --point or --seed"
    )
