"""Checkpoints: params, optimizer state, config, cost history and iteration in one ``.npz`` file.

A trainer saves every so often and resumes from the newest file::

    path = checkpoint_path("out/run1", iteration)      # out/run1/ckpt_00001000.npz
    save(path, params, opt_state, config, costs, iteration)
    prune_checkpoints("out/run1", keep=2)
    ...
    latest = latest_checkpoint("out/run1")            # None on a fresh run
    if latest is not None:
        params, opt_state, config, costs, iteration = load(latest)

File format (version 1). A single uncompressed NumPy ``.npz`` (a zip of ``.npy`` files) written
with ``np.savez`` and read with ``allow_pickle=False``, so loading never runs pickled code:

- ``params_00000``, ``params_00001``, ...: the params leaves, in a fixed depth-first order;
- ``opt_state_00000``, ...: the optimizer-state leaves;
- ``costs``: the cost history (1-D, or 2-D for a vmapped stack of runs);
- ``manifest``: UTF-8 JSON as a ``uint8`` array, holding ``format`` (``"jaxdnn-checkpoint"``),
  ``version`` (1), the two tree structures, every array's key, dtype and shape, ``config``,
  ``iteration`` and a SHA-256 ``checksum`` over every array's key, dtype, shape and bytes.

Tree structures are encoded recursively as JSON: ``list``, ``tuple``, ``dict`` (string keys, order
kept), ``None``, leaves (by array key), and ``NamedTuple`` states recorded by module, qualified name
and field names. On load a ``NamedTuple`` class is re-imported with ``importlib`` only from
``jaxdnn`` or ``optax`` modules and only if it still is a ``NamedTuple`` with the recorded fields;
any other module is refused, so a crafted manifest cannot make ``load`` import or call arbitrary
code. ``save`` refuses such classes up front, so it never writes a file ``load`` would refuse.

Writes are atomic: the file is written to a temporary file in the target directory, flushed and
``fsync``-ed, moved onto ``path`` with ``os.replace`` and the directory is ``fsync``-ed. A crash
leaves either the previous checkpoint or the new one at ``path``, never a partial file.

``load`` raises ``CheckpointError`` (a ``ValueError``) naming the path and the problem for a
missing, truncated, corrupted, foreign or newer-version file; it never returns partial data.
"""

from __future__ import annotations

import hashlib
import importlib
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

FORMAT_NAME = "jaxdnn-checkpoint"
FORMAT_VERSION = 1
ALLOWED_MODULE_ROOTS = ("jaxdnn", "optax")

_ZIP_MAGIC = b"PK\x03\x04"  # every .npz starts with a zip local file header
_MANIFEST_KEY = "manifest"
_COSTS_KEY = "costs"
_CKPT_RE = re.compile(r"^ckpt_(\d+)\.npz$")
_MODULE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_X64_DTYPES = ("float64", "int64", "uint64", "complex128")


class CheckpointError(ValueError):
    """A checkpoint file cannot be read: missing, truncated, corrupted, foreign or too new."""


class Checkpoint(NamedTuple):
    """What ``load`` returns.

    Attributes:
      params: the params pytree; leaves are JAX arrays with their saved dtypes and shapes.
      opt_state: the optimizer state, same classes (``NamedTuple``s, tuples, ``None``) as saved.
      config: the JSON-decoded config dict (tuples come back as lists).
      costs: the cost history as a NumPy array, shape as saved (1-D or 2-D).
      iteration: the iteration number, an ``int``.
    """

    params: Any
    opt_state: Any
    config: dict
    costs: np.ndarray
    iteration: int


# ----------------------------------------------------------------------------------------------
# tree encoding


def _is_namedtuple(node) -> bool:
    return isinstance(node, tuple) and hasattr(type(node), "_fields")


def _module_allowed(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ALLOWED_MODULE_ROOTS)


