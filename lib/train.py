"""Training and evaluation loops (explicit device, one plain text line per epoch)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from lib import precision
from lib.data import CROP, batch_indices


class TrainingError(RuntimeError):
    """Training produced a non-finite loss."""


def fused(device: torch.device | str) -> dict[str, bool]:
    """Options for Adam: its fused kernel where torch has one (CPU, CUDA), one pass over each
    parameter instead of about eight; 4% of nn4i_ex2's auto-encoder step in bfloat16
    (measured, 1 thread)."""
    return {"fused": torch.device(device).type in ("cpu", "cuda")}


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
    """One pass over ``batches`` of (input, target); returns the sample-weighted mean loss.

    The forward pass runs under the active training precision (:mod:`lib.precision`), the
    loss in float32."""
    model.train()
    total, count = 0.0, 0
    gradient_step = precision.GradientStep()
    for inputs, targets in batches:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast(device):
            outputs = model(inputs)
        loss = loss_fn(outputs.float(), targets)
        gradient_step(loss, optimizer)
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


# Losses of the reconstruction loop: the name its history uses and the function.
RECONSTRUCTION_LOSSES: dict[str, tuple[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]] = {
    "cropped-mse": ("mse", reconstruction_loss),  # padded 32x32 images, the 28x28 region scored
    "mse": ("mse", F.mse_loss),  # per-pixel MSE over the whole image
    "bce": ("bce", F.binary_cross_entropy),
}
SCHEDULES = ("one-cycle", "cosine", "constant")


def fit_reconstruction(
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
    loss: str,
    schedule: str,
    noise_std: float = 0.0,
    noisy_test: bool = False,
    channels_last: bool = False,
) -> dict[str, list[float]]:
    """Train an auto-encoder with Adam to output its clean input; returns per-epoch
    history (``train_<loss>``, ``test_<loss>``, ``test_mse``, ``seconds``).

    The bundle's three recipes are settings of this one loop:
    - nn4i_ex2 conv AE: ``loss="mse"`` (its model returns 28x28 images), ``schedule="one-cycle"`` (peak ``learning_rate``);
    - CPSC 663 AEs as that course prescribes: ``loss="mse"``, ``schedule="constant"``, and
      ``noisy_test`` so that a denoiser is scored on a fixed noisy copy of the test set;
    - idl_ex3 course AE: ``loss="bce"``, ``schedule="cosine"``, ``channels_last``; its
      ``test_mse`` (clean inputs, 28x28 region) is logged beside the test BCE.

    ``noise_std > 0`` trains a denoising AE: Gaussian noise (not clipped) on the input,
    the target stays clean.
    """
    if loss not in RECONSTRUCTION_LOSSES:
        raise ValueError(f"unknown reconstruction loss {loss!r}; fix: use one of {list(RECONSTRUCTION_LOSSES)}")
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; fix: use one of {list(SCHEDULES)}")
    loss_name, loss_fn = RECONSTRUCTION_LOSSES[loss]
    model.to(device)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    if channels_last:  # about 25% faster CPU convolutions, same weights
        model.to(memory_format=torch.channels_last)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, **fused(device))
    steps = num_epochs * math.ceil(len(train_images) / batch_size)
    scheduler = None
    if schedule == "one-cycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=learning_rate, total_steps=steps, pct_start=0.15)
    elif schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    test_inputs = test_images
    if noisy_test and noise_std:  # a fixed noisy copy, so every epoch is scored on the same inputs
        noise_gen = torch.Generator().manual_seed(seed + 1)
        test_inputs = test_images + noise_std * torch.randn(test_images.shape, generator=noise_gen)
    history: dict[str, list[float]] = {}  # keys in the order of the first epoch's scores

    def batches():
        for idx in batch_indices(len(train_images), batch_size, generator):
            clean = train_images[idx].contiguous(memory_format=layout)
            if noise_std:
                noisy = clean + noise_std * torch.randn(clean.shape, generator=generator)
                yield noisy.contiguous(memory_format=layout), clean
            else:
                yield clean, clean

    for epoch in range(1, num_epochs + 1):
        start = time.perf_counter()
        train_loss = train_epoch(model, batches(), optimizer, loss_fn, device, scheduler)
        check_finite(train_loss, name, epoch)
        reconstructions = predict(model, test_inputs, device)
        scores = {f"train_{loss_name}": train_loss, f"test_{loss_name}": loss_fn(reconstructions, test_images).item()}
        if loss_name != "mse":
            scores["test_mse"] = reconstruction_loss(reconstructions, test_images).item()
        scores["seconds"] = time.perf_counter() - start
        for key, value in scores.items():
            history.setdefault(key, []).append(value)
        line = "  ".join(f"{key} {value:.5f}" for key, value in scores.items() if key != "seconds")
        print(f"[{name}] epoch {epoch}/{num_epochs}  {line}  {scores['seconds']:.1f} s", flush=True)
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
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, **fused(device))
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
    optimizer = torch.optim.AdamW(groups, lr=learning_rate, weight_decay=weight_decay, **fused(device))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    losses = []
    gradient_step = precision.GradientStep()
    take = min(batch_size, len(images))
    for step in range(num_steps):
        idx = torch.randperm(len(images), generator=generator)[:take]
        inputs = images[idx]
        if augment is not None:
            inputs = augment(inputs, generator)
        optimizer.zero_grad(set_to_none=True)
        with precision.autocast(device):
            logits = model(inputs.to(device))
        loss = F.cross_entropy(logits.float(), labels[idx].to(device))
        gradient_step(loss, optimizer)
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


def evaluate_mse_plain(model: nn.Module, images: torch.Tensor, device: torch.device, inputs: torch.Tensor | None = None) -> float:
    """Per-pixel MSE over whole images (no crop): ``model(inputs)`` vs ``images``;
    ``inputs`` defaults to ``images`` (pass noisy copies to score a denoiser)."""
    reconstructions = predict(model, images if inputs is None else inputs, device)
    return F.mse_loss(reconstructions, images).item()


def knn_graph(
    points: torch.Tensor, num_neighbours: int, chunk_size: int = 1000, candidate_dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (N, k) and squared Euclidean distances (N, k) of every point's ``k``
    nearest other points, in chunks of rows (memory ``chunk_size * N``).

    ``candidate_dtype=None`` ranks all pairs in float32: exact.  With ``torch.bfloat16`` the
    all-pairs products (most of the time: 60,000 points of 64 dimensions take 15 s on one
    core in float32) run in bfloat16 to pick ``k + 24`` candidates per point, and the ``k``
    nearest of those are chosen by their float32 distances; a true neighbour is missed only
    where bfloat16's rounding (about 0.4% of a squared norm) moves it behind 24 others."""
    low = points if candidate_dtype is None else points.to(candidate_dtype)
    squared_norms = (low.float() * low.float()).sum(1).to(low.dtype)
    num_candidates = num_neighbours if candidate_dtype is None else min(num_neighbours + 24, len(points) - 1)
    indices, distances = [], []
    for start in range(0, len(points), chunk_size):
        rows = points[start : start + chunk_size]
        # |x_j|^2 - 2 <x_i, x_j> ranks the points j of row i as |x_i - x_j|^2 does (|x_i|^2 is
        # the same along the row), so the full matrix never has the row norms added
        score = torch.addmm(squared_norms[None], low[start : start + len(rows)], low.T, alpha=-2)
        score[torch.arange(len(rows)), torch.arange(start, start + len(rows))] = float("inf")  # not its own neighbour
        idx = score.topk(num_candidates, dim=1, largest=False).indices
        exact = (points[idx] - rows[:, None]).pow(2).sum(-1)  # float32 squared distances of the candidates
        values, order = exact.topk(num_neighbours, dim=1, largest=False)
        indices.append(idx.gather(1, order))
        distances.append(values)
    return torch.cat(indices), torch.cat(distances)


