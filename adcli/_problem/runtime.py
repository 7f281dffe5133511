"""How adcli uses JAX's runtime: float64, the persistent compilation cache, and memory
budgets (what the machine offers, what a compiled program needs)."""

from __future__ import annotations

import os
from typing import Any

import jax


def enable_x64() -> None:
    """Configure JAX for adcli: float64 allowed (the FD reference needs it), and a
    persistent compilation cache, since compiling dominates a check's time and specs are
    re-checked unchanged run after run. ``ADCLI_CACHE_DIR`` moves the cache; setting it
    to an empty string turns it off."""
    jax.config.update("jax_enable_x64", True)
    global _configured
    if _configured:
        return
    _configured = True
    default = os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "adcli", "jax"
    )
    cache = os.environ.get("ADCLI_CACHE_DIR", default)
    if cache and jax.config.values.get("jax_compilation_cache_dir") is None:
        jax.config.update("jax_compilation_cache_dir", cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_configured = False


def default_memory_budget() -> int:
    """Half the machine's physical memory (bytes): what a candidate may need to be run."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a modest 8 GB
        total = 16 * 2**30
    budget = total // 2
    try:  # an accelerator: its own memory is the limit
        stats = jax.devices()[0].memory_stats()
        if stats and stats.get("bytes_limit"):
            budget = min(budget, int(stats["bytes_limit"] * 0.8))
    except Exception:  # memory_stats is best-effort (None on CPU)
        pass
    return budget


def memory_needed(compiled: Any) -> int | None:
    """Bytes a compiled program needs to run: arguments + outputs + temporaries − aliased."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # best-effort API
        return None
    if stats is None:
        return None
    fields = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")
    total = sum(int(getattr(stats, f, 0) or 0) for f in fields)
    return total - int(getattr(stats, "alias_size_in_bytes", 0) or 0)
