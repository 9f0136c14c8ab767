"""Platform speed choices, in one place: how some of the course's products are laid out for XLA.

The course's equations in :mod:`jaxdnn.layers` and :mod:`jaxdnn.train` call these by name. Each
computes exactly the product its name says; only the layout XLA is handed differs. Each was
measured on XLA's CPU backend (``python -m experiments.bench``, the figures are in the benchmark's
output and in the commit that chose it) and is kept only while it pays there; none changes a result
beyond float round-off.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def W_transposed_times(W, dZ):
    """``W^T dZ``: ``(n_{l-1}, m)`` from ``W (n_l, n_{l-1})`` and ``dZ (n_l, m)``.

    The barrier makes XLA materialise ``W^T`` (small) so that its CPU backend runs a plain GEMM
    rather than its transposed-operand path on the large ``dZ``.
    """
    return jax.lax.optimization_barrier(W.T) @ dZ


def times_transposed(dZ, A_prev, dtype=None):
    """``dZ A_prev^T``: ``(n_l, n_{l-1})`` from ``dZ (n_l, m)`` and ``A_prev (n_{l-1}, m)``.

    For a one-unit layer (``n_l = 1``) this is a matrix-vector product, computed as
    ``(A_prev dZ^T)^T`` so that XLA does not copy ``A_prev^T``. ``dtype``: the product's dtype,
    its sum over the m examples accumulated in it (None: the operands').
    """
    if dZ.shape[0] == 1:
        return jnp.matmul(A_prev, dZ.T, preferred_element_type=dtype).T
    return jnp.matmul(dZ, A_prev.T, preferred_element_type=dtype)


def examples_first_products(W1_shape, m: int) -> bool:
    """Whether full-batch training reads X from its examples-first ``(m, n_x)`` copy inside the
    loop, so that ``W1 X`` and ``dZ1 X^T`` are products with that copy.

    Where the features far outnumber the examples (the course's cat images: n_x = 12288, m = 209),
    XLA's CPU products run faster on that copy; elsewhere the course layout is as fast or faster,
    and with a one-unit first layer (``W1 X`` a matrix-vector product) the copy is far slower.
    """
    n_1, n_x = W1_shape[-2:]
    return n_x > m and n_1 > 1
