"""``--plot FILE``: the classic figure — time of each mode against the output/input ratio.

matplotlib is an optional extra (``pip install 'adcli[plot]'``); ``require_matplotlib`` is
called before a sweep starts, so a missing extra fails in a second, not after the sweep.
"""

from __future__ import annotations

import io
import os

from adcli._errors import UsageError
from adcli._results.modes import SweepResult

FORMATS = (".png", ".svg")


def require_matplotlib(path: str) -> None:
    """Raise UsageError now if ``path`` cannot be written: wrong suffix or no matplotlib."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise UsageError(f"--plot {path}: expected a .png or .svg file name")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(
            "--plot needs matplotlib, an optional extra: pip install 'adcli[plot]'"
        ) from None


def plot(sweeps: tuple[SweepResult, ...], path: str) -> bytes:
    """The figure as PNG or SVG bytes (by ``path``'s suffix): seconds vs m/n, log-log."""
    require_matplotlib(path)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, len(sweeps), figsize=(6.4 * len(sweeps), 4.4), squeeze=False)
    for ax, sweep in zip(axes[0], sweeps, strict=True):
        names = [c.name for c in sweep.results[0].candidates] if sweep.results else []
        for name in names:
            pts = [(p.m / p.n, p.times.get(name)) for p in sweep.points if p.times.get(name)]
            if pts:
                ax.plot(*zip(*pts, strict=True), marker="o", label=name)
        for p in sweep.points:
            if p.crossover:
                ax.axvline(p.m / p.n, color="grey", linestyle=":", linewidth=1)
        first = sweep.results[0] if sweep.results else None
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("outputs / inputs  (m / n)")
        ax.set_ylabel("seconds per Jacobian (median)")
        where = f" · {first.backend} {first.dtype}" if first else ""
        ax.set_title(f"{sweep.name}: sweep over {sweep.dim}{where}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=os.path.splitext(path)[1][1:].lower())
    plt.close(fig)
    return buffer.getvalue()
