"""Tests for jaxdnn.data, each against an independent reference.

- planar_flower: the course's code, written out literally with the global ``np.random``.
- load_catvnoncat: the HDF5 files read directly with h5py, the counts in the data's README, and
  SHA-256 digests computed here with hashlib; the wheel built from this checkout.
"""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import jaxdnn
from jaxdnn import data

h5py = pytest.importorskip("h5py")

ROOT = pathlib.Path(__file__).resolve().parents[1]
FILES = ("train_catvnoncat.h5", "test_catvnoncat.h5")


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

def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    """``(good, bad)``: two folders with copies of the packaged files; in ``bad`` one byte of the
    training file is flipped."""
    good, bad = tmp_path_factory.mktemp("good"), tmp_path_factory.mktemp("bad")
    for name in FILES:
        shutil.copyfile(data.DEFAULT_CAT_DIR / name, good / name)
        shutil.copyfile(data.DEFAULT_CAT_DIR / name, bad / name)
    corrupted = bytearray((bad / FILES[0]).read_bytes())
    corrupted[len(corrupted) // 2] ^= 0x01
    (bad / FILES[0]).write_bytes(bytes(corrupted))
    return good, bad


def test_load_catvnoncat_from_the_package(monkeypatch):
    monkeypatch.delenv("JAXDNN_DATA", raising=False)
    assert data.DEFAULT_CAT_DIR.is_relative_to(pathlib.Path(jaxdnn.__file__).resolve().parent)
    d = data.load_catvnoncat()
    assert isinstance(d, data.CatData)
    assert d.train_x.shape == (12288, 209) and d.train_y.shape == (1, 209)
    assert d.test_x.shape == (12288, 50) and d.test_y.shape == (1, 50)
    for a in d[:4]:
        assert a.dtype == np.float64
    assert d.train_x.min() >= 0 and d.train_x.max() <= 1
    assert int(d.train_y.sum()) == 72 and int(d.test_y.sum()) == 33  # counts from the README
    assert d.classes == ["non-cat", "cat"]
    # independent reference: the files read directly, flattened as the course does
    for split, X, Y in (("train", d.train_x, d.train_y), ("test", d.test_x, d.test_y)):
        with h5py.File(data.DEFAULT_CAT_DIR / f"{split}_catvnoncat.h5", "r") as f:
            x, y = f[f"{split}_set_x"][()], f[f"{split}_set_y"][()]
        np.testing.assert_array_equal(X, x.reshape(x.shape[0], -1).T / 255)
        np.testing.assert_array_equal(Y, y.reshape(1, -1))


def test_a_corrupted_file_is_refused_naming_it_and_both_hashes(copies):
    _, bad = copies
    with pytest.raises(ValueError) as e:
        data.load_catvnoncat(bad)
    msg = str(e.value)
    actual = sha256((bad / FILES[0]).read_bytes())
    expected = sha256((data.DEFAULT_CAT_DIR / FILES[0]).read_bytes())
    assert actual != expected
    for part in (str(bad / FILES[0]), "SHA-256", f"expected {expected}", f"got {actual}"):
        assert part in msg, (part, msg)


def test_override_order_path_then_env_then_package(copies, monkeypatch):
    good, bad = copies
    monkeypatch.delenv("JAXDNN_DATA", raising=False)
    assert data.find_cat_dir() == data.DEFAULT_CAT_DIR
    monkeypatch.setenv("JAXDNN_DATA", "")  # empty counts as unset
    assert data.find_cat_dir() == data.DEFAULT_CAT_DIR
    monkeypatch.setenv("JAXDNN_DATA", str(bad))  # the environment beats the package
    assert data.find_cat_dir() == bad
    with pytest.raises(ValueError, match="SHA-256 mismatch"):
        data.load_catvnoncat()
    assert data.load_catvnoncat(good).train_x.shape == (12288, 209)  # path= beats the environment
    monkeypatch.setenv("JAXDNN_DATA", str(good))
    with pytest.raises(ValueError, match=str(bad)):
        data.load_catvnoncat(str(bad))
    with pytest.raises(TypeError, match="path"):
        data.find_cat_dir(3)


def test_missing_directory(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as e:
        data.load_catvnoncat(missing)
    msg = str(e.value)
    for part in (str(missing), "does not exist", *FILES, "JAXDNN_DATA"):
        assert part in msg, (part, msg)
    monkeypatch.setenv("JAXDNN_DATA", str(missing))  # the env var is honoured, and named
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_catvnoncat()


def test_missing_file(tmp_path):
    shutil.copyfile(data.DEFAULT_CAT_DIR / FILES[0], tmp_path / FILES[0])
    with pytest.raises(FileNotFoundError) as e:
        data.load_catvnoncat(tmp_path)
    msg = str(e.value)
    assert str(tmp_path / FILES[1]) in msg and "not found" in msg, msg
    assert "JAXDNN_DATA" in msg


def test_missing_h5py_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)  # makes `import h5py` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'jaxdnn\[data\]'"):
        data.load_catvnoncat(data.DEFAULT_CAT_DIR)


@pytest.mark.slow
def test_the_wheel_ships_the_data_and_loads_it(tmp_path):
    """Build the wheel from this checkout (a copy of what the build reads, so nothing is written
    into the checkout), check both files in it by hash, then load them from the unpacked wheel."""
    pytest.importorskip("setuptools", minversion="77", reason="the build backend (the test extra)")
    src = tmp_path / "src"
    shutil.copytree(ROOT / "jaxdnn", src / "jaxdnn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--no-index", "-q", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("jaxdnn-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert "jaxdnn/datasets/catvnoncat/README.md" in z.namelist()
        for name in FILES:
            shipped = sha256(z.read(f"jaxdnn/datasets/catvnoncat/{name}"))
            assert shipped == sha256((ROOT / "jaxdnn" / "datasets" / "catvnoncat" / name)
                                     .read_bytes()) == data.CAT_SHA256[name], name
        z.extractall(tmp_path / "site")
    env = {k: v for k, v in os.environ.items() if k not in ("JAXDNN_DATA", "PYTHONPATH")}
    env["PYTHONPATH"] = str(tmp_path / "site")
    code = ("import jaxdnn.data as d; c = d.load_catvnoncat(); "
            "print(d.__file__, c.train_x.shape, c.test_x.shape)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    assert out.startswith(str(tmp_path / "site" / "jaxdnn")), out
    assert out.split(".py ")[1].strip() == "(12288, 209) (12288, 50)", out
