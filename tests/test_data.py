from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
import torch

from lib import data


def test_loads_verified_mnist(mnist_dir, tmp_path):
    folder = data.ensure_mnist(tmp_path / "mnist")
    assert sorted(p.name for p in folder.iterdir()) == sorted(data.MD5)
    images = data.parse_idx((folder / "t10k-images-idx3-ubyte").read_bytes())
    labels = data.parse_idx((folder / "t10k-labels-idx1-ubyte").read_bytes())
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert set(np.unique(labels)) == set(range(10))


def test_corrupt_local_file_is_named_and_kept(mnist_dir, tmp_path):
    folder = tmp_path / "mnist"
    data.ensure_mnist(folder)
    victim = folder / "train-labels-idx1-ubyte"
    corrupted = bytearray(victim.read_bytes())
    corrupted[100] ^= 0xFF
    victim.write_bytes(bytes(corrupted))
    with pytest.raises(data.DataError, match="train-labels-idx1-ubyte.*MD5.*fix") as info:
        data.ensure_mnist(folder)
    assert "\n" not in str(info.value)
    assert victim.read_bytes() == bytes(corrupted), "a corrupt user file must never be overwritten"


def test_missing_data_without_sources_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("MNIST_DIR", raising=False)
    with pytest.raises(data.DataError, match="MNIST file .* is not in .*fix: set MNIST_DIR"):
        data.ensure_mnist(tmp_path / "empty", offline=True)


def test_gz_files_in_data_folder_are_used(mnist_dir, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_DIR")
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in data.MD5:
        source = mnist_dir / f"{name}.gz"
        if source.exists():
            shutil.copy(source, folder / source.name)
        else:
            (folder / f"{name}.gz").write_bytes(gzip.compress((mnist_dir / name).read_bytes()))
    data.ensure_mnist(folder, offline=True)
    assert all((folder / name).is_file() for name in data.MD5)


def test_csv_conversion_round_trip():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    rows = ["label," + ",".join(f"{i}x{j}" for i in range(28) for j in range(28))]
    rows += [",".join(map(str, [labels[k], *images[k].ravel()])) for k in range(3)]
    image_idx, label_idx = data.csv_to_idx("\n".join(rows))
    assert np.array_equal(data.parse_idx(image_idx), images)
    assert np.array_equal(data.parse_idx(label_idx), labels)


def test_balanced_indices_are_balanced_and_seeded():
    labels = torch.arange(1000) % 10
    idx = data.balanced_indices(labels, 50, seed=3)
    assert torch.equal(torch.bincount(labels[idx], minlength=10), torch.full((10,), 5))
    assert torch.equal(idx, data.balanced_indices(labels, 50, seed=3))
    assert not torch.equal(idx, data.balanced_indices(labels, 50, seed=4))
    with pytest.raises(ValueError, match="more than"):
        data.balanced_indices(labels, 2000, seed=0)
    rare_nine = torch.cat([torch.arange(900) % 9, torch.full((20,), 9)])  # only 20 nines
    with pytest.raises(ValueError, match="class 9, which has only 20; fix: ask for at most 200 labels"):
        data.balanced_indices(rare_nine, 300, seed=0)


def test_batches_cover_everything_once():
    batches = list(data.batch_indices(103, 10, torch.Generator().manual_seed(0)))
    assert sorted(torch.cat(batches).tolist()) == list(range(103)) and len(batches) == 11


def test_random_affine_keeps_shape_and_range():
    images = torch.rand(8, 1, 32, 32)
    out = data.random_affine(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    identity = data.random_affine(images, torch.Generator().manual_seed(0), max_shift=0, max_degrees=0, scale_range=(1, 1))
    assert torch.allclose(identity, images, atol=1e-5)


def test_damaged_gzip_is_named_and_kept(mnist_dir, tmp_path, monkeypatch):
    """A .gz whose deflate stream is damaged (not just truncated) is a one-line error naming it."""
    folder = tmp_path / "gz"
    folder.mkdir()
    for name in data.MD5:
        shutil.copy(mnist_dir / f"{name}.gz", folder / f"{name}.gz")
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    damaged = bytearray(victim.read_bytes())
    for i in range(30, 94):
        damaged[i] ^= 0x5A
    victim.write_bytes(bytes(damaged))
    monkeypatch.setenv("MNIST_DIR", str(folder))
    with pytest.raises(data.DataError, match="t10k-labels-idx1-ubyte.gz.*fix") as info:
        data.ensure_mnist(tmp_path / "out", offline=True)
    assert "\n" not in str(info.value)
    assert victim.read_bytes() == bytes(damaged)
