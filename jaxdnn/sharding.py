"""Data-parallel training over many devices and hosts, with JAX's own sharding.

A mesh with a ``"data"`` axis spreads the m examples (axis 1 of ``X`` and ``Y``) over devices;
params and optimizer state are replicated. Nothing else changes: the training step is the same
jitted program, and XLA's SPMD partitioner turns the sums over examples in ``dW = dZ A_prev^T / m``
and ``db = sum(dZ) / m`` into cross-device all-reduces inside it. On several hosts, call
``jax.distributed.initialize(...)`` first in every process; ``data_mesh()`` then spans every
process's devices, and :func:`shard_data` assembles each process's share of the examples into one
global array.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.typing import ArrayLike

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: every device of every process).

    The axis uses automatic sharding propagation (``AxisType.Auto``), so XLA places the
    cross-device reductions of the gradient.
    """
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("data_mesh needs at least one device")
    return Mesh(np.asarray(devices), (DATA_AXIS,), axis_types=(AxisType.Auto,))


def as_auto_mesh(mesh: Mesh) -> Mesh:
    """``mesh`` itself when its axes are Auto; else the same devices and names with Auto axes.

    ``fit`` leaves the placement of the gradient reductions to the compiler, which explicit-typed
    axes (the default of ``jax.make_mesh``) would make the caller spell out.
    """
    if not isinstance(mesh, Mesh):
        raise TypeError(f"mesh must be a jax.sharding.Mesh, got {type(mesh).__name__}")
    if DATA_AXIS not in mesh.axis_names:
        raise ValueError(f"mesh must have a {DATA_AXIS!r} axis, got axes {mesh.axis_names}")
    if all(t == AxisType.Auto for t in mesh.axis_types):
        return mesh
    return Mesh(mesh.devices, mesh.axis_names, axis_types=(AxisType.Auto,) * len(mesh.axis_names))


def data_sharding(mesh: Mesh) -> NamedSharding:
    """Columns (examples) split over the ``"data"`` axis: ``PartitionSpec(None, "data")``."""
    return NamedSharding(as_auto_mesh(mesh), P(None, DATA_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array: ``PartitionSpec()``."""
    return NamedSharding(as_auto_mesh(mesh), P())


def shard_data(
    mesh: Mesh, *arrays: ArrayLike, process_local: bool = False
) -> jax.Array | tuple[jax.Array, ...]:
    """Place ``(n, m)`` arrays with their m columns split over the mesh's ``"data"`` axis.

    Args:
      mesh: a mesh with a ``"data"`` axis.
      *arrays: ``X`` of shape ``(n_x, m)``, ``Y`` of shape ``(n_L, m)``, ...
      process_local: on several hosts, True when each process passes only its own share of the
        columns (the global m is the sum of the shares), False when every process passes all of
        them.

    Returns:
      the arrays as global ``jax.Array`` objects sharded ``PartitionSpec(None, "data")`` (one
      array, or a tuple when several were given).

    Raises:
      ValueError: when m is not divisible by the size of the ``"data"`` axis: the examples are
        never padded or dropped.
    """
    sharding = data_sharding(mesh)
    n_dev = mesh.shape[DATA_AXIS]
    out = []
    for a in arrays:
        if getattr(a, "sharding", None) == sharding:
            out.append(a)
            continue
        m = a.shape[1] * (jax.process_count() if process_local else 1)
        if m % n_dev:
            raise ValueError(
                f"m = {m} examples cannot be split evenly over the mesh's {n_dev} {DATA_AXIS!r} "
                f"devices; use m divisible by {n_dev} (jaxdnn never pads or drops examples)")
        if process_local:
            out.append(jax.make_array_from_process_local_data(sharding, np.asarray(a)))
        else:
            out.append(jax.device_put(a, sharding))
    return out[0] if len(out) == 1 else tuple(out)
