"""Byte sizes: parse ``8GB``/``512MiB``/``1.5 GB`` strictly, and print sizes for people
(always in binary units: ``format_size``).

Decimal units (kB, MB, GB, TB) are powers of 1000 and binary units (KiB, MiB, GiB, TiB) powers
of 1024, as in IEC 80000-13; a bare number is bytes. Imports neither jax nor rich.
"""

from __future__ import annotations

import re

_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)\s*$")
SIZE_HELP = (
    "a size such as 8GB, 512MiB or 1.5 GB (kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024)"
)


def parse_size(text: str | int) -> int:
    """Bytes in a size string; raises ValueError saying what was expected.

    >>> parse_size("8GB"), parse_size("512MiB"), parse_size("1.5 GB"), parse_size(4096)
    (8000000000, 536870912, 1500000000, 4096)
    >>> parse_size("8 gigs")
    Traceback (most recent call last):
    ValueError: unknown unit 'gigs' in '8 gigs' (units: B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"expected {SIZE_HELP}, got {type(text).__name__}")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"a size cannot be negative, got {text}")
        return text
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"expected {SIZE_HELP}, got {text!r}")
    number, unit = match.groups()
    factor = _UNITS.get(unit.lower() or "b")
    if factor is None:
        units = "B, kB, MB, GB, TB, KiB, MiB, GiB, TiB"
        raise ValueError(f"unknown unit '{unit}' in {text!r} (units: {units})")
    if factor == 1 and "." in number:
        raise ValueError(f"a number of bytes must be whole, got {text!r}")
    return round(float(number) * factor)


def format_size(n: float | None) -> str:
    """A byte count for people, in binary units: 1536 → '1.5 KiB'.

    >>> format_size(0), format_size(1536), format_size(60 * 10**9)
    ('0 B', '1.5 KiB', '55.9 GiB')
    """
    if n is None:
        return "-"
    size, sign = abs(float(n)), "-" if n < 0 else ""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            text = f"{size:.0f}" if unit == "B" else f"{size:.3g}" if size < 100 else f"{size:.0f}"
            return f"{sign}{text} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
