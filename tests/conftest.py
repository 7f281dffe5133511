"""Settings shared by every test: JAX in float64, the way most tests build their values,
on 8 simulated CPU devices.

adcli itself changes no global JAX setting (its float64 work runs in a scoped context,
``adcli._problem.runtime.jax_scope``), so tests that build float64 arrays with jax before
any check need x64 on: it is set here, at import, before any test module is collected.
tests/problem/test_runtime.py checks, in a fresh interpreter with x64 off, that a check
changes no setting. The compilation cache is not configured: a test must pass with or
without one.

XLA reads its host device count once, when JAX starts: 8 simulated CPU devices are set
here, before ``import jax``, so that the sharded specs (``mesh:``, docs/sharding.md) run
in this process as they do under ``adcli check`` (which sets the count itself). Code that
is not sharded runs on the first device as with one; a count already in XLA_FLAGS wins.
"""

from __future__ import annotations

import os

DEVICES = 8
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + f" --xla_force_host_platform_device_count={DEVICES}"
    ).strip()

import jax  # noqa: E402 (after XLA_FLAGS: the device count is read when JAX starts)

jax.config.update("jax_enable_x64", True)
