"""YAML documents as plain Python data with the file line of every key path, and a Reader
that checks types and keys of that data with errors pointing into the file.

PyYAML's constructors drop line numbers, so we compose nodes (safe tags only) and convert
them ourselves, recording where each value sits. Paths look like ``inputs.x.shape[1]``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import yaml  # type: ignore[import-untyped]

from adcli._errors import SpecError, did_you_mean
from adcli._spec.model import Where

_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader that also reads YAML 1.2 floats such as ``1e-6`` as floats.

    PyYAML follows YAML 1.1, where a float needs a dot and a signed exponent, so
    ``rtol: 1e-6`` would silently be the *string* "1e-6" (yaml/pyyaml#173).
    """


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("null", "bool", "int", "float", "str")}
_MERGE = _TAG + "merge"
_INTEGER = re.compile(r"^[-+]?[0-9]+$")
_NUMBER = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)(?:[eE][-+]?[0-9]+)?$")


@dataclass(frozen=True)
class Mark:
    """Where one value sits: its own line, its key's line, and where a scalar's text starts."""

    line: int
    key_line: int | None = None
    text_line: int | None = None  # block scalars (``|``, ``>``) start on the next line


@dataclass
class Document:
    """One YAML document: plain data plus ``marks`` (key path -> Mark; ``""`` is the root)."""

    data: Any
    marks: dict[str, Mark] = field(default_factory=dict)
    line: int = 1

    def line_of(self, path: str, *, key: bool = False) -> int | None:
        """The line of the value at ``path`` (or of its key), else of its closest parent."""
        while True:
            mark = self.marks.get(path)
            if mark is not None:
                return (mark.key_line or mark.line) if key else mark.line
            if not path:
                return self.line
            path = _parent(path)