def spreading_operator(neighbours: torch.Tensor, sq_distances: torch.Tensor) -> torch.Tensor:
    """``S = D^-1/2 W D^-1/2`` (sparse CSR) of a k-nearest-neighbour graph from
    :func:`knn_graph`: ``W`` the symmetrised graph with weights ``exp(-d^2 / mean d^2)``."""
    import warnings

    n, k = neighbours.shape
    weights = torch.exp(-sq_distances / sq_distances.mean())
    rows = torch.arange(n).repeat_interleave(k)
    with warnings.catch_warnings():  # torch's notes that sparse invariant checks are off and sparse CSR is "beta"
        warnings.simplefilter("ignore", UserWarning)
        graph = torch.sparse_coo_tensor(torch.stack([rows, neighbours.flatten()]), weights.flatten(), (n, n))
        graph = (graph + graph.t()).coalesce()
        inv_sqrt_degree = torch.sparse.sum(graph, 1).to_dense().rsqrt()
        i, j = graph.indices()
        values = graph.values() * inv_sqrt_degree[i] * inv_sqrt_degree[j]
        return torch.sparse_coo_tensor(graph.indices(), values, (n, n)).coalesce().to_sparse_csr()


def label_spreading(
    operator: torch.Tensor,
    labelled: torch.Tensor,
    labels: torch.Tensor,
    num_classes: int = 10,
    alpha: float = 0.99,
    iterations: int = 40,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Spread the labels of the nodes ``labelled`` (a node may appear several times, each
    time adding one vote) to every node of a graph (Zhou et al., 2004, "Learning with local
    and global consistency"): ``F <- alpha * S F + (1 - alpha) * Y`` with ``S`` from
    :func:`spreading_operator`.  Returns the predicted class (N,) and its share of the
    spread label mass (N,), a confidence in [0, 1]."""
    n = operator.shape[0]
    seeds = torch.zeros(n, num_classes)
    seeds.index_put_((labelled, labels), torch.ones(len(labels)), accumulate=True)
    scores = seeds.clone()
    for _ in range(iterations):
        scores = alpha * (operator @ scores) + (1 - alpha) * seeds
    mass = scores.clamp_min(0)
    confidence = mass.max(1).values / mass.sum(1).clamp_min(1e-12)
    return scores.argmax(1), confidence
