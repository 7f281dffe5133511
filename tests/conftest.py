"""Settings shared by every test: JAX in float64, the way most tests build their values.

adcli itself changes no global JAX setting (its float64 work runs in a scoped context,
``adcli._problem.runtime.jax_scope``), so tests that build float64 arrays with jax before
any check need x64 on: it is set here, at import, before any test module is collected.
tests/problem/test_runtime.py checks, in a fresh interpreter with x64 off, that a check
changes no setting. The compilation cache is not configured: a test must pass with or
without one.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)
