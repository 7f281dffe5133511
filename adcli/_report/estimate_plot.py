"""``adcli estimate --sweep … --plot FILE``: time per method vs d, and zero-order error vs d.

matplotlib is the optional ``adcli[plot]`` extra; the CLI calls ``require_matplotlib``
(from ``mode_plot``) before the sweep starts, so a missing extra fails at once.
"""

from __future__ import annotations

import io
import os

from adcli._report.mode_plot import require_matplotlib
from adcli._results.estimate import METHODS, EstimateSweep


def plot(sweeps: tuple[EstimateSweep, ...], path: str) -> bytes:
    """The figure as PNG or SVG bytes (by ``path``'s suffix), two log-log panels per sweep."""
    require_matplotlib(path)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(len(sweeps), 2, figsize=(12.0, 4.4 * len(sweeps)), squeeze=False)
    for (ax_t, ax_e), sweep in zip(axes, sweeps, strict=True):
        ds = [p.d for p in sweep.points]
        for name in METHODS:
            pts = [(p.d, p.times[name]) for p in sweep.points if p.times.get(name)]
            if pts:
                p = sweep.time_exponents.get(name)
                label = f"{name} (∝ d^{p:.2f})" if p is not None else name
                ax_t.plot(*zip(*pts, strict=True), marker="o", label=label)
        evals = [(p.d, p.eval_seconds) for p in sweep.points if p.eval_seconds]
        if evals:
            ax_t.plot(*zip(*evals, strict=True), "k--", label="T: one evaluation of f")
        first = sweep.results[0] if sweep.results else None
        where = f" · {first.backend} {first.dtype}" if first else ""
        ax_t.set_title(f"{sweep.name}: seconds per gradient{where}")
        ax_t.set_xlabel("d (inputs)")
        ax_t.set_ylabel("seconds (median)")
        errs = [(p.d, p.errors["zero-order"]) for p in sweep.points if p.errors.get("zero-order")]
        if errs:
            ax_e.plot(*zip(*errs, strict=True), marker="o", label="zero-order, measured")
        ax_e.plot(
            ds,
            [p.predicted_zero_order_error for p in sweep.points],
            "k--",
            label="theory √((d ∓ 1)/k)",
        )
        ax_e.set_title(f"zero-order relative error at fixed k = {sweep.k}")
        ax_e.set_xlabel("d (inputs)")
        ax_e.set_ylabel("‖G − ∇f‖ / ‖∇f‖")
        for ax in (ax_t, ax_e):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize="small")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=os.path.splitext(path)[1][1:].lower())
    plt.close(fig)
    return buffer.getvalue()
