"""Settings shared by every test: JAX in float64, as adcli itself runs it, on 8 CPU devices.

adcli's FD reference needs float64, and ``adcli._problem.runtime.enable_x64`` turns it
on when a check runs. Tests that call jax directly (before any check) must see the same
setting, so it is set here, at import, before any test module is collected. The
compilation cache is left as adcli configures it (``ADCLI_CACHE_DIR``): a test must pass
with or without a warm cache.

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
