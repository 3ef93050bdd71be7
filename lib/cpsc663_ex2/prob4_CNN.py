"""AMTH/CPSC 663b Exercise II, Problem 4: a convolutional network on MNIST whose first layer
has 40 filters, trained for 5 epochs; its filters and its test-set confusion matrix.

The network: 28x28 input -> 40 filters of 5x5, stride 2 (-> 40x14x14), ReLU -> 64 filters of
3x3, stride 2 (-> 64x7x7), ReLU -> 128 units, ReLU, dropout 0.25 -> 10 logits.  Strided
convolutions take the place of pooling layers.  AdamW, cross-entropy, cosine learning-rate decay.

    python prob4_CNN.py                 # -> mnist_cnn.pt, prob4_filters.png, prob4_confusion.csv
    python prob4_CNN.py --epochs 1 --train-size 2000 --out try.pt

This file also holds the helpers that prob5_AE.py and prob6_CAE.py reuse (as the handout
suggests): MNIST loading, the device, batched prediction and checkpoints that store the
model's settings beside its weights.  Stand-alone: torch, torchvision, numpy and the
standard library only.  An existing output file is never overwritten unless --overwrite.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class FilterCNN(nn.Module):
    """28x28 image -> 10 logits; ``conv1`` holds the ``num_filters`` 5x5 filters shown in 4.2(a)."""

    def __init__(self, num_filters: int = 40, second_channels: int = 64, hidden_units: int = 128, dropout: float = 0.25):
        super().__init__()
        self.settings = {"num_filters": num_filters, "second_channels": second_channels,
                         "hidden_units": hidden_units, "dropout": dropout}  # fmt: skip
        self.conv1 = nn.Conv2d(1, num_filters, kernel_size=5, stride=2, padding=2)  # 28 -> 14
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(num_filters, second_channels, kernel_size=3, stride=2, padding=1),  # 14 -> 7
            nn.ReLU(),
            nn.Flatten(),  # (N, C, 7, 7) -> (N, 49 C)
            nn.Linear(second_channels * 49, hidden_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.conv1(images))


MODELS = {"FilterCNN": FilterCNN}


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    test_images: torch.Tensor | None = None,
    test_labels: torch.Tensor | None = None,
    log=print,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, list[float]]:
    """Cross-entropy with AdamW and a cosine decay of the learning rate to zero; returns the
    per-epoch history (``train_loss``, ``test_accuracy`` when test data are given, ``seconds``).

    ``autocast_dtype`` (e.g. ``torch.bfloat16`` on a CPU with native bfloat16) runs the
    forward pass under autocast with float32 weights; ``torch.float16`` also scales the
    gradients.  The convolutions run in the channels-last layout: the same network and
    weights, about 1.4x the images per second on a CPU in bfloat16 (measured, 1 thread)."""
    device = torch.device(device)
    model.to(device, memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    fused = device.type in ("cpu", "cuda")  # Adam's one-pass kernel, where torch has one
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.0, fused=fused)
    steps = num_epochs * math.ceil(len(images) / batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    history: dict[str, list[float]] = {"train_loss": [], "test_accuracy": [], "seconds": []}
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    for epoch in range(1, num_epochs + 1):
        start, total = time.perf_counter(), 0.0
        model.train()
        for idx in torch.randperm(len(images), generator=generator).split(batch_size):
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(images[idx].to(device, memory_format=torch.channels_last))
            loss = F.cross_entropy(logits.float(), labels[idx].to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item() * len(idx)
        if not math.isfinite(total):
            raise RuntimeError(f"training diverged at epoch {epoch}; fix: lower the learning rate")
        history["train_loss"].append(total / len(images))
        history["seconds"].append(time.perf_counter() - start)
        line = f"epoch {epoch}/{num_epochs}: train loss {history['train_loss'][-1]:.4f}"
        if test_images is not None:
            history["test_accuracy"].append(accuracy(model, test_images, test_labels, device))
            line += f", test accuracy {history['test_accuracy'][-1]:.4f}"
        log(f"{line} ({history['seconds'][-1]:.1f} s)")
    return history


@torch.inference_mode()
def predict(model: nn.Module, inputs: torch.Tensor, device: torch.device | str = "cpu", batch_size: int = 1000) -> torch.Tensor:
    """``model`` in eval mode over ``inputs``, batch by batch; the result on the CPU."""
    model.eval()
    return torch.cat([model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)])


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device | str = "cpu") -> float:
    return (predict(model, images, device).argmax(1) == labels).float().mean().item()


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts: row = true class, column = predicted class."""
    return np.bincount(num_classes * np.asarray(true) + np.asarray(predicted), minlength=num_classes**2).reshape(
        num_classes, num_classes
    )


