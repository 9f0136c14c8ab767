"""Data sets of the course, in the course's layout, as NumPy float64 arrays.

Contract shared by every function here: ``X`` has shape ``(n_x, m)`` (one example per column) and
``Y`` has shape ``(1, m)`` with labels 0.0 / 1.0; both are NumPy ``float64`` arrays. Convert them
to JAX with the dtype you train in (``jnp.asarray(X, jnp.float32)``); nothing here imports JAX.

Random generators take ``seed`` and draw from ``np.random.RandomState(seed)``, NumPy's legacy
generator. Its stream is the one the course's ``np.random.seed(s)`` sets for the global
``np.random`` functions, so the course's recipes reproduce bit for bit without touching global
state.

- :func:`load_catvnoncat`: the course's cat / non-cat images (HDF5, read with ``h5py``).
- :func:`planar_flower`: the course's two-class "flower" of the planar-data exercise.
- :func:`make_circles`, :func:`make_moons`: scikit-learn's generators, reproduced bit for bit
  without importing scikit-learn; :func:`course_circles`, :func:`course_moons` the course's calls.
- :func:`playground`: the classification sets of the TensorFlow Playground with their noise knob.
"""

from __future__ import annotations

import math
import numbers
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "CatData",
    "DEFAULT_CAT_DIR",
    "PLAYGROUND_DATASETS",
    "course_circles",
    "course_moons",
    "find_cat_dir",
    "load_catvnoncat",
    "make_circles",
    "make_moons",
    "planar_flower",
    "playground",
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


def _random_state(seed) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``: None -> the global RandomState, int -> a new one."""
    if seed is None:
        return np.random.mtrand._rand  # the generator np.random.seed(...) seeds
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        raise TypeError(
            "seed must be None, an int or a np.random.RandomState; a np.random.Generator draws a "
            "different stream than scikit-learn and the course"
        )
    return np.random.RandomState(_seed_int(seed))


def _check_noise(noise, allow_none: bool) -> float | None:
    if noise is None and allow_none:
        return None
    noise = _check_real(noise, "noise")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    return noise


# --------------------------------------------------------------------------------------------
# cat vs non-cat

DEFAULT_CAT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat"
"""Where the cat / non-cat files are looked for by default: ``shared/data/catvnoncat`` beside the
project's root."""

_CAT_FILES = {"train": "train_catvnoncat.h5", "test": "test_catvnoncat.h5"}
_IMAGE_SHAPE = (64, 64, 3)


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
      non-empty; else :data:`DEFAULT_CAT_DIR`. The folder is not checked here.
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
    f"(default: {DEFAULT_CAT_DIR})"
)


