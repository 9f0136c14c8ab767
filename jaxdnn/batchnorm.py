"""Batch normalisation, the course's building blocks: one layer's ``Z`` normalised over the batch.

In a batch-normalised layer the linear part has no bias (``beta`` takes its place):
``Z = W A_prev`` `(n_l, m)`, then, with the statistics taken over the m examples (the columns)::

    mu     = sum(Z, axis=1) / m                        # (n_l, 1)  batch mean
    var    = sum((Z - mu)^2, axis=1) / m               # (n_l, 1)  batch variance (biased, 1/m)
    Z_norm = (Z - mu) / sqrt(var + eps)                # (n_l, m)
    Z_tilde = gamma * Z_norm + beta                    # (n_l, m), gamma and beta: (n_l, 1)

and ``A = g(Z_tilde)``. Backwards, with ``dZ_tilde`` the derivative of each example's loss (one
column per example, no ``1/m``, as the course's ``dZ``)::

    dgamma = sum(dZ_tilde * Z_norm, axis=1) / m        # (n_l, 1), with the 1/m like dW
    dbeta  = sum(dZ_tilde, axis=1) / m                 # (n_l, 1), with the 1/m like db
    dZ     = gamma / sqrt(var + eps)
             * (dZ_tilde - mean(dZ_tilde) - Z_norm * mean(dZ_tilde * Z_norm))   # (n_l, m)

At test time there is no batch: :func:`batchnorm_inference` uses running averages of ``mu`` and
``var`` kept during training by :func:`update_running_stats`
(``running = momentum * running + (1 - momentum) * batch``).

A whole layer (:func:`batchnorm_activation_forward`, :func:`batchnorm_activation_backward`)::

    Z = W A_prev                                       # (n_l, m), no b: beta takes its place
    Z_tilde = BN(Z),  A = g(Z_tilde)                   # (n_l, m)
    dZ_tilde = dA * g'(Z_tilde);  dZ, dgamma, dbeta = BN backwards;  dW, dA_prev = W's

A network's running statistics (``batch_stats``) are a pytree of their own beside the params, as
flax keeps its ``batch_stats`` collection apart from ``params`` and equinox its ``State`` apart
from the model: they are not differentiated nor touched by the optimizer, training produces them
and inference reads them. ``batch_stats[l]`` is the :class:`RunningStats` of layer ``l + 1`` when
it is batch-normalised, None otherwise (:func:`init_batch_stats`, :func:`update_batch_stats`).
:func:`jaxdnn.fit` returns them; :func:`jaxdnn.forward`, :func:`jaxdnn.cost`,
:func:`jaxdnn.predict` and :func:`jaxdnn.accuracy` take them as ``batch_stats=`` (inference
mode: the running statistics); without them ``forward`` and ``cost`` use each batch's own
statistics (training mode), and ``predict`` and ``accuracy`` refuse a batch-norm network.

The blocks check their inputs at entry (shapes and dtypes are static, so the checks cost nothing
under ``jit``) and are otherwise plain ``jnp``: ``jit``, ``vmap`` and ``grad`` them where you call
them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn import activations as act
from jaxdnn.checks import as_array, check_scalar
from jaxdnn.layers import LayerCache, as_layer_cache, linear_backward, linear_forward
from jaxdnn.typing import ArrayLike

EPS = 1e-5
"""The ``eps`` of every batch-normalised layer of a network."""
MOMENTUM = 0.9
"""The course's decay of the running averages, ``running = 0.9 running + 0.1 batch``."""


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_backward` needs of a layer, and the batch statistics.

    ``mean`` and ``var`` are the batch's ``mu`` and ``var``, which
    :func:`update_running_stats` averages for inference.
    """

    Z_norm: jax.Array  # (n_l, m), (Z - mu) / sqrt(var + eps)
    gamma: jax.Array  # (n_l, 1)
    mean: jax.Array  # (n_l, 1), mu
    var: jax.Array  # (n_l, 1), biased: sum((Z - mu)^2) / m
    inv_std: jax.Array  # (n_l, 1), 1 / sqrt(var + eps)


class RunningStats(NamedTuple):
    """Running averages of the batch statistics, for :func:`batchnorm_inference`."""

    mean: jax.Array  # (n_l, 1)
    var: jax.Array  # (n_l, 1)


def batchnorm_forward(
    Z: ArrayLike, gamma: ArrayLike, beta: ArrayLike, eps: float = 1e-5
) -> tuple[jax.Array, BatchNormCache]:
    """Batch normalisation in training mode, ``gamma * (Z - mu) / sqrt(var + eps) + beta``.

    ``mu`` and ``var`` are the mean and the (biased, ``1/m``) variance of each row of ``Z`` over
    the batch's m examples.

    Args:
      Z: `(n_l, m)` the layer's linear output ``W A_prev``, one example per column, ``m >= 2``.
      gamma: `(n_l, 1)` scale, of ``Z``'s dtype.
      beta: `(n_l, 1)` shift, of ``Z``'s dtype.
      eps: ``eps > 0`` added to the variance so the division is safe.

    Returns:
      ``(Z_tilde, cache)``: ``Z_tilde`` of shape `(n_l, m)`, and a :class:`BatchNormCache` for
      :func:`batchnorm_backward` holding the batch's ``mean`` and ``var`` `(n_l, 1)`.

    Raises:
      ValueError: a shape is wrong, the batch has one example, or ``eps <= 0``.
      TypeError: an argument is not a floating array, or the dtypes differ.
    """
    Z, gamma, beta = _check_block(Z, gamma, beta, eps, min_examples=2)
    mu = jnp.mean(Z, axis=1, keepdims=True)  # (n_l, 1)
    var = jnp.mean(jnp.square(Z - mu), axis=1, keepdims=True)  # (n_l, 1)
    inv_std = 1 / jnp.sqrt(var + jnp.asarray(eps, Z.dtype))  # 1 / sqrt(var + eps): (n_l, 1)
    Z_norm = (Z - mu) * inv_std  # (n_l, m)
    Z_tilde = gamma * Z_norm + beta  # (n_l, m)
    return Z_tilde, BatchNormCache(Z_norm, gamma, mu, var, inv_std)


def batchnorm_backward(
    dZ_tilde: ArrayLike, cache: BatchNormCache
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Batch normalisation backwards, derived by hand: from ``dZ_tilde`` to ``dZ``, ``dgamma``,
    ``dbeta``.

    Args:
      dZ_tilde: `(n_l, m)` derivative of each example's loss with respect to ``Z_tilde``.
      cache: the :class:`BatchNormCache` of :func:`batchnorm_forward`.

    Returns:
      ``(dZ, dgamma, dbeta)``: ``dZ`` `(n_l, m)` per example (no ``1/m``), and the mean cost's
      ``dgamma = sum(dZ_tilde * Z_norm) / m`` and ``dbeta = sum(dZ_tilde) / m``, both `(n_l, 1)`.

    Raises:
      TypeError: ``cache`` is not a batch-norm cache, or ``dZ_tilde``'s dtype differs from it.
      ValueError: ``dZ_tilde`` is not shaped like the cache's ``Z_norm``.
    """
    if not (isinstance(cache, tuple) and len(cache) == len(BatchNormCache._fields)):
        raise TypeError("cache must be the BatchNormCache (Z_norm, gamma, mean, var, inv_std) "
                        f"that batchnorm_forward returned, got {type(cache).__name__}")
    Z_norm, gamma, _, _, inv_std = cache
    dZ_tilde = _floating_2d(dZ_tilde, "dZ_tilde", Z_norm.dtype)
    if dZ_tilde.shape != Z_norm.shape:
        raise ValueError(f"dZ_tilde must have shape {Z_norm.shape} (the cache's Z_norm: n_l units "
                         f"by m examples), got {dZ_tilde.shape}")
    m = Z_norm.shape[1]
    dbeta = jnp.sum(dZ_tilde, axis=1, keepdims=True) / m  # (n_l, 1)
    dgamma = jnp.sum(dZ_tilde * Z_norm, axis=1, keepdims=True) / m  # (n_l, 1)
    # Every column of Z moves mu and var, so dZ_j collects the paths through Z_norm_j, mu and var.
    # With s = 1 / sqrt(var + eps), d mu / dZ_j = 1/m and d var / dZ_j = 2 (Z_j - mu) / m give
    #   d Z_norm_i / d Z_j = s (delta_ij - 1/m - Z_norm_i Z_norm_j / m),
    # a symmetric Jacobian; applied to dZ_norm = gamma dZ_tilde it is the compact form
    #   dZ = gamma s (dZ_tilde - mean(dZ_tilde) - Z_norm mean(dZ_tilde Z_norm))
    # where the two means are dbeta and dgamma: both carry the 1/m already.
    dZ = gamma * inv_std * (dZ_tilde - dbeta - Z_norm * dgamma)  # (n_l, m)
    return dZ, dgamma, dbeta


def batchnorm_inference(
    Z: ArrayLike, gamma: ArrayLike, beta: ArrayLike, mean: ArrayLike, var: ArrayLike,
    eps: float = 1e-5,
) -> jax.Array:
    """Batch normalisation at test time: ``gamma * (Z - mean) / sqrt(var + eps) + beta`` with
    running statistics, so any number of examples (one included) can be normalised.

    Args:
      Z: `(n_l, m)` the layer's linear output, ``m >= 1``.
      gamma: `(n_l, 1)` scale.
      beta: `(n_l, 1)` shift.
      mean: `(n_l, 1)` running mean of the training batches' ``mu``.
      var: `(n_l, 1)` running mean of the training batches' ``var``.
      eps: ``eps > 0``, the one used in training.

    Returns:
      ``Z_tilde`` `(n_l, m)`.

    Raises:
      ValueError, TypeError: as :func:`batchnorm_forward`, for ``mean`` and ``var`` too.
    """
    Z, gamma, beta = _check_block(Z, gamma, beta, eps, min_examples=1)
    mean = _column(mean, "mean", Z)
    var = _column(var, "var", Z)
    Z_norm = (Z - mean) / jnp.sqrt(var + jnp.asarray(eps, Z.dtype))  # (n_l, m)
    return gamma * Z_norm + beta  # (n_l, m)


def init_running_stats(n: int, dtype=jnp.float32) -> RunningStats:
    """Running statistics before the first batch: ``mean = 0``, ``var = 1``, each `(n, 1)`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"n must be a positive int (the layer's units), got {n!r}")
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be floating, got {jnp.dtype(dtype)}")
    return RunningStats(jnp.zeros((n, 1), dtype), jnp.ones((n, 1), dtype))


def update_running_stats(
    running: RunningStats, cache: BatchNormCache, momentum: float = 0.9
) -> RunningStats:
    """The exponentially weighted averages of the batch statistics, for inference.

    ``mean = momentum * mean + (1 - momentum) * mu`` and the same for ``var``, with ``mu`` and
    ``var`` of the batch in ``cache``. (PyTorch's ``BatchNorm1d(momentum=1 - momentum)`` averages
    the unbiased ``var * m / (m - 1)`` instead.)

    Args:
      running: a :class:`RunningStats` ``(mean, var)``, each `(n_l, 1)`
        (:func:`init_running_stats` to start).
      cache: the :class:`BatchNormCache` of this batch's :func:`batchnorm_forward`.
      momentum: the averages' decay, in ``[0, 1)``.

    Returns:
      the updated :class:`RunningStats`.
    """
    check_scalar("momentum", momentum, low=0.0, low_inclusive=True, high=1.0)
    if not (isinstance(cache, tuple) and len(cache) == len(BatchNormCache._fields)):
        raise TypeError("cache must be the BatchNormCache that batchnorm_forward returned, "
                        f"got {type(cache).__name__}")
    if not (isinstance(running, tuple) and len(running) == 2):
        raise TypeError(f"running must be RunningStats(mean, var), got {type(running).__name__}")
    mean = _column(running[0], "running.mean", cache.mean)
    var = _column(running[1], "running.var", cache.mean)
    rho = jnp.asarray(momentum, mean.dtype)
    return RunningStats(rho * mean + (1 - rho) * cache.mean,  # momentum * mean + (1 - momentum) mu
                        rho * var + (1 - rho) * cache.var)  # momentum * var + (1 - momentum) var_b


def batchnorm_activation_forward(
    A_prev: ArrayLike, W: ArrayLike, gamma: ArrayLike, beta: ArrayLike, activation: str,
    running: RunningStats | None = None, eps: float = EPS,
) -> tuple[jax.Array, LayerCache]:
    """One whole batch-normalised layer: ``Z = W A_prev``, ``Z_tilde = BN(Z)``, ``A = g(Z_tilde)``.

    Args:
      A_prev: `(n_{l-1}, m)` activations of the previous layer.
      W: `(n_l, n_{l-1})` weights.
      gamma: `(n_l, 1)` scale.
      beta: `(n_l, 1)` shift.
      activation: the name of ``g``.
      running: None for training mode (the batch's statistics, ``m >= 2``), or the layer's
        :class:`RunningStats` for inference.
      eps: added to the variance.

    Returns:
      ``(A, cache)``: ``A`` `(n_l, m)` and a :class:`jaxdnn.LayerCache` whose ``linear`` is
      ``(A_prev, W, None)``, ``Z`` is ``Z_tilde`` and ``bn`` the :class:`BatchNormCache` (None
      at inference).
    """
    g = act.activation(activation)
    Z, linear_cache = linear_forward(A_prev, W, None)  # Z = W A_prev: (n_l, m)
    if running is None:
        Z_tilde, bn = batchnorm_forward(Z, gamma, beta, eps)  # (n_l, m)
    else:
        Z_tilde, bn = batchnorm_inference(Z, gamma, beta, *running, eps), None
    return g(Z_tilde), LayerCache(linear_cache, Z_tilde, bn=bn)  # A = g(Z_tilde): (n_l, m)


def batchnorm_activation_backward(
    dA: ArrayLike, cache: LayerCache, activation: str
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """One whole batch-normalised layer backwards: ``dZ_tilde = dA * g'(Z_tilde)``, then
    :func:`batchnorm_backward` and the linear part's ``dW``, ``dA_prev``.

    Args:
      dA: `(n_l, m)` derivative of each example's loss with respect to the layer's output.
      cache: the training-mode cache of :func:`batchnorm_activation_forward`.
      activation: the name of the layer's ``g``.

    Returns:
      ``(dA_prev, dW, dgamma, dbeta)``: ``dA_prev = W^T dZ`` `(n_{l-1}, m)`, ``dW = dZ A_prev^T /
      m``, and ``dgamma``, ``dbeta`` `(n_l, 1)`.
    """
    g_backward = act.activation_backward(activation)
    bn = cache.bn if isinstance(cache, LayerCache) else None
    if bn is None:
        raise TypeError("cache must be the training-mode LayerCache of "
                        "batchnorm_activation_forward (with its BatchNormCache bn), got "
                        f"{type(cache).__name__} without one")
    cache = as_layer_cache(cache)
    dZ_tilde = g_backward(_floating_2d(dA, "dA", cache.Z.dtype), cache.Z)  # (n_l, m)
    dZ, dgamma, dbeta = batchnorm_backward(dZ_tilde, bn)  # (n_l, m), (n_l, 1), (n_l, 1)
    dA_prev, dW, _ = linear_backward(dZ, cache.linear)  # W^T dZ, dZ A_prev^T / m
    return dA_prev, dW, dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# a network's running statistics


def is_batchnorm(layer) -> bool:
    """Whether a layer's params dict is batch-normalised (holds ``gamma`` and ``beta``)."""
    return "gamma" in layer


def init_batch_stats(params) -> list | None:
    """A network's running statistics before training: ``RunningStats(0, 1)`` for each
    batch-normalised layer, None for the others; None for a network without batch norm."""
    if not any(is_batchnorm(p) for p in params):
        return None
    return [init_running_stats(p["W"].shape[0], p["W"].dtype) if is_batchnorm(p) else None
            for p in params]


def update_batch_stats(batch_stats, caches, momentum: float = MOMENTUM) -> list:
    """:func:`update_running_stats` of every batch-normalised layer, from the training-mode
    ``caches`` of :func:`jaxdnn.forward` (one per layer); the other entries stay None."""
    return [None if s is None else update_running_stats(s, c.bn, momentum)
            for s, c in zip(batch_stats, caches)]


def check_batch_stats(params, batch_stats, m: int):
    """Check ``batch_stats`` against the params (after :func:`jaxdnn.checks.check_params`) for
    ``m`` examples; return them as a list of :class:`RunningStats` and None, or None for training
    mode."""
    bn = [is_batchnorm(p) for p in params]
    if batch_stats is None:
        if any(bn) and m < 2:
            raise ValueError(
                f"a batch of {m} example through batch-normalised layers in training mode: their "
                "variance over the batch is 0, so Z_norm = 0 whatever Z is and no gradient "
                "reaches Z; training needs m >= 2 examples per (mini)batch, and inference "
                "takes the running statistics, batch_stats=")
        return None
    if not (isinstance(batch_stats, (list, tuple)) and len(batch_stats) == len(params)):
        raise TypeError(f"batch_stats must be a list of {len(params)} entries, one per layer "
                        "(RunningStats for a batch-normalised layer, None for the others), as "
                        f"fit returns them; got {type(batch_stats).__name__}")
    out = []
    for l, (s, p) in enumerate(zip(batch_stats, params)):
        if not (isinstance(s, tuple) and len(s) == 2) if bn[l] else s is not None:
            expected = "RunningStats(mean, var)" if bn[l] else "None"
            raise TypeError(f"batch_stats[{l}] must be {expected} (params[{l}] is "
                            f"{'' if bn[l] else 'not '}batch-normalised), got {type(s).__name__}")
        out.append(None if s is None else RunningStats(
            *(_column(x, f"batch_stats[{l}].{f}", p["W"]) for x, f in zip(s, ("mean", "var")))))
    return out


def require_batch_stats(params, batch_stats, what: str):
    """Raise when a batch-norm network is asked for inference (``what``) without its running
    statistics."""
    if batch_stats is None and any(is_batchnorm(p) for p in params):
        raise ValueError(
            f"{what} is inference, and the params have batch-normalised layers: it needs their "
            "running statistics, batch_stats=... (as fit returns them), not the statistics of "
            "the batch being predicted")


def _check_block(Z, gamma, beta, eps, *, min_examples: int):
    """``Z (n_l, m)`` with ``m >= min_examples``, ``gamma`` and ``beta`` `(n_l, 1)` of its dtype,
    ``eps > 0``."""
    check_scalar("eps", eps, low=0.0, low_inclusive=False)
    Z = _floating_2d(Z, "Z")
    m = Z.shape[1]
    if m == 0:
        raise ValueError(f"Z has shape {Z.shape}: no examples, expected m >= 1 columns")
    if m < min_examples:
        raise ValueError(
            f"Z has shape {Z.shape}: a batch of one example, but training-mode batch norm needs "
            "m >= 2: with one example Z - mu = 0 and var = 0, so Z_norm is 0 whatever Z is and no "
            "gradient reaches Z. Normalise single examples with batchnorm_inference and running "
            "statistics")
    return Z, _column(gamma, "gamma", Z), _column(beta, "beta", Z)


def _column(x, what: str, like):
    """``x`` as an `(n_l, 1)` array of ``like``'s dtype, ``n_l = like.shape[0]``."""
    x = _floating(x, what, like.dtype)
    if x.shape != (like.shape[0], 1):
        raise ValueError(f"{what} must have shape ({like.shape[0]}, 1), one value per unit as a "
                         f"column, got {x.shape}")
    return x


def _floating_2d(x, what: str, dtype=None):
    """``x`` as a 2-D floating array (of ``dtype`` when given)."""
    x = _floating(x, what, dtype)
    if x.ndim != 2:
        raise ValueError(f"{what} must be 2-D, (units, examples), got shape {x.shape}")
    return x


def _floating(x, what: str, dtype=None):
    """``x`` as a floating array (of ``dtype`` when given)."""
    x = as_array(x, what)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{what} must be a floating array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        raise TypeError(f"{what} has dtype {x.dtype}, expected {dtype} (Z's dtype)")
    return x
