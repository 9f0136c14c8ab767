"""Data sets of the course, in the course's layout, as NumPy float64 arrays.

Contract shared by every function here: ``X`` has shape ``(n_x, m)`` (one example per column) and
``Y`` has shape ``(1, m)`` with labels 0.0 / 1.0; both are NumPy ``float64`` arrays. Convert them
to JAX with the dtype you train in (``jnp.asarray(X, jnp.float32)``); nothing here imports JAX.

- :func:`load_catvnoncat`: the course's cat / non-cat images (HDF5, read with ``h5py``), shipped
  inside the package and checked against their SHA-256 on load.
- :func:`planar_flower`: the course's two-class "flower" of the planar-data exercise.

The course's circles and moons are scikit-learn's: ``sklearn.datasets.make_circles`` and
``make_moons`` (transpose ``X`` to the course's layout).
"""

from __future__ import annotations

import hashlib
import math
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "CAT_SHA256",
    "CatData",
    "DEFAULT_CAT_DIR",
    "find_cat_dir",
    "load_catvnoncat",
    "planar_flower",
]

# --------------------------------------------------------------------------------------------
# argument checks


def _check_int(value, name: str, minimum: int | None = None) -> int:
    """``value`` as a Python int (bools refused), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_real(value, name: str) -> float:
    """``value`` as a finite Python float (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _seed_int(seed, name: str = "seed") -> int:
    """An int seed valid for ``np.random.RandomState`` (0 <= seed < 2**32)."""
    seed = _check_int(seed, name)
    if not 0 <= seed < 2**32:
        raise ValueError(f"{name} must lie in [0, 2**32 - 1] (NumPy RandomState), got {seed}")
    return seed


# --------------------------------------------------------------------------------------------
# cat vs non-cat

DEFAULT_CAT_DIR = Path(__file__).resolve().parent / "datasets" / "catvnoncat"
"""The copy of the cat / non-cat files shipped inside the package (``jaxdnn/datasets/catvnoncat``,
with a README on where they come from)."""

CAT_SHA256 = {
    "train_catvnoncat.h5": "fbe56ab67c3ae28d564e3a644189117976d6b31af0a3ce9bb17dbf22908af242",
    "test_catvnoncat.h5": "6a9d39ce52fa85953c5834695b8534a30ed8cfd54971fb2f080b5a24d002b951",
}
"""The SHA-256 of each cat / non-cat file: :func:`load_catvnoncat` reads only files that match."""

_CAT_FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}


class CatData(NamedTuple):
    """The cat / non-cat data set in the course's layout (float64; X scaled to [0, 1]).

    Attributes:
      train_x: ``(12288, 209)`` training images, one flattened 64x64x3 image per column.
      train_y: ``(1, 209)`` training labels, 1.0 = cat, 0.0 = non-cat.
      test_x: ``(12288, 50)`` test images.
      test_y: ``(1, 50)`` test labels.
      classes: class names indexed by label, ``['non-cat', 'cat']``.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    classes: list[str]


def find_cat_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder to read the cat / non-cat files from.

    Args:
      path: a folder (``str`` or ``os.PathLike``), or None.

    Returns:
      ``Path(path)`` if given; else ``$JAXDNN_DATA`` if that environment variable is set and
      non-empty; else :data:`DEFAULT_CAT_DIR`, the copy inside the package. The folder is not
      checked here.
    """
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        return Path(path)
    env = os.environ.get("JAXDNN_DATA")
    if env:
        return Path(env)
    return DEFAULT_CAT_DIR


_HOW_TO_POINT = (
    "pass the folder as load_catvnoncat(path=...) or set the environment variable JAXDNN_DATA "
    f"(default: the copy in the package, {DEFAULT_CAT_DIR})"
)


