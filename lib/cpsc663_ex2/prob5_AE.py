"""AMTH/CPSC 663b Exercise II, Problem 5: a fully connected auto-encoder that embeds MNIST
in two dimensions, and the linear auto-encoder of 5.3 that we compare with PCA.

Encoder: four linear layers with ReLU between them (784 -> 512 -> 256 -> 128 -> 2) and no
nonlinearity into the code; the decoder mirrors it and ends in a sigmoid, since pixels lie in
[0, 1].  Adam at a constant learning rate of 0.001 on the per-pixel mean squared error.

    python prob5_AE.py                  # 10 epochs -> mnist_ae.pt (never overwrites: mnist_ae-2.pt, ...)
    python prob5_AE.py --epochs 1 --train-size 2000 --out try.pt

The checkpoint stores the model's settings beside its weights; ``load`` rebuilds the model
and refuses a file saved from a different architecture.  It reuses the MNIST loading and the
checkpoint helpers of prob4_CNN.py (which must sit next to it); otherwise it imports only
torch and the standard library.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

if __package__:  # imported from the bundle's package lib.cpsc663_ex2
    from .prob4_CNN import (
        check_arguments,
        common_arguments,
        load_checkpoint,
        load_mnist,
        pick_device,
        predict,
        save_checkpoint,
    )
else:  # a hand-in file next to prob4_CNN.py
    from prob4_CNN import (
        check_arguments,
        common_arguments,
        load_checkpoint,
        load_mnist,
        pick_device,
        predict,
        save_checkpoint,
    )


class MLPAutoencoder(nn.Module):
    """784 -> hidden -> latent_dim -> reversed(hidden) -> 784, ReLU between the layers, none
    on the code, a sigmoid on the pixels."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (512, 256, 128)):
        super().__init__()
        self.settings = {"latent_dim": latent_dim, "hidden": list(hidden)}
        down = [784, *hidden]
        layers: list[nn.Module] = [nn.Flatten()]  # (N, 1, 28, 28) -> (N, 784)
        for size_in, size_out in zip(down[:-1], down[1:]):  # noqa: B905 - equal lengths by construction
            layers += [nn.Linear(size_in, size_out), nn.ReLU()]
        self.encoder = nn.Sequential(*layers, nn.Linear(down[-1], latent_dim))
        up = [latent_dim, *reversed(hidden)]
        layers = []
        for size_in, size_out in zip(up[:-1], up[1:]):  # noqa: B905 - equal lengths by construction
            layers += [nn.Linear(size_in, size_out), nn.ReLU()]
        self.decoder = nn.Sequential(*layers, nn.Linear(up[-1], 784), nn.Sigmoid(), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


class LinearAutoencoder(nn.Module):
    """Problem 5.3: x -> W2 (W1 x + b1) + b2, no nonlinearity anywhere."""

    def __init__(self, latent_dim: int = 2):
        super().__init__()
        self.settings = {"latent_dim": latent_dim}
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 784), nn.Unflatten(1, (1, 28, 28)))

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


MODELS = {cls.__name__: cls for cls in (MLPAutoencoder, LinearAutoencoder)}


def load(path, **expected) -> nn.Module:
    """The auto-encoder saved in ``path`` (e.g. ``mnist_ae.pt``), checked against ``expected`` settings."""
    return load_checkpoint(path, MODELS, **expected)


def train_autoencoder(
    model: nn.Module,
    images: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    device: torch.device | str = "cpu",
    noise_std: float = 0.0,
    test_images: torch.Tensor | None = None,
    log=print,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, list[float]]:
    """Adam at a constant learning rate on the per-pixel MSE between the output and the clean
    image.  ``noise_std > 0``: Gaussian noise (not clipped) is added to every input, and the
    test score uses one fixed noisy copy of ``test_images``.  Returns the per-epoch history
    (``train_mse``: running mean over the epoch, ``test_mse``, ``seconds``).

    ``autocast_dtype`` (e.g. ``torch.bfloat16`` on a CPU with native bfloat16) runs the
    forward pass under autocast with float32 weights; ``torch.float16`` also scales the
    gradients.  Images go through the network in the channels-last layout: the same
    network and weights, and 1.5-2x the images per second for Problem 6's small-channel
    convolutions on a CPU (measured, 1 thread; a no-op for the fully connected models)."""
    device = torch.device(device)
    model.to(device, memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    fused = device.type in ("cpu", "cuda")  # Adam's one-pass kernel, where torch has one
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=fused)
    if test_images is not None and noise_std:
        noise = torch.Generator().manual_seed(seed + 1)
        test_inputs = test_images + noise_std * torch.randn(test_images.shape, generator=noise)
    else:
        test_inputs = test_images
    history: dict[str, list[float]] = {"train_mse": [], "test_mse": [], "seconds": []}
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    for epoch in range(1, num_epochs + 1):
        start, total = time.perf_counter(), 0.0
        model.train()
        for idx in torch.randperm(len(images), generator=generator).split(batch_size):
            clean = images[idx]
            noisy = clean + noise_std * torch.randn(clean.shape, generator=generator) if noise_std else clean
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                outputs = model(noisy.to(device, memory_format=torch.channels_last))
            loss = F.mse_loss(outputs.float(), clean.to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.item() * len(idx)
        if not math.isfinite(total):
            raise RuntimeError(f"training diverged at epoch {epoch}; fix: lower the learning rate")
        history["train_mse"].append(total / len(images))
        if test_images is not None:
            history["test_mse"].append(F.mse_loss(predict(model, test_inputs, device), test_images).item())
        history["seconds"].append(time.perf_counter() - start)
        scores = f"train MSE {history['train_mse'][-1]:.5f}" + (
            f", test MSE {history['test_mse'][-1]:.5f}" if test_images is not None else ""
        )
        log(f"epoch {epoch}/{num_epochs}: {scores} ({history['seconds'][-1]:.1f} s)")
    return history


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments(
        "Problem 5.4: a fully connected auto-encoder with a 2-D code", epochs=10, lr=1e-3, out="mnist_ae.pt"
    )
    parser.add_argument("--hidden", type=int, nargs=3, default=[512, 256, 128], help="hidden sizes of the encoder")
    parser.add_argument("--latent-dim", type=int, default=2)
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if min(args.latent_dim, *args.hidden) < 1:
        parser.error("--latent-dim and --hidden must be positive; fix: --latent-dim 2 --hidden 512 256 128")
    torch.manual_seed(args.seed)
    train_images, _ = load_mnist("train", args.data_dir)
    test_images, _ = load_mnist("test", args.data_dir)
    model = MLPAutoencoder(args.latent_dim, tuple(args.hidden))
    history = train_autoencoder(
        model, train_images[: args.train_size], num_epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, seed=args.seed, device=pick_device(args.device), test_images=test_images,
    )  # fmt: skip
    written = save_checkpoint(model, args.out, args.overwrite)
    kept = f" ({args.out} exists and was kept)" if written != Path(args.out) else ""
    print(f"test MSE {history['test_mse'][-1]:.5f}; wrote {written}{kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
