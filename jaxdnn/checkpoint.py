"""Checkpoints: params, optimizer state, config, cost history and iteration in one ``.npz`` file.

A trainer saves every so often and resumes from the newest file, restoring into templates of the
params and optimizer state it would start from (as equinox's ``tree_deserialise_leaves`` does)::

    save(checkpoint_path("out/run1", 1000), params, opt_state, config, costs, 1000)
    prune_checkpoints("out/run1", keep=2)
    ckpt = load(latest_checkpoint("out/run1"), like=(params, opt_state))

Format (version 2): an uncompressed NumPy ``.npz`` read with ``allow_pickle=False``. Arrays
``params_00000``, ... and ``opt_state_00000``, ... hold the leaves in ``jax.tree.leaves`` order;
``costs`` the cost history (1-D, or 2-D for a vmapped stack); ``metric_<name>`` further histories;
``manifest`` is UTF-8 JSON (``format``, ``version``, each array's key, leaf path, dtype and shape,
``config``, ``iteration``, and a SHA-256 over every array's key, dtype, shape and bytes).

The file holds leaves, not classes: the structure comes from the caller's template, checked leaf
by leaf (count, path, shape, dtype), so loading never imports or calls anything a file names.
Writes are atomic (temporary file, fsync, ``os.replace``, directory fsync): a crash leaves the
previous checkpoint or the new one. ``load`` raises ``CheckpointError`` naming the path and the
problem for a missing, truncated, corrupted, foreign or other-version file, or a template it does
not fit; it never returns partial data.
"""

from __future__ import annotations

import hashlib
import json
import os
import pathlib
import re
import tempfile
import zipfile
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdnn.checks import is_traced

FORMAT_NAME = "jaxdnn-checkpoint"
FORMAT_VERSION = 2
_TREES = ("params", "opt_state")
_CKPT_RE = re.compile(r"^ckpt_(\d+)\.npz$")
_X64_DTYPES = ("float64", "int64", "uint64", "complex128")


class CheckpointError(ValueError):
    """A checkpoint file cannot be read: missing, truncated, corrupted, foreign, other version, or
    not shaped like the template."""


class Checkpoint(NamedTuple):
    """What ``load`` returns.

    Attributes:
      params: the params, in the template's structure (a flat list of leaves without a template).
      opt_state: the optimizer state, likewise.
      config: the JSON-decoded config dict (tuples come back as lists).
      costs: the cost history as a NumPy array, shape as saved (1-D or 2-D).
      iteration: the iteration number, an ``int``.
      metrics: ``{name: NumPy array}`` of the further histories saved (empty if none).
    """

    params: Any
    opt_state: Any
    config: dict
    costs: np.ndarray
    iteration: int
    metrics: dict = {}


# ----------------------------------------------------------------------------------------------
# save


def _leaf_to_numpy(leaf, where: str) -> np.ndarray:
    if is_traced(leaf):
        raise TypeError(f"{where} is a tracer: call save outside jit/vmap/grad")
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        raise TypeError(f"{where} is a PRNG key array; store jax.random.key_data(key) instead")
    if not isinstance(leaf, (jax.Array, np.ndarray, np.generic, int, float, complex)):
        raise TypeError(f"{where} is a {type(leaf).__name__}; a checkpoint holds numeric arrays")
    arr = np.asarray(leaf)
    if arr.dtype.kind not in "biufc" and not _is_ml_dtype(arr.dtype):
        raise TypeError(f"{where} has dtype {arr.dtype}; a checkpoint holds numeric arrays only")
    return arr


def _is_ml_dtype(dtype) -> bool:
    """bfloat16, float8_* and friends: extension dtypes NumPy's .npy format stores as raw void."""
    return getattr(dtype.type, "__module__", "").startswith("ml_dtypes")


def _history(values, what: str) -> np.ndarray:
    if is_traced(values) or not isinstance(
            values, (list, tuple, np.ndarray, np.generic, jax.Array)):
        raise TypeError(f"{what} must be a 1-D or 2-D array of numbers, got "
                        f"{type(values).__name__}")
    try:
        arr = np.asarray(values)
    except ValueError:
        raise ValueError(f"{what} must be a 1-D or 2-D array of numbers, got a ragged list") \
            from None
    if arr.ndim not in (1, 2) or arr.dtype.kind not in "fiu":
        raise ValueError(f"{what} must be a 1-D or 2-D array of numbers, got shape {arr.shape} "
                         f"and dtype {arr.dtype}")
    return arr


