"""Tests for jaxdnn.data, each against an independent reference.

- make_circles / make_moons: scikit-learn itself (exact equality, transposed).
- planar_flower: the course's code, written out literally with the global ``np.random``.
- load_catvnoncat: the HDF5 files read directly with h5py, and the counts in the data's README.
- playground: each set's defining geometric property, written out from the Playground's formulas.
"""

import os
import pathlib

import numpy as np
import pytest

from jaxdnn import data

sklearn_datasets = pytest.importorskip("sklearn.datasets")
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


# ---------------------------------------------------------------------------------- sklearn sets

@pytest.mark.parametrize("n_samples", [1, 2, 7, 100, 301])
@pytest.mark.parametrize("noise", [None, 0.0, 0.05, 0.3])
@pytest.mark.parametrize("seed", [0, 3, 42])
def test_make_circles_and_moons_equal_sklearn_exactly(n_samples, noise, seed):
    for factor in (0.8, 0.3):
        X, Y = data.make_circles(n_samples, noise=noise, factor=factor, seed=seed)
        Xs, ys = sklearn_datasets.make_circles(n_samples, noise=noise, factor=factor,
                                               random_state=seed)
        assert_course_layout(X, Y, 2, n_samples)
        np.testing.assert_array_equal(X, Xs.T, err_msg=f"circles factor={factor} (exact)")
        np.testing.assert_array_equal(Y[0], ys, err_msg=f"circles factor={factor} (exact)")
    X, Y = data.make_moons(n_samples, noise=noise, seed=seed)
    Xs, ys = sklearn_datasets.make_moons(n_samples, noise=noise, random_state=seed)
    assert_course_layout(X, Y, 2, n_samples)
    np.testing.assert_array_equal(X, Xs.T, err_msg="moons (exact)")
    np.testing.assert_array_equal(Y[0], ys, err_msg="moons (exact)")


def test_seed_none_uses_the_global_state_like_sklearn(global_np_state):
    np.random.seed(7)
    X, Y = data.make_circles(51, noise=0.1)
    X2, Y2 = data.make_moons(40, noise=0.1)  # continues the same global stream
    np.random.seed(7)
    Xs, ys = sklearn_datasets.make_circles(51, noise=0.1)
    Xs2, ys2 = sklearn_datasets.make_moons(40, noise=0.1)
    np.testing.assert_array_equal(X, Xs.T)
    np.testing.assert_array_equal(Y[0], ys)
    np.testing.assert_array_equal(X2, Xs2.T)
    np.testing.assert_array_equal(Y2[0], ys2)


def test_course_circles_and_moons_match_the_course_calls(global_np_state):
    # the course's load_dataset(), literally
    np.random.seed(1)
    train_X, train_Y = sklearn_datasets.make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    test_X, test_Y = sklearn_datasets.make_circles(n_samples=100, noise=.05)
    np.random.seed(3)
    moons_X, moons_Y = sklearn_datasets.make_moons(n_samples=300, noise=.2)

    np.random.seed(12345)
    before = np.random.get_state()[1].copy()
    got = data.course_circles()
    got_moons = data.course_moons()
    np.testing.assert_array_equal(np.random.get_state()[1], before,
                                  err_msg="course_* must not touch the global NumPy state")
    for g, e in zip(got, (train_X.T, train_Y.reshape(1, -1), test_X.T, test_Y.reshape(1, -1))):
        assert g.shape == e.shape
        np.testing.assert_array_equal(g, e)
    np.testing.assert_array_equal(got_moons[0], moons_X.T)
    np.testing.assert_array_equal(got_moons[1], moons_Y.reshape(1, 300))
    assert [a.shape for a in got] == [(2, 300), (1, 300), (2, 100), (1, 100)]


@pytest.mark.parametrize("kwargs, err", [
    ({"n_samples": 0}, ValueError),
    ({"n_samples": 2.0}, TypeError),
    ({"n_samples": True}, TypeError),
    ({"noise": -0.1}, ValueError),
    ({"noise": float("nan")}, ValueError),
    ({"noise": "a"}, TypeError),
    ({"seed": -1}, ValueError),
    ({"seed": 1.5}, TypeError),
    ({"seed": np.random.default_rng(0)}, TypeError),
])
def test_sklearn_like_argument_errors(kwargs, err):
    for fn in (data.make_circles, data.make_moons):
        with pytest.raises(err, match=next(iter(kwargs))):
            fn(**kwargs)


@pytest.mark.parametrize("factor", [1.0, -0.1])
def test_make_circles_factor_range(factor):
    with pytest.raises(ValueError, match=r"factor must lie in \[0, 1\)"):
        data.make_circles(10, factor=factor)


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


# ---------------------------------------------------------------------------------- playground

