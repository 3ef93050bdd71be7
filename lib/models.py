"""Model definitions.  Sizes are constructor arguments; encoders and decoders are
separate modules so they can be frozen, reused and swapped independently."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
        # pooling before the ReLU gives the same function (max and ReLU commute) with the ReLU on
        # a quarter of the values: 4% of a training step in bfloat16 (measured, 1 thread)
        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.MaxPool2d(2),  # 14 -> 7
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 7 * 7, hidden_units),
            nn.ReLU(),
        )
        self.out = nn.Linear(hidden_units, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(images))


class DeepDigitClassifier(nn.Module):
    """A second measuring classifier, built unlike :class:`DigitClassifier` so that the two
    do not share blind spots: four 3x3/5x5 convolutions with batch norm (two of them
    stride 2: 28 -> 14 -> 7), global average pooling to ``channels[-1]`` features, dropout
    and one linear layer.  ``features`` returns the pooled activations."""

    def __init__(self, channels: tuple[int, int] = (32, 64), dropout: float = 0.3):
        super().__init__()
        c1, c2 = channels

        def block(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.body = nn.Sequential(
            *block(1, c1, 5, 1),
            *block(c1, c1, 5, 2),  # 28 -> 14
            *block(c1, c2, 3, 1),
            *block(c2, c2, 3, 2),  # 14 -> 7
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.out = nn.Sequential(nn.Dropout(dropout), nn.Linear(c2, 10))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(images))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


class Standardize(nn.Module):
    """Fixed per-feature standardisation ``(x - mean) / std`` (buffers, never trained)."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.detach().clone())
        self.register_buffer("std", std.detach().clone().clamp_min(1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


def _phase_taps() -> torch.Tensor:
    """For each output phase (a, b) of a stride-2, 4x4, padding-1 transposed convolution and
    each 3x3 offset (di, dj) of the input, the flat index ``4 * ky + kx`` of the kernel tap
    that links them, 16 (a zero) where none does: output pixel ``(2i + a, 2j + b)`` reads
    input pixel ``(i + di, j + dj)`` through tap ``(a + 1 - 2 di, b + 1 - 2 dj)``."""
    taps = torch.full((2, 2, 3, 3), 16, dtype=torch.long)
    for a in range(2):
        for b in range(2):
            for di in (-1, 0, 1):
                for dj in (-1, 0, 1):
                    ky, kx = a + 1 - 2 * di, b + 1 - 2 * dj
                    if 0 <= ky < 4 and 0 <= kx < 4:
                        taps[a, b, di + 1, dj + 1] = 4 * ky + kx
    return taps.flatten()


class SubpixelConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d(in, out, kernel_size=4, stride=2, padding=1)``: the same
    parameters and the same output, computed as a 3x3 convolution to ``4 * out`` channels
    (one per output phase) followed by a pixel shuffle.

    Why: oneDNN computes a transposed convolution to one channel slowly on CPU.  The last
    layer of nn4i_ex2's auto-encoder (16 -> 1 channel, 16x16 -> 32x32) took 2.7 ms of a 23 ms
    training step in bfloat16; this form makes the whole step 7% faster there, and is
    slower for wider outputs, so the decoders use it for their one-channel layer only."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=bias)
        self.register_buffer("phase_taps", _phase_taps(), persistent=False)

    def phase_weight(self) -> torch.Tensor:
        """The (4 * out, in, 3, 3) kernel of the equivalent convolution, output channels in (out, a, b) order."""
        c_in, c_out = self.weight.shape[:2]
        flat = torch.cat([self.weight.flatten(2), self.weight.new_zeros(c_in, c_out, 1)], dim=2)
        taps = flat[:, :, self.phase_taps].view(c_in, c_out, 2, 2, 3, 3)
        return taps.permute(1, 2, 3, 0, 4, 5).reshape(4 * c_out, c_in, 3, 3)

    def forward(self, inputs: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if output_size is not None:
            raise ValueError("SubpixelConvTranspose2d has one output size (twice the input's); fix: call it without output_size")
        bias = None if self.bias is None else self.bias.repeat_interleave(4)
        return F.pixel_shuffle(F.conv2d(inputs, self.phase_weight(), bias, padding=1), 2)
