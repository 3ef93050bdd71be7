"""GANs in the latent space of the frozen course auto-encoder (P2-P4 of idl_ex3).

The generators map Gaussian noise to *codes* of the auto-encoder (in the code's own
units); images are obtained by passing the codes through the frozen decoder.  Every
generator and discriminator keeps the per-coordinate statistics of the real codes as
buffers: the networks work internally on standardised codes (each coordinate with mean 0
and standard deviation 1), which keeps both players well conditioned, and the buffers
travel with the weights in every state dict.

Generator output designs (``output=``):

* ``"linear"``: the last layer is linear, its output read as a standardised code
  (unbounded, like the encoder's linear code layer);
* ``"range"``: a final tanh rescaled to each coordinate's observed range
  ``[min, max]`` over the real codes, so every output lies where real codes lie.

:func:`fit_gan` trains either kind (unconditional, or conditional with an auxiliary
classifier) and :func:`save_sampler` / :func:`load_sampler` give a self-contained
checkpoint (generator + decoder) that turns noise into images.  :class:`GANRecipe` and
:func:`latent_gan` give the cached trained GANs the notebooks share.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lib import cache, paths, train, zoo
from lib.data import batch_indices
from lib.idl_ex3.autoencoder import CourseAERecipe, CourseDecoder, course_autoencoder
from lib.train import check_finite
from lib.utils import seed_everything

NUM_CLASSES = 10
CHECKPOINT_FORMAT = "idl_ex3-latent-gan-sampler-v1"


def mlp(sizes: Sequence[int], negative_slope: float = 0.2) -> nn.Sequential:
    """Linear layers of the given sizes with LeakyReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(negative_slope))
    return nn.Sequential(*layers)


class _CodeStatistics(nn.Module):
    """Buffers with the real codes' per-coordinate mean, std, min and max (set once
    with :meth:`set_code_statistics` before training; saved with the weights)."""

    def __init__(self, latent_dim: int):
        super().__init__()
        self.register_buffer("code_mean", torch.zeros(latent_dim))
        self.register_buffer("code_std", torch.ones(latent_dim))
        self.register_buffer("code_min", -3 * torch.ones(latent_dim))
        self.register_buffer("code_max", 3 * torch.ones(latent_dim))

    @torch.no_grad()
    def set_code_statistics(self, codes: torch.Tensor) -> None:
        self.code_mean.copy_(codes.mean(0))
        self.code_std.copy_(codes.std(0).clamp_min(1e-6))
        self.code_min.copy_(codes.min(0).values)
        self.code_max.copy_(codes.max(0).values)

    def standardize(self, codes: torch.Tensor) -> torch.Tensor:
        return (codes - self.code_mean) / self.code_std


