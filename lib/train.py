"""Training and evaluation loops (explicit device, one plain text line per epoch)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from lib.data import batch_indices
from lib.models import CROP


class TrainingError(RuntimeError):
    """Training produced a non-finite loss."""


def check_finite(loss: float, name: str, epoch: int) -> None:
    if not math.isfinite(loss):
        raise TrainingError(
            f"training of {name} stopped: loss is {loss} at epoch {epoch}; fix: lower the learning rate or check the inputs"
        )


def reconstruction_loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel MSE on the original 28x28 region (the zero padding is not scored)."""
    return F.mse_loss(reconstruction[..., CROP, CROP], target[..., CROP, CROP])


def train_epoch(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: torch.device,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> float:
    """One pass over ``batches`` of (input, target); returns the sample-weighted mean loss."""
    model.train()
    total, count = 0.0, 0
    for inputs, targets in batches:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(inputs)
        count += len(inputs)
    return total / max(count, 1)


@torch.inference_mode()
def predict(model: nn.Module, inputs: torch.Tensor, device: torch.device, batch_size: int = 1000) -> torch.Tensor:
    """``model`` applied to ``inputs`` in eval mode, batch by batch; result on the CPU."""
    model.eval()
    return torch.cat([model(inputs[i : i + batch_size].to(device)).cpu() for i in range(0, len(inputs), batch_size)])


def evaluate_mse(model: nn.Module, images: torch.Tensor, device: torch.device, inputs: torch.Tensor | None = None) -> float:
    """Mean per-pixel squared error of reconstructing ``images`` (from ``inputs`` if given)."""
    reconstructions = predict(model, images if inputs is None else inputs, device)
    return reconstruction_loss(reconstructions, images).item()


def evaluate_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, device: torch.device) -> float:
    return (predict(model, images, device).argmax(1) == labels).float().mean().item()


def _pairs(inputs: torch.Tensor, targets: torch.Tensor, batch_size: int, generator: torch.Generator):
    for idx in batch_indices(len(inputs), batch_size, generator):
        yield inputs[idx], targets[idx]


def fit_autoencoder(
    model: nn.Module,
    train_images: torch.Tensor,
    test_images: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
    name: str,
    noise_std: float = 0.0,
) -> dict[str, list[float]]:
    """Adam with a cosine learning-rate decay; returns per-epoch train/test MSE and seconds.

    ``noise_std > 0`` trains a denoising AE (Gaussian noise on the input, clean target).
    """
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    steps = num_epochs * math.ceil(len(train_images) / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps, pct_start=0.15)
    history: dict[str, list[float]] = {"train_mse": [], "test_mse": [], "seconds": []}

    def batches():
        for idx in batch_indices(len(train_images), batch_size, generator):
            clean = train_images[idx]
            noisy = clean + noise_std * torch.randn(clean.shape, generator=generator) if noise_std else clean
            yield noisy, clean

    for epoch in range(1, num_epochs + 1):
        start = time.perf_counter()
        train_mse = train_epoch(model, batches(), optimizer, reconstruction_loss, device, scheduler)
        check_finite(train_mse, name, epoch)
        test_mse = evaluate_mse(model, test_images, device)
        seconds = time.perf_counter() - start
        for key, value in (("train_mse", train_mse), ("test_mse", test_mse), ("seconds", seconds)):
            history[key].append(value)
        print(
            f"[{name}] epoch {epoch}/{num_epochs}  train_mse {train_mse:.5f}  test_mse {test_mse:.5f}  {seconds:.1f} s",
            flush=True,
        )
    return history


def fit_classifier(
    model: nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    *,
    num_epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
    name: str,
    test_images: torch.Tensor | None = None,
    test_labels: torch.Tensor | None = None,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    weight_decay: float = 0.0,
    log_every: int = 1,
) -> dict[str, list[float]]:
    """Cross-entropy training with Adam + cosine decay; logs every ``log_every`` epochs."""
    model.to(device)
    generator = torch.Generator().manual_seed(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
    steps = num_epochs * math.ceil(len(train_images) / batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    history: dict[str, list[float]] = {"train_loss": [], "test_accuracy": [], "seconds": []}

    def batches():
        for inputs, targets in _pairs(train_images, train_labels, batch_size, generator):
            yield (augment(inputs, generator) if augment else inputs), targets

    for epoch in range(1, num_epochs + 1):
        start = time.perf_counter()
        loss = train_epoch(model, batches(), optimizer, F.cross_entropy, device, scheduler)
        check_finite(loss, name, epoch)
        history["train_loss"].append(loss)
        history["seconds"].append(time.perf_counter() - start)
        last = epoch == num_epochs
        if test_images is not None and (last or epoch % log_every == 0):
            accuracy = evaluate_accuracy(model, test_images, test_labels, device)
            history["test_accuracy"].append(accuracy)
            seconds = history["seconds"][-1]
            print(
                f"[{name}] epoch {epoch}/{num_epochs}  train_loss {loss:.4f}  test_acc {accuracy:.4f}  {seconds:.1f} s",
                flush=True,
            )
    return history


def fit_few_labels(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    num_steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: torch.device,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    param_groups: list[dict] | None = None,
    weight_decay: float = 1e-4,
) -> list[float]:
    """Train on a small labelled set for a fixed number of optimizer steps (each step
    draws ``min(batch_size, N)`` images, optionally augmented); returns the loss per step.

    A fixed step count (not epochs) keeps the optimisation budget identical across
    labelled-set sizes.  ``param_groups`` allows e.g. a lower learning rate for a
    pre-trained encoder than for a fresh head.
    """
    model.to(device).train()
    generator = torch.Generator().manual_seed(seed)
    groups = param_groups or [{"params": [p for p in model.parameters() if p.requires_grad]}]
    optimizer = torch.optim.AdamW(groups, lr=learning_rate, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    losses = []
    take = min(batch_size, len(images))
    for step in range(num_steps):
        idx = torch.randperm(len(images), generator=generator)[:take]
        inputs = images[idx]
        if augment is not None:
            inputs = augment(inputs, generator)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(inputs.to(device)), labels[idx].to(device))
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
        if not math.isfinite(losses[-1]):
            raise TrainingError(
                f"few-label training stopped: loss is {losses[-1]} at step {step + 1}; fix: lower the learning rate"
            )
    return losses


def warn_if_chance(accuracy: float, name: str, num_classes: int = 10, margin: float = 0.1) -> bool:
    """Print a loud warning when a classifier is no better than guessing; return True then."""
    chance = 1.0 / num_classes
    if accuracy < chance + margin:
        print(
            f"WARNING: {name} is at chance level: accuracy {accuracy:.3f} vs {chance:.3f} for guessing. "
            "Its numbers mean nothing; check the learning rate, the labels and the frozen weights.",
            flush=True,
        )
        return True
    return False