def _read_split(h5py, file: Path, split: str):
    """Read ``{split}_set_x``, ``{split}_set_y`` and ``list_classes`` from one file, checked."""
    try:
        f = h5py.File(file, "r")
    except OSError as e:
        raise ValueError(f"{file}: not a readable HDF5 file ({e})") from e
    with f:
        keys = sorted(f.keys())
        arrays = {}
        for key in (f"{split}_set_x", f"{split}_set_y", "list_classes"):
            if key not in f:
                raise ValueError(
                    f"{file}: missing dataset {key!r}; expected keys {split}_set_x, "
                    f"{split}_set_y, list_classes, found {keys}"
                )
            obj = f[key]
            if not isinstance(obj, h5py.Dataset):
                raise ValueError(f"{file}: {key!r} must be a dataset, found {type(obj).__name__}")
            arrays[key] = obj[()]
    x, y, classes = arrays[f"{split}_set_x"], arrays[f"{split}_set_y"], arrays["list_classes"]

    if x.ndim != 4 or x.shape[1:] != _IMAGE_SHAPE or x.shape[0] == 0:
        raise ValueError(
            f"{file}: {split}_set_x must have shape (m, 64, 64, 3) with m >= 1, got {x.shape}"
        )
    if x.dtype != np.uint8:
        raise ValueError(
            f"{file}: {split}_set_x must have dtype uint8 (pixels 0..255), got {x.dtype}"
        )
    m = x.shape[0]
    if y.ndim != 1:
        raise ValueError(f"{file}: {split}_set_y must be 1-D of shape ({m},), got shape {y.shape}")
    if y.shape[0] != m:
        raise ValueError(
            f"{file}: label count mismatch: {split}_set_y has {y.shape[0]} labels but "
            f"{split}_set_x has {m} images"
        )
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == np.bool_):
        raise ValueError(f"{file}: {split}_set_y must be numeric labels 0/1, got dtype {y.dtype}")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(
            f"{file}: labels in {split}_set_y must be 0 or 1, "
            f"found {np.unique(y[bad])[:10].tolist()}"
        )
    try:
        names = [c.decode() if isinstance(c, bytes) else str(c) for c in np.ravel(classes)]
    except UnicodeDecodeError as e:
        raise ValueError(f"{file}: list_classes is not readable text ({e})") from e
    if len(names) != 2:
        raise ValueError(
            f"{file}: list_classes must name 2 classes (labels 0 and 1), got {names}"
        )

    # the course: reshape(m, -1).T then / 255; each column is one image in (row, col, channel) order
    X = x.reshape(m, -1).T.astype(np.float64) / 255.0  # (12288, m)
    Y = y.reshape(1, m).astype(np.float64)  # (1, m)
    return X, Y, names


def load_catvnoncat(path: str | os.PathLike | None = None) -> CatData:
    """Load the course's cat / non-cat images, flattened and scaled as in the course.

    Reads ``train_catvnoncat.h5`` (keys ``train_set_x`` (m, 64, 64, 3) uint8, ``train_set_y`` (m,),
    ``list_classes``) and ``test_catvnoncat.h5`` (``test_set_x``, ``test_set_y``, ``list_classes``).
    Each image becomes one column: ``X = x.reshape(m, -1).T / 255``.

    Args:
      path: the folder holding both files; None looks in ``$JAXDNN_DATA``, then
        :data:`DEFAULT_CAT_DIR` (see :func:`find_cat_dir`).

    Returns:
      A :class:`CatData` with ``train_x`` ``(12288, 209)``, ``train_y`` ``(1, 209)``,
      ``test_x`` ``(12288, 50)``, ``test_y`` ``(1, 50)`` (float64, X in [0, 1], Y in {0, 1}) and
      ``classes`` ``['non-cat', 'cat']``.

    Raises:
      ImportError: ``h5py`` is not installed (``pip install 'jaxdnn[data]'``).
      FileNotFoundError: the folder or one of the two files does not exist.
      ValueError: a file is not HDF5, lacks a dataset, or holds data of the wrong shape, dtype,
        label count or label values; or the two files disagree on the class names.
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
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "load_catvnoncat needs h5py to read the HDF5 files: pip install 'jaxdnn[data]'"
        ) from e

    train_x, train_y, train_classes = _read_split(h5py, files["train"], "train")
    test_x, test_y, test_classes = _read_split(h5py, files["test"], "test")
    if train_classes != test_classes:
        raise ValueError(
            f"list_classes differ: {files['train']} has {train_classes}, "
            f"{files['test']} has {test_classes}"
        )
    return CatData(train_x, train_y, test_x, test_y, train_classes)


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


# --------------------------------------------------------------------------------------------
# scikit-learn's circles and moons


def _shuffle_and_noise(X, y, noise, rs):
    """sklearn's tail: ``shuffle`` (a permutation of arange(m) by ``rs.shuffle``), then noise."""
    indices = np.arange(X.shape[0])
    rs.shuffle(indices)  # sklearn.utils.shuffle -> resample(replace=False)
    X, y = X[indices], y[indices]
    if noise is not None:
        X += rs.normal(scale=noise, size=X.shape)  # (m, 2), drawn row by row
    return X.T.copy(), y.reshape(1, -1).astype(np.float64)  # (2, m), (1, m)


