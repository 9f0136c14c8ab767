"""Parameter initialisation: the params pytree, ``list[{"W": (n_l, n_{l-1}), "b": (n_l, 1)}]``.

With batch normalisation (:mod:`jaxdnn.batchnorm`) a hidden layer's ``b`` is replaced by the
normalisation's scale and shift: ``{"W": (n_l, n_{l-1}), "gamma": (n_l, 1), "beta": (n_l, 1)}``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jaxdnn.checks import check_layer_dims
from jaxdnn.typing import DTypeLike, Params, PRNGKey

# scale of W_l's N(0, 1) draw as a function of n_{l-1}
SCALES = {
    "zeros": lambda n_prev: 0.0,
    "small": lambda n_prev: 0.01,  # the course's randn * 0.01
    "large": lambda n_prev: 10.0,  # the course's "large random" randn * 10
    "xavier": lambda n_prev: 1.0 / n_prev**0.5,  # randn / sqrt(n_{l-1})
    "he": lambda n_prev: (2.0 / n_prev) ** 0.5,  # randn * sqrt(2 / n_{l-1})
}
METHODS = tuple(SCALES)
"""Names accepted by :func:`init_params`."""


def init_params(
    key: PRNGKey, layer_dims: Sequence[int], method: str = "he", dtype: DTypeLike = jnp.float32,
    batchnorm: bool = False,
) -> Params:
    """Initial parameters of a fully connected network.

    Args:
      key: a ``jax.random`` key; split once per layer, never reused.
      layer_dims: ``[n_x, n_1, ..., n_L]``, at least two positive ints.
      method: how ``W_l`` is drawn (``b_l`` is always zero):
        ``"zeros"``: all zeros (the course's symmetric failure case);
        ``"small"``: ``0.01 * N(0, 1)``;
        ``"large"``: ``10 * N(0, 1)``;
        ``"xavier"``: ``N(0, 1) / sqrt(n_{l-1})``;
        ``"he"``: ``N(0, 1) * sqrt(2 / n_{l-1})``.
      dtype: floating dtype of every leaf; the rest of the library takes its dtype from here.
      batchnorm: whether the hidden layers are batch-normalised: then each hidden layer has no
        ``b`` but ``gamma = 1`` and ``beta = 0``, both `(n_l, 1)`, so that at the start
        ``Z_tilde = Z_norm``; the output layer keeps ``W`` and ``b``. ``W`` is drawn as without
        batch norm (the same key gives the same ``W``).

    Returns:
      ``params``: a list of L dicts, ``params[l-1] = {"W": (n_l, n_{l-1}), "b": (n_l, 1)}``; with
      ``batchnorm``, ``params[l-1] = {"W", "gamma", "beta"}`` for ``l < L``.
    """
    dims = check_layer_dims(layer_dims)
    if not isinstance(method, str) or method not in SCALES:
        raise ValueError(f"unknown init method {method!r}; expected one of {list(METHODS)}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be floating, got {jnp.dtype(dtype)}")
    if not isinstance(batchnorm, bool):
        raise TypeError(f"batchnorm must be True or False, got {batchnorm!r}")
    keys = jax.random.split(key, len(dims) - 1)
    L = len(dims) - 1
    params = []
    for l, (k, n_prev, n) in enumerate(zip(keys, dims[:-1], dims[1:]), start=1):
        W = SCALES[method](n_prev) * jax.random.normal(k, (n, n_prev), dtype)  # (n_l, n_{l-1})
        if batchnorm and l < L:  # Z_tilde = gamma Z_norm + beta: beta takes b's place
            params.append({"W": W.astype(dtype), "gamma": jnp.ones((n, 1), dtype),  # (n_l, 1)
                           "beta": jnp.zeros((n, 1), dtype)})  # (n_l, 1)
        else:
            params.append({"W": W.astype(dtype), "b": jnp.zeros((n, 1), dtype)})  # b: (n_l, 1)
    return params