@pytest.mark.parametrize("name", data.PLAYGROUND_DATASETS)
def test_playground_shapes_determinism(name):
    X, Y = data.playground(name, n_samples=200, noise=0.2, seed=5)
    assert_course_layout(X, Y, 2, 200)
    assert set(np.unique(Y)) == {0.0, 1.0}
    X2, Y2 = data.playground(name, n_samples=200, noise=0.2, seed=5)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(Y, Y2)
    X3, _ = data.playground(name, n_samples=200, noise=0.2, seed=6)
    assert not np.array_equal(X, X3)
    Xo, Yo = data.playground(name, n_samples=7, seed=1)
    assert_course_layout(Xo, Yo, 2, 7)
    if name != "xor":  # generated balanced, label 1 first, rounding up for odd n
        np.testing.assert_array_equal(data.playground(name, 200, 0.0, 5)[1],
                                      [[1.0] * 100 + [0.0] * 100])
        np.testing.assert_array_equal(Yo, [[1.0] * 4 + [0.0] * 3])


def test_playground_circle():
    X, Y = data.playground("circle", n_samples=1000, noise=0.0, seed=0)
    r = np.hypot(X[0], X[1])
    np.testing.assert_array_equal(Y[0] == 1, r < 2.5)  # label 1 iff inside radius 0.5 * 5
    assert r.max() <= 5 and r[Y[0] == 0].min() >= 3.5 and r[Y[0] == 1].max() < 2.5
    # noise moves only the point the label is decided on: same points, some labels flipped
    Xn, Yn = data.playground("circle", n_samples=1000, noise=0.5, seed=0)
    np.testing.assert_array_equal(Xn, X)
    flipped = (Yn != Y)[0]
    assert 0 < flipped.sum() < 500
    # the noisy decision point is p + U(-2.5, 2.5)^2: it can move an inner point out (1 -> 0)
    # and an outer point with r < 2.5 + 2.5 * sqrt(2) in (0 -> 1)
    assert np.any(flipped & (Y[0] == 1)) and np.any(flipped & (Y[0] == 0))
    assert np.all(r[flipped & (Y[0] == 0)] < 2.5 + 2.5 * np.sqrt(2))


def test_playground_xor():
    X, Y = data.playground("xor", n_samples=1000, noise=0.0, seed=0)
    np.testing.assert_array_equal(Y[0] == 1, X[0] * X[1] >= 0)
    assert np.abs(X).min() >= 0.3 and np.abs(X).max() <= 5.3  # padding 0.3
    assert 400 < Y.sum() < 600
    Xn, Yn = data.playground("xor", n_samples=1000, noise=0.5, seed=0)
    np.testing.assert_array_equal(Xn, X)
    assert 0 < (Yn != Y).sum() < 500


@pytest.mark.parametrize("noise, variance", [(0.0, 0.5), (0.25, 2.25), (0.5, 4.0)])
def test_playground_gauss(noise, variance):
    X, Y = data.playground("gauss", n_samples=8000, noise=noise, seed=0)
    pos, neg = X[:, Y[0] == 1], X[:, Y[0] == 0]
    assert pos.shape[1] == neg.shape[1] == 4000
    # mean of 4000 draws: standard error sqrt(v / 4000) <= 0.032; tolerance 0.15
    np.testing.assert_allclose(pos.mean(axis=1), [2, 2], atol=0.15)
    np.testing.assert_allclose(neg.mean(axis=1), [-2, -2], atol=0.15)
    # per-axis variance interpolated 0.5 -> 4; relative tolerance 10 % (sampling error ~3 %)
    np.testing.assert_allclose(pos.var(axis=1), [variance] * 2, rtol=0.1)
    np.testing.assert_allclose(neg.var(axis=1), [variance] * 2, rtol=0.1)


def test_playground_spiral():
    n = 500
    X, Y = data.playground("spiral", n_samples=n, noise=0.0, seed=0)
    i = np.r_[np.arange(n // 2), np.arange(n // 2)]
    dt = np.r_[np.zeros(n // 2), np.full(n // 2, np.pi)]
    r = i / (n / 2) * 5
    t = 1.75 * i / (n / 2) * 2 * np.pi + dt
    np.testing.assert_allclose(np.hypot(X[0], X[1]), r, rtol=0, atol=1e-12)
    np.testing.assert_allclose(X, np.stack([r * np.sin(t), r * np.cos(t)]), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(Y[0], (dt == 0).astype(float))
    # noise is uniform in [-1, 1] * noise per coordinate
    Xn, _ = data.playground("spiral", n_samples=n, noise=0.5, seed=0)
    d = np.abs(Xn - X)
    assert d.max() <= 0.5 and d.max() > 0.45


def test_playground_errors():
    with pytest.raises(ValueError, match="unknown playground data set 'moons'"):
        data.playground("moons")
    with pytest.raises(TypeError, match="name"):
        data.playground(None)
    for noise in (-0.01, 0.51, 50):
        with pytest.raises(ValueError, match=r"noise must"):
            data.playground("xor", noise=noise)
    with pytest.raises(ValueError, match="n_samples"):
        data.playground("gauss", n_samples=0)
    with pytest.raises(TypeError, match="seed"):
        data.playground("gauss", seed=None)


def test_missing_h5py_says_how_to_install(cat_dir, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'jaxdnn\[data\]'"):
        data.load_catvnoncat(cat_dir)
