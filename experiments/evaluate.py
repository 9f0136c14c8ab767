"""A trained network's accuracies and predictions, each one compiled call; data onto the device.

Eagerly, :func:`jaxdnn.accuracy` and :func:`jaxdnn.predict` compile op by op; jitted here once per
process, networks and data of the same shapes share one compiled program.
"""

from __future__ import annotations

import jax
import numpy as np

import jaxdnn


def device_array(x, dtype) -> jax.Array:
    """``x`` as a device array of ``dtype``, converted by NumPy on the host: the same numbers as
    ``jnp.asarray(x, dtype)``, which compiles the conversion at each new shape."""
    return jax.device_put(np.asarray(x, dtype))


def _all_accuracies(params, data, activations):
    return tuple(jaxdnn.accuracy(params, X, Y, activations) for X, Y in data)


_accuracies = jax.jit(_all_accuracies, static_argnames="activations")
_predict = jax.jit(jaxdnn.predict, static_argnames="activations")


def accuracies(params, activations, *data) -> tuple[float, ...]:
    """:func:`jaxdnn.accuracy` on every ``(X, Y)`` pair of ``data`` (train and test, say), all in
    one compiled call: one compile per network and data shapes, not one per pair."""
    acc = _accuracies(params, tuple(tuple(d) for d in data), activations=tuple(activations))
    return tuple(float(a) for a in acc)


def accuracy(params, X, Y, activations) -> float:
    """:func:`jaxdnn.accuracy` as one compiled call, as a float."""
    return accuracies(params, activations, (X, Y))[0]


def predictor(params, activations, dtype):
    """``grid (2, N) -> labels (N,)`` with :func:`jaxdnn.predict`, compiled once per network
    shape (networks of the same shapes share the program)."""
    acts = tuple(activations)
    return lambda grid: np.asarray(_predict(params, device_array(grid, dtype),
                                            activations=acts)).ravel()
