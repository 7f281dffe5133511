"""A sharded spec's Problem on one device: the same function, inputs and shardings'
axis names, on a mesh of one device whose axes all have size 1 (``MeshPlan.single_device``).

What ``--parity`` compares the sharded run with, and what ``choose-mode`` on a mesh times
to tell whether the collectives change its answer. A ``shard_map`` in the user's code runs
unchanged there (its collectives over size-1 axes are identities).
"""

from __future__ import annotations

from typing import Any

import jax

from adcli._problem.build import Problem


def one_device(problem: Problem) -> Problem:
    """``problem`` (a sharded one) run on one device of this process; built once."""
    found = problem.cache.get("one-device")
    if found is None:
        assert problem.mesh is not None, "one_device needs a sharded problem"
        plan = problem.mesh.single_device()
        found = Problem(
            problem.spec,
            problem.dims,
            plan.wrap(problem.fn.__wrapped__),  # type: ignore[attr-defined]
            _plain(problem.input_structs),
            _plain(problem.constant_structs),
            _plain(problem.output_struct),
            arguments=problem.arguments,
            mesh=plan,
        )
        problem.cache["one-device"] = found
    assert isinstance(found, Problem)
    return found


def _plain(structs: Any) -> Any:
    """ShapeDtypeStructs without their shardings."""
    return jax.tree_util.tree_map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype), structs)
