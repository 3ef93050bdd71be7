"""``make bench``: images per second of one auto-encoder training epoch with ``lib``'s loop
versus the standard PyTorch idiom, alternated so that machine noise hits both alike.

* ``lib``: MNIST held as one in-memory float tensor of 28x28 images, batches
  taken by indexing a shuffled index tensor, channels-last memory layout, threads set to
  the core count (what every notebook does).
* idiom: ``torchvision.datasets.MNIST`` + ``transforms.ToTensor`` +
  ``DataLoader(batch_size, shuffle=True)``: one PIL image and one small tensor per
  sample, collated per batch.  (The model pads to 32x32 inside, for both.)

Both train the same nn4i_ex2 d=10 auto-encoder with the same batch size, optimizer,
learning rate and loss for one epoch.  Prints each run and the median ratio, then how
close lib's loop comes to the machine's limit: the floating-point operations of one training
step (counted by ``torch.utils.flop_counter``) per second, against a large float32 matrix
product with the same threads (about the most this CPU sustains).

    python -m lib.bench [--repeats 3] [--train-size 60000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from lib import data, paths, train
from lib.nn4i_ex2.models import ConvAutoencoder
from lib.utils import configure_threads, seed_everything

BATCH_SIZE = 128
LEARNING_RATE = 3e-3


def _model(channels_last: bool) -> torch.nn.Module:
    seed_everything(0)
    model = ConvAutoencoder(latent_dim=10, num_conv_layers=3, base_channels=16, hidden_units=256)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def lib_epoch(train_size: int) -> float:
    """Seconds for one epoch with lib's in-memory batching."""
    split = data.load_split("train")
    images = data.to_float(split.images[:train_size])  # (N, 1, 28, 28) in [0, 1], made once
    model = _model(channels_last=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    generator = torch.Generator().manual_seed(0)
    batches = ((images[idx], images[idx]) for idx in data.batch_indices(len(images), BATCH_SIZE, generator))
    start = time.perf_counter()
    train.train_epoch(model, batches, optimizer, F.mse_loss, torch.device("cpu"))
    return time.perf_counter() - start


def training_flops_per_image() -> float:
    """Floating-point operations of one training step (forward, backward) per image."""
    from torch.utils.flop_counter import FlopCounterMode

    model = _model(channels_last=True)
    images = torch.rand(BATCH_SIZE, 1, 28, 28).to(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter:
        F.mse_loss(model(images), images).backward()
    return counter.get_total_flops() / BATCH_SIZE


def matmul_flops_per_second(size: int = 1024, repeats: int = 5) -> float:
    """Median float32 FLOP/s of a ``size`` x ``size`` matrix product: a practical ceiling."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(5):
            a @ b
        rates.append(5 * 2 * size**3 / (time.perf_counter() - start))
    return statistics.median(rates)


def _torchvision_root() -> Path:
    """A folder laid out as torchvision's MNIST class expects (links to the verified files)."""
    root = Path(tempfile.mkdtemp(prefix="mnist-bench-"))
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = data.ensure_mnist()
    for file in source.iterdir():
        if file.name.endswith("ubyte"):
            (raw / file.name).symlink_to(file)
    return root


def idiom_epoch(train_size: int, root: Path) -> float:
    """Seconds for one epoch with torchvision's dataset, ToTensor and a DataLoader."""
    from torch.utils.data import DataLoader, Subset
    from torchvision import datasets, transforms

    dataset = datasets.MNIST(root, train=True, download=False, transform=transforms.ToTensor())
    if train_size < len(dataset):
        dataset = Subset(dataset, range(train_size))
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True)
    model = _model(channels_last=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    start = time.perf_counter()
    model.train()
    for images, _ in loader:
        optimizer.zero_grad()
        loss = F.mse_loss(model(images), images)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=60000)
    args = parser.parse_args(argv)
    if args.repeats < 1 or not 128 <= args.train_size <= 60000:
        print("error: --repeats must be >= 1 and --train-size in 128..60000; fix: e.g. --repeats 3", file=sys.stderr)
        return 1
    threads = configure_threads()
    root = _torchvision_root()
    print(f"one epoch of the nn4i_ex2 d=10 auto-encoder on {args.train_size:,} images, batch {BATCH_SIZE}, {threads} threads")
    runs = []
    for repeat in range(1, args.repeats + 1):
        lib_s = lib_epoch(args.train_size)
        idiom_s = idiom_epoch(args.train_size, root)
        runs.append({"lib_images_per_s": args.train_size / lib_s, "idiom_images_per_s": args.train_size / idiom_s})
        print(
            f"run {repeat}: lib {runs[-1]['lib_images_per_s']:7.0f} images/s   "
            f"torchvision+DataLoader {runs[-1]['idiom_images_per_s']:7.0f} images/s   "
            f"ratio {runs[-1]['lib_images_per_s'] / runs[-1]['idiom_images_per_s']:.2f}",
            flush=True,
        )
    ratio = statistics.median(r["lib_images_per_s"] / r["idiom_images_per_s"] for r in runs)
    print(f"median speed-up of lib's loop: {ratio:.2f}x (target >= 1.5x)")
    flops = training_flops_per_image()
    lib_rate = statistics.median(r["lib_images_per_s"] for r in runs) * flops
    ceiling = matmul_flops_per_second()
    print(
        f"one training step costs {flops / 1e6:.1f} MFLOP per image, so lib's loop runs at {lib_rate / 1e9:.1f} GFLOP/s: "
        f"{100 * lib_rate / ceiling:.0f}% of a 1024x1024 float32 matrix product on {threads} threads "
        f"({ceiling / 1e9:.1f} GFLOP/s)"
    )
    target = paths.report_dir() / "bench.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps(
            {
                "train_size": args.train_size,
                "threads": threads,
                "runs": runs,
                "median_ratio": ratio,
                "training_flops_per_image": flops,
                "lib_flops_per_s": lib_rate,
                "matmul_flops_per_s": ceiling,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
