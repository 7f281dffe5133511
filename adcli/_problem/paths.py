"""Names of pytree leaves as a model author reads them: ``params.Dense_0.kernel``,
``model.layers[2].weight``, ``params[1][0]``.

A dict key that is a Python identifier is written as an attribute (``.kernel``); any other
key keeps JAX's subscript form (``['conv/1']``, ``[3]``).

>>> import jax
>>> tree = {"Dense_0": {"kernel": 1}, "a b": [2, (3,)]}
>>> [path_text(p) for p, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]
['.Dense_0.kernel', "['a b'][0]", "['a b'][1][0]"]
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from typing import Any

from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey


def key_text(key: Any) -> str:
    """One path entry: ``.name`` for identifier keys and attributes, else ``[key]``."""
    if isinstance(key, DictKey):
        name = key.key
        if isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name):
            return f".{name}"
        return f"[{name!r}]"
    if isinstance(key, GetAttrKey):
        return f".{key.name}"
    if isinstance(key, SequenceKey):
        return f"[{key.idx}]"
    if isinstance(key, FlattenedIndexKey):
        return f"[{key.key}]"
    return str(key)


def path_text(path: Sequence[Any]) -> str:
    """A whole key path, e.g. ``.layers[0].weight``."""
    return "".join(key_text(k) for k in path)
