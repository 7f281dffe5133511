"""Several processes on JAX's own distributed runtime (``jax.distributed``): starting it,
and the little adcli exchanges between processes (every process's verdicts).

Every process runs the same check on its own devices, one SPMD program at a time, as a
multi-host training step does; the results come back replicated, so every process sees
the same numbers and takes the same decisions. Only the verdicts are exchanged, to agree
on one; only process 0 writes reports (``adcli._cli.devices``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from adcli._errors import UsageError


@dataclass(frozen=True)
class Distributed:
    """How to join a multi-process run: all None asks JAX to read its environment
    (``JAX_COORDINATOR_ADDRESS``, SLURM, Open MPI, ...)."""

    coordinator: str | None = None  # HOST:PORT of process 0
    num_processes: int | None = None
    process_id: int | None = None


def initialize(how: Distributed) -> None:
    """``jax.distributed.initialize`` (before anything else touches JAX's backends); on
    CPU, with gloo collectives so that programs can span the processes.

    Raises:
        UsageError: JAX's backends already started, or the distributed runtime failed.
    """
    import jax

    if jax.distributed.is_initialized():
        return  # the caller started it already (a library user)
    if backends_started():
        raise UsageError(
            "cannot join a multi-process run: JAX has already started in this process "
            "(start adcli's processes before any JAX computation)"
        )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=how.coordinator,
            num_processes=how.num_processes,
            process_id=how.process_id,
        )
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"jax.distributed.initialize failed: {exc}") from None


def backends_started() -> bool:
    """Whether JAX's backends exist already in this process (then its devices are fixed)."""
    if "jax" not in sys.modules:
        return False
    try:  # private, isolated here: the one way to ask without starting them
        from jax._src.xla_bridge import backends_are_initialized
    except ImportError:  # a later JAX: assume they have started once jax is imported
        return True
    return bool(backends_are_initialized())


def environment_asks() -> bool:
    """Whether the environment describes a multi-process job that ``jax.distributed``
    detects by itself: ``JAX_COORDINATOR_ADDRESS`` set, or a SLURM or Open MPI job of more
    than one task. (Environment variables only: nothing is probed over the network.)"""
    if os.environ.get("JAX_COORDINATOR_ADDRESS"):
        return True
    for name in ("SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 1:
            return True
    return False


def process_count() -> int:
    import jax

    return int(jax.process_count())


def process_index() -> int:
    """This process's index (0 without jax.distributed)."""
    if "jax" not in sys.modules or not backends_started():
        return 0
    import jax

    return int(jax.process_index())


def gather_ints(values: Sequence[int]) -> np.ndarray:
    """Every process's ``values`` (the same length on each): (processes, len(values))."""
    from jax.experimental import multihost_utils

    local = np.asarray(list(values), dtype=np.int32)
    return np.asarray(multihost_utils.process_allgather(local)).reshape(-1, len(values))