def load_mnist(split: str, data_dir: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST ``split`` ("train" or "test"): float images (N, 1, 28, 28) in [0, 1] and labels.
    Reads the IDX files (plain or .gz) from ``data_dir``, ``$MNIST_DIR``, ./data or
    ./data/MNIST/raw, the first that has them; else downloads them with torchvision."""
    prefix = "train" if split == "train" else "t10k"
    for folder in filter(None, [data_dir, os.environ.get("MNIST_DIR"), "data", "data/MNIST/raw"]):
        files = []
        for kind in ("images-idx3", "labels-idx1"):
            found = [p for p in Path(folder).glob(f"{prefix}-{kind}-ubyte*") if p.suffix in ("", ".gz")]
            files.append(min(found, key=lambda p: p.suffix) if found else None)  # the plain file first
        if all(files):
            raw = [gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes() for p in files]
            pixels = np.frombuffer(raw[0], dtype=np.uint8, offset=16).reshape(-1, 1, 28, 28)
            targets = np.frombuffer(raw[1], dtype=np.uint8, offset=8)
            return torch.from_numpy(pixels.astype(np.float32) / 255), torch.from_numpy(targets.astype(np.int64))
    from torchvision.datasets import MNIST

    dataset = MNIST(data_dir or "data", train=split == "train", download=True)
    return dataset.data.unsqueeze(1).float() / 255, dataset.targets


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def free_path(path: str | Path, overwrite: bool = False) -> Path:
    """``path``, or when it exists (and ``overwrite`` is off) the first free ``<stem>-2<suffix>``,
    ``-3``, ...: a handed-in model is never replaced by accident."""
    path = candidate = Path(path)
    n = 1
    while candidate.exists() and not overwrite:
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def save_checkpoint(model: nn.Module, path: str | Path, overwrite: bool = False) -> Path:
    """Write the model's class name, settings and weights to ``path`` (or the next free name,
    see :func:`free_path`); returns the file written."""
    target = free_path(path, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    staged = target.with_name(f".{target.name}.tmp")
    torch.save({"model": type(model).__name__, "settings": model.settings, "state_dict": state}, staged)
    os.replace(staged, target)  # the file is complete or absent, never half written
    return target


def load_checkpoint(path: str | Path, models: dict[str, type] | None = None, **expected) -> nn.Module:
    """The model saved in ``path``, rebuilt from its stored settings.  A file of another class
    (not in ``models``), or whose settings differ from an ``expected`` one (e.g. ``skip=True``),
    raises ValueError instead of loading the wrong network."""
    models = MODELS if models is None else models
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not {"model", "settings", "state_dict"} <= set(checkpoint):
        raise ValueError(f"{path} is not a checkpoint of these scripts (no settings stored); fix: save it with save_checkpoint")
    if checkpoint["model"] not in models:
        raise ValueError(f"{path} holds a {checkpoint['model']}, not a {' or '.join(models)}; fix: load it with its own script")
    for name, value in expected.items():
        saved = checkpoint["settings"].get(name)
        if saved != value:
            raise ValueError(
                f"{path} was saved with {name}={saved!r}, not {name}={value!r}; fix: load the file saved with {name}={value!r}"
            )
    model = models[checkpoint["model"]](**checkpoint["settings"])
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def common_arguments(description: str, epochs: int, lr: float, out: str) -> argparse.ArgumentParser:
    """The command line the three hand-in scripts share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=lr, help=f"learning rate (default {lr})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-size", type=int, default=60000, help="training images used (fewer for a quick try)")
    parser.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files (default: $MNIST_DIR or ./data)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present, else CPU), cpu or cuda")
    parser.add_argument("--out", default=out, help=f"the model file (default {out}); an existing file is kept, see --overwrite")
    parser.add_argument("--overwrite", action="store_true", help="replace --out when it exists")
    return parser


def check_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if min(args.epochs, args.batch_size, args.train_size) < 1 or not args.lr > 0:
        parser.error("--epochs, --batch-size, --train-size and --lr must be positive; fix: e.g. --epochs 5")


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments("Problem 4: a CNN with 40 first-layer filters on MNIST", epochs=5, lr=2e-3, out="mnist_cnn.pt")
    parser.add_argument("--filters", type=int, default=40, help="filters of the first convolution")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if args.filters < 1:
        parser.error("--filters must be positive; fix: --filters 40")
    from torchvision.utils import save_image

    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    train_images, train_labels = load_mnist("train", args.data_dir)
    test_images, test_labels = load_mnist("test", args.data_dir)
    model = FilterCNN(args.filters)
    train_classifier(
        model, train_images[: args.train_size], train_labels[: args.train_size], num_epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.lr, seed=args.seed, device=device,
        test_images=test_images, test_labels=test_labels,
    )  # fmt: skip
    written = save_checkpoint(model, args.out, args.overwrite)
    folder = written.parent
    filters = model.conv1.weight.detach().cpu()
    filters = 0.5 + filters / (2 * filters.abs().max())  # one shared scale: grey = 0, white > 0, black < 0
    images_out = free_path(folder / "prob4_filters.png", args.overwrite)
    save_image(filters, images_out, nrow=8, padding=1, pad_value=1.0, scale_each=False)
    matrix = confusion_matrix(test_labels.numpy(), predict(model, test_images, device).argmax(1).numpy())
    matrix_out = free_path(folder / "prob4_confusion.csv", args.overwrite)
    np.savetxt(matrix_out, matrix, fmt="%d", delimiter=",", header="rows: true digit 0-9, columns: predicted digit 0-9")
    print(f"test accuracy {np.trace(matrix) / matrix.sum():.4f}; wrote {written}, {images_out}, {matrix_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
