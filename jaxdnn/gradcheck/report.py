"""The verdict on each leaf, and the report: a table for people, a dict and JSON for programs.

The pass rule (one rule for every check, both modes). A leaf's gradient under test ``g`` agrees
with a reference ``r`` (autodiff, or the finite differences) when::

    ||g - r||_2 / (||g||_2 + ||r||_2) < threshold    (the course's relative difference)
    or   max_i |g_i - r_i| <= atol                    (absolute: below what the reference resolves)

``atol`` against the finite differences is their own round-off (see
:func:`jaxdnn.gradcheck.tolerances`): a gradient smaller than that cannot be told from zero by
differencing the cost, so a leaf whose true gradient is 0 (a dead relu layer) passes instead of
showing a relative difference of 1 against round-off. Entries whose centred difference straddles a
kink of the function (see :func:`jaxdnn.gradcheck.numeric.kinks`) are left out of the comparison
with the finite differences (they are not valid there), and of the overall figure, and listed as
kinks; they are still compared with autodiff. A leaf passes when it agrees with both references.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np


def relative_difference(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)``; 0 when both are zero."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def max_abs_difference(a, b) -> float:
    """``max_i |a_i - b_i|``; 0 for empty arrays."""
    d = np.abs(np.ravel(np.asarray(a, np.float64)) - np.ravel(np.asarray(b, np.float64)))
    return float(d.max()) if d.size else 0.0


def agrees(a, b, threshold: float, atol: float) -> bool:
    """The pass rule: relative difference below ``threshold``, or every entry within ``atol``."""
    return relative_difference(a, b) < threshold or max_abs_difference(a, b) <= atol


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The check of one leaf, e.g. ``[1]['W']`` (layer 2's weights), or ``X``.

    In coordinate mode the compared entries are the leaf's own entries and indices are positions
    in the leaf; in random-direction mode they are the k directional derivatives ``<g, v_j>`` and
    an index is ``(j,)``. ``kinks`` lists the entries whose centred difference straddles a
    kink of the function (left out of the comparison with the finite differences).
    """

    path: str
    shape: tuple[int, ...]
    manual_vs_autodiff: float  # relative difference
    manual_vs_numeric: float  # relative difference, kink entries left out
    max_abs_vs_autodiff: float
    max_abs_vs_numeric: float
    atol_autodiff: float
    atol_numeric: float
    worst_index: tuple[int, ...]  # where |manual - numeric| is largest (outside kinks)
    worst_manual: float
    worst_autodiff: float
    worst_numeric: float
    kinks: tuple[tuple[int, ...], ...]
    agrees_with_autodiff: bool
    agrees_with_numeric: bool

    @property
    def passed(self) -> bool:
        return self.agrees_with_autodiff and self.agrees_with_numeric

    @property
    def verdict(self) -> str:
        """``ok`` or ``MISMATCH (autodiff, numeric)``, plus how many entries sit at a kink."""
        if self.passed:
            v = "ok"
        else:
            which = [name for name, ok in (("autodiff", self.agrees_with_autodiff),
                                           ("numeric", self.agrees_with_numeric)) if not ok]
            v = f"MISMATCH ({', '.join(which)})"
        if self.kinks:
            v += f", {len(self.kinks)} at kinks"
        return v


