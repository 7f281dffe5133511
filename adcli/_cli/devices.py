"""Devices and processes, set up before JAX starts: ``--devices``, the host device count a
sharded spec needs, ``jax.distributed`` (``--coordinator --num-processes --process-id``, or
the job's environment), and which process writes the report (docs/sharding.md).

XLA reads its host device count once, when JAX starts its backends; adcli imports JAX
lazily, so a command calls ``prepare`` after loading its specs (no JAX) and before its
engine (JAX).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from adcli._errors import UsageError

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
_COUNT = re.compile(r"--xla_force_host_platform_device_count=(\d+)")


@dataclass(frozen=True)
class DeviceArgs:
    """The device and process options of a command (all None: the defaults)."""

    devices: int | None = None
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def distributed(self) -> bool:
        """Whether this command joins a multi-process run (options or environment)."""
        return self.coordinator is not None or _environment_asks()

    @classmethod
    def take(cls, options: dict[str, Any]) -> DeviceArgs:
        """Remove this class's options from a command's ``options`` and return them."""
        names = ("devices", "coordinator", "num_processes", "process_id")
        return cls(**{name: options.pop(name, None) for name in names})


def devices_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--devices N``."""
    return click.option(
        "--devices",
        type=click.IntRange(min=1),
        metavar="N",
        help="Use N devices: on CPU, N simulated host devices (XLA's host device count, set "
        "before JAX starts). Default: what a sharded spec's mesh needs.",
    )(command)


def distributed_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--coordinator HOST:PORT --num-processes N --process-id I`` (jax.distributed)."""
    for option in reversed(
        (
            click.option(
                "--coordinator",
                metavar="HOST:PORT",
                help="Join a multi-process run (jax.distributed) coordinated by process 0 at "
                "HOST:PORT; with --num-processes and --process-id. Without: JAX's own "
                "detection (JAX_COORDINATOR_ADDRESS, srun, mpirun).",
            ),
            click.option(
                "--num-processes", type=click.IntRange(min=1), help="Processes in the run."
            ),
            click.option(
                "--process-id",
                type=click.IntRange(min=0),
                help="This process's index (0: writes the report).",
            ),
        )
    ):
        command = option(command)
    return command


def prepare(args: DeviceArgs, meshes: Sequence[int]) -> None:
    """Before JAX starts: the host device count (``--devices``, or else the largest of
    ``meshes``, the device counts the chosen specs' meshes need, divided among the
    processes), then ``jax.distributed`` when asked for.

    Raises:
        UsageError: ``--devices`` more than JAX, already started, has; or bad process options.
    """
    processes = _processes(args)
    if args.devices is not None:
        _set_count(args.devices, forced=True)
    elif meshes and max(meshes) > 1:
        need = max(meshes)
        share = need // processes if need % processes == 0 else need
        _set_count(share, forced=False)
    if args.distributed:
        from adcli._problem.processes import Distributed, initialize

        initialize(Distributed(args.coordinator, args.num_processes, args.process_id))
        _stdout_for_reports_only()


def _stdout_for_reports_only() -> None:
    """Keep stdout for the report: the collectives' library (gloo) prints its connection
    lines on the process's own stdout, which would break ``--format json``. Its file
    descriptor 1 goes to stderr; Python's ``sys.stdout`` keeps the real stdout."""
    sys.stdout.flush()
    real = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(real, "w", encoding=sys.stdout.encoding or "utf-8", closefd=True)


def _processes(args: DeviceArgs) -> int:
    given = [args.coordinator, args.num_processes, args.process_id]
    if any(v is not None for v in given) and any(v is None for v in given):
        raise UsageError(
            "--coordinator, --num-processes and --process-id go together "
            "(e.g. --coordinator 127.0.0.1:12345 --num-processes 2 --process-id 0)"
        )
    if args.coordinator is None or args.num_processes is None or args.process_id is None:
        return 1
    host, _, port = args.coordinator.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--coordinator: expected HOST:PORT, got {args.coordinator!r}")
    if args.process_id >= args.num_processes:
        raise UsageError(
            f"--process-id {args.process_id}: expected 0 to {args.num_processes - 1} "
            f"with --num-processes {args.num_processes}"
        )
    return args.num_processes


def _environment_asks() -> bool:
    from adcli._problem.processes import environment_asks

    return environment_asks()


def _set_count(count: int, *, forced: bool) -> None:
    """XLA's host device count: set before JAX starts, else checked against JAX's."""
    from adcli._problem.processes import backends_started

    if backends_started():
        if forced:
            import jax

            have = len(jax.devices("cpu"))
            if have < count and len(jax.devices()) < count:
                raise UsageError(
                    f"--devices {count}: JAX has already started in this process with "
                    f"{have} CPU device(s); XLA reads its host device count only at start "
                    f"(set XLA_FLAGS=--xla_force_host_platform_device_count={count} first)"
                )
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if _COUNT.search(flags):
        if not forced:
            return  # the user chose a count: theirs wins over the spec's
        flags = _COUNT.sub("", flags).strip()
    os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def mesh_sizes(specs: Sequence[Any]) -> list[int]:
    """The device count each sharded spec's mesh needs."""
    return [spec.mesh.size for spec in specs if getattr(spec, "mesh", None) is not None]


def spec_meshes(paths: Sequence[str], only: Sequence[str]) -> list[int]:
    """``mesh_sizes`` of the specs under ``paths`` (named in ``only``; all if empty). Files
    that do not load are skipped here: the command reports them."""
    from adcli._errors import AdcliError
    from adcli._spec.select import collect_specs

    try:
        specs, _ = collect_specs(paths)
    except AdcliError:
        return []
    return mesh_sizes([s for s in specs if not only or s.name in only])


def writes_reports() -> bool:
    """Whether this process writes the report: always, except in a multi-process run,
    where process 0 does (the others exit with the agreed code, silently)."""
    if "jax" not in sys.modules:
        return True
    from adcli._problem.processes import process_index

    return process_index() == 0