class LatentGenerator(_CodeStatistics):
    """Noise (N, ``noise_dim``) -> code (N, ``latent_dim``), an MLP with LeakyReLU.

    ``num_classes > 0`` makes it conditional: the label enters through a learned
    embedding of ``label_dim`` numbers concatenated with the noise.
    """

    def __init__(
        self,
        noise_dim: int = 32,
        latent_dim: int = 64,
        hidden_units: Sequence[int] = (256, 256),
        output: str = "linear",
        num_classes: int = 0,
        label_dim: int = 16,
    ):
        super().__init__(latent_dim)
        if output not in ("linear", "range"):
            raise ValueError(f"output must be 'linear' or 'range', got {output!r}")
        self.config = {
            "noise_dim": noise_dim,
            "latent_dim": latent_dim,
            "hidden_units": list(hidden_units),
            "output": output,
            "num_classes": num_classes,
            "label_dim": label_dim,
        }
        self.noise_dim, self.latent_dim, self.output, self.num_classes = noise_dim, latent_dim, output, num_classes
        self.label_embedding = nn.Embedding(num_classes, label_dim) if num_classes else None
        self.net = mlp([noise_dim + (label_dim if num_classes else 0), *hidden_units, latent_dim])

    def forward(self, noise: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        inputs = noise
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this generator is conditional: pass the digit labels")
            inputs = torch.cat([noise, self.label_embedding(labels)], dim=1)  # (N, noise_dim + label_dim)
        raw = self.net(inputs)  # (N, latent_dim)
        if self.output == "range":
            return self.code_min + (self.code_max - self.code_min) * (torch.tanh(raw) + 1) / 2
        return self.code_mean + self.code_std * raw


class LatentDiscriminator(_CodeStatistics):
    """Code (N, ``latent_dim``) -> real/generated logit (N,), an MLP on standardised codes.

    ``num_classes > 0`` makes it conditional: a projection term ``<embed(y), h>`` (``h``
    the last hidden features) is added to the logit, and an auxiliary head predicts the
    digit from ``h`` (AC-GAN), which pushes the generator towards class-consistent codes.

    ``pack > 1`` (unconditional only) judges ``pack`` codes at once (PacGAN): the codes of
    a batch are grouped in consecutive tuples and each tuple gets one logit, so a
    generator whose samples lack variety is easier to spot, which counters mode dropping.
    """

    def __init__(self, latent_dim: int = 64, hidden_units: Sequence[int] = (256, 256), num_classes: int = 0, pack: int = 1):
        super().__init__(latent_dim)
        if pack > 1 and num_classes:
            raise ValueError("packing is implemented for unconditional discriminators only")
        self.num_classes, self.pack = num_classes, pack
        self.body = nn.Sequential(mlp([latent_dim * pack, *hidden_units]), nn.LeakyReLU(0.2))
        self.real_fake = nn.Linear(hidden_units[-1], 1)
        self.projection = nn.Embedding(num_classes, hidden_units[-1]) if num_classes else None
        self.classifier = nn.Linear(hidden_units[-1], num_classes) if num_classes else None

    def scores(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(real/fake logits (N // pack,), class logits (N, num_classes) or None)."""
        inputs = self.standardize(codes)
        if self.pack > 1:
            usable = len(inputs) - len(inputs) % self.pack
            inputs = inputs[:usable].reshape(usable // self.pack, -1)  # (N, d) -> (N / pack, pack * d)
        features = self.body(inputs)  # (N / pack, hidden)
        logits = self.real_fake(features).squeeze(1)  # (N, 1) -> (N,)
        if self.projection is None:
            return logits, None
        if labels is None:
            raise ValueError("this discriminator is conditional: pass the digit labels")
        logits = logits + (self.projection(labels) * features).sum(1)
        return logits, self.classifier(features)

    def forward(self, codes: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.scores(codes, labels)[0]


class GANPair(nn.Module):
    """Generator and discriminator in one module (one cache entry)."""

    def __init__(self, generator: LatentGenerator, discriminator: LatentDiscriminator):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator


def fit_gan(
    pair: GANPair,
    codes: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
    name: str,
    betas: tuple[float, float] = (0.5, 0.999),
    aux_weight: float = 1.0,
    mismatch_weight: float = 0.0,
) -> dict[str, list[float]]:
    """Train a GAN on real ``codes`` (N, latent_dim) with the non-saturating loss and Adam.

    One discriminator step and one generator step per batch.  With ``labels`` (conditional
    models) the discriminator also learns to classify real codes and the generator is
    rewarded when its codes are classified as the label it was given (weight
    ``aux_weight``); the fake labels are drawn uniformly.  ``mismatch_weight > 0`` also
    shows the discriminator real codes paired with a wrong label as "generated"
    (matching-aware discriminator), so a code that does not fit its label is penalised
    even when it is realistic.  Sets the code statistics of
    both networks from ``codes`` first.  Prints one line per epoch; raises
    :class:`lib.train.TrainingError` on a non-finite loss.  Returns per-epoch mean
    losses, the discriminator's mean probability of "real" on real and generated codes,
    the auxiliary accuracy on generated codes (conditional only) and seconds.
    """
    generator, discriminator = pair.generator, pair.discriminator
    conditional = labels is not None
    if conditional != bool(generator.num_classes) or conditional != bool(discriminator.num_classes):
        raise ValueError("pass labels exactly when the generator and discriminator are conditional")
    generator.set_code_statistics(codes)
    discriminator.set_code_statistics(codes)
    pair.to(device).train()
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=betas, **train.fused(device))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=betas, **train.fused(device))
    history: dict[str, list[float]] = {k: [] for k in ("d_loss", "g_loss", "d_real", "d_fake", "aux_fake_acc", "seconds")}
    num_batches = math.ceil(len(codes) / batch_size)
    for epoch in range(1, num_epochs + 1):
        start = time.perf_counter()
        sums = dict.fromkeys(("d_loss", "g_loss", "d_real", "d_fake", "aux_fake_acc"), 0.0)
        for idx in batch_indices(len(codes), batch_size, rng):
            real = codes[idx].to(device)
            n = len(real)
            real_labels = labels[idx].to(device) if conditional else None
            fake_labels = torch.randint(0, NUM_CLASSES, (n,), generator=rng).to(device) if conditional else None
            noise = torch.randn(n, generator.noise_dim, generator=rng).to(device)
            fake = generator(noise, fake_labels)
            # discriminator step: real -> 1, generated -> 0 (+ classify the real codes)
            real_logits, real_classes = discriminator.scores(real, real_labels)
            fake_logits, _ = discriminator.scores(fake.detach(), fake_labels)
            d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            d_loss = d_loss + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            if conditional:
                d_loss = d_loss + aux_weight * F.cross_entropy(real_classes, real_labels)
            if conditional and mismatch_weight:
                wrong = (real_labels + torch.randint(1, NUM_CLASSES, (n,), generator=rng).to(device)) % NUM_CLASSES
                wrong_logits, _ = discriminator.scores(real, wrong)
                d_loss = d_loss + mismatch_weight * F.binary_cross_entropy_with_logits(
                    wrong_logits, torch.zeros_like(wrong_logits)
                )
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
            # generator step: make the discriminator call generated codes real (+ of the asked class)
            gen_logits, gen_classes = discriminator.scores(fake, fake_labels)
            g_loss = F.binary_cross_entropy_with_logits(gen_logits, torch.ones_like(gen_logits))
            if conditional:
                g_loss = g_loss + aux_weight * F.cross_entropy(gen_classes, fake_labels)
                sums["aux_fake_acc"] += (gen_classes.argmax(1) == fake_labels).float().mean().item()
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            sums["d_loss"] += d_loss.item()
            sums["g_loss"] += g_loss.item()
            sums["d_real"] += torch.sigmoid(real_logits).mean().item()
            sums["d_fake"] += torch.sigmoid(fake_logits).mean().item()
        means = {k: v / num_batches for k, v in sums.items()}
        check_finite(means["d_loss"] + means["g_loss"], name, epoch)
        seconds = time.perf_counter() - start
        for key, value in means.items():
            history[key].append(value)
        history["seconds"].append(seconds)
        aux = f"  aux_acc(fake) {means['aux_fake_acc']:.3f}" if conditional else ""
        print(
            f"[{name}] epoch {epoch}/{num_epochs}  d_loss {means['d_loss']:.4f}  g_loss {means['g_loss']:.4f}  "
            f"D(real) {means['d_real']:.3f}  D(fake) {means['d_fake']:.3f}{aux}  {seconds:.1f} s",
            flush=True,
        )
    pair.eval()
    return history


@torch.inference_mode()
def sample_codes(
    generator: LatentGenerator,
    num: int,
    device: torch.device,
    seed: int = 0,
    labels: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """``num`` generated codes (on the CPU) from fixed noise (``seed``) or the given ``noise``."""
    generator.eval()
    if noise is None:
        noise = torch.randn(num, generator.noise_dim, generator=torch.Generator().manual_seed(seed))
    return generator(noise.to(device), None if labels is None else labels.to(device)).cpu()


def decode(decoder: nn.Module, codes: torch.Tensor, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    """Images (N, 1, 32, 32) in [0, 1] (on the CPU) of ``codes`` through ``decoder``."""
    return train.predict(decoder, codes, device, batch_size)


def sample_images(
    generator: LatentGenerator,
    decoder: nn.Module,
    num: int,
    device: torch.device,
    seed: int = 0,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """``num`` generated images (N, 1, 32, 32) in [0, 1]: noise -> generator -> decoder."""
    return decode(decoder, sample_codes(generator, num, device, seed, labels), device)


def save_sampler(path: Path, generator: LatentGenerator, decoder: CourseDecoder, decoder_args: dict) -> Path:
    """Write a self-contained checkpoint (state dicts + constructor arguments of the
    generator and of the :class:`~lib.CourseDecoder`) readable by :func:`load_sampler`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "generator_args": dict(generator.config),
        "generator_state": {k: v.detach().cpu().contiguous() for k, v in generator.state_dict().items()},
        "decoder_args": {k: list(v) if isinstance(v, tuple) else v for k, v in decoder_args.items()},
        "decoder_state": {k: v.detach().cpu().contiguous() for k, v in decoder.state_dict().items()},
    }
    return paths.atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_sampler(path: str | Path, device: str | torch.device = "cpu", image_size: int = 28) -> Callable[..., torch.Tensor]:
    """Load a checkpoint written by :func:`save_sampler` and return ``sample``.

    ``sample(num, labels=None, seed=0)`` returns ``num`` images as a float tensor
    (num, 1, image_size, image_size) with pixel values in [0, 1] (white digit on black,
    like MNIST).  ``image_size=28`` (default) crops the 2-pixel padding the auto-encoder
    works with, so the images match MNIST's 28x28 format; ``image_size=32`` keeps it.
    For a conditional generator ``labels`` (int tensor or list of digits, length ``num``)
    is required; for an unconditional one it must be None.  ``seed`` fixes the noise.
    The returned function has attributes ``conditional`` (bool) and ``noise_dim``.

    Example::

        sample = load_sampler("report/idl_ex3/models/conditional_gan.pt")
        sevens = sample(100, labels=[7] * 100)          # (100, 1, 28, 28)
    """
    if image_size not in (28, 32):
        raise ValueError(f"image_size must be 28 or 32, got {image_size}")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a latent-GAN sampler checkpoint (format {checkpoint.get('format')!r})")
    device = torch.device(device)
    generator = LatentGenerator(**checkpoint["generator_args"])
    generator.load_state_dict(checkpoint["generator_state"])
    decoder_args = dict(checkpoint["decoder_args"])
    decoder_args["channels"] = tuple(decoder_args.get("channels", (16, 32, 64, 96)))
    decoder = CourseDecoder(**decoder_args)
    decoder.load_state_dict(checkpoint["decoder_state"])
    generator.to(device).eval()
    decoder.to(device).eval()
    conditional = bool(generator.num_classes)

    def sample(num: int, labels: Sequence[int] | torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        if conditional and labels is None:
            raise ValueError("this generator is conditional: pass labels (one digit per image)")
        if not conditional and labels is not None:
            raise ValueError("this generator is unconditional: labels must be None")
        label_tensor = None if labels is None else torch.as_tensor(labels, dtype=torch.long)
        if label_tensor is not None and label_tensor.shape != (num,):
            raise ValueError(f"labels must have shape ({num},), got {tuple(label_tensor.shape)}")
        images = sample_images(generator, decoder, num, device, seed, label_tensor)  # (num, 1, 32, 32)
        return images[..., 2:30, 2:30] if image_size == 28 else images

    sample.conditional = conditional
    sample.noise_dim = generator.noise_dim
    return sample


# --- the trained GANs the notebooks share ---------------------------------------------------


@dataclass(frozen=True)
class GANRecipe:
    """Everything that determines a trained latent GAN (besides its auto-encoder)."""

    hidden_units: tuple[int, ...] = (128, 128)
    output: str = "range"  # generator's last layer: "linear" or "range" (tanh scaled to the codes' range)
    conditional: bool = False
    disc_hidden_units: tuple[int, ...] = (128, 128)
    noise_dim: int = 32  # the handout's 32
    num_epochs: int = 8
    batch_size: int = 128
    learning_rate: float = 5e-4  # Adam, betas (0.5, 0.999), G and D
    aux_weight: float = 1.0  # conditional only: weight of the auxiliary classification loss
    mismatch_weight: float = 0.0  # conditional only: weight of D's real-code / wrong-label loss
    seed: int = 0

    def label(self) -> str:
        kind = "conditional GAN" if self.conditional else "latent GAN"
        output = {"range": "range-matched output", "linear": "linear output"}.get(self.output, f"{self.output} output")
        return f"{kind} ({output}) G{list(self.hidden_units)} seed={self.seed}"


GAN_EPOCHS = {"full": 8, "quick": 2, "smoke": 1}


def gan_recipe(profile: str, output: str, seed: int = 0) -> GANRecipe:
    """P2's unconditional GAN with generator output ``output`` (P3 reuses these)."""
    return GANRecipe(output=output, num_epochs=GAN_EPOCHS[profile], seed=seed)


def conditional_recipe(profile: str, seed: int = 0) -> GANRecipe:
    """P4's conditional GAN: the label enters G as an embedding and D through a projection
    term, an auxiliary classifier and real codes shown with wrong labels."""
    return GANRecipe(output="range", conditional=True, num_epochs=GAN_EPOCHS[profile], mismatch_weight=2.0, seed=seed)


def latent_gan(recipe: GANRecipe, ae_recipe: CourseAERecipe, device: torch.device, test_size: int = 10000):
    """A GAN trained (once, cached) on the codes the course auto-encoder of ``ae_recipe``
    gives its training images; returns ``(GANPair, history)`` in eval mode.  A conditional
    recipe also uses the training labels."""

    def build():
        seed_everything(recipe.seed)
        num_classes = NUM_CLASSES if recipe.conditional else 0
        generator = LatentGenerator(recipe.noise_dim, ae_recipe.latent_dim, recipe.hidden_units, recipe.output, num_classes)
        discriminator = LatentDiscriminator(ae_recipe.latent_dim, recipe.disc_hidden_units, num_classes)
        return GANPair(generator, discriminator)

    def fit(pair):
        autoencoder, _ = course_autoencoder(ae_recipe, device, test_size)
        train_x, train_y = zoo.mnist_images("train", ae_recipe.train_size)
        codes = train.predict(autoencoder.encoder, train_x, device)  # (N, latent_dim), frozen encoder
        return fit_gan(
            pair, codes, train_y if recipe.conditional else None, num_epochs=recipe.num_epochs,
            batch_size=recipe.batch_size, learning_rate=recipe.learning_rate, seed=recipe.seed, device=device,
            name=recipe.label(), aux_weight=recipe.aux_weight, mismatch_weight=recipe.mismatch_weight,
        )  # fmt: skip

    config = {"gan": asdict(recipe), "autoencoder": {**asdict(ae_recipe), "test_size": test_size}}
    kind = "conditional_latent_gan" if recipe.conditional else "latent_gan"
    # float32 whatever the hardware: bfloat16 autocast ran these small MLPs at 0.9x the
    # float32 step rate here (measured, 1 thread), the casts cost more than the products save.
    pair, history = cache.load_or_train(kind, config, build, fit, device, label=recipe.label(), precision="float32")
    return pair.eval(), history