def compare_leaf(path, shape, g, a, n, kink, *, threshold, atol_autodiff, atol_numeric,
                 index=None) -> LeafCheck:
    """One leaf's :class:`LeafCheck` from its gradient under test ``g``, autodiff's ``a``, the
    finite differences ``n`` and the kink mask (all arrays of one shape; ``index`` maps a flat
    position to the reported index, by default the position in that shape)."""
    g, a, n = (np.asarray(x, np.float64) for x in (g, a, n))
    kink = np.asarray(kink, bool)
    unravel = index or (lambda i: tuple(int(k) for k in np.unravel_index(i, g.shape)))
    valid = ~kink.ravel()
    gv, nv = g.ravel()[valid], n.ravel()[valid]
    if valid.any():
        w = int(np.flatnonzero(valid)[np.argmax(np.abs(gv - nv))])
    else:
        w = int(np.argmax(np.abs(g.ravel() - a.ravel())))
    return LeafCheck(
        path=path, shape=tuple(int(s) for s in shape),
        manual_vs_autodiff=relative_difference(g, a), manual_vs_numeric=relative_difference(gv, nv),
        max_abs_vs_autodiff=max_abs_difference(g, a), max_abs_vs_numeric=max_abs_difference(gv, nv),
        atol_autodiff=float(atol_autodiff), atol_numeric=float(atol_numeric),
        worst_index=unravel(w), worst_manual=float(g.ravel()[w]),
        worst_autodiff=float(a.ravel()[w]), worst_numeric=float(n.ravel()[w]),
        kinks=tuple(unravel(int(i)) for i in np.flatnonzero(kink.ravel())),
        agrees_with_autodiff=agrees(g, a, threshold, atol_autodiff),
        agrees_with_numeric=agrees(gv, nv, threshold, atol_numeric))


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """Per-leaf and overall differences; ``str(report)`` is a table, ``report.to_json()`` JSON.

    ``of`` says what was differentiated: ``"gradient"`` (:func:`jaxdnn.gradcheck.check`),
    ``"dJ/dparams"``, ``"dJ/dX"`` or ``"Hessian-vector"``;
    ``mode`` is ``"coordinates"`` (every entry perturbed, the course's check) or ``"directions"``
    (``num_directions`` random unit directions per leaf).
    """

    leaves: tuple[LeafCheck, ...]
    manual_vs_autodiff: float  # over all entries at once
    manual_vs_numeric: float  # the course's single "difference" (all entries but kinks)
    epsilon: float
    threshold: float
    of: str = "dJ/dparams"
    mode: str = "coordinates"
    num_directions: int | None = None
    dtype: str = "float64"
    cost: float = float("nan")  # J at the checked point
    l2: float = 0.0
    keep_prob: float | None = None

    @property
    def passed(self) -> bool:
        return all(leaf.passed for leaf in self.leaves)

    @property
    def failed_leaves(self) -> tuple[str, ...]:
        return tuple(leaf.path for leaf in self.leaves if not leaf.passed)

    @property
    def kink_leaves(self) -> tuple[str, ...]:
        return tuple(leaf.path for leaf in self.leaves if leaf.kinks)

    def __getitem__(self, path: str) -> LeafCheck:
        for leaf in self.leaves:
            if leaf.path == path:
                return leaf
        raise KeyError(f"no leaf {path!r}; leaves are {[l.path for l in self.leaves]}")

    def to_dict(self) -> dict:
        """Plain Python: every field, each leaf's ``passed`` and ``verdict``, and ``passed``."""
        d = dataclasses.asdict(self)
        for leaf, entry in zip(self.leaves, d["leaves"]):
            entry["passed"], entry["verdict"] = leaf.passed, leaf.verdict
        d["passed"] = self.passed
        d["failed_leaves"] = list(self.failed_leaves)
        return d

    def to_json(self, **kwargs) -> str:
        """:meth:`to_dict` as JSON (keyword arguments go to ``json.dumps``)."""
        return json.dumps(self.to_dict(), **kwargs)

    def __str__(self) -> str:
        directions = self.mode == "directions"
        head = ("leaf", "shape", "manual~autodiff", "manual~numeric", "max|m-n|", "atol",
                "worst at", "manual", "autodiff", "numeric", "verdict")
        where = (lambda i: f"v{i[0]}") if directions else (lambda i: str(list(i)))
        rows = [
            (leaf.path, "x".join(map(str, leaf.shape)), f"{leaf.manual_vs_autodiff:.3e}",
             f"{leaf.manual_vs_numeric:.3e}", f"{leaf.max_abs_vs_numeric:.1e}",
             f"{leaf.atol_numeric:.1e}", where(leaf.worst_index),
             f"{leaf.worst_manual:+.6e}", f"{leaf.worst_autodiff:+.6e}",
             f"{leaf.worst_numeric:+.6e}", leaf.verdict)
            for leaf in self.leaves
        ]
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.rjust(w) if 0 < i < len(r) - 1 else c.ljust(w)
                                  for i, (c, w) in enumerate(zip(r, widths)))
        mode = ("every coordinate" if not directions
                else f"{self.num_directions} random directions over all parameters"
                if self.of == "Hessian-vector"
                else f"{self.num_directions} random directions per leaf")
        reg = "".join([f", l2 = {self.l2:g}" if self.l2 else "",
                       f", keep_prob = {self.keep_prob:g}" if self.keep_prob is not None else ""])
        lines = [f"{self.of} check, {mode}, {self.dtype}{reg}, J = {self.cost:.6g}", "",
                 fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)]
        for leaf in self.leaves:
            if leaf.kinks:
                shown = ", ".join(where(i) for i in leaf.kinks[:8])
                more = f" and {len(leaf.kinks) - 8} more" if len(leaf.kinks) > 8 else ""
                lines.append(f"kink: {leaf.path} at {shown}{more}: the centred difference "
                             "straddles a kink of the function, so it is not compared there")
        verdict = "PASSED" if self.passed else f"FAILED on {', '.join(self.failed_leaves)}"
        lines += [
            "",
            f"overall difference manual~numeric = {self.manual_vs_numeric:.3e}, "
            f"manual~autodiff = {self.manual_vs_autodiff:.3e} "
            f"(eps = {self.epsilon:g}, threshold = {self.threshold:g}): {verdict}",
        ]
        return "\n".join(lines)
