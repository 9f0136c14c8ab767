"""Tests for jaxdnn.data, each against an independent reference.

- planar_flower: the course's code, written out literally with the global ``np.random``.
- load_catvnoncat: the HDF5 files read directly with h5py, and the counts in the data's README.
"""

import os
import pathlib

import numpy as np
import pytest

from jaxdnn import data

h5py = pytest.importorskip("h5py")

SHARED_CAT_DIR = pathlib.Path(
    os.environ.get("JAXDNN_DATA")
    or pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "catvnoncat")


@pytest.fixture
def global_np_state():
    """Tests that seed the global NumPy generator leave it as they found it."""
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def assert_course_layout(X, Y, n_x, m):
    assert X.shape == (n_x, m) and Y.shape == (1, m), (X.shape, Y.shape)
    assert X.dtype == np.float64 and Y.dtype == np.float64, (X.dtype, Y.dtype)
    assert set(np.unique(Y)) <= {0.0, 1.0}


# ---------------------------------------------------------------------------------- flower

def course_load_planar_dataset():
    """The course's planar_utils.load_planar_dataset, as the course wrote it."""
    np.random.seed(1)
    m = 400
    N = int(m / 2)
    D = 2
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype='uint8')
    a = 4
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def test_planar_flower_equals_the_course(global_np_state):
    X_ref, Y_ref = course_load_planar_dataset()
    np.random.seed(99)
    before = np.random.get_state()[1].copy()
    X, Y = data.planar_flower()
    np.testing.assert_array_equal(np.random.get_state()[1], before,
                                  err_msg="planar_flower must not touch the global NumPy state")
    assert_course_layout(X, Y, 2, 400)
    np.testing.assert_array_equal(X, X_ref)
    np.testing.assert_array_equal(Y, Y_ref)
    assert int((Y == 0).sum()) == 200 and int((Y == 1).sum()) == 200


def test_planar_flower_parameters():
    X, Y = data.planar_flower(m=10, a=2.5, seed=3)
    assert_course_layout(X, Y, 2, 10)
    np.testing.assert_array_equal(Y, [[0] * 5 + [1] * 5])
    # an independent re-draw: the same seed's stream, t noise first then r noise, class by class
    rs = np.random.RandomState(3)
    t0 = np.linspace(0, 3.12, 5) + rs.randn(5) * 0.2
    r0 = 2.5 * np.sin(4 * t0) + rs.randn(5) * 0.2
    np.testing.assert_array_equal(X[:, :5], np.stack([r0 * np.sin(t0), r0 * np.cos(t0)]))
    assert not np.array_equal(data.planar_flower(seed=2)[0], data.planar_flower()[0])
    for kwargs, err in [({"m": 401}, ValueError), ({"m": 0}, ValueError),
                        ({"m": 4.0}, TypeError), ({"a": "4"}, TypeError),
                        ({"seed": -3}, ValueError)]:
        with pytest.raises(err, match=next(iter(kwargs))):
            data.planar_flower(**kwargs)


# ---------------------------------------------------------------------------------- cat data

def test_load_catvnoncat_shared_data():
    if not SHARED_CAT_DIR.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"cat/non-cat data not found at {SHARED_CAT_DIR} (CI is set)")
        pytest.skip(f"cat/non-cat data not found at {SHARED_CAT_DIR}; set JAXDNN_DATA")
    d = data.load_catvnoncat(SHARED_CAT_DIR)
    assert isinstance(d, data.CatData)
    assert d.train_x.shape == (12288, 209) and d.train_y.shape == (1, 209)
    assert d.test_x.shape == (12288, 50) and d.test_y.shape == (1, 50)
    for a in d[:4]:
        assert a.dtype == np.float64
    assert d.train_x.min() >= 0 and d.train_x.max() <= 1
    assert d.test_x.min() >= 0 and d.test_x.max() <= 1
    assert int(d.train_y.sum()) == 72 and int(d.test_y.sum()) == 33  # counts from the README
    assert d.classes == ["non-cat", "cat"]
    # independent reference: the file read directly, flattened as the course does
    with h5py.File(SHARED_CAT_DIR / "train_catvnoncat.h5", "r") as f:
        x = np.array(f["train_set_x"][:])
        y = np.array(f["train_set_y"][:])
    np.testing.assert_array_equal(d.train_x, x.reshape(x.shape[0], -1).T / 255)
    np.testing.assert_array_equal(d.train_y, y.reshape(1, -1))


def write_cat_file(path, split, m=3, x=None, y=None, classes=(b"non-cat", b"cat"), drop=()):
    """A small cat/non-cat-style HDF5 file; ``drop`` leaves keys out."""
    rng = np.random.default_rng(0)
    if x is None:
        x = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
    if y is None:
        y = np.arange(m, dtype=np.int64) % 2
    with h5py.File(path, "w") as f:
        for key, value in ((f"{split}_set_x", x), (f"{split}_set_y", y),
                           ("list_classes", np.array(classes))):
            if key not in drop:
                f.create_dataset(key, data=value)
    return x, y


