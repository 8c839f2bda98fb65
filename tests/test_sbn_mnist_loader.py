"""examples/sbn_digits.py --mnist: the local binarized-MNIST loader reads both formats (the
Larochelle & Murray .amat folder and an .npz), refuses what is not binarized images, and the
experiment runs end to end on such data (tiny synthetic files: nothing is downloaded)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "sbn_digits.py"


@pytest.fixture(scope="module")
def sbn():
    spec = importlib.util.spec_from_file_location("sbn_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def images(n, d=784, seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, d)) < 0.2).astype(np.int64)


def write_amat(folder, name, x):
    np.savetxt(folder / name, x, fmt="%d")


def test_amat_folder_train_and_valid_joined(sbn, tmp_path):
    tr, va, te = images(30, seed=1), images(10, seed=2), images(20, seed=3)
    write_amat(tmp_path, "binarized_mnist_train.amat", tr)
    write_amat(tmp_path, "binarized_mnist_valid.amat", va)
    write_amat(tmp_path, "binarized_mnist_test.amat", te)
    xtr, xte = sbn.load_binarized_mnist(str(tmp_path))
    assert xtr.dtype == torch.float32
    assert xte.dtype == torch.float32
    np.testing.assert_array_equal(xtr.numpy(), np.concatenate([tr, va]))
    np.testing.assert_array_equal(xte.numpy(), te)


def test_amat_folder_without_valid(sbn, tmp_path):
    write_amat(tmp_path, "binarized_mnist_train.amat", images(5, seed=4))
    write_amat(tmp_path, "binarized_mnist_test.amat", images(3, seed=5))
    xtr, xte = sbn.load_binarized_mnist(str(tmp_path))
    assert xtr.shape == (5, 784)
    assert xte.shape == (3, 784)


def test_npz(sbn, tmp_path):
    tr, te = images(12, seed=6), images(4, seed=7)
    np.savez(tmp_path / "mnist.npz", x_train=tr.astype(np.uint8), x_test=te.astype(np.uint8))
    xtr, xte = sbn.load_binarized_mnist(str(tmp_path / "mnist.npz"))
    np.testing.assert_array_equal(xtr.numpy(), tr)
    np.testing.assert_array_equal(xte.numpy(), te)


def test_bad_inputs_are_named(sbn, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"binarized_mnist_train\.amat"):
        sbn.load_binarized_mnist(str(tmp_path))  # an empty folder
    with pytest.raises(FileNotFoundError, match="expected a folder"):
        sbn.load_binarized_mnist(str(tmp_path / "absent.npz"))
    np.savez(tmp_path / "gray.npz", x_train=np.full((3, 784), 0.5), x_test=images(2))
    with pytest.raises(ValueError, match="values must be 0 or 1"):
        sbn.load_binarized_mnist(str(tmp_path / "gray.npz"))
    np.savez(tmp_path / "keys.npz", train=images(2), test=images(2))
    with pytest.raises(KeyError, match="x_test"):
        sbn.load_binarized_mnist(str(tmp_path / "keys.npz"))
    np.savez(tmp_path / "width.npz", x_train=images(2), x_test=images(2, d=100))
    with pytest.raises(ValueError, match="pixels"):
        sbn.load_binarized_mnist(str(tmp_path / "width.npz"))


def test_experiment_runs_on_local_mnist(sbn, tmp_path):
    np.savez(tmp_path / "mnist.npz", x_train=images(200, seed=8), x_test=images(50, seed=9))
    out = tmp_path / "out"
    sbn.main(
        [
            "--mnist",
            str(tmp_path / "mnist.npz"),
            "--epochs",
            "1",
            "--reps",
            "2",
            "--latent",
            "8",
            "--estimators",
            "disarm2",
            "--out",
            str(out),
        ]
    )
    table = (out / "sbn_table.md").read_text()
    assert table.startswith("SBN on binarized MNIST, H=8, 1 epochs")
    rows = [line for line in table.splitlines() if line.startswith("| linear") or line.startswith("| nonlinear")]
    assert len(rows) == 4  # rebar and disarm2, both variants
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        train_elbo, test_elbo = float(cells[2]), float(cells[3])
        # a bound on the log-probability of 784 binary pixels: negative, and finite (fair coins
        # give 784 log 2 ~ 543 nats; -2000 would mean a broken model or data)
        assert -2000.0 < train_elbo < 0.0
        assert -2000.0 < test_elbo < 0.0
    assert (out / "sbn_elbo.png").exists()
    assert (out / "sbn_logvar.png").exists()
