"""``--measure``: run the value-and-VJP program on sampled inputs; peak memory and time.

Peak memory: the device's ``memory_stats()['peak_bytes_in_use']`` where the backend keeps
it (GPU, TPU); on CPU (where ``memory_stats()`` is None) the growth of the process's peak
resident set: VmHWM after the runs minus VmRSS before, with VmHWM reset first through
``/proc/self/clear_refs`` (Linux); failing that, ``getrusage`` ru_maxrss, a lifetime peak.
Timing: compile apart, the first run (where memory is measured) discarded, then the median
and minimum of ``runs`` runs, each ended by ``block_until_ready``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import jax

from adcli._numerics.timing import timed
from adcli._results.memory import Measurement


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as stream:
            stream.write("5")  # 5: reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def available_bytes() -> int | None:
    """MemAvailable from /proc/meminfo, or None where there is none."""
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measure(program: Callable[..., Any], args: tuple[Any, ...], runs: int = 5) -> Measurement:
    """Compile ``program``, run it ``1 + runs`` times on concrete ``args``; see module doc."""
    device = jax.devices()[0]
    compiled, compile_seconds = timed(lambda: jax.jit(program).lower(*args).compile())
    # The peak is taken over the first run: later runs reuse pages the allocator already
    # holds, so RSS would not grow. A tiny program first absorbs the runtime's one-off
    # allocations (thread pools), which are not the function's.
    jax.block_until_ready(jax.jit(lambda a: a + 1)(jax.numpy.ones(1024)))
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    rss_before = _status_kib("VmRSS")
    reset = stats is None and _reset_peak()
    jax.block_until_ready(compiled(*args))  # the first run: measured, not timed
    hwm = _status_kib("VmHWM")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    peak: int | None
    if stats is not None and "peak_bytes_in_use" in (after := device.memory_stats() or {}):
        peak = int(after["peak_bytes_in_use"])
        method = f"device memory_stats() peak_bytes_in_use on {device.platform}"
    elif reset and rss_before is not None and hwm is not None:
        peak = (hwm - rss_before) * 1024
        method = (
            "process peak RSS growth over the first run: VmHWM (reset via "
            "/proc/self/clear_refs) − VmRSS before; inputs excluded"
        )
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        method = "process lifetime peak RSS (getrusage ru_maxrss), inputs and runtime included"
    return Measurement(
        peak_bytes=peak,
        memory_method=method,
        compile_seconds=compile_seconds,
        run_seconds_median=statistics.median(times),
        run_seconds_min=min(times),
        runs=runs,
        timing_method="compiled once; first run discarded; block_until_ready per run",
    )