def child(path: str, key: str | int) -> str:
    """The path of a mapping key (``a.b``) or a list item (``a[0]``) under ``path``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def load_documents(text: str, *, file: str | None = None) -> list[Document]:
    """Parse every non-empty document in ``text``; raise SpecError on invalid YAML."""
    loader = _Loader(text)
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None or (isinstance(node, yaml.ScalarNode) and node.tag == _TAG + "null"):
                continue  # an empty document, e.g. after a trailing ``---``
            conv = _Converter(loader, file)
            data = conv.convert(node, "", key_line=None)
            docs.append(Document(data, conv.marks, node.start_mark.line + 1))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.YAMLError as exc:  # e.g. a ReaderError for a control character
        raise SpecError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return docs


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str | None) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    problem = exc.problem or exc.context or "cannot parse"
    if exc.context and exc.problem:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark.line + 1 != line:
            context += f" that starts at line {exc.context_mark.line + 1}"
        problem = f"{problem} ({context})"
    hint = None
    source = text.splitlines()
    if line is not None and line <= len(source) and "\t" in source[line - 1]:
        hint = "indent with spaces; YAML does not allow tabs"
    elif "flow" in problem:
        hint = 'quote formulas that contain [ ] { } : or #, e.g. expr: "x[0]"'
    return SpecError(f"invalid YAML: {problem}", file=file, line=line, hint=hint)


class _Converter:
    """Turns a composed node tree into dicts/lists/scalars, recording a Mark per path."""

    def __init__(self, loader: Any, file: str | None) -> None:
        self.loader = loader
        self.file = file
        self.marks: dict[str, Mark] = {}
        self._active: set[int] = set()  # guards against recursive aliases (&a [*a])

    def fail(self, node: yaml.Node, path: str, problem: str, hint: str | None = None) -> NoReturn:
        raise SpecError(
            problem, file=self.file, line=node.start_mark.line + 1, field=path or None, hint=hint
        )

    def convert(self, node: yaml.Node, path: str, *, key_line: int | None) -> Any:
        line = node.start_mark.line + 1
        if isinstance(node, yaml.ScalarNode):
            if node.value == "" and not node.style and key_line is not None:
                line = key_line  # an empty value: point at its key, not the next token
            block = node.style in ("|", ">")
            self.marks[path] = Mark(line, key_line, line + 1 if block else line)
            return self._scalar(node, path)
        self.marks[path] = Mark(line, key_line)
        if id(node) in self._active:
            self.fail(node, path, "a YAML alias refers to itself")
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                self._check_tag(node, path, "seq")
                return [
                    self.convert(item, child(path, i), key_line=None)
                    for i, item in enumerate(node.value)
                ]
            self._check_tag(node, path, "map")
            return {
                key: self.convert(value, child(path, key), key_line=knode.start_mark.line + 1)
                for key, knode, value in self._pairs(node, path)
            }
        finally:
            self._active.discard(id(node))

    def _check_tag(self, node: yaml.Node, path: str, kind: str) -> None:
        if node.tag != _TAG + kind:
            self._bad_tag(node, path)

    def _bad_tag(self, node: yaml.Node, path: str) -> NoReturn:
        tag = "!!" + node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag
        self.fail(node, path, f"unsupported YAML tag {tag}", "specs are plain YAML; remove the tag")

    def _scalar(self, node: yaml.ScalarNode, path: str) -> Any:
        if node.tag == _TAG + "timestamp":
            return node.value  # a date-like string stays a string
        if node.tag not in _SCALAR_TAGS:
            self._bad_tag(node, path)
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError) as exc:
            self.fail(node, path, f"cannot read {node.value!r} as {node.tag[len(_TAG) :]}: {exc}")

    def _pairs(self, node: yaml.MappingNode, path: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        """Key/value pairs with ``<<`` merges applied; explicit keys win; duplicates fail."""
        pairs: list[tuple[str, yaml.Node, yaml.Node]] = []
        merged: list[tuple[str, yaml.Node, yaml.Node]] = []
        seen: dict[str, yaml.Node] = {}
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
                for src in sources:
                    if not isinstance(src, yaml.MappingNode):
                        self.fail(src, path, "a '<<' merge key needs a mapping (or a list of them)")
                    merged.extend(self._pairs(src, path))
                continue
            key = self._key(knode, path)
            if key in seen:
                first = seen[key].start_mark.line + 1
                self.fail(
                    knode,
                    child(path, key),
                    f"duplicate key '{key}'",
                    f"first given at line {first}; YAML would silently keep only the last",
                )
            seen[key] = knode
            pairs.append((key, knode, vnode))
        for key, knode, vnode in merged:
            if key not in seen:
                seen[key] = knode
                pairs.append((key, knode, vnode))
        return pairs

    def _key(self, knode: yaml.Node, path: str) -> str:
        if not isinstance(knode, yaml.ScalarNode):
            self.fail(knode, path, "a mapping key must be a plain name, not a list or mapping")
        key = self._scalar(knode, path)
        if not isinstance(key, str):
            what = "nothing" if key is None else f"the {type(key).__name__} {key!r}"
            self.fail(
                knode,
                path,
                f"a mapping key must be a string, got {what}",
                f"quote it: '{knode.value}'",
            )
        return key


def kind_of(value: Any) -> str:
    """How error messages name what they got: 'a string', 'an int', 'nothing', ..."""
    if value is None:
        return "nothing"
    names = {bool: "a bool", int: "an int", float: "a float", str: "a string", list: "a list"}
    return names.get(type(value)) or ("a mapping" if isinstance(value, dict) else "a value")


class Reader:
    """One document being validated: raises SpecErrors that point into it."""

    def __init__(self, doc: Document, file: str | None, base_dir: str) -> None:
        self.doc, self.file, self.base_dir = doc, file, base_dir

    def where(self, path: str) -> Where:
        return Where(self.file, self.doc.line_of(path, key=True))

    def fail(
        self, path: str, problem: str, hint: str | None = None, *, key: bool = False
    ) -> NoReturn:
        line = self.doc.line_of(path, key=key)
        raise SpecError(problem, file=self.file, line=line, field=path or None, hint=hint)

    def mapping(
        self,
        value: Any,
        path: str,
        keys: Sequence[str] | None = None,
        *,
        required: Sequence[str] = (),
        expected: str = "a mapping",
        other_hint: str | None = None,
    ) -> dict[str, Any]:
        """``value`` as a dict (None is empty), with unknown and missing keys reported."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            self.fail(path, f"expected {expected}, got {kind_of(value)}")
        allowed = list(value if keys is None else keys)
        for key in value:
            if key not in allowed:
                hint = did_you_mean(key, allowed) or other_hint
                hint = hint or f"expected one of: {', '.join(allowed)}"
                self.fail(child(path, key), f"unknown key '{key}'", hint, key=True)
        for key in required:
            if key not in value:
                self.fail(child(path, key), f"missing required key '{key}'", key=True)
        return value

    def integer(self, value: Any, path: str, *, minimum: int) -> int:
        """An int; numeric strings such as "2" are accepted too, as for :meth:`number`."""
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            text = value.strip().replace("_", "")
            value = int(text) if _INTEGER.match(text) else float(text)
        if isinstance(value, bool) or not isinstance(value, int):
            hint = (
                f"write {int(value)}" if isinstance(value, float) and value.is_integer() else None
            )
            got = value if isinstance(value, float) else kind_of(value)
            self.fail(path, f"expected an int >= {minimum}, got {got}", hint)
        if value < minimum:
            self.fail(path, f"expected an int >= {minimum}, got {value}")
        return value

    def number(self, value: Any, path: str, *, minimum: float | None = None) -> float:
        """A float; numeric strings such as "1e-6" are accepted (YAML 1.1 reads them so)."""
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not (numeric or (isinstance(value, str) and _NUMBER.match(value.strip()))):
            self.fail(path, f"expected a number, got {kind_of(value)}")
        number = float(value)
        if minimum is not None and not number >= minimum:  # also rejects nan
            self.fail(path, f"expected a number >= {minimum:g}, got {value}")
        return number

    def string(self, value: Any, path: str, *, what: str = "a string") -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"expected {what}, got {kind_of(value) if value != '' else 'nothing'}")
        return value

    def names(
        self, value: Any, path: str, choices: Sequence[str], *, what: str, hint: str = ""
    ) -> tuple[str, ...]:
        """A non-empty list of distinct names, each one of ``choices``."""
        if isinstance(value, str):
            self.fail(path, "expected a list, got a string", f"write [{value}]")
        if not isinstance(value, list) or not value:
            got = "an empty list" if value == [] else kind_of(value)
            self.fail(path, f"expected a non-empty list of {what}s, got {got}", hint)
        for i, name in enumerate(value):
            if not isinstance(name, str) or name not in choices:
                close = did_you_mean(str(name), choices)
                extra = hint or f"{what}s: {', '.join(choices)}"
                self.fail(
                    child(path, i),
                    f"'{name}' is not {_a(what)}",
                    f"{close} {extra}".strip() if close else extra,
                )
            if name in value[:i]:
                self.fail(child(path, i), f"'{name}' is listed twice")
        return tuple(value)


def _a(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
