"""Settings shared by every test: JAX in float64, as adcli itself runs it.

adcli's FD reference needs float64, and ``adcli._problem.runtime.enable_x64`` turns it
on when a check runs. Tests that call jax directly (before any check) must see the same
setting, so it is set here, at import, before any test module is collected. The
compilation cache is left as adcli configures it (``ADCLI_CACHE_DIR``): a test must pass
with or without a warm cache.
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)
