"""Gradient checking: hand-derived vs ``jax.grad`` vs centred finite differences, leaf by leaf.

The course's check: for every parameter theta_i,
``g_approx_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)`` with ``eps = 1e-7``, and
``difference = ||g - g_approx||_2 / (||g||_2 + ||g_approx||_2)``, which should be below ``1e-7``.
Everything runs in float64 (``jax.enable_x64`` is switched on for the duration of the check).

Run it from the command line on a random network::

    python -m jaxdnn.gradcheck --layers 5,4,3,1 --activations relu,tanh,sigmoid
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxdnn.checks import check_problem, check_same_structure, check_scalar
from jaxdnn.backward import autodiff_value_and_grad, manual_value_and_grad
from jaxdnn.loss import cost

EPSILON = 1e-7
THRESHOLD = 1e-7


def relative_difference(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)``; 0 when both are zero."""
    a, b = np.ravel(np.asarray(a, np.float64)), np.ravel(np.asarray(b, np.float64))
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


@dataclasses.dataclass(frozen=True)
class LeafCheck:
    """The check of one leaf, e.g. ``[1]['W']`` (layer 2's weights)."""

    path: str
    shape: tuple[int, ...]
    manual_vs_autodiff: float
    manual_vs_numeric: float
    worst_index: tuple[int, ...]  # where |manual - numeric| is largest
    worst_manual: float
    worst_autodiff: float
    worst_numeric: float
    passed: bool


@dataclasses.dataclass(frozen=True)
class GradCheckReport:
    """Per-leaf and overall differences; ``str(report)`` is a readable table."""

    leaves: tuple[LeafCheck, ...]
    manual_vs_autodiff: float  # over all parameters at once
    manual_vs_numeric: float  # the course's single "difference"
    epsilon: float
    threshold: float

    @property
    def passed(self) -> bool:
        return all(leaf.passed for leaf in self.leaves)

    @property
    def failed_leaves(self) -> tuple[str, ...]:
        return tuple(leaf.path for leaf in self.leaves if not leaf.passed)

    def __getitem__(self, path: str) -> LeafCheck:
        for leaf in self.leaves:
            if leaf.path == path:
                return leaf
        raise KeyError(f"no leaf {path!r}; leaves are {[l.path for l in self.leaves]}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["passed"] = self.passed
        return d

    def __str__(self) -> str:
        head = ("leaf", "shape", "manual~autodiff", "manual~numeric", "worst at",
                "manual", "autodiff", "numeric", "verdict")
        rows = [
            (leaf.path, "x".join(map(str, leaf.shape)), f"{leaf.manual_vs_autodiff:.3e}",
             f"{leaf.manual_vs_numeric:.3e}", str(list(leaf.worst_index)),
             f"{leaf.worst_manual:+.6e}", f"{leaf.worst_autodiff:+.6e}",
             f"{leaf.worst_numeric:+.6e}", "ok" if leaf.passed else "MISMATCH")
            for leaf in self.leaves
        ]
        widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
        fmt = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w)  # noqa: E731
                                  for i, (c, w) in enumerate(zip(r, widths)))
        lines = [fmt(head), "  ".join("-" * w for w in widths), *map(fmt, rows)]
        verdict = "PASSED" if self.passed else f"FAILED on {', '.join(self.failed_leaves)}"
        lines += [
            "",
            f"overall difference manual~numeric = {self.manual_vs_numeric:.3e}, "
            f"manual~autodiff = {self.manual_vs_autodiff:.3e} "
            f"(eps = {self.epsilon:g}, threshold = {self.threshold:g}): {verdict}",
        ]
        return "\n".join(lines)


def numeric_grad(f, params, epsilon=EPSILON, batch_size=256):
    """Centred finite differences of scalar ``f(params)`` for every parameter, as a params tree."""
    theta, unravel = ravel_pytree(params)
    f_flat = jax.jit(lambda t: f(unravel(t)))

    def centred(i):
        e = jnp.zeros_like(theta).at[i].set(epsilon)
        return (f_flat(theta + e) - f_flat(theta - e)) / (2 * epsilon)

    g = jax.lax.map(centred, jnp.arange(theta.size), batch_size=min(batch_size, theta.size))
    return unravel(g)


def gradient_check(params, X, Y, activations, *, grad_fn=manual_value_and_grad,
                   epsilon: float = EPSILON, threshold: float = THRESHOLD) -> GradCheckReport:
    """Check a value-and-grad function against ``jax.grad`` and finite differences, in float64.

    Args:
      params: list of L ``{"W", "b"}`` dicts (cast to float64 for the check).
      X: ``(n_x, m)`` inputs.
      Y: ``(n_L, m)`` labels in [0, 1].
      activations: L names, the last ``"sigmoid"``.
      grad_fn: the value-and-grad under test, with the signature of
        :func:`jaxdnn.manual_value_and_grad` (the default).
      epsilon: finite-difference step.
      threshold: a leaf passes when both of its differences are below it.

    Returns:
      a :class:`GradCheckReport`; ``print(report)`` shows the table, ``report.passed`` the verdict.
    """
    check_problem(params, X, Y, activations)
    check_scalar("epsilon", epsilon, low=0.0, low_inclusive=False)
    check_scalar("threshold", threshold, low=0.0, low_inclusive=False)
    if not callable(grad_fn):
        raise TypeError(f"grad_fn must be a value-and-grad function, got {type(grad_fn).__name__}")
    with jax.enable_x64(True):
        to64 = lambda t: jax.tree.map(lambda x: jnp.asarray(x, jnp.float64), t)  # noqa: E731
        params, X, Y = to64(params), to64(X), to64(Y)
        acts = tuple(activations)
        result = grad_fn(params, X, Y, acts)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise TypeError("grad_fn must return (cost, grads), like jaxdnn.manual_value_and_grad")
        g_under_test = result[1]
        check_same_structure(params, g_under_test, "params", "the grads of grad_fn")
        _, g_auto = autodiff_value_and_grad(params, X, Y, acts)
        g_num = numeric_grad(lambda p: cost(p, X, Y, acts), params, epsilon)
        leaves = []
        for (path, g), a, n in zip(jax.tree_util.tree_leaves_with_path(g_under_test),
                                   jax.tree.leaves(g_auto), jax.tree.leaves(g_num)):
            g, a, n = (np.asarray(x, np.float64) for x in (g, a, n))
            worst = np.unravel_index(int(np.argmax(np.abs(g - n))), g.shape)
            d_auto, d_num = relative_difference(g, a), relative_difference(g, n)
            leaves.append(LeafCheck(
                path=jax.tree_util.keystr(path), shape=tuple(g.shape),
                manual_vs_autodiff=d_auto, manual_vs_numeric=d_num,
                worst_index=tuple(int(i) for i in worst), worst_manual=float(g[worst]),
                worst_autodiff=float(a[worst]), worst_numeric=float(n[worst]),
                passed=bool(d_auto < threshold and d_num < threshold)))
        flat = lambda t: ravel_pytree(t)[0]  # noqa: E731
        return GradCheckReport(
            leaves=tuple(leaves),
            manual_vs_autodiff=relative_difference(flat(g_under_test), flat(g_auto)),
            manual_vs_numeric=relative_difference(flat(g_under_test), flat(g_num)),
            epsilon=epsilon, threshold=threshold)