def _check_sha256(file: Path) -> None:
    """Raise ``ValueError`` naming ``file`` unless its SHA-256 is ``CAT_SHA256[file.name]``."""
    with open(file, "rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    expected = CAT_SHA256[file.name]
    if actual != expected:
        raise ValueError(
            f"{file}: SHA-256 mismatch, the file is not the course's {file.name} (corrupted or "
            f"replaced): expected {expected}, got {actual}"
        )


def _read_split(h5py, file: Path, split: str):
    """``(X (12288, m), Y (1, m), class names)`` of one checked file, flattened as the course."""
    with h5py.File(file, "r") as f:
        x = f[f"{split}_set_x"][()]  # (m, 64, 64, 3) uint8
        y = f[f"{split}_set_y"][()]  # (m,)
        names = [c.decode() for c in f["list_classes"][()]]
    m = x.shape[0]
    # the course: reshape(m, -1).T then / 255; each column is one image in (row, col, channel) order
    X = x.reshape(m, -1).T.astype(np.float64) / 255.0  # (12288, m)
    Y = y.reshape(1, m).astype(np.float64)  # (1, m)
    return X, Y, names


def load_catvnoncat(path: str | os.PathLike | None = None) -> CatData:
    """Load the course's cat / non-cat images, flattened and scaled as in the course.

    Reads ``train_catvnoncat.h5`` (keys ``train_set_x`` (m, 64, 64, 3) uint8, ``train_set_y`` (m,),
    ``list_classes``) and ``test_catvnoncat.h5`` (``test_set_x``, ``test_set_y``, ``list_classes``),
    each after checking its SHA-256 against :data:`CAT_SHA256`. Each image becomes one column:
    ``X = x.reshape(m, -1).T / 255``.

    Args:
      path: the folder holding both files; None looks in ``$JAXDNN_DATA``, then in the copy shipped
        inside the package, :data:`DEFAULT_CAT_DIR` (see :func:`find_cat_dir`).

    Returns:
      A :class:`CatData` with ``train_x`` ``(12288, 209)``, ``train_y`` ``(1, 209)``,
      ``test_x`` ``(12288, 50)``, ``test_y`` ``(1, 50)`` (float64, X in [0, 1], Y in {0, 1}) and
      ``classes`` ``['non-cat', 'cat']``.

    Raises:
      FileNotFoundError: the folder or one of the two files does not exist.
      ValueError: a file's SHA-256 is not the expected one (the message names the file and both
        hashes).
      ImportError: ``h5py`` is not installed (``pip install 'jaxdnn[data]'``).
    """
    folder = find_cat_dir(path)
    if not folder.is_dir():
        what = "is not a directory" if folder.exists() else "does not exist"
        raise FileNotFoundError(
            f"cat/non-cat data folder {folder} {what}; expected a folder holding "
            f"{_CAT_FILES['train']} and {_CAT_FILES['test']}; {_HOW_TO_POINT}"
        )
    files = {split: folder / name for split, name in _CAT_FILES.items()}
    for split, file in files.items():
        if not file.is_file():
            raise FileNotFoundError(
                f"cat/non-cat {split} file {file} not found; expected {_CAT_FILES['train']} and "
                f"{_CAT_FILES['test']} in {folder}; {_HOW_TO_POINT}"
            )
        _check_sha256(file)
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "load_catvnoncat needs h5py to read the HDF5 files: pip install 'jaxdnn[data]'"
        ) from e

    train_x, train_y, classes = _read_split(h5py, files["train"], "train")
    test_x, test_y, _ = _read_split(h5py, files["test"], "test")  # same classes: checked files
    return CatData(train_x, train_y, test_x, test_y, classes)


# --------------------------------------------------------------------------------------------
# the course's planar flower


def planar_flower(m: int = 400, a: float = 4, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The course's two-class "flower" (planar data exercise), exactly as the course draws it.

    With ``N = m // 2`` points per class, for class ``j`` in 0, 1 (rows ``N*j .. N*(j+1)-1``)::

        t = linspace(j*3.12, (j+1)*3.12, N) + randn(N) * 0.2   # angle, drawn first
        r = a * sin(4*t) + randn(N) * 0.2                      # radius, drawn second
        x = (r*sin(t), r*cos(t)), label j

    The draws come from ``np.random.RandomState(seed)``, the stream of the course's
    ``np.random.seed(1)``; the global NumPy state is not touched. Defaults give the course's data.

    Args:
      m: total number of points, even and >= 2 (the course: 400).
      a: maximum ray of the flower (the course: 4).
      seed: ``RandomState`` seed (the course: 1).

    Returns:
      ``(X, Y)``: ``X`` ``(2, m)`` float64, ``Y`` ``(1, m)`` float64; the first ``m/2`` columns are
      label 0, the rest label 1.
    """
    m = _check_int(m, "m", minimum=2)
    if m % 2:
        raise ValueError(f"m must be even (m/2 points per class), got {m}")
    a = _check_real(a, "a")
    rs = np.random.RandomState(_seed_int(seed))
    N = m // 2  # points per class
    D = 2
    X = np.zeros((m, D))  # (m, 2), examples in rows as the course builds it
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + rs.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + rs.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T.copy(), Y.T.astype(np.float64)  # (2, m), (1, m)