def save(path, params, opt_state, config: dict, costs, iteration: int, *,
         metrics: dict | None = None) -> pathlib.Path:
    """Write a checkpoint atomically to ``path``.

    Args:
      path: the file to write; its directory must exist. An existing file there is replaced only
        once the new one is complete.
      params: any pytree of numeric arrays (the list of ``{"W", "b"}`` dicts, a vmapped stack).
      opt_state: any pytree of numeric arrays (an optax or jaxdnn optimizer state).
      config: a JSON-serialisable dict (hyperparameters, layer sizes, seed, ...).
      costs: the cost history, shape ``(n,)`` or ``(n_models, n)``.
      iteration: the number of iterations done so far, an int ``>= 0``.
      metrics: optional ``{name: 1-D or 2-D array}`` of further histories (names of letters,
        digits and ``_``).

    Returns:
      ``path`` as a ``pathlib.Path``.

    Raises:
      TypeError: a leaf a checkpoint cannot hold (tracers, PRNG keys, objects, strings), a non-dict
        or non-JSON config, or a non-int iteration.
      ValueError: costs or metrics that are not 1-D or 2-D numbers, or a negative iteration.
      OSError: writing failed; the previous file at ``path`` is then untouched.
    """
    path = pathlib.Path(path)
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        config = json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(f"config must be JSON-serialisable (finite numbers, str keys): {e}") \
            from None
    if isinstance(iteration, (bool, np.bool_)) or not isinstance(iteration, (int, np.integer)):
        raise TypeError(f"iteration must be an int, got {type(iteration).__name__}")
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    arrays, specs = {}, []
    for name, tree in zip(_TREES, (params, opt_state)):
        for i, (p, leaf) in enumerate(jax.tree_util.tree_leaves_with_path(tree)):
            where = name + jax.tree_util.keystr(p)
            arrays[f"{name}_{i:05d}"] = _leaf_to_numpy(leaf, where)
            specs.append(where)
    arrays["costs"] = _history(costs, "costs")
    specs.append("costs")
    for name, values in (metrics or {}).items():
        if not (isinstance(name, str) and re.fullmatch(r"\w+", name)):
            raise ValueError(f"metric names are letters, digits and _, got {name!r}")
        arrays[f"metric_{name}"] = _history(values, f"metrics[{name!r}]")
        specs.append(f"metrics[{name!r}]")
    specs = [{"key": k, "path": where, "dtype": str(a.dtype), "shape": list(a.shape)}
             for (k, a), where in zip(arrays.items(), specs)]
    stored = {k: _storable(a) for k, a in arrays.items()}
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "arrays": specs,
                "config": config, "iteration": int(iteration),
                "checksum": {"algorithm": "sha256", "hex": _checksum(stored, specs)}}
    stored["manifest"] = np.frombuffer(json.dumps(manifest).encode("utf-8"), np.uint8)
    _atomic_savez(path, stored)
    return path


def _storable(arr: np.ndarray) -> np.ndarray:
    """``arr`` as NumPy's .npy format can round-trip it: extension dtypes as unsigned ints."""
    if _is_ml_dtype(arr.dtype):
        return np.ascontiguousarray(arr).view(np.dtype(f"u{arr.dtype.itemsize}"))
    return arr


def _checksum(arrays: dict, specs: list) -> str:
    """SHA-256 over every array's key, dtype, shape and bytes, in manifest order."""
    h = hashlib.sha256()
    for spec in specs:
        h.update(json.dumps([spec["key"], spec["dtype"], list(spec["shape"])]).encode())
        h.update(np.ascontiguousarray(arrays[spec["key"]]).tobytes())
    return h.hexdigest()


def _atomic_savez(path: pathlib.Path, arrays: dict) -> None:
    """``np.savez`` to a temporary file in ``path``'s directory, fsync, then ``os.replace``."""
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"cannot save {path}: directory {directory} does not exist")
    tmp = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{path.name}.", suffix=".tmp",
                                      delete=False)
    try:
        with tmp:
            np.savez(tmp, allow_pickle=False, **arrays)
            tmp.flush()
            os.fsync(tmp.fileno())
        # the temporary file is 0600: give the checkpoint the previous file's mode, or 0644
        os.chmod(tmp.name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp.name, path)
    except BaseException:
        pathlib.Path(tmp.name).unlink(missing_ok=True)
        raise
    try:  # make the rename durable (directories cannot be opened on Windows)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------