def _encode_tree(node, prefix: str, arrays: dict, where: str):
    """JSON-able description of ``node``; its leaves go into ``arrays`` as NumPy arrays."""
    if node is None:
        return {"type": "none"}
    if _is_namedtuple(node):
        cls = type(node)
        module, qualname = cls.__module__, cls.__qualname__
        if not _module_allowed(module) or "<locals>" in qualname:
            raise TypeError(
                f"{where} is a {module}.{qualname}; checkpoints only hold NamedTuple classes "
                f"defined at module level in {' or '.join(m + '.*' for m in ALLOWED_MODULE_ROOTS)} "
                "(load refuses to import other modules)")
        return {"type": "namedtuple", "module": module, "qualname": qualname,
                "fields": list(cls._fields),
                "values": [_encode_tree(v, prefix, arrays, f"{where}.{f}")
                           for f, v in zip(cls._fields, node)]}
    if type(node) in (list, tuple):
        return {"type": type(node).__name__,
                "items": [_encode_tree(v, prefix, arrays, f"{where}[{i}]")
                          for i, v in enumerate(node)]}
    if type(node) is dict:
        for k in node:
            if not isinstance(k, str):
                raise TypeError(f"{where} has the key {k!r}; checkpoint dict keys must be strings")
        return {"type": "dict",
                "items": [[k, _encode_tree(v, prefix, arrays, f"{where}[{k!r}]")]
                          for k, v in node.items()]}
    key = f"{prefix}_{len(arrays):05d}"  # arrays holds this tree's leaves only
    arrays[key] = _leaf_to_numpy(node, where)
    return {"type": "leaf", "key": key}


def _leaf_to_numpy(leaf, where: str) -> np.ndarray:
    if isinstance(leaf, jax.core.Tracer):
        raise TypeError(f"{where} is a tracer: call save outside jit/vmap/grad")
    if isinstance(leaf, (bool, int, float, complex)):
        return np.asarray(leaf)
    if not isinstance(leaf, (jax.Array, np.ndarray, np.generic)):
        raise TypeError(
            f"{where} is a {type(leaf).__name__}; checkpoints hold lists, tuples, dicts, None, "
            "jaxdnn/optax NamedTuples and arrays")
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        raise TypeError(f"{where} is a PRNG key array; store jax.random.key_data(key) instead")
    arr = np.asarray(leaf)
    if arr.dtype.kind not in "biufc" and not _is_ml_dtype(arr.dtype):
        raise TypeError(f"{where} has dtype {arr.dtype}; a checkpoint holds numeric arrays only")
    return arr


def _is_ml_dtype(dtype) -> bool:
    """bfloat16, float8_* and friends: extension dtypes NumPy's .npy format stores as raw void."""
    return type(dtype).__module__.startswith("ml_dtypes") or \
        getattr(dtype.type, "__module__", "").startswith("ml_dtypes")


def _decode_tree(node, leaves: dict, path, where: str):
    """Inverse of ``_encode_tree``; ``leaves`` maps array keys to loaded arrays."""
    if not isinstance(node, dict) or "type" not in node:
        raise CheckpointError(f"{path}: corrupted manifest: bad tree node at {where}")
    kind = node["type"]
    if kind == "none":
        return None
    if kind == "leaf":
        key = node.get("key")
        if key not in leaves:
            raise CheckpointError(
                f"{path}: corrupted manifest: {where} names unknown array {key!r}")
        return leaves[key]
    if kind in ("list", "tuple"):
        items = [_decode_tree(v, leaves, path, f"{where}[{i}]")
                 for i, v in enumerate(_as_list(node.get("items"), path, where))]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        out = {}
        for item in _as_list(node.get("items"), path, where):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise CheckpointError(f"{path}: corrupted manifest: bad dict entry at {where}")
            out[item[0]] = _decode_tree(item[1], leaves, path, f"{where}[{item[0]!r}]")
        return out
    if kind == "namedtuple":
        cls = _import_namedtuple(node, path, where)
        values = [_decode_tree(v, leaves, path, f"{where}.{f}")
                  for f, v in zip(cls._fields, _as_list(node.get("values"), path, where))]
        if len(values) != len(cls._fields):
            raise CheckpointError(f"{path}: corrupted manifest: wrong number of values at {where}")
        return cls(*values)
    raise CheckpointError(f"{path}: corrupted manifest: unknown node type {kind!r} at {where}")


def _as_list(x, path, where):
    if not isinstance(x, list):
        raise CheckpointError(f"{path}: corrupted manifest: expected a list at {where}")
    return x


