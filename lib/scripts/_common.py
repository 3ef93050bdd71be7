"""Argument parsing and set-up shared by the hand-in scripts."""

from __future__ import annotations

import argparse

import torch

from lib.utils import configure_threads, pick_device, seed_everything


def parser(description: str, default_epochs: int, default_out: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=default_epochs, help=f"training epochs (default {default_epochs})")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--train-size", type=int, default=60000, help="training images used (fewer for a quick try)")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, ...")
    p.add_argument("--out", default=default_out, help=f"where the trained weights go (default {default_out})")
    return p


def setup(args: argparse.Namespace) -> torch.device:
    if args.epochs < 1 or args.train_size < 1 or args.batch_size < 1:
        raise SystemExit("error: --epochs, --train-size and --batch-size must be positive; fix: e.g. --epochs 1")
    configure_threads()
    seed_everything(args.seed)
    return pick_device(args.device)


def train_autoencoder_and_save(
    model, args: argparse.Namespace, device: torch.device, name: str, out: str, noise_std: float = 0.0
):
    """Train a 28x28 auto-encoder as the course prescribes (``lib.train.fit_reconstruction``
    on the first ``--train-size`` training images) and write its weights to ``out``."""
    from pathlib import Path

    from lib import cache, train, zoo

    train_x, _ = zoo.mnist_images("train", args.train_size, pad=0)
    test_x, _ = zoo.mnist_images("test", pad=0)
    history = train.fit_reconstruction(
        model,
        train_x,
        test_x,
        num_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        device=device,
        name=name,
        noise_std=noise_std,
        **zoo.CPSC_AE_TRAINING,
    )
    written = cache.export_state_dict(model, Path(out))
    print(f"test MSE {history['test_mse'][-1]:.5f}; wrote {written}")
