"""Where ``adcli explain`` evaluates and how it seeds: ``--wrt``, ``--at`` and the seeds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from adcli._errors import UsageError, did_you_mean
from adcli._spec.model import Spec

SEEDS = ("first", "ones", "random")


def resolve_wrt(spec: Spec, wrt: str | None, leaves: list[str]) -> str:
    if wrt is None:
        first = spec.check.wrt[0] if spec.check.wrt else leaves[0].split(".")[0]
        return next(n for n in leaves if n == first or n.startswith(first + "."))
    name = re.sub(r"\[['\"]?([^]'\"]+)['\"]?\]", r".\1", wrt)  # params['w1'] -> params.w1
    if name in leaves:
        return name
    within = [n for n in leaves if n.startswith(name + ".")]
    if within:
        return within[0]
    hint = did_you_mean(name, leaves + sorted({n.split(".")[0] for n in leaves}))
    raise UsageError(
        f"--wrt {wrt}: no such input"
        + (f" ({hint})" if hint else "")
        + f"; inputs: {', '.join(leaves)}"
    )


def seed_vector(how: str, like: Any, seed: int | None, what: str) -> tuple[Any, str]:
    """The seed vector (first: e₀, ones, random) and how the tables write it."""
    shape, dtype = jnp.shape(like), jnp.result_type(like)
    if how == "random":
        rng = np.random.default_rng([seed or 0, 7 if what == "seed" else 11])
        return jnp.asarray(rng.normal(size=shape), dtype), f"random (seed {seed or 0})"
    if how == "ones" or not shape:
        return jnp.ones(shape, dtype), "1" if not shape else "ones"
    return jnp.zeros(shape, dtype).ravel().at[0].set(1).reshape(shape), "e₀"


def apply_at(
    at: Mapping[str, Any], inputs: Any, constants: Any, in_names: list[str], const_names: list[str]
) -> tuple[Any, Any]:
    """Replace sampled leaves by the ``--at`` values (numbers or lists broadcast to shape)."""
    import yaml  # type: ignore[import-untyped]

    leaves = {
        "in": jax.tree_util.tree_leaves(inputs),
        "const": jax.tree_util.tree_leaves(constants),
    }
    for raw_name, raw in at.items():
        name = re.sub(r"\[['\"]?([^]'\"]+)['\"]?\]", r".\1", raw_name)
        group = "in" if name in in_names else "const" if name in const_names else None
        if group is None:
            hint = did_you_mean(name, in_names + const_names)
            raise UsageError(
                f"--at {raw_name}: no such input or constant" + (f" ({hint})" if hint else "")
            )
        k = (in_names if group == "in" else const_names).index(name)
        old = leaves[group][k]
        try:
            value = yaml.safe_load(raw) if isinstance(raw, str) else raw
            array = np.broadcast_to(np.asarray(value, dtype=np.float64), old.shape)
        except (ValueError, TypeError, yaml.YAMLError) as exc:
            raise UsageError(
                f"--at {raw_name}={raw}: expected a number or a list that broadcasts to shape "
                f"{list(old.shape)} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
            ) from None
        leaves[group][k] = jnp.asarray(array, old.dtype)
    return (
        jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(inputs), leaves["in"]),
        jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(constants), leaves["const"]),
    )
