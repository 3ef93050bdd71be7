"""AMTH/CPSC 663b Exercise II, Problem 6: the convolutional auto-encoder with a 2-D code
(6.1), the same network with skip connections from each pooling layer to its upsampling
layer (6.2, ``--skip``), and both trained as denoising auto-encoders (6.3, ``--noise-std 0.3``).

Encoder, as the handout specifies: conv 1 -> 4 (3x3, stride 1, padding 1), ReLU, 2x2 max pool,
conv 4 -> 8, ReLU, 2x2 max pool, linear 392 -> 20, ReLU, linear 20 -> 2.  Decoder: linear 2 -> 20,
ReLU, linear 20 -> 392, ReLU, reshape to 8x7x7, nearest x2 upsampling, conv 8 -> 4, ReLU, nearest
x2 upsampling, conv 4 -> 1, sigmoid (decoder convolutions 3x3 with padding 1).  With skips,
the 8x7x7 output of the second pooling layer is added to the decoder's 8x7x7 map before the
first upsampling, and the 4x14x14 output of the first pooling layer to the 4x14x14 map before
the second: the channel counts stay those of the handout.

    python prob6_CAE.py                          # -> mnist_cae.pt
    python prob6_CAE.py --skip                   # -> mnist-cae-skip.pt
    python prob6_CAE.py --noise-std 0.3 [--skip] # -> mnist_cae_denoising.pt (mnist-cae-skip_denoising.pt)

An existing file is never overwritten (a free name such as mnist_cae-2.pt is used) unless
--overwrite.  ``load`` checks that a file was saved with the ``skip`` setting you ask for.
It reuses the training loop of prob5_AE.py and the helpers of prob4_CNN.py (both must sit
next to it); otherwise it imports only torch and the standard library.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

if __package__:  # imported from the bundle's package lib.cpsc663_ex2
    from .prob4_CNN import check_arguments, common_arguments, load_checkpoint, load_mnist, pick_device, save_checkpoint
    from .prob5_AE import train_autoencoder
else:  # a hand-in file next to prob4_CNN.py and prob5_AE.py
    from prob4_CNN import check_arguments, common_arguments, load_checkpoint, load_mnist, pick_device, save_checkpoint
    from prob5_AE import train_autoencoder


class ConvEncoder(nn.Module):
    """(N, 1, 28, 28) -> the code (N, latent_dim) and the two pooled maps (the skip sources)."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20):
        super().__init__()
        c1, c2 = channels
        self.block1 = nn.Sequential(nn.Conv2d(1, c1, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))  # 28 -> 14
        self.block2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))  # 14 -> 7
        self.to_code = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * 49, hidden_units), nn.ReLU(), nn.Linear(hidden_units, latent_dim)
        )  # (N, c2, 7, 7) -> (N, 49 c2) -> (N, latent_dim)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        pooled1 = self.block1(images)  # (N, c1, 14, 14)
        pooled2 = self.block2(pooled1)  # (N, c2, 7, 7)
        return self.to_code(pooled2), [pooled1, pooled2]


class ConvDecoder(nn.Module):
    """The code -> (N, 1, 28, 28); given the encoder's pooled maps it adds each to the input of
    its matching upsampling layer."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20):
        super().__init__()
        c1, c2 = channels
        self.from_code = nn.Sequential(
            nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, c2 * 49), nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
        )  # fmt: skip
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1), nn.ReLU())
        self.up2 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, 1, 3, padding=1), nn.Sigmoid())

    def forward(self, codes: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        maps = self.from_code(codes)  # (N, c2, 7, 7)
        maps = self.up1(maps if skips is None else maps + skips[1])  # (N, c1, 14, 14)
        return self.up2(maps if skips is None else maps + skips[0])  # (N, 1, 28, 28)


class ConvAutoencoder(nn.Module):
    """Problem 6.1 (``skip=False``) and 6.2 (``skip=True``); 6.3 trains either on noisy inputs."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20, skip: bool = False):
        super().__init__()
        self.settings = {"latent_dim": latent_dim, "channels": list(channels), "hidden_units": hidden_units, "skip": skip}
        self.encoder = ConvEncoder(latent_dim, tuple(channels), hidden_units)
        self.decoder = ConvDecoder(latent_dim, tuple(channels), hidden_units)
        self.skip = skip

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)[0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        codes, skips = self.encoder(images)
        return self.decoder(codes, skips if self.skip else None)


MODELS = {"ConvAutoencoder": ConvAutoencoder}


def load(path, **expected) -> nn.Module:
    """The auto-encoder saved in ``path``; e.g. ``load("mnist-cae-skip.pt", skip=True)`` fails
    loudly on a file saved without skips (the weights alone would load silently)."""
    return load_checkpoint(path, MODELS, **expected)


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments("Problem 6: a convolutional auto-encoder with a 2-D code", epochs=10, lr=1e-3, out="")
    parser.add_argument("--skip", action="store_true", help="add the pooling -> upsampling skip connections (6.2)")
    parser.add_argument("--noise-std", type=float, default=0.0, help="standard deviation of the input noise (6.3: 0.3)")
    args = parser.parse_args(argv)
    check_arguments(parser, args)
    if not args.noise_std >= 0:
        parser.error("--noise-std must be >= 0; fix: e.g. --noise-std 0.3")
    out = args.out or ("mnist-cae-skip" if args.skip else "mnist_cae") + ("_denoising" if args.noise_std else "") + ".pt"
    torch.manual_seed(args.seed)
    train_images, _ = load_mnist("train", args.data_dir)
    test_images, _ = load_mnist("test", args.data_dir)
    model = ConvAutoencoder(skip=args.skip)
    history = train_autoencoder(
        model, train_images[: args.train_size], num_epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
        seed=args.seed, device=pick_device(args.device), noise_std=args.noise_std, test_images=test_images,
    )  # fmt: skip
    written = save_checkpoint(model, out, args.overwrite)
    kept = f" ({out} exists and was kept)" if written != Path(out) else ""
    print(f"test MSE {history['test_mse'][-1]:.5f}; wrote {written}{kept}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
