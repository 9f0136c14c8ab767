"""Forward mode by hand: the course's layers pushed a tangent forward, and the cost built on them.

The backward pass (:mod:`jaxdnn.layers`) pulls ``dZ`` back to ``dW``, ``db`` and ``dA_prev``;
forward mode pushes a tangent ``(dA_prev, dW, db)`` of a layer's inputs forward to its outputs::

    linear_jvp:              Z = W A_prev + b,   dZ = dW A_prev + W dA_prev + db     # (n_l, m)
    linear_activation_jvp:   A = g(Z),           dA = g'(Z) * dZ                     # (n_l, m)
                             (softmax: dA = A * (dZ - sum(A * dZ, axis=0)))
    forward_jvp:             the layers in turn from (X, dX), dropout as dA_l * D_l / keep_prob
    cost tangent:            dJ = sum((A_L - Y) * dZ_L) / m + sum(dL/dY * dY) / m
                                  + lambd / m sum_l <W_l, dW_l> + dlambd sum_l ||W_l||^2 / (2 m)

The cost's tangent uses ``dZ_L = A_L - Y`` exactly as the backward pass starts from it
(:func:`jaxdnn.loss.output_dZ`). An activation's Jacobian is symmetric (diagonal for the elementwise
ones, ``diag(A) - A A^T`` for softmax), so the backward step of :mod:`jaxdnn.activations` is also
its forward product.

:func:`cost_with_manual_jvp` is :func:`jaxdnn.cost` whose ``jax.custom_jvp`` rule is this pass, so
``jax.jvp``, ``jax.jacfwd``, ``jax.linearize``, ``jax.hessian`` and ``jax.grad`` (by transposing the
rule) all run through the hand-derived equations.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from jaxdnn import activations as acts_
from jaxdnn.batchnorm import is_batchnorm
from jaxdnn.checks import check_network, check_problem, check_regularization, check_same_structure
from jaxdnn.loss import OUTPUT_RULES, cost, cost_from_logits, output_dZ
from jaxdnn.regularization import dropout_masks, l2_gradient


def linear_jvp(primals, tangents):
    """The linear part of a layer and its tangent: ``Z = W A_prev + b``, ``dZ = dW A_prev + W
    dA_prev + db``.

    Args:
      primals: ``(A_prev, W, b)``, of shapes `(n_{l-1}, m)`, `(n_l, n_{l-1})`, `(n_l, 1)`.
      tangents: ``(dA_prev, dW, db)``, shaped like ``primals``.

    Returns:
      ``(Z, dZ)``, each `(n_l, m)`.
    """
    A_prev, W, b = primals
    dA_prev, dW, db = tangents
    Z = W @ A_prev + b  # (n_l, m)
    dZ = dW @ A_prev + W @ dA_prev + db  # (n_l, m): the product rule on W A_prev, plus db
    return Z, dZ


def linear_activation_jvp(primals, tangents, activation: str):
    """One whole layer and its tangent: ``A = g(Z)``, ``dA = g'(Z) * dZ``.

    Args:
      primals: ``(A_prev, W, b)`` as for :func:`linear_jvp`.
      tangents: ``(dA_prev, dW, db)``, shaped like ``primals``.
      activation: the name of ``g``, one of :data:`jaxdnn.ACTIVATIONS`; for ``"softmax"``
        ``dA = A * (dZ - sum(A * dZ, axis=0))``.

    Returns:
      ``((A, dA), (Z, dZ))``, each `(n_l, m)`: the layer's output and pre-activation with their
      tangents.
    """
    Z, dZ = linear_jvp(primals, tangents)
    A = acts_.activation(activation)(Z)  # (n_l, m)
    dA = acts_.activation_backward(activation)(dZ, Z)  # g'(Z) * dZ: the Jacobian is symmetric
    return (A, dA), (Z, dZ)


def _reject_batchnorm(params):
    if any(map(is_batchnorm, params)):
        raise ValueError("the hand-written forward-mode rules cover the course's layers, not "
                         "batch-normalised ones (params with 'gamma' and 'beta'); use jax.jvp "
                         "of jaxdnn.cost for a batch-norm network")


def _network_jvp(params, X, activations, dparams, dX, keep_prob, key):
    L = len(params)
    masks = [None] * (L - 1)
    if keep_prob is not None and keep_prob < 1:  # the masks of jaxdnn.forward, from the same key
        shapes = [(p["W"].shape[0], X.shape[1]) for p in params[:-1]]
        masks = dropout_masks(key, shapes, keep_prob, X.dtype)
    A, dA = X, dX
    for l, (p, dp, name) in enumerate(zip(params, dparams, activations)):
        (A, dA), (Z, dZ) = linear_activation_jvp((A, p["W"], p["b"]), (dA, dp["W"], dp["b"]),
                                                 name)
        if l < L - 1 and masks[l] is not None:
            A, dA = A * masks[l], dA * masks[l]  # inverted dropout: A_l * D_l / keep_prob
    return (A, dA), (Z, dZ)


def forward_jvp(params, X, activations, dparams, dX, *, keep_prob=None, key=None):
    """Forward propagation with a tangent, one :func:`linear_activation_jvp` per layer.

    Args:
      params: list of L ``{"W", "b"}`` dicts.
      X: `(n_x, m)` inputs.
      activations: L names.
      dparams: a tangent of ``params``, of the same structure and shapes.
      dX: `(n_x, m)` a tangent of ``X``.
      keep_prob: optional inverted-dropout keep probability of the hidden layers.
      key: PRNG key of the dropout masks (those of :func:`jaxdnn.forward` with the same key).

    Returns:
      ``((AL, dAL), (ZL, dZL))``: the output and the output logits, each `(n_L, m)`, with their
      tangents; equal to ``jax.jvp`` of :func:`jaxdnn.forward`.
    """
    _, _, X, acts = check_network(params, X, activations)
    _reject_batchnorm(params)
    check_regularization(0.0, keep_prob, key, len(params))
    check_same_structure(params, dparams, "params", "dparams")
    if jnp.shape(dX) != X.shape:
        raise ValueError(f"dX must have the shape of X, {X.shape}, got {jnp.shape(dX)}")
    return _network_jvp(params, X, acts, dparams, dX, keep_prob, key)


def cost_with_manual_jvp(params, X, Y, activations, *, l2=0.0, keep_prob=None, key=None):
    """:func:`jaxdnn.cost` whose forward-mode derivative is the hand-derived forward pass.

    A ``jax.custom_jvp`` function: ``jax.jvp``, ``jax.jacfwd`` and ``jax.linearize`` push tangents
    of ``params``, ``X``, ``Y`` and ``l2`` through :func:`forward_jvp` and the cost's tangent
    (see the module docstring); ``jax.grad`` transposes that rule, and ``jax.hessian`` (forward
    over reverse) differentiates it once more. Arguments and result as for :func:`jaxdnn.cost`.
    """
    X, Y, acts = check_problem(params, X, Y, activations)
    _reject_batchnorm(params)
    check_regularization(l2, keep_prob, key, len(params))
    return _manual_jvp_cost(params, X, Y, acts, l2, keep_prob, key)


@partial(jax.custom_jvp, nondiff_argnums=(3, 5))
def _manual_jvp_cost(params, X, Y, activations, l2, keep_prob, key):
    return cost(params, X, Y, activations, l2=l2, keep_prob=keep_prob, key=key)


@_manual_jvp_cost.defjvp
def _manual_jvp_cost_jvp(activations, keep_prob, primals, tangents):
    params, X, Y, l2, key = primals
    dparams, dX, dY, dl2, _ = tangents
    _, (ZL, dZL) = _network_jvp(params, X, activations, dparams, dX, keep_prob, key)
    m, output = ZL.shape[1], activations[-1]
    J = cost_from_logits(params, ZL, Y, output, l2)
    dJ = (jnp.sum(output_dZ(ZL, Y, output) * dZL)  # (A_L - Y) . dZ_L, as backward starts
          + jnp.sum(OUTPUT_RULES[output].dY(ZL, Y) * dY)) / m
    dJ = dJ + sum(jnp.sum(l2_gradient(p["W"], m, l2) * dp["W"])  # lambd / m <W_l, dW_l>
                  + jnp.sum(jnp.square(p["W"])) / (2 * m) * dl2  # dlambd ||W_l||^2 / (2 m)
                  for p, dp in zip(params, dparams))
    return J, dJ.astype(J.dtype)
