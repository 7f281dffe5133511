"""Argument trees: an input or constant read from a spec document.

An argument is a pytree whose nodes are written in YAML as:

- a leaf: ``{shape: [n, 3], dtype: ..., init: ..., seed: ...}``, or a bare shape ``[n, 3]``;
- a mapping of names to subtrees (any key name: ``scale``, ``type`` and ``input`` are
  parameter names in real models, not typos);
- a sequence of subtrees (a list pytree, e.g. ``[[W1, b1], [W2, b2]]`` pairs): a sequence
  whose items are mappings or sequences (a sequence of ints or dim names is a shape);
- a value from the user's code: ``{python: file.py:init_params}`` (see ``PythonTree``).

A mapping is read as a leaf when it has a ``shape`` (or a ``python`` reference); as a
subtree when every value could be a subtree (a mapping or a sequence); otherwise it is a
leaf with a mistake, and a key close to ``shape`` is named as the typo it must be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adcli._errors import did_you_mean
from adcli._spec.model import INPUT_DTYPES, PythonTree, Tree
from adcli._spec.shapes import INIT_KINDS, LEAF_KEYS, _dtype, _init, read_array
from adcli._spec.yaml import Reader, child, kind_of

PYTHON_KEYS = ("python", "init", "dtype", "seed", "item")
# A value from code has no sizes in the spec: only the inits that need none apply to it.
PYTHON_INITS = ("normal", "uniform", "positive", "randint", "zeros", "ones")
_PYTREE_ONLY = (
    "pytree arguments are for python: functions only",
    "give it a shape, e.g. {shape: [n]}, or write the function in Python",
)


def is_list_tree(value: Any) -> bool:
    """A YAML sequence that is a list pytree (some item is a mapping or a sequence), not a
    shape (a sequence of ints and dim names)."""
    return isinstance(value, list) and any(isinstance(item, dict | list) for item in value)


def read_tree(
    r: Reader,
    value: Any,
    path: str,
    kind: str,
    dims: Mapping[str, int],
    *,
    trees: bool = True,
    dtype: str | None = None,
) -> Tree:
    """One argument (``kind`` input or constant) at ``path``; ``trees``: the function is
    Python, so subtrees are allowed; ``dtype``: the spec-wide default dtype."""
    default = dtype or "float64"
    if isinstance(value, list) and not is_list_tree(value):
        return read_array(r, {}, path, kind, dims, shorthand=value, default_dtype=default)
    if isinstance(value, list):
        items = tuple(
            read_tree(r, sub, child(path, i), kind, dims, dtype=dtype)
            for i, sub in enumerate(value)
        )
        if not trees:  # after the items, so that a mistake inside them is named first
            r.fail(path, f"a list of arrays is a pytree, and {_PYTREE_ONLY[0]}", _PYTREE_ONLY[1])
        return items
    want = "a shape list like [n, 3] or a mapping with 'shape'"
    tree = r.mapping(value, path, expected=want)
    if "shape" in tree:
        return read_array(r, tree, path, kind, dims, default_dtype=default)
    if isinstance(tree.get("python"), str):
        return _python_tree(r, tree, path, kind, dtype)
    # Under a formula nothing can be a subtree: a key close to a leaf key is its typo.
    if not trees or not could_be_subtree(tree):
        not_a_leaf(r, tree, path, LEAF_KEYS["input"])
    subtree = {
        key: read_tree(r, sub, child(path, key), kind, dims, dtype=dtype)
        for key, sub in tree.items()
    }
    if not trees:  # after the children, so that a mistake inside them is named first
        problem = f"a mapping without 'shape' is a pytree, and {_PYTREE_ONLY[0]}"
        r.fail(path, problem, _PYTREE_ONLY[1], key=True)
    return subtree


def could_be_subtree(tree: Mapping[str, Any]) -> bool:
    """Whether a mapping without ``shape`` can be a subtree: not empty, every value a
    mapping or a sequence, and no ``init: {normal: ...}`` or ``sharding: [axis, ...]`` (a
    leaf that lost its shape: a list of axis names is never a subtree)."""
    init = tree.get("init")
    leaf_init = isinstance(init, dict) and set(init) <= set(INIT_KINDS)
    sharding = tree.get("sharding")
    leaf_sharding = isinstance(sharding, list) and not is_list_tree(sharding)
    if leaf_init or leaf_sharding or not tree:
        return False
    return all(isinstance(v, dict | list) for v in tree.values())


def not_a_leaf(r: Reader, tree: Mapping[str, Any], path: str, keys: Sequence[str]) -> None:
    """A mapping that cannot be a subtree (a value is a dtype name, a number, ...): a leaf
    (with ``keys``) whose ``shape`` is misspelt or missing. Returns when it is neither (a
    subtree whose child then reports its own mistake)."""
    for key in tree:
        hint = did_you_mean(key, keys) if key not in keys else None
        if hint:
            r.fail(child(path, key), f"unknown key '{key}'", hint, key=True)
    if not tree or set(tree) & set(keys):
        r.fail(path, "missing required key 'shape'", "e.g. shape: [n]; [] is a scalar", key=True)


def _python_tree(
    r: Reader, tree: Mapping[str, Any], path: str, kind: str, default: str | None
) -> PythonTree:
    """``{python: REF, init: ..., dtype: ..., seed: ...}``: an argument from the user's code."""
    from adcli._spec.load import _python_ref  # load imports this module: import on use

    r.mapping(tree, path, PYTHON_KEYS, other_hint="{python: ...} takes init, dtype, seed, item")
    ref = _python_ref(r, tree["python"], child(path, "python"))
    init = None
    if tree.get("init") is not None:
        init = _init(r, tree["init"], child(path, "init"), ())
        if init.kind not in PYTHON_INITS:
            hint = f"its shapes come from the code: use one of {', '.join(PYTHON_INITS)}"
            r.fail(child(path, "init"), f"init {init.kind} needs a shape", hint)
    dtype = default
    if tree.get("dtype") is not None:
        dtype = _dtype(r, tree["dtype"], child(path, "dtype"), kind)
        if dtype not in INPUT_DTYPES:
            hint = "dtype: casts the floating leaves of a value from code; leave it out"
            r.fail(child(path, "dtype"), f"{dtype} is not a float or complex dtype", hint)
    seed, item = tree.get("seed"), tree.get("item")
    if item is not None and (isinstance(item, bool) or not isinstance(item, int | str)):
        hint = "item: 0 takes the first of the values it returns, item: params the one named so"
        r.fail(child(path, "item"), f"expected an int or a name, got {kind_of(item)}", hint)
    return PythonTree(
        ref=ref,
        init=init,
        dtype=dtype,
        seed=None if seed is None else r.integer(seed, child(path, "seed"), minimum=0),
        where=r.where(path),
        item=item,
    )