def _import_namedtuple(node, path, where):
    """The NamedTuple class a manifest node names, imported only from jaxdnn.* / optax.*."""
    module, qualname, fields = node.get("module"), node.get("qualname"), node.get("fields")
    if not (isinstance(module, str) and isinstance(qualname, str) and isinstance(fields, list)):
        raise CheckpointError(f"{path}: corrupted manifest: bad NamedTuple entry at {where}")
    name = f"{module}.{qualname}"
    if not (_MODULE_RE.match(module) and _MODULE_RE.match(qualname) and _module_allowed(module)):
        raise CheckpointError(
            f"{path}: refusing to import class {name!r} at {where}: checkpoints may only name "
            f"classes from {' or '.join(m + '.*' for m in ALLOWED_MODULE_ROOTS)}")
    try:
        obj = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise CheckpointError(f"{path}: cannot find class {name!r} named at {where}: {e}") from None
    # Only a NamedTuple class defined under exactly that name: no functions, no modules, and no
    # classes reached through another module's import (e.g. 'jaxdnn.checkpoint.os.system').
    if not (isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields")
            and obj.__module__ == module and obj.__qualname__ == qualname):
        raise CheckpointError(
            f"{path}: refusing {name!r} named at {where}: it is not a NamedTuple class defined "
            "there")
    if list(obj._fields) != fields:
        raise CheckpointError(
            f"{path}: {name} now has fields {list(obj._fields)}, the checkpoint recorded {fields}")
    return obj


# ----------------------------------------------------------------------------------------------
# checksum


