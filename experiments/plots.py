"""Plots: decision boundaries as the course draws them, and figures saved beside results.json.

matplotlib's Agg backend, so no display is needed. A quick run's (``result["quick"]``) figures
are smoke output, drawn once: saved at 30 dpi as laid out, neither tight-laid-out nor trimmed to
their contents (each lays the figure out again); its decision boundaries are drawn on a coarser
grid (``coarse=True``), so smoke tests stay fast.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

REGION_COLORS = ("#f7c6b0", "#b9d7ea")  # predicted 0 (light red), predicted 1 (light blue)
POINT_COLORS = ("#c0392b", "#1f5fa8")  # label 0 (red), label 1 (blue)
GRID, COARSE_GRID = 300, 80  # grid points per axis of a decision boundary
QUICK_DPI = 30  # a quick run's figures: smoke output, not for reading


def add_plot(result: dict, fig, filename: str, caption: str, dpi: int = 100,
             tight_layout: bool = False) -> pathlib.Path:
    """Save ``fig`` as ``OUT/filename`` (PNG), after ``fig.tight_layout()`` if asked, trimmed to
    its contents; close it and list it in ``result``. A quick run saves it at 30 dpi, as laid out.
    """
    out = pathlib.Path(result["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    quick = result["quick"]
    if tight_layout and not quick:
        fig.tight_layout()
    fig.savefig(out / filename, dpi=QUICK_DPI if quick else dpi,
                bbox_inches=None if quick else "tight")
    plt.close(fig)
    result["plots"].append({"file": filename, "caption": caption})
    return out / filename


def class_colors(num_classes: int):
    """``(region colors, point colors)`` for ``num_classes`` labels: the course's red and blue for
    two, matplotlib's ``tab10`` (points) and its lightened shades (regions) for up to ten."""
    if num_classes <= 2:
        return REGION_COLORS, POINT_COLORS
    if num_classes > 10:
        raise ValueError(f"at most 10 classes can be told apart by colour, got {num_classes}")
    points = [plt.get_cmap("tab10")(k)[:3] for k in range(num_classes)]
    regions = [tuple(0.65 + 0.35 * c for c in rgb) for rgb in points]  # mixed with white
    return regions, points


def decision_boundary(ax, predict, X, Y, title: str, *, coarse: bool = False,
                      margin: float = 1.0):
    """Shade ``predict``'s regions over the plane and scatter the points, as the course does.

    Two classes: light red / light blue regions for predicted 0 / 1, red / blue points for labels
    0 / 1. K > 2 classes: one ``tab10`` colour per class, lighter for its region.

    Args:
      ax: a matplotlib Axes.
      predict: maps a ``(2, N)`` NumPy array to ``N`` (or ``(1, N)``) integer labels.
      X: ``(2, m)`` points; Y: ``(1, m)`` or ``(m,)`` labels 0..K-1.
      coarse: an 80 x 80 grid instead of 300 x 300 (quick runs).
      margin: space around the points, in the units of X.
    """
    resolution = COARSE_GRID if coarse else GRID
    X, Y = np.asarray(X), np.asarray(Y).ravel()
    region_colors, point_colors = class_colors(max(2, int(Y.max()) + 1))
    x_min, x_max = X[0].min() - margin, X[0].max() + margin
    y_min, y_max = X[1].min() - margin, X[1].max() + margin
    xx, yy = np.meshgrid(np.linspace(x_min, x_max, resolution),
                         np.linspace(y_min, y_max, resolution))
    grid = np.stack([xx.ravel(), yy.ravel()])  # (2, N): one point per column
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, zz, levels=np.arange(len(region_colors) + 1) - 0.5, colors=region_colors)
    for label, color in enumerate(point_colors):
        ax.scatter(X[0, Y == label], X[1, Y == label], color=color, s=10, edgecolors="k",
                   linewidths=0.3, label=f"y = {label}")
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title, fontsize=10)
