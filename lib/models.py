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


# --- AMTH/CPSC 663 Exercise II (28x28 inputs, no padding) -----------------------------


class FilterCNN(nn.Module):
    """Problem 4's classifier: 28x28 -> 10 logits.  The first convolution has
    ``num_filters`` 5x5 filters (40 in the handout) so they can be shown as images; both
    convolutions use stride 2 instead of a separate pooling layer, which keeps the
    accuracy and costs a quarter of the arithmetic on a CPU."""

    def __init__(self, num_filters: int = 40, second_channels: int = 64, hidden_units: int = 128, dropout: float = 0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, num_filters, kernel_size=5, stride=2, padding=2)  # 28 -> 14
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(num_filters, second_channels, kernel_size=3, stride=2, padding=1),  # 14 -> 7
            nn.ReLU(),
            nn.Flatten(),  # (N, C, 7, 7) -> (N, C*49)
            nn.Linear(second_channels * 49, hidden_units),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.conv1(images))


class MLPEncoder(nn.Module):
    """Flattened image -> code through ``len(hidden)+1`` linear layers with ReLU between
    them and none on the code (the code is an unconstrained point in R^latent_dim)."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (512, 256, 128), input_dim: int = 784):
        super().__init__()
        sizes = [input_dim, *hidden]
        layers: list[nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(size_in, size_out), nn.ReLU()]
        self.net = nn.Sequential(nn.Flatten(), *layers, nn.Linear(sizes[-1], latent_dim))  # (N,1,28,28) -> (N,784)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class MLPDecoder(nn.Module):
    """Mirror of :class:`MLPEncoder`: no activation on the code, ReLU between layers,
    sigmoid on the pixels (which live in [0, 1])."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (128, 256, 512), output_shape=(1, 28, 28)):
        super().__init__()
        sizes = [latent_dim, *hidden]
        layers: list[nn.Module] = []
        for size_in, size_out in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(size_in, size_out), nn.ReLU()]
        out_dim = int(torch.tensor(output_shape).prod())
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], out_dim), nn.Sigmoid())
        self.output_shape = tuple(output_shape)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.net(codes).view(len(codes), *self.output_shape)  # (N, 784) -> (N, 1, 28, 28)


class MLPAutoencoder(nn.Module):
    """Problem 5.4: four linear layers down to a 2-D code, four back up."""

    def __init__(self, latent_dim: int = 2, hidden: tuple[int, ...] = (512, 256, 128)):
        super().__init__()
        self.encoder = MLPEncoder(latent_dim, hidden)
        self.decoder = MLPDecoder(latent_dim, tuple(reversed(hidden)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))


class LinearAutoencoder(nn.Module):
    """Problem 5.3: x -> W2 (W1 x + b1) + b2 with no nonlinearity at all (compared with PCA)."""

    def __init__(self, latent_dim: int, input_dim: int = 784):
        super().__init__()
        self.encoder = nn.Linear(input_dim, latent_dim)
        self.decoder = nn.Linear(latent_dim, input_dim)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.flatten(1)  # (N, 1, 28, 28) -> (N, 784)
        return self.decoder(self.encoder(flat)).view_as(images)


class SmallConvEncoder(nn.Module):
    """Problem 6's encoder, as the handout specifies: conv 1->c1, ReLU, pool, conv c1->c2,
    ReLU, pool, linear to ``hidden_units``, ReLU, linear to ``latent_dim``.

    ``forward`` returns the code and the two pooled feature maps (the skip sources)."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20):
        super().__init__()
        c1, c2 = channels
        self.block1 = nn.Sequential(nn.Conv2d(1, c1, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))  # 28 -> 14
        self.block2 = nn.Sequential(nn.Conv2d(c1, c2, 3, stride=1, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2))  # 14 -> 7
        self.to_latent = nn.Sequential(
            nn.Flatten(),  # (N, c2, 7, 7) -> (N, c2*49)
            nn.Linear(c2 * 49, hidden_units),
            nn.ReLU(),
            nn.Linear(hidden_units, latent_dim),
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        pooled1 = self.block1(images)  # (N, c1, 14, 14)
        pooled2 = self.block2(pooled1)  # (N, c2, 7, 7)
        return self.to_latent(pooled2), [pooled1, pooled2]


class SmallConvDecoder(nn.Module):
    """Mirror of :class:`SmallConvEncoder`: linear to ``hidden_units``, ReLU, linear to
    c2*7*7, ReLU, reshape, then twice (nearest-neighbour x2 upsampling, 3x3 conv), ReLU
    between and a sigmoid on the pixels.

    With ``skips`` (the pooled encoder maps, deepest last) each is *added* to the input of
    its matching upsampling layer, so the channel counts stay those of the handout."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20):
        super().__init__()
        c1, c2 = channels
        self.c2 = c2
        self.from_latent = nn.Sequential(
            nn.Linear(latent_dim, hidden_units), nn.ReLU(), nn.Linear(hidden_units, c2 * 49), nn.ReLU()
        )
        self.up1 = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1), nn.ReLU()
        )  # 7 -> 14
        self.up2 = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, 1, 3, padding=1), nn.Sigmoid()
        )  # 14 -> 28

    def forward(self, codes: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        maps = self.from_latent(codes).view(len(codes), self.c2, 7, 7)  # (N, c2*49) -> (N, c2, 7, 7)
        if skips is not None:
            maps = maps + skips[1]
        maps = self.up1(maps)  # (N, c1, 14, 14)
        if skips is not None:
            maps = maps + skips[0]
        return self.up2(maps)  # (N, 1, 28, 28)


class SmallConvAutoencoder(nn.Module):
    """Problems 6.1 (``skip=False``) and 6.2 (``skip=True``).  ``encode`` gives the 2-D code."""

    def __init__(self, latent_dim: int = 2, channels: tuple[int, int] = (4, 8), hidden_units: int = 20, skip: bool = False):
        super().__init__()
        self.encoder = SmallConvEncoder(latent_dim, channels, hidden_units)
        self.decoder = SmallConvDecoder(latent_dim, channels, hidden_units)
        self.skip = skip

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)[0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        codes, skips = self.encoder(images)
        return self.decoder(codes, skips if self.skip else None)


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
