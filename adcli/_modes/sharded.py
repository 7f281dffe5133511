"""choose-mode on a sharded spec's mesh (docs/sharding.md): the candidates are compiled and
timed as sharded programs (the flat input replicated on the mesh, each leaf constrained to
its sharding where the function is entered), and the answer is compared with the one for
the same spec on one device, to say whether the collectives change it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from adcli._errors import UsageError
from adcli._problem.build import Problem
from adcli._problem.flat import FlatProblem
from adcli._problem.mesh import MeshPlan
from adcli._results.modes import ModeMesh, ModeResult

# An HLO instruction's opcode follows its (possibly tuple) type: " all-reduce(" ...; an async
# pair counts once, by its "-start".
_COLLECTIVES = re.compile(
    r"\s(all-reduce|all-gather|reduce-scatter|all-to-all|collective-permute)(-start)?\("
)


@dataclasses.dataclass
class ShardedFlatProblem(FlatProblem):
    """A FlatProblem whose flat input (and HVP vector) is replicated on the mesh, so that
    the compiled candidates and the sampled arguments agree on their shardings."""

    plan: MeshPlan | None = None

    def sample(self, point: int = 0) -> tuple[Any, Any]:
        """``FlatProblem.sample``'s x and rest, with x (and v) replicated on the mesh."""
        plan = self.plan
        assert plan is not None
        inputs = self.problem.sample_inputs(point)
        wrt = {k: inputs[k] for k in self.problem.spec.wrt}
        flatten = lambda w: self.in_layout.flatten(plan.gathered(w), self.dtype)  # noqa: E731
        rest: dict[str, Any] = {
            "inputs": {k: v for k, v in inputs.items() if k not in wrt},
            "constants": self.problem.sample_constants(),
        }
        if "v" in self.rest_struct:  # the same seeded unit vector as FlatProblem.sample's
            v = np.random.default_rng([self.problem.spec.check.seed, point, 7]).normal(size=self.n)
            rest["v"] = plan.replicate(np.asarray(v / np.linalg.norm(v), self.dtype))
        return plan.jit(flatten)(wrt), rest


def sharded_flat(flat: FlatProblem, problem: Problem) -> FlatProblem:
    """``flat`` with its flat structs laid out replicated on the problem's mesh.

    Raises:
        UsageError: several processes (timing decides what runs next, and processes'
            clocks differ: choose-mode runs in one process).
    """
    import jax

    plan = problem.mesh
    assert plan is not None
    if jax.process_count() > 1:
        raise UsageError(
            "choose-mode runs in one process: it decides what to time by measured times, "
            "which differ between processes; run it on one host's devices"
        )
    rep = plan.replicated
    rest = dict(flat.rest_struct)
    if "v" in rest:
        rest["v"] = jax.ShapeDtypeStruct(rest["v"].shape, rest["v"].dtype, sharding=rep)
    fields = {f.name: getattr(flat, f.name) for f in dataclasses.fields(flat)}
    fields.update(
        x_struct=jax.ShapeDtypeStruct(flat.x_struct.shape, flat.x_struct.dtype, sharding=rep),
        rest_struct=rest,
        plan=plan,
    )
    return ShardedFlatProblem(**fields)


def collectives(compiled: Any) -> int:
    """Collective operations in a compiled program's HLO (0 if it cannot be read)."""
    try:
        text = compiled.as_text() or ""
    except Exception:  # best-effort API
        return 0
    return len(_COLLECTIVES.findall(text))


def on_mesh(
    result: ModeResult,
    problem: Problem,
    compiled: dict[str, Any],
    one_device: Callable[[], ModeResult],
) -> ModeResult:
    """``result`` with its mesh, each candidate's collectives, and whether the answer on
    one device (``one_device()``, run here) differs: said in the reason."""
    plan = problem.mesh
    assert plan is not None
    counts = {name: collectives(exe) for name, exe in compiled.items()}
    alone = one_device()
    one = alone.recommendation
    changes = None
    if one is not None and result.recommendation is not None:
        # A tie (within the timing noise) on either side is no change of answer.
        changes = one not in {result.recommendation, *result.tied} and (
            result.recommendation not in {one, *alone.tied}
        )
    shown = ", ".join(f"{name} {count}" for name, count in counts.items())
    if changes is None:
        sentence = "On one device no candidate could be recommended to compare with."
    elif changes:
        sentence = (
            f"On one device {one} wins: the mesh's collectives change the answer "
            f"(collective ops per program: {shown})."
        )
    elif one != result.recommendation:
        sentence = (
            f"On one device {one} wins, within the timing noise of {result.recommendation}: "
            f"the collectives do not change the answer measurably (collective ops per "
            f"program: {shown})."
        )
    else:
        sentence = (
            f"On one device {one} wins too: the collectives do not change the answer "
            f"(collective ops per program: {shown})."
        )
    mesh = ModeMesh(
        axes=dict(plan.spec.axes),
        devices=int(plan.mesh.devices.size),
        platform=plan.platform,
        collectives=counts,
        one_device=one,
        changes_answer=changes,
    )
    reason = f"{result.reason.rstrip('.')}. {sentence}" if result.reason else sentence
    return dataclasses.replace(result, reason=reason, mesh=mesh)
