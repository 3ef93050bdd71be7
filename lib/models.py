"""Model definitions.  Sizes are constructor arguments; encoders and decoders are
separate modules so they can be frozen, reused and swapped independently."""

from __future__ import annotations

import torch
from torch import nn

IMAGE_SIZE = 32  # MNIST 28x28 zero-padded by 2 on each side so stride-2 layers halve cleanly
CROP = slice(2, 30)  # the original 28x28 region inside a padded 32x32 image


def conv_channels(num_conv_layers: int, base_channels: int) -> list[int]:
    """Channel count after each stride-2 convolution: base, 2*base, 4*base, ..."""
    return [base_channels * 2**i for i in range(num_conv_layers)]


class ConvEncoder(nn.Module):
    """32x32 image -> latent vector of size ``latent_dim`` (no spatial structure).

    ``num_conv_layers`` stride-2 convolutions (kernel 4, padding 1, batch norm, ReLU)
    each halve the resolution; a fully connected layer of ``hidden_units`` then maps
    the flattened feature map to the code (a linear layer, no activation: the code is
    unbounded).  ``hidden_units=0`` maps the features to the code directly.
    """

    def __init__(self, latent_dim: int, num_conv_layers: int = 3, base_channels: int = 16, hidden_units: int = 256):
        super().__init__()
        if not 1 <= num_conv_layers <= 4:
            raise ValueError(f"num_conv_layers must be 1..4 for 32x32 inputs, got {num_conv_layers}")
        channels = conv_channels(num_conv_layers, base_channels)
        layers: list[nn.Module] = []
        in_channels = 1
        for out_channels in channels:
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            ]
            in_channels = out_channels
        self.features = nn.Sequential(*layers)
        self.feature_shape = (channels[-1], IMAGE_SIZE >> num_conv_layers, IMAGE_SIZE >> num_conv_layers)
        flat = channels[-1] * self.feature_shape[1] * self.feature_shape[2]
        if hidden_units:
            self.to_latent = nn.Sequential(nn.Linear(flat, hidden_units), nn.ReLU(), nn.Linear(hidden_units, latent_dim))
        else:
            self.to_latent = nn.Linear(flat, latent_dim)
        self.latent_dim = latent_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)  # (N, C, S, S)
        return self.to_latent(features.flatten(1))  # (N, C*S*S) -> (N, latent_dim)


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: linear layer, then stride-2 transposed
    convolutions doubling the resolution back to 32x32, and a final sigmoid."""

    def __init__(self, latent_dim: int, num_conv_layers: int = 3, base_channels: int = 16, hidden_units: int = 256):
        super().__init__()
        channels = conv_channels(num_conv_layers, base_channels)
        self.feature_shape = (channels[-1], IMAGE_SIZE >> num_conv_layers, IMAGE_SIZE >> num_conv_layers)
        c, s, _ = self.feature_shape
        if hidden_units:
            self.from_latent = nn.Sequential(
                nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, c * s * s), nn.ReLU()
            )
        else:
            self.from_latent = nn.Sequential(nn.Linear(latent_dim, c * s * s), nn.ReLU())
        layers: list[nn.Module] = []
        reversed_channels = channels[::-1]
        for i, in_channels in enumerate(reversed_channels):
            out_channels = reversed_channels[i + 1] if i + 1 < len(reversed_channels) else 1
            last = out_channels == 1
            layers.append(nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1, bias=last))
            layers += [nn.Sigmoid()] if last else [nn.BatchNorm2d(out_channels), nn.ReLU()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        features = self.from_latent(codes).view(-1, *self.feature_shape)  # (N, C*S*S) -> (N, C, S, S)
        return self.upsample(features)  # (N, 1, 32, 32) in [0, 1]


class ConvAutoencoder(nn.Module):
    def __init__(self, latent_dim: int, num_conv_layers: int = 3, base_channels: int = 16, hidden_units: int = 256):
        super().__init__()
        self.encoder = ConvEncoder(latent_dim, num_conv_layers, base_channels, hidden_units)
        self.decoder = ConvDecoder(latent_dim, num_conv_layers, base_channels, hidden_units)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


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


def layer_summary(model: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, str, str, int]]:
    """(name, layer type, output shape, parameters) of every leaf layer, from one forward
    pass of a zero batch: a compact architecture table for reports."""
    rows: list[tuple[str, str, str, int]] = []
    hooks = [
        module.register_forward_hook(
            lambda m, _inp, out, name=name: rows.append(
                (name, type(m).__name__, "x".join(str(s) for s in out.shape[1:]), sum(p.numel() for p in m.parameters()))
            )
        )
        for name, module in model.named_modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, *input_shape))
    finally:
        for hook in hooks:
            hook.remove()
    return rows