def make_circles(
    n_samples: int = 100,
    noise: float | None = None,
    factor: float = 0.8,
    seed: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A large circle holding a smaller one; ``sklearn.datasets.make_circles`` bit for bit.

    ``n_out = n_samples // 2`` points at angles ``linspace(0, 2*pi, n_out, endpoint=False)`` on the
    unit circle get label 0; ``n_in = n_samples - n_out`` points on the circle of radius ``factor``
    get label 1. The points are then shuffled (``RandomState.shuffle`` of ``arange(n_samples)``)
    and, unless ``noise`` is None, Gaussian noise of standard deviation ``noise`` is added, drawn
    as one ``(n_samples, 2)`` array after the shuffle, exactly in scikit-learn's order.

    Args:
      n_samples: total number of points, >= 1.
      noise: standard deviation of the Gaussian noise, >= 0, or None for none (0.0 still draws
        the noise, like scikit-learn, so the generator advances the same way).
      factor: inner radius over outer radius, in [0, 1).
      seed: None uses the global ``np.random`` state (what scikit-learn's ``random_state=None``
        does; the course seeds it with ``np.random.seed``); an int uses
        ``np.random.RandomState(seed)``; a ``RandomState`` is used as is.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` float64 in {0, 1}.
    """
    n_samples = _check_int(n_samples, "n_samples", minimum=1)
    noise = _check_noise(noise, allow_none=True)
    factor = _check_real(factor, "factor")
    if not 0 <= factor < 1:
        raise ValueError(f"factor must lie in [0, 1), got {factor}")
    rs = _random_state(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    linspace_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    linspace_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    X = np.vstack([
        np.append(np.cos(linspace_out), np.cos(linspace_in) * factor),
        np.append(np.sin(linspace_out), np.sin(linspace_in) * factor),
    ]).T  # (m, 2)
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_and_noise(X, y, noise, rs)


def make_moons(
    n_samples: int = 100,
    noise: float | None = None,
    seed: int | np.random.RandomState | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles; ``sklearn.datasets.make_moons`` bit for bit.

    ``n_out = n_samples // 2`` points ``(cos s, sin s)``, ``s = linspace(0, pi, n_out)``, get
    label 0; ``n_in = n_samples - n_out`` points ``(1 - cos s, 1 - sin s - 0.5)``,
    ``s = linspace(0, pi, n_in)``, get label 1. Then shuffle and optional Gaussian noise exactly as
    in :func:`make_circles`.

    Args:
      n_samples: total number of points, >= 1.
      noise: standard deviation of the Gaussian noise, >= 0, or None for none.
      seed: None (the global ``np.random`` state), an int, or a ``RandomState``; see
        :func:`make_circles`.

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` float64 in {0, 1}.
    """
    n_samples = _check_int(n_samples, "n_samples", minimum=1)
    noise = _check_noise(noise, allow_none=True)
    rs = _random_state(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    X = np.vstack([
        np.append(np.cos(np.linspace(0, np.pi, n_out)),
                  1 - np.cos(np.linspace(0, np.pi, n_in))),
        np.append(np.sin(np.linspace(0, np.pi, n_out)),
                  1 - np.sin(np.linspace(0, np.pi, n_in)) - 0.5),
    ]).T  # (m, 2)
    y = np.hstack([np.zeros(n_out, dtype=np.intp), np.ones(n_in, dtype=np.intp)])
    return _shuffle_and_noise(X, y, noise, rs)


def course_circles() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The initialization exercise's data: ``np.random.seed(1)``; ``make_circles(300, noise=.05)``
    for training, then ``np.random.seed(2)``; ``make_circles(100, noise=.05)`` for testing.

    Returns:
      ``(train_X, train_Y, test_X, test_Y)``: ``(2, 300)``, ``(1, 300)``, ``(2, 100)``,
      ``(1, 100)``, float64.
    """
    train_X, train_Y = make_circles(n_samples=300, noise=0.05, seed=1)
    test_X, test_Y = make_circles(n_samples=100, noise=0.05, seed=2)
    return train_X, train_Y, test_X, test_Y


def course_moons() -> tuple[np.ndarray, np.ndarray]:
    """The optimization exercise's data: ``np.random.seed(3)``; ``make_moons(300, noise=.2)``.

    Returns:
      ``(X, Y)``: ``(2, 300)`` and ``(1, 300)``, float64.
    """
    return make_moons(n_samples=300, noise=0.2, seed=3)


# --------------------------------------------------------------------------------------------
# TensorFlow Playground

PLAYGROUND_DATASETS = ("circle", "xor", "gauss", "spiral")
"""Names accepted by :func:`playground`."""

_PLAYGROUND_MAX_NOISE = 0.5  # the Playground's noise slider runs from 0 to 50 %


def _pg_circle(rs, n_pos, n_neg, noise):
    radius = 5.0

    def ring(n, r_lo, r_hi):
        r = rs.uniform(r_lo, r_hi, n)
        angle = rs.uniform(0, 2 * np.pi, n)
        x, y = r * np.sin(angle), r * np.cos(angle)
        noise_x = rs.uniform(-radius, radius, n) * noise
        noise_y = rs.uniform(-radius, radius, n) * noise
        # the label looks at the noisy point; the stored point stays clean (as in the Playground)
        label = np.hypot(x + noise_x, y + noise_y) < radius * 0.5
        return x, y, label

    inner = ring(n_pos, 0.0, radius * 0.5)
    outer = ring(n_neg, radius * 0.7, radius)
    return [np.concatenate(p) for p in zip(inner, outer)]


def _pg_xor(rs, n, noise):
    padding = 0.3
    x = rs.uniform(-5, 5, n)
    x = x + np.where(x > 0, padding, -padding)
    y = rs.uniform(-5, 5, n)
    y = y + np.where(y > 0, padding, -padding)
    noise_x = rs.uniform(-5, 5, n) * noise
    noise_y = rs.uniform(-5, 5, n) * noise
    label = (x + noise_x) * (y + noise_y) >= 0  # noisy point decides; clean point is stored
    return x, y, label


def _pg_gauss(rs, n_pos, n_neg, noise):
    variance = 0.5 + (4.0 - 0.5) * noise / _PLAYGROUND_MAX_NOISE  # d3 linear [0, .5] -> [.5, 4]
    std = math.sqrt(variance)
    pos = rs.normal(size=(2, n_pos)) * std + 2.0  # centred at (2, 2), label 1
    neg = rs.normal(size=(2, n_neg)) * std - 2.0  # centred at (-2, -2), label 0
    label = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    return np.r_[pos[0], neg[0]], np.r_[pos[1], neg[1]], label


def _pg_spiral(rs, n_pos, n_neg, noise, n_half):
    def spiral(n, delta_t):
        i = np.arange(n)
        r = i / n_half * 5
        t = 1.75 * i / n_half * 2 * np.pi + delta_t
        x = r * np.sin(t) + rs.uniform(-1, 1, n) * noise
        y = r * np.cos(t) + rs.uniform(-1, 1, n) * noise
        return x, y

    xp, yp = spiral(n_pos, 0.0)  # label 1
    xn, yn = spiral(n_neg, np.pi)  # label 0
    label = np.r_[np.ones(n_pos, bool), np.zeros(n_neg, bool)]
    return np.r_[xp, xn], np.r_[yp, yn], label


def playground(
    name: str, n_samples: int = 500, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A classification data set of the TensorFlow Playground (``src/dataset.ts``).

    The formulas follow the Playground; ``Math.random`` becomes ``np.random.RandomState(seed)``
    (so values are reproducible here but not equal to the browser's), and its labels +1 / -1
    become 1 / 0. ``U(a, b)`` is a uniform draw. For the two-class sets the first
    ``ceil(n_samples/2)`` columns are label-1 points and the remaining ``floor(n_samples/2)``
    label-0 points (the Playground draws ``n/2`` of each, rounding up, and shuffles afterwards;
    shuffle yourself if order matters). One seed gives the same underlying draws at every noise
    level, so raising ``noise`` perturbs the same points.

    - ``"circle"`` (radius 5): label-1 points at ``r ~ U(0, 2.5)``, label-0 points at
      ``r ~ U(3.5, 5)``, angle ``~ U(0, 2 pi)``, point ``(r sin a, r cos a)``. The label is then
      recomputed as ``|p + e| < 2.5`` with ``e ~ U(-5, 5)^2 * noise``: as in the Playground the
      noise moves only the point the label is decided on, the stored point stays clean, so noise
      flips labels near the boundary.
    - ``"xor"``: ``x, y ~ U(-5, 5)``, each pushed 0.3 away from zero (``+0.3`` if positive, else
      ``-0.3``); label 1 iff ``(x + e_x)(y + e_y) >= 0`` with ``e ~ U(-5, 5)^2 * noise``; again the
      stored point is the clean one.
    - ``"gauss"``: label 1 ~ N((2, 2), v I), label 0 ~ N((-2, -2), v I), with variance
      ``v = 0.5 + 7 * noise`` (linear from 0.5 at noise 0 to 4 at noise 0.5).
    - ``"spiral"``: with ``n = n_samples / 2``, point ``i`` of a spiral has ``r = i / n * 5``,
      ``t = 1.75 * i / n * 2 pi + dt`` and is ``(r sin t, r cos t) + U(-1, 1)^2 * noise``;
      ``dt = 0`` gives label 1, ``dt = pi`` label 0.

    Args:
      name: one of ``"circle"``, ``"xor"``, ``"gauss"``, ``"spiral"``.
      n_samples: total number of points, >= 1 (the Playground uses 500).
      noise: the Playground's noise slider as a fraction, in [0, 0.5] (0 to 50 %).
      seed: ``RandomState`` seed, an int in [0, 2**32).

    Returns:
      ``(X, Y)``: ``X`` ``(2, n_samples)`` float64, ``Y`` ``(1, n_samples)`` float64 in {0, 1}.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {list(PLAYGROUND_DATASETS)}, got {name!r}")
    if name not in PLAYGROUND_DATASETS:
        raise ValueError(f"unknown playground data set {name!r}; expected one of "
                         f"{list(PLAYGROUND_DATASETS)}")
    n_samples = _check_int(n_samples, "n_samples", minimum=1)
    noise = _check_noise(noise, allow_none=False)
    if noise > _PLAYGROUND_MAX_NOISE:
        raise ValueError(
            f"noise must lie in [0, {_PLAYGROUND_MAX_NOISE}] (the Playground's 0 to 50 % slider), "
            f"got {noise}"
        )
    rs = np.random.RandomState(_seed_int(seed))
    n_pos = n_samples - n_samples // 2  # label 1 first, rounding up as the Playground does
    n_neg = n_samples // 2
    if name == "circle":
        x, y, label = _pg_circle(rs, n_pos, n_neg, noise)
    elif name == "xor":
        x, y, label = _pg_xor(rs, n_samples, noise)
    elif name == "gauss":
        x, y, label = _pg_gauss(rs, n_pos, n_neg, noise)
    else:
        x, y, label = _pg_spiral(rs, n_pos, n_neg, noise, n_samples / 2)
    X = np.stack([x, y]).astype(np.float64)  # (2, m)
    Y = label.astype(np.float64).reshape(1, -1)  # (1, m)
    return X, Y
