"""Specs checked in worker processes (``adcli check -j N``), results in the serial order.

JAX does not survive a fork once initialised, so the workers are *spawned*: fresh
interpreters that import jax, adcli and the specs' model libraries themselves (2–6 s each
on a loaded 2-core machine) and take the parent's persistent-cache settings. Each worker
checks whole specs and sends back their
``SpecResult``s (plain dataclasses); the parent keeps the order of ``specs``, so the
report is the one a serial run gives, but for the timing fields (``seconds``, and
``compiles``, which depend on what the worker compiled before).

How many workers ``auto`` starts is ``auto_jobs``: none for a handful of specs or on fewer
than 4 cores, where starting workers costs more than they save.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from adcli._results.check import SpecResult
from adcli._spec.model import Spec

# (spec name, what is being done) -> None, as ``adcli._check.run.Progress``.
Progress = Callable[[str, str], None]

# Below this many specs per worker, a worker's start-up (importing jax, adcli and the
# specs' model libraries: 2-6 s on a loaded 2-core machine) costs more than the checks it
# takes over (about 1.3 s a spec cold, 0.3 s warm).
SPECS_PER_WORKER = 4
# Below this many cores ``auto`` checks in this process: on 2 cores, 2 workers were no
# faster cold and up to 1.9x slower warm than one process (benchmarks/spec_throughput.py:
# each worker pays the start-up and recompiles what the others compiled).
MIN_CORES = 4

# The persistent-cache settings a worker copies from the parent (the ``adcli`` command's
# choice, ``adcli._problem.runtime.use_persistent_cache``).
_CACHE_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


def cores() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_jobs(count: int, available: int | None = None) -> int:
    """Workers for ``count`` specs: one per core, but no more than one per
    ``SPECS_PER_WORKER`` specs; 1 (serial, in this process) when that is fewer than 2 or
    there are fewer than ``MIN_CORES`` cores."""
    available = available if available is not None else cores()
    workers = min(available, count // SPECS_PER_WORKER)
    return workers if workers >= 2 and available >= MIN_CORES else 1


def apart(spec: Spec) -> bool:
    """Whether a spec may go to a worker: not with a mesh (its devices and processes are
    set up for this process, and its verdict is agreed across processes)."""
    return spec.mesh is None


def _cache_settings() -> dict[str, Any]:
    """The parent's persistent-cache settings, if it has started JAX and set a cache."""
    if "jax" not in sys.modules:
        return {}
    import jax

    values = {name: jax.config.values.get(name) for name in _CACHE_SETTINGS}
    return values if values["jax_compilation_cache_dir"] else {}


def _start_worker(settings: dict[str, Any]) -> None:
    import jax

    for name, value in settings.items():
        jax.config.update(name, value)


def _check_one(spec: Spec) -> SpecResult:
    from adcli._check.run import check_one

    return check_one(spec, None)


def _announce(progress: Progress, name: str) -> Callable[[Future[SpecResult]], None]:
    return lambda _: progress(name, "checked")


def check_in_workers(
    specs: Sequence[Spec], jobs: int, progress: Progress | None = None
) -> list[SpecResult]:
    """``check_one`` of every spec, in ``jobs`` spawned workers (specs with a mesh in this
    process, meanwhile), in the order of ``specs``. A worker's unexpected exception is
    raised here."""
    from adcli._check.run import check_one

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(_cache_settings(),),
    ) as pool:
        futures = {i: pool.submit(_check_one, s) for i, s in enumerate(specs) if apart(s)}
        if progress is not None:
            for i, future in futures.items():
                future.add_done_callback(_announce(progress, specs[i].name))
        try:
            here = {i: check_one(s, progress) for i, s in enumerate(specs) if i not in futures}
            return [here[i] if i in here else futures[i].result() for i in range(len(specs))]
        except BaseException:
            for future in futures.values():
                future.cancel()
            raise