@pytest.fixture
def cat_dir(tmp_path):
    write_cat_file(tmp_path / "train_catvnoncat.h5", "train", m=3)
    write_cat_file(tmp_path / "test_catvnoncat.h5", "test", m=2)
    return tmp_path


def test_load_catvnoncat_flattens_like_the_course(cat_dir):
    x, y = write_cat_file(cat_dir / "train_catvnoncat.h5", "train", m=3)
    d = data.load_catvnoncat(str(cat_dir))
    assert d.train_x.shape == (12288, 3) and d.test_x.shape == (12288, 2)
    for i in range(3):  # column i is image i in (row, col, channel) order, / 255
        np.testing.assert_array_equal(d.train_x[:, i], x[i].ravel().astype(np.float64) / 255)
    np.testing.assert_array_equal(d.train_y, [[0.0, 1.0, 0.0]])
    assert d.classes == ["non-cat", "cat"]


def test_find_cat_dir_precedence(monkeypatch, tmp_path):
    assert data.DEFAULT_CAT_DIR == (pathlib.Path(data.__file__).resolve().parents[2]
                                    / "shared" / "data" / "catvnoncat")
    monkeypatch.delenv("JAXDNN_DATA", raising=False)
    assert data.find_cat_dir() == data.DEFAULT_CAT_DIR
    monkeypatch.setenv("JAXDNN_DATA", str(tmp_path / "env"))
    assert data.find_cat_dir() == tmp_path / "env"
    assert data.find_cat_dir(tmp_path / "arg") == tmp_path / "arg"
    with pytest.raises(TypeError, match="path"):
        data.find_cat_dir(3)


def test_missing_directory(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        data.load_catvnoncat(missing)
    msg = str(e.value)
    for part in (str(missing), "does not exist", "train_catvnoncat.h5", "test_catvnoncat.h5",
                 "JAXDNN_DATA"):
        assert part in msg, (part, msg)
    monkeypatch.setenv("JAXDNN_DATA", str(missing))  # the env var is honoured, and named
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_catvnoncat()


def test_missing_file(cat_dir):
    (cat_dir / "test_catvnoncat.h5").unlink()
    with pytest.raises(FileNotFoundError) as e:
        data.load_catvnoncat(cat_dir)
    msg = str(e.value)
    assert str(cat_dir / "test_catvnoncat.h5") in msg and "not found" in msg, msg
    assert "JAXDNN_DATA" in msg


def test_not_hdf5(cat_dir):
    bad = cat_dir / "train_catvnoncat.h5"
    bad.write_text("this is not HDF5")
    with pytest.raises(ValueError) as e:
        data.load_catvnoncat(cat_dir)
    assert str(bad) in str(e.value) and "not a readable HDF5 file" in str(e.value), str(e.value)


@pytest.mark.parametrize("key", ["test_set_x", "test_set_y", "list_classes"])
def test_missing_key(cat_dir, key):
    file = cat_dir / "test_catvnoncat.h5"
    write_cat_file(file, "test", m=2, drop=(key,))
    with pytest.raises(ValueError) as e:
        data.load_catvnoncat(cat_dir)
    msg = str(e.value)
    assert str(file) in msg and f"missing dataset '{key}'" in msg, msg


@pytest.mark.parametrize("kwargs, problem", [
    ({"x": np.zeros((3, 32, 32, 3), np.uint8)}, "must have shape (m, 64, 64, 3)"),
    ({"x": np.zeros((3, 64, 64, 3), np.float32)}, "must have dtype uint8"),
    ({"y": np.array([0, 1])}, "label count mismatch: train_set_y has 2 labels"),
    ({"y": np.zeros((3, 1), np.int64)}, "must be 1-D"),
    ({"y": np.array([0, 1, 2])}, "must be 0 or 1, found [2]"),
    ({"classes": (b"a", b"b", b"c")}, "list_classes must name 2 classes"),
])
def test_malformed_train_file(cat_dir, kwargs, problem):
    file = cat_dir / "train_catvnoncat.h5"
    write_cat_file(file, "train", m=3, **kwargs)
    with pytest.raises(ValueError) as e:
        data.load_catvnoncat(cat_dir)
    msg = str(e.value)
    assert str(file) in msg and problem in msg, msg


def test_classes_must_agree(cat_dir):
    write_cat_file(cat_dir / "test_catvnoncat.h5", "test", m=2, classes=(b"dog", b"cat"))
    with pytest.raises(ValueError, match="list_classes differ"):
        data.load_catvnoncat(cat_dir)


def test_missing_h5py_says_how_to_install(cat_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'jaxdnn\[data\]'"):
        data.load_catvnoncat(cat_dir)
