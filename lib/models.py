"""Model definitions.  Sizes are constructor arguments; encoders and decoders are
separate modules so they can be frozen, reused and swapped independently."""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 32  # MNIST 28x28 zero-padded by 2 on each side (idl_ex3 course AE) so stride-2 layers halve cleanly


class MLPHead(nn.Module):
    """Small classifier on latent codes: ``latent_dim -> hidden_units -> num_classes``
    (``hidden_units=0`` gives a single linear layer)."""

    def __init__(self, latent_dim: int, hidden_units: int = 128, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        if hidden_units:
            self.net = nn.Sequential(
                nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden_units, num_classes)
            )
        else:
            self.net = nn.Linear(latent_dim, num_classes)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.net(codes)  # logits


class EncoderClassifier(nn.Module):
    """Encoder followed by a latent-space head.

    ``freeze_encoder`` excludes the encoder's weights from training and keeps it in eval
    mode; ``freeze_batchnorm`` keeps only its batch-norm statistics fixed (useful when
    fine-tuning on so few images that batch statistics would be meaningless).
    """

    def __init__(self, encoder: nn.Module, head: nn.Module, freeze_encoder: bool, freeze_batchnorm: bool = False):
        super().__init__()
        self.encoder, self.head = encoder, head
        self.freeze_encoder, self.freeze_batchnorm = freeze_encoder, freeze_batchnorm
        self.encoder.requires_grad_(not freeze_encoder)

    def train(self, mode: bool = True) -> EncoderClassifier:
        super().train(mode)
        if self.freeze_encoder:
            self.encoder.eval()
        elif self.freeze_batchnorm:
            for module in self.encoder.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        return self

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(images))


class DigitClassifier(nn.Module):
    """A small CNN used only to *measure* images (the "judge"): 28x28 -> 10 logits.
    ``features`` returns the penultimate activations (for Frechet distances)."""

    def __init__(self, channels: tuple[int, int] = (16, 32), hidden_units: int = 128):
        super().__init__()
        c1, c2 = channels
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, hidden_units),
            nn.ReLU(),
        )
        self.out = nn.Linear(hidden_units, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(images))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class CourseEncoder(nn.Module):
    """The course's denoising-AE encoder (idl_ex3): 32x32 image -> code of ``latent_dim``.

    Four stride-2 convolutions with Keras-style 'same' padding and ReLU, no batch norm:
    ``channels[0]`` filters 4x4, then 3x3 filters (32 -> 16 -> 8 -> 4 -> 2), flatten
    (2*2*96 = 384 with the default sizes), one linear layer to the code (no activation).
    'same' with stride 2 pads a total of ``k - 2`` pixels: 1 on each side for 4x4, and
    for 3x3 one pixel on the right/bottom only, as Keras/TensorFlow do.
    """

    def __init__(self, latent_dim: int = 64, channels: tuple[int, ...] = (16, 32, 64, 96), first_kernel: int = 4):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 1
        for i, out_channels in enumerate(channels):
            kernel = first_kernel if i == 0 else 3
            total_pad = kernel - 2  # 'same' output size ceil(n / 2) for even n
            layers += [
                nn.ZeroPad2d((total_pad // 2, total_pad - total_pad // 2, total_pad // 2, total_pad - total_pad // 2)),
                nn.Conv2d(in_channels, out_channels, kernel_size=kernel, stride=2),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        side = IMAGE_SIZE >> len(channels)
        self.feature_shape = (channels[-1], side, side)
        self.to_latent = nn.Linear(channels[-1] * side * side, latent_dim)
        self.latent_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)  # (N, 96, 2, 2)
        return self.to_latent(features.flatten(1))  # (N, 384) -> (N, latent_dim)


class CourseDecoder(nn.Module):
    """Mirror of :class:`CourseEncoder`: linear ``latent_dim -> 384`` with ReLU, reshape to
    (96, 2, 2), stride-2 transposed convolutions (3x3) to 64, 32, 16 channels with ReLU and
    a last stride-2 transposed convolution (``last_kernel`` x ``last_kernel``) to one
    channel with a sigmoid; each doubles the resolution (2 -> 4 -> 8 -> 16 -> 32)."""

    def __init__(self, latent_dim: int = 64, channels: tuple[int, ...] = (16, 32, 64, 96), last_kernel: int = 4):
        super().__init__()
        side = IMAGE_SIZE >> len(channels)
        self.feature_shape = (channels[-1], side, side)
        self.from_latent = nn.Sequential(nn.Linear(latent_dim, channels[-1] * side * side), nn.ReLU())
        reversed_channels = list(channels[::-1])
        layers: list[nn.Module] = []
        for i, in_channels in enumerate(reversed_channels):
            last = i == len(reversed_channels) - 1
            out_channels = 1 if last else reversed_channels[i + 1]
            if last and last_kernel % 2 == 0:
                up = nn.ConvTranspose2d(
                    in_channels, out_channels, kernel_size=last_kernel, stride=2, padding=last_kernel // 2 - 1
                )
            else:
                kernel = last_kernel if last else 3
                up = nn.ConvTranspose2d(
                    in_channels, out_channels, kernel_size=kernel, stride=2, padding=kernel // 2, output_padding=1
                )
            layers += [up, nn.Sigmoid() if last else nn.ReLU()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        features = self.from_latent(codes).view(-1, *self.feature_shape)  # (N, 384) -> (N, 96, 2, 2)
        return self.upsample(features)  # (N, 1, 32, 32) in [0, 1]


class CourseAutoencoder(nn.Module):
    """The course's denoising convolutional auto-encoder (encoder + decoder above)."""

    def __init__(self, latent_dim: int = 64, channels: tuple[int, ...] = (16, 32, 64, 96)):
        super().__init__()
        self.encoder = CourseEncoder(latent_dim, channels)
        self.decoder = CourseDecoder(latent_dim, channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


class Standardize(nn.Module):
    """Fixed per-feature standardisation ``(x - mean) / std`` (buffers, never trained)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone().clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std
