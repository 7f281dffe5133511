"""The shape grammar: dim expressions are checked with a whitelist and never eval-ed."""

from __future__ import annotations

import pytest

from adcli._errors import SpecError
from adcli._spec.model import Where
from adcli._spec.shapes import broadcasts, dims_used, parse_entry, parse_shape, resolve_shape


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (3, 3),
        (0, 0),
        ("n", "n"),
        ("  2*n + 1 ", "2*n + 1"),
        ("n//2", "n//2"),
        ("(n - 1) * m", "(n - 1) * m"),
        ("-n + 5", "-n + 5"),
        ("4", 4),  # no dim names: folded to an int
        ("2 * 3 + 1", 7),
    ],
)
def test_parse_entry_accepts(entry: int | str, expected: int | str) -> None:
    assert parse_entry(entry) == expected


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ("n/2", r"'/' in 'n/2' is not integer division \(use // instead\)"),
        ("n**2", r"'\*\*' in 'n\*\*2' is not supported \(write n\*n"),
        ("n % 2", "operator not allowed"),
        ("2.5 * n", "holds 2.5, but sizes are integers"),
        ("__import__('os').getcwd()", "cannot read the dim expression"),
        ("len(x)", "cannot read the dim expression"),
        ("x.shape", "cannot read the dim expression"),
        ("n, 3", "cannot read the dim expression"),
        ("n +", "cannot read the dim expression"),
        ("", "cannot read the dim expression"),
        ("True", "holds True, but sizes are integers"),
        ("1 - 3", "a size cannot be negative, got -2"),
        (-1, "a size cannot be negative, got -1"),
        (2.0, r"expected an int or a dim name, got a float \(2.0\)"),
        (True, "expected an int or a dim name, got a bool"),
        (None, "expected an int or a dim name, got nothing"),
    ],
)
def test_parse_entry_rejects(entry: object, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        parse_entry(entry, where=Where("s.yaml", 4), field="inputs.x.shape[0]")
    assert (info.value.file, info.value.line, info.value.field) == (
        "s.yaml",
        4,
        "inputs.x.shape[0]",
    )


def test_parse_shape() -> None:
    assert parse_shape([]) == ()
    assert parse_shape(["n", 3, "2*m"]) == ("n", 3, "2*m")


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("n, 3", r"expected a list of ints or dim names, got a string \(write \[n, 3\]\)"),
        ("(n, 3)", r"got a string \(write \[n, 3\]\)"),
        (3, r"got an int \(write \[3\]\)"),
        (None, "got nothing"),
        ({"n": 3}, "got a mapping"),
    ],
)
def test_parse_shape_rejects_non_lists(value: object, match: str) -> None:
    with pytest.raises(SpecError, match=match) as info:
        parse_shape(value, field="inputs.x.shape")
    assert info.value.field == "inputs.x.shape"


def test_parse_shape_names_the_bad_entry_and_its_line() -> None:
    with pytest.raises(SpecError, match="operator not allowed") as info:
        parse_shape(["n", "n % 2"], where=Where("f.yaml", 3), field="x.shape", entry_lines=[4, 5])
    assert (info.value.line, info.value.field) == (5, "x.shape[1]")


def test_dims_used() -> None:
    assert dims_used(()) == set()
    assert dims_used(("n", 3, "2*m + n", "(k - 1) // 2")) == {"n", "m", "k"}


def test_resolve_shape() -> None:
    dims = {"n": 5, "m": 3}
    assert resolve_shape((), dims) == ()
    assert resolve_shape(("n", 2, "n*m", "n//2", "n - m", "-m + n", "(n + 1) // 2"), dims) == (
        5,
        2,
        15,
        2,
        2,
        2,
        3,
    )


def test_resolve_shape_unknown_dim_did_you_mean() -> None:
    with pytest.raises(SpecError, match=r"unknown dim 'bach' \(did you mean 'batch'\?\)") as info:
        resolve_shape(("n", "2*bach"), {"n": 1, "batch": 2}, where=Where("a.yaml", 7), field="s")
    assert (info.value.file, info.value.line, info.value.field) == ("a.yaml", 7, "s[1]")


def test_resolve_shape_unknown_dim_without_a_close_name() -> None:
    with pytest.raises(SpecError, match=r"unknown dim 'k' \(define it under dims:, e.g. {k: 10}\)"):
        resolve_shape(("k",), {"n": 1})


def test_resolve_shape_negative_and_division_by_zero() -> None:
    with pytest.raises(SpecError, match="'n - 5' is -2 with n=3; a size cannot be negative"):
        resolve_shape(("n - 5",), {"n": 3})
    with pytest.raises(SpecError, match="division by zero in 'n // \\(n - n\\)'"):
        resolve_shape(("n // (n - n)",), {"n": 3})


def test_resolve_shape_uses_entry_lines() -> None:
    with pytest.raises(SpecError) as info:
        resolve_shape(("n", "q"), {"n": 1}, where=Where(None, 2), field="x", entry_lines=[3, 4])
    assert info.value.line == 4


@pytest.mark.parametrize(
    ("source", "target", "ok"),
    [
        ((), (3, 4), True),
        ((4,), (3, 4), True),
        ((1, 4), (3, 4), True),
        ((3, 1), (3, 4), True),
        ((3,), (3, 4), False),
        ((2, 3, 4), (3, 4), False),
        ((3,), (), False),
        ((), (), True),
    ],
)
def test_broadcasts(source: tuple[int, ...], target: tuple[int, ...], ok: bool) -> None:
    assert broadcasts(source, target) is ok
