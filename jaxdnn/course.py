"""The course's own initial parameters and test cases, rebuilt with NumPy's legacy generator.

The course draws its weights with ``np.random.seed(s)`` then ``np.random.randn(n_l, n_{l-1})`` in
layer order, times a scale that depends on the notebook. Exact cost values reproduce only from these
same numbers (and in float64), so experiments and tests build them here and hand them to jaxdnn.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.checks import check_layer_dims
from jaxdnn.initializers import SCALES
from jaxdnn.typing import DTypeLike, Params


def course_params(
    layer_dims: Sequence[int], seed: int, method: str, dtype: DTypeLike = jnp.float64
) -> Params:
    """Initial params exactly as the course draws them.

    ``np.random.seed(seed)``, then for l = 1..L: ``W_l = randn(n_l, n_{l-1}) * scale(n_{l-1})``,
    ``b_l = zeros((n_l, 1))``, where ``method`` names the scale as in :func:`jaxdnn.init_params`:
    ``"small"`` (0.01: planar and two-layer nets), ``"xavier"`` (1/sqrt(n_{l-1}): the L-layer cat
    net), ``"he"`` and ``"large"`` (the initialisation and optimisation notebooks), ``"zeros"``.

    Returns:
      the params list in ``dtype`` (float64 by default, as the course computes).
    """
    dims = check_layer_dims(layer_dims)
    if method not in SCALES:
        raise ValueError(f"unknown init method {method!r}; expected one of {list(SCALES)}")
    rng_state = np.random.get_state()
    try:
        np.random.seed(seed)
        params = []
        for n_prev, n in zip(dims[:-1], dims[1:]):
            W = np.random.randn(n, n_prev) * SCALES[method](n_prev)
            if method == "zeros":
                W = np.zeros((n, n_prev))
            params.append({"W": jnp.asarray(W, dtype), "b": jnp.zeros((n, 1), dtype)})
    finally:
        np.random.set_state(rng_state)
    return params


def gradient_check_test_case(
    dtype: DTypeLike = jnp.float64,
) -> tuple[Params, jax.Array, jax.Array, tuple[str, ...]]:
    """The course's 3-layer gradient-check network: ``(params, X, Y, activations)``.

    ``np.random.seed(1)``; X = randn(4, 3); Y = [1, 1, 0]; then W1 (5, 4), b1 (5, 1), W2 (3, 5),
    b2 (3, 1), W3 (1, 3), b3 (1, 1), each ``randn``, in that order; relu, relu, sigmoid.
    """
    rng_state = np.random.get_state()
    try:
        np.random.seed(1)
        X = np.random.randn(4, 3)
        Y = np.array([[1.0, 1.0, 0.0]])
        shapes = [(5, 4), (5, 1), (3, 5), (3, 1), (1, 3), (1, 1)]
        arrays = [np.random.randn(*s) for s in shapes]
    finally:
        np.random.set_state(rng_state)
    params = [{"W": jnp.asarray(arrays[i], dtype), "b": jnp.asarray(arrays[i + 1], dtype)}
              for i in range(0, 6, 2)]
    return params, jnp.asarray(X, dtype), jnp.asarray(Y, dtype), ("relu", "relu", "sigmoid")