def _checksum(arrays: dict, specs: list) -> str:
    """SHA-256 over every array's key, dtype, shape and bytes, in manifest order."""
    h = hashlib.sha256()
    for spec in specs:
        arr = arrays[spec["key"]]
        h.update(json.dumps([spec["key"], spec["dtype"], list(spec["shape"])]).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _storable(arr: np.ndarray) -> np.ndarray:
    """``arr`` as NumPy's .npy format can round-trip it: extension dtypes as unsigned ints."""
    if _is_ml_dtype(arr.dtype):
        return np.ascontiguousarray(arr).view(np.dtype(f"u{arr.dtype.itemsize}"))
    return arr


# ----------------------------------------------------------------------------------------------
# save / load


def save(path, params, opt_state, config: dict, costs, iteration: int) -> pathlib.Path:
    """Write a checkpoint atomically to ``path``.

    Args:
      path: the file to write (e.g. ``checkpoint_path(directory, iteration)``); its directory
        must exist. An existing file there is replaced only once the new one is complete.
      params: any pytree of arrays made of lists, tuples, string-keyed dicts and ``None``
        (the library's list of ``{"W", "b"}`` dicts, or a vmapped stack of them whose leaves have
        a leading model axis).
      opt_state: an optimizer state: ``None``, tuples (``optax.chain``), dicts, ``NamedTuple``
        states from ``jaxdnn`` or ``optax`` (``optax.ScaleByAdamState``, ``optax.EmptyState``,
        ``jaxdnn.optimizers.AdamState``, ...), with array leaves.
      config: a JSON-serialisable dict (hyperparameters, layer sizes, seed, ...).
      costs: the cost history, an array of shape ``(n,)`` or ``(n_models, n)``.
      iteration: the number of iterations done so far, an int ``>= 0``.

    Returns:
      ``path`` as a ``pathlib.Path``.

    Raises:
      TypeError: for a leaf or node a checkpoint cannot hold (tracers, PRNG keys, objects,
        classes from other modules), a non-dict or non-JSON config, or a non-int iteration.
      ValueError: for costs that are not 1-D or 2-D numbers, or a negative iteration.
      OSError: if writing fails; the previous file at ``path`` is then untouched.
    """
    path = pathlib.Path(path)
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    try:
        config_json = json.loads(json.dumps(config, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise TypeError(
            f"config must be JSON-serialisable (finite numbers, str keys): {e}") from None
    if isinstance(iteration, (bool, np.bool_)) or not isinstance(iteration, (int, np.integer)):
        raise TypeError(f"iteration must be an int, got {type(iteration).__name__}")
    if iteration < 0:
        raise ValueError(f"iteration must be >= 0, got {iteration}")
    if isinstance(costs, (list, tuple)):
        try:
            costs_arr = np.asarray(costs)
        except ValueError:
            raise ValueError("costs must be a 1-D or 2-D array of numbers, got a ragged "
                             "nested list") from None
    elif isinstance(costs, (np.ndarray, np.generic)) or (
            isinstance(costs, jax.Array) and not isinstance(costs, jax.core.Tracer)):
        costs_arr = np.asarray(costs)  # its dtype is checked just below
    else:
        costs_arr = _leaf_to_numpy(costs, "costs")
    if costs_arr.ndim not in (1, 2) or costs_arr.dtype.kind not in "fiu":
        raise ValueError(
            f"costs must be a 1-D or 2-D array of numbers, got shape {costs_arr.shape} "
            f"and dtype {costs_arr.dtype}")

    params_arrays: dict[str, np.ndarray] = {}
    state_arrays: dict[str, np.ndarray] = {}
    params_tree = _encode_tree(params, "params", params_arrays, "params")
    state_tree = _encode_tree(opt_state, "opt_state", state_arrays, "opt_state")
    arrays = {**params_arrays, **state_arrays, _COSTS_KEY: costs_arr}
    specs = [{"key": k, "dtype": str(a.dtype), "shape": list(a.shape)} for k, a in arrays.items()]
    stored = {k: _storable(a) for k, a in arrays.items()}
    manifest = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "params": params_tree,
        "opt_state": state_tree,
        "arrays": specs,
        "config": config_json,
        "iteration": int(iteration),
        "checksum": {"algorithm": "sha256", "hex": _checksum(stored, specs)},
    }
    stored[_MANIFEST_KEY] = np.frombuffer(json.dumps(manifest).encode("utf-8"), np.uint8)
    _atomic_savez(path, stored)
    return path


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
        # NamedTemporaryFile creates the file 0600; give the checkpoint the previous file's mode,
        # or the usual 0644 for a new one.
        os.chmod(tmp.name, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp.name, path)
    except BaseException:
        try:
            os.unlink(tmp.name)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: pathlib.Path) -> None:
    """Make the rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path) -> Checkpoint:
    """Read a checkpoint written by ``save``.

    Args:
      path: the checkpoint file.

    Returns:
      ``Checkpoint(params, opt_state, config, costs, iteration)``; params and optimizer-state
      leaves are JAX arrays with their saved dtypes and shapes, ``costs`` is a NumPy array.

    Raises:
      CheckpointError: (a ``ValueError``) naming ``path`` and the problem when the file is missing,
        truncated, corrupted (checksum mismatch), not a jaxdnn checkpoint, of another format
        version, names a class outside ``jaxdnn.*``/``optax.*``, or holds 64-bit leaves while
        ``jax_enable_x64`` is off (they would be silently truncated to 32 bits).
    """
    path = pathlib.Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_ZIP_MAGIC))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such checkpoint file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file") from None
    except OSError as e:
        raise CheckpointError(f"{path}: cannot read the checkpoint file ({e})") from None
    if magic != _ZIP_MAGIC:
        what = "a single .npy array" if magic == b"\x93NUM" else "not a .npz (zip) file"
        raise CheckpointError(f"{path}: truncated or not a jaxdnn checkpoint ({what})")
    try:
        npz = np.load(path, allow_pickle=False)
    except Exception as e:  # noqa: BLE001: a damaged zip directory raises many kinds
        raise CheckpointError(
            f"{path}: truncated or not a jaxdnn checkpoint (cannot read it as .npz: {e})") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):  # not expected after the magic check
        raise CheckpointError(f"{path}: not a jaxdnn checkpoint (not a .npz file)")
    with npz:
        try:
            return _read(path, npz)
        except CheckpointError:
            raise
        except zipfile.BadZipFile as e:
            # every member of the zip carries a CRC-32, checked as it is read
            raise CheckpointError(f"{path}: checksum mismatch (corrupted file: {e})") from None
        except Exception as e:  # noqa: BLE001: whatever a damaged file makes zipfile/numpy raise
            raise CheckpointError(
                f"{path}: corrupted or truncated ({type(e).__name__} while reading it: {e})") \
                from None


def _read(path: pathlib.Path, npz) -> Checkpoint:
    if _MANIFEST_KEY not in npz.files:
        raise CheckpointError(f"{path}: not a jaxdnn checkpoint (no manifest; arrays {npz.files})")
    raw = npz[_MANIFEST_KEY]
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"manifest array has dtype {raw.dtype} and shape {raw.shape}")
        manifest = json.loads(raw.tobytes().decode("utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not a JSON object")
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: corrupted manifest ({e})") from None

    fmt, version = manifest.get("format"), manifest.get("version")
    if fmt != FORMAT_NAME:
        raise CheckpointError(
            f"{path}: not a jaxdnn checkpoint (format {fmt!r}, expected {FORMAT_NAME!r})")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise CheckpointError(
            f"{path}: format version {version}, this jaxdnn reads version {FORMAT_VERSION}")

    specs = manifest.get("arrays")
    checksum = manifest.get("checksum")
    if not (isinstance(specs, list) and isinstance(checksum, dict)
            and checksum.get("algorithm") == "sha256"):
        raise CheckpointError(f"{path}: corrupted manifest (no array list or checksum)")
    stored, arrays = {}, {}
    for spec in specs:
        try:
            key, dtype, shape = spec["key"], jnp.dtype(spec["dtype"]), tuple(spec["shape"])
        except (TypeError, KeyError, ValueError) as e:
            raise CheckpointError(f"{path}: corrupted manifest (bad array entry {spec!r}: {e})") \
                from None
        if not isinstance(key, str) or key not in npz.files:
            raise CheckpointError(f"{path}: truncated or corrupted: array {key!r} is missing")
        arr = npz[key]
        stored[key] = arr
        if _is_ml_dtype(dtype) and arr.dtype == np.dtype(f"u{dtype.itemsize}"):
            arr = arr.view(dtype)
        if arr.dtype != dtype or arr.shape != shape:
            raise CheckpointError(
                f"{path}: corrupted: array {key!r} is {arr.dtype}{list(arr.shape)}, "
                f"the manifest says {dtype}{list(shape)}")
        arrays[key] = arr
    if _checksum(stored, specs) != checksum.get("hex"):
        raise CheckpointError(f"{path}: checksum mismatch: the file is corrupted")

    if not jax.config.jax_enable_x64:
        wide = sorted({str(a.dtype) for k, a in arrays.items()
                       if k != _COSTS_KEY and str(a.dtype) in _X64_DTYPES})
        if wide:
            raise CheckpointError(
                f"{path}: holds {', '.join(wide)} leaves but jax_enable_x64 is off, so JAX would "
                "truncate them to 32 bits; call jax.config.update('jax_enable_x64', True) first")

    leaves = {k: jnp.asarray(a) for k, a in arrays.items() if k != _COSTS_KEY}
    params = _decode_tree(manifest.get("params"), leaves, path, "params")
    opt_state = _decode_tree(manifest.get("opt_state"), leaves, path, "opt_state")
    config, iteration = manifest.get("config"), manifest.get("iteration")
    if (not isinstance(config, dict) or isinstance(iteration, bool)
            or not isinstance(iteration, int) or iteration < 0):
        raise CheckpointError(f"{path}: corrupted manifest (bad config or iteration)")
    if _COSTS_KEY not in arrays:
        raise CheckpointError(f"{path}: corrupted: no cost history")
    return Checkpoint(params, opt_state, config, arrays[_COSTS_KEY], iteration)


# ----------------------------------------------------------------------------------------------
# directories of checkpoints


def checkpoint_path(directory, iteration: int) -> pathlib.Path:
    """The conventional file name for a checkpoint: ``directory/ckpt_00001000.npz``.

    Args:
      directory: the run's checkpoint directory.
      iteration: an int ``>= 0``; zero-padded to 8 digits (longer numbers are kept whole).

    Returns:
      the path, a ``pathlib.Path``.
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
    """Delete all but the ``keep`` newest checkpoints in ``directory``; return the deleted paths.

    Only files named like ``checkpoint_path`` names them are touched.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be an int >= 1, got {keep!r}")
    old = list_checkpoints(directory)[:-keep]
    for p in old:
        p.unlink(missing_ok=True)
    return old