# load


def load(path, like=None) -> Checkpoint:
    """Read a checkpoint written by ``save``.

    Args:
      path: the checkpoint file.
      like: ``(params, opt_state)`` templates (arrays or ``jax.ShapeDtypeStruct``\\ s) whose tree
        structure, leaf paths, shapes and dtypes the saved leaves must match; leaves that are
        ``jax.Array``\\ s placed explicitly (committed, e.g. sharded over a mesh) give their
        sharding to the restored ones; the others are restored uncommitted, as they are, so the
        programs compiled for the templates serve the restored leaves. None returns each tree as
        the flat list of its leaves.

    Returns:
      ``Checkpoint(params, opt_state, config, costs, iteration, metrics)``; params and
      optimizer-state leaves are JAX arrays with their saved dtypes and shapes.

    Raises:
      CheckpointError: (a ``ValueError``) naming ``path`` and the problem when the file is missing,
        truncated, corrupted (checksum mismatch), not a jaxdnn checkpoint, of another format
        version, holds 64-bit leaves while ``jax_enable_x64`` is off (they would be silently
        truncated to 32 bits), or does not fit ``like``.
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint file ({e})") from None
    if magic != b"PK\x03\x04":  # every .npz starts with a zip local file header
        what = "a single .npy array" if magic == b"\x93NUM" else "not a .npz (zip) file"
        raise CheckpointError(f"{path}: truncated or not a jaxdnn checkpoint ({what})")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001 - a damaged zip directory raises many kinds
        raise CheckpointError(f"{path}: truncated or not a jaxdnn checkpoint (cannot read it as "
                              f".npz: {e})") from None
    with npz:
        try:
            manifest = _manifest(path, npz)
            arrays = _arrays(path, npz, manifest)
        except CheckpointError:
            raise
        except zipfile.BadZipFile as e:  # every zip member carries a CRC-32, checked on reading
            raise CheckpointError(f"{path}: checksum mismatch (corrupted file: {e})") from None
        except Exception as e:  # noqa: BLE001 - whatever a damaged file makes numpy raise
            raise CheckpointError(f"{path}: corrupted or truncated ({type(e).__name__} while "
                                  f"reading it: {e})") from None
    config, iteration = manifest.get("config"), manifest.get("iteration")
    if (not isinstance(config, dict) or isinstance(iteration, bool)
            or not isinstance(iteration, int) or iteration < 0 or "costs" not in arrays):
        raise CheckpointError(f"{path}: corrupted manifest (bad config, iteration or costs)")
    trees = [_restore(path, arrays, name, like is not None, like and like[i])
             for i, name in enumerate(_TREES)]
    metrics = {k[len("metric_"):]: a for k, a in arrays.items() if k.startswith("metric_")}
    return Checkpoint(*trees, config, arrays["costs"], iteration, metrics)


def _manifest(path, npz) -> dict:
    if "manifest" not in npz.files:
        raise CheckpointError(f"{path}: not a jaxdnn checkpoint (no manifest; arrays {npz.files})")
    raw = npz["manifest"]
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"manifest array has dtype {raw.dtype} and shape {raw.shape}")
        manifest = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not a JSON object")
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: corrupted manifest ({e})") from None
    if manifest.get("format") != FORMAT_NAME:
        raise CheckpointError(f"{path}: not a jaxdnn checkpoint (format "
                              f"{manifest.get('format')!r}, expected {FORMAT_NAME!r})")
    version = manifest.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CheckpointError(
            f"{path}: format version {version}, this jaxdnn reads version {FORMAT_VERSION}")
    return manifest


def _arrays(path, npz, manifest) -> dict:
    """The arrays the manifest lists, each checked against it, then the checksum over all."""
    specs, checksum = manifest.get("arrays"), manifest.get("checksum")
    if not (isinstance(specs, list) and isinstance(checksum, dict)
            and checksum.get("algorithm") == "sha256"):
        raise CheckpointError(f"{path}: corrupted manifest (no array list or checksum)")
    stored, arrays = {}, {}
    for spec in specs:
        try:
            key, where = spec["key"], spec["path"]
            dtype, shape = jnp.dtype(spec["dtype"]), tuple(spec["shape"])
            if not (isinstance(key, str) and isinstance(where, str)):
                raise TypeError("key and path must be strings")
        except (TypeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupted manifest (bad array entry {spec!r}: {e})") \
                from None
        if key not in npz.files:
            raise CheckpointError(f"{path}: truncated or corrupted: array {key!r} is missing")
        stored[key] = arr = npz[key]
        if _is_ml_dtype(dtype) and arr.dtype == np.dtype(f"u{dtype.itemsize}"):
            arr = arr.view(dtype)
        if arr.dtype != dtype or arr.shape != shape:
            raise CheckpointError(f"{path}: corrupted: array {key!r} is {arr.dtype}"
                                  f"{list(arr.shape)}, the manifest says {dtype}{list(shape)}")
        arrays[key] = (arr, where)
    if _checksum(stored, specs) != checksum.get("hex"):
        raise CheckpointError(f"{path}: checksum mismatch: the file is corrupted")
    wide = sorted({str(a.dtype) for k, (a, _) in arrays.items()
                   if k.startswith(_TREES) and str(a.dtype) in _X64_DTYPES})
    if wide and not jax.config.jax_enable_x64:
        raise CheckpointError(
            f"{path}: holds {', '.join(wide)} leaves but jax_enable_x64 is off, so JAX would "
            "truncate them to 32 bits; call jax.config.update('jax_enable_x64', True) first")
    return {k: (a if k.startswith(_TREES) else a[0]) for k, a in arrays.items()}


def _restore(path, arrays, name, has_template, like):
    """The ``name`` tree: its saved leaves poured into ``like``'s structure (a list without it)."""
    saved = [a for k, a in sorted((int(k[len(name) + 1:]), a) for k, a in arrays.items()
                                  if k.startswith(name + "_"))]
    if not has_template:
        return [jnp.asarray(a) for a, _ in saved]
    template, treedef = jax.tree_util.tree_flatten_with_path(like)
    if len(template) != len(saved):
        raise CheckpointError(f"{path}: holds {len(saved)} {name} leaves, the template has "
                              f"{len(template)}: it belongs to another model or optimizer")
    leaves = []
    for (p, t), (a, where) in zip(template, saved):
        expected = name + jax.tree_util.keystr(p)
        t_dtype, t_shape = jnp.dtype(getattr(t, "dtype", jnp.result_type(t))), jnp.shape(t)
        if where != expected or a.dtype != t_dtype or a.shape != t_shape:
            raise CheckpointError(f"{path}: the file's leaf {where} is {a.dtype}{list(a.shape)}, "
                                  f"the template's {expected} is {t_dtype}{list(t_shape)}")
        # committed like the template: jit compiles anew for a committed argument where it had
        # an uncommitted one (a resumed fit would compile its chunk twice)
        committed = isinstance(t, jax.Array) and getattr(t, "committed", True)
        leaves.append(jax.device_put(a, t.sharding) if committed else jnp.asarray(a))
    return jax.tree.unflatten(treedef, leaves)


