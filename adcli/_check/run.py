"""Check spec files (or Spec objects) into a CheckReport: what the CLI and ``adcli.check`` call."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence

from adcli._check.requires import unchecked
from adcli._errors import SpecError
from adcli._results.check import CheckReport, SpecResult
from adcli._spec.model import Spec
from adcli._spec.select import Overrides, apply, collect_specs

# (spec name, what is being done) -> None; called before each spec and each step.
Progress = Callable[[str, str], None]


class CannotCheck(Exception):
    """The function raised while being checked (not a spec error, not an adcli bug)."""

    def __init__(self, spec: Spec, exc: Exception) -> None:
        lines = str(exc).strip().splitlines()
        text = lines[0] if lines else ""
        hint = ""
        if "vmap" in text or "batch" in text.lower():
            hint = (
                " (adcli evaluates perturbed points in one vmapped call: "
                "the function must be vmappable)"
            )
        location = f"{spec.where.file}:{spec.where.line}: " if spec.where.file else ""
        super().__init__(
            f"{location}the function fails while being checked: {type(exc).__name__}: {text}{hint}"
        )


def _for_spec(progress: Progress | None, name: str) -> Callable[[str], None] | None:
    if progress is None:
        return None
    return lambda what: progress(name, what)


def check_one(spec: Spec, progress: Progress | None) -> SpecResult:
    """Check one spec; a spec that cannot be built, or whose function fails under a
    transformation, is an ``error`` result, not raised."""
    from adcli._check.engine import check_spec  # jax is imported here, not at start-up

    if progress:
        progress(spec.name, "building")
    try:
        try:
            return check_spec(spec, progress=_for_spec(progress, spec.name))
        except (SpecError, KeyboardInterrupt):
            raise
        except Exception as exc:
            # The user's function failed under a transformation adcli needs (vmap of a
            # pure_callback, a jit of Python control flow, ...): report it against the
            # spec and go on with the others. ADCLI_DEBUG=1 shows the traceback.
            if os.environ.get("ADCLI_DEBUG"):
                raise
            raise CannotCheck(spec, exc) from exc
    except (SpecError, CannotCheck) as exc:
        error = exc.format() if isinstance(exc, SpecError) else str(exc)
        return unchecked(spec, "error", line=getattr(exc, "line", None), error=error)


def check_specs(
    specs: Sequence[Spec],
    *,
    errors: Sequence[str] = (),
    progress: Progress | None = None,
    allow_inconclusive: bool = False,
    jobs: int | None = 1,
) -> CheckReport:
    """Check each spec; a spec that cannot be built is reported as an error, not raised.

    ``jobs``: worker processes (``adcli._check.parallel``); None chooses by the number of
    specs and cores (``auto_jobs``); 1 checks in this process. Specs with a mesh are always
    checked in this process. The results keep the order of ``specs`` either way.
    """
    from adcli._check.parallel import apart, auto_jobs, check_in_workers

    start = time.perf_counter()
    count = sum(apart(spec) for spec in specs)
    workers = auto_jobs(count) if jobs is None else min(jobs, count)
    results: list[SpecResult]
    if workers > 1:
        results = check_in_workers(specs, workers, progress)
    else:
        results = [check_one(spec, progress) for spec in specs]
    if any(spec.mesh is not None for spec in specs):  # several processes: one verdict
        from adcli._check.sharded import agree_across_processes

        results = agree_across_processes(results)
    return CheckReport(
        results=tuple(results),
        seconds=time.perf_counter() - start,
        allow_inconclusive=allow_inconclusive,
        errors=tuple(errors),
    )


def check(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | Spec,
    *,
    overrides: Overrides | None = None,
    progress: Progress | None = None,
    allow_inconclusive: bool = False,
) -> CheckReport:
    """Check the specs in files/directories (or one Spec) and return the report.

    Raises:
        SpecError: a path does not exist. UsageError: an override does not apply.
    """
    errors: list[str] = []
    if isinstance(paths, Spec):
        specs = [paths]
    else:
        if isinstance(paths, str | os.PathLike):
            paths = [paths]
        specs, errors = collect_specs(paths)
    specs = apply(specs, overrides or Overrides())
    return check_specs(
        specs, errors=errors, progress=progress, allow_inconclusive=allow_inconclusive
    )