# ----------------------------------------------------------------------------------------------
# directories of checkpoints


def checkpoint_path(directory, iteration: int) -> pathlib.Path:
    """The conventional file name for a checkpoint: ``directory/ckpt_00001000.npz``.

    Args:
      directory: the run's checkpoint directory.
      iteration: an int ``>= 0``; zero-padded to 8 digits (longer numbers are kept whole).
    """
    if isinstance(iteration, (bool, np.bool_)) or not isinstance(iteration, (int, np.integer)):
        raise TypeError(f"iteration must be an int, got {type(iteration).__name__}")
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    return pathlib.Path(directory) / f"ckpt_{int(iteration):08d}.npz"


def list_checkpoints(directory) -> list[pathlib.Path]:
    """The ``ckpt_<iteration>.npz`` files in ``directory``, oldest iteration first.

    Temporary files of an unfinished ``save`` and other files are ignored; a missing directory
    has no checkpoints.
    """
    directory = pathlib.Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir()
             if (m := _CKPT_RE.match(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory) -> pathlib.Path | None:
    """The checkpoint with the highest iteration in ``directory``, or ``None`` if there is none."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def prune_checkpoints(directory, keep: int) -> list[pathlib.Path]:
    """Delete all but the ``keep`` newest checkpoints in ``directory``; return the deleted paths."""
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    old = list_checkpoints(directory)[:-keep]
    for p in old:
        p.unlink(missing_ok=True)
    return old
