"""Scheme (d) of P1, beyond the handout: 50 labels, the frozen course encoder and the
unlabelled training images, combined by label spreading and self-training.

1. The 50 labels are spread (Zhou et al., NIPS 2003) over a k-nearest-neighbour graph of the
   standardised codes of every unlabelled training image (the images the auto-encoder
   was trained on).
2. A round: a small CNN (:class:`lib.models.DigitClassifier`) is trained from scratch on
   the most confident share of each spread class plus the 50 true labels (with random
   shifts and rotations); the graph is rebuilt on its L2-normalised penultimate features
   and the 50 true labels are spread again.  The share kept grows every round.
3. The classifier of the last round is the result.

Only the 50 labels enter: the pool's true labels are read for diagnostics alone (how
many spread labels are right), and no test image enters a graph, a choice or a stopping
rule.  Test accuracy is recorded after each round for the report, never acted on.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F

from lib import cache, data, models, precision, train, zoo
from lib.idl_ex3.autoencoder import CourseAERecipe, course_autoencoder
from lib.utils import seed_everything


@dataclass(frozen=True)
class SelfTrainingRecipe:
    """Everything that determines the classifier of scheme (d) for one labelled draw."""

    num_labels: int = 50  # the handout's sml_train_size
    num_neighbours: int = 10  # k of the graph
    spreading_iterations: int = 60
    keep_shares: tuple[float, ...] = (0.5, 0.7, 0.9, 1.0)  # one round each: share of every spread class trained on
    epochs_per_round: int = 3
    batch_size: int = 128
    learning_rate: float = 2e-3  # AdamW, cosine decay within a round
    max_shift: float = 2.0  # augmentation: pixels
    max_degrees: float = 10.0  # augmentation: rotation
    seed: int = 0

    def label(self, draw: int) -> str:
        return f"self-training, {self.num_labels} labels, draw {draw}"


def recipe(profile: str) -> SelfTrainingRecipe:
    return {
        "full": SelfTrainingRecipe(),
        "quick": SelfTrainingRecipe(keep_shares=(0.5, 1.0), epochs_per_round=2),
        "smoke": SelfTrainingRecipe(keep_shares=(0.5, 1.0), epochs_per_round=1, spreading_iterations=10),
    }[profile]


def pool(ae_recipe: CourseAERecipe) -> tuple[torch.Tensor, torch.Tensor]:
    """The unlabelled pool: the auto-encoder's own training images (N, 1, 32, 32) and their
    labels (read only to draw the balanced labelled set and for diagnostics)."""
    return zoo.mnist_images("train", ae_recipe.train_size)


def labelled_indices(pool_labels: torch.Tensor, num_labels: int, draw: int) -> torch.Tensor:
    """Indices into the pool of draw ``draw``'s balanced labelled set (every scheme of P1 uses these)."""
    return data.balanced_indices(pool_labels, num_labels, seed=draw)


def neighbour_graph(features: torch.Tensor, num_neighbours: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k-nearest-neighbour graph of ``features``: its candidates ranked in the training
    precision (bfloat16 products where the hardware has them, 1.8x faster), the neighbours
    chosen by float32 distances (:func:`lib.train.knn_graph`)."""
    return train.knn_graph(features, num_neighbours, candidate_dtype=precision.autocast_dtype())


# The graph of the course codes is the same for every labelled draw, and one model worker of
# the build trains several draws: it is built once per process for the same codes.
_CODE_GRAPHS: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def code_graph(ae_recipe: CourseAERecipe, codes: torch.Tensor, num_neighbours: int) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`neighbour_graph` of the standardised course ``codes`` of ``ae_recipe``'s pool, once per process."""
    key = (ae_recipe, num_neighbours, precision.active(), hashlib.sha1(codes.numpy().tobytes()).hexdigest())
    if key not in _CODE_GRAPHS:
        _CODE_GRAPHS[key] = neighbour_graph(codes, num_neighbours)
    return _CODE_GRAPHS[key]


def spread(graph: tuple[torch.Tensor, torch.Tensor], labelled: torch.Tensor, labels: torch.Tensor, iterations: int):
    """Labels and confidences of every node after spreading ``labels`` from ``labelled`` over
    ``graph`` (neighbours and squared distances)."""
    operator = train.spreading_operator(*graph)
    return train.label_spreading(operator, labelled, labels, iterations=iterations)


def confident_subset(pseudo: torch.Tensor, confidence: torch.Tensor, share: float) -> torch.Tensor:
    """Indices of the most confident ``share`` of every spread class (each class kept in proportion)."""
    kept = []
    for digit in range(10):
        members = torch.nonzero(pseudo == digit).flatten()
        count = math.ceil(share * len(members))
        kept.append(members[confidence[members].argsort(descending=True)[:count]])
    return torch.cat(kept)


def self_trained_classifier(
    recipe: SelfTrainingRecipe, draw: int, ae_recipe: CourseAERecipe, device: torch.device, test_size: int = 10000
) -> tuple[models.DigitClassifier, dict]:
    """Scheme (d)'s classifier for labelled draw ``draw`` (cached) and its per-round record:
    ``pseudo_accuracy`` (share of pool images whose spread label is right: first on the
    codes, then after each round), ``kept`` (pool images trained on per round),
    ``test_accuracy`` and ``train_accuracy`` (on the labelled images) per round."""

    def build():
        seed_everything(recipe.seed + 1000 * draw + len(recipe.keep_shares))
        return models.DigitClassifier().to(memory_format=torch.channels_last)

    def fit(final):
        autoencoder, _ = course_autoencoder(ae_recipe, device, test_size)
        images, true_labels = pool(ae_recipe)
        crops = images[..., 2:30, 2:30].contiguous()  # the classifier reads 28x28 digits
        test_x, test_y = zoo.mnist_images("test", test_size, pad=0)
        labelled = labelled_indices(true_labels, recipe.num_labels, draw)
        labels = true_labels[labelled]
        codes = train.predict(autoencoder.encoder, images, device)
        codes = (codes - codes.mean(0)) / codes.std(0).clamp_min(1e-6)
        graph = code_graph(ae_recipe, codes, recipe.num_neighbours)
        pseudo, confidence = spread(graph, labelled, labels, recipe.spreading_iterations)
        record = {"pseudo_accuracy": [(pseudo == true_labels).float().mean().item()], "kept": [], "test_accuracy": [],
                  "train_accuracy": [], "seconds": []}  # fmt: skip

        def augment(batch, generator):
            return data.random_affine(batch, generator, max_shift=recipe.max_shift, max_degrees=recipe.max_degrees)

        for round_index, share in enumerate(recipe.keep_shares):
            start = time.perf_counter()
            kept = confident_subset(pseudo, confidence, share)
            inputs = torch.cat([crops[kept], crops[labelled]])
            targets = torch.cat([pseudo[kept], labels])
            last = round_index == len(recipe.keep_shares) - 1
            seed = recipe.seed + 1000 * draw + round_index
            if last:
                net = final
            else:
                seed_everything(seed)
                net = models.DigitClassifier().to(memory_format=torch.channels_last)
            train.fit_classifier(
                net, inputs, targets, num_epochs=recipe.epochs_per_round, batch_size=recipe.batch_size,
                learning_rate=recipe.learning_rate, seed=seed, device=device,
                name=f"{recipe.label(draw)}, round {round_index + 1}", augment=augment,
            )  # fmt: skip
            net.eval()
            record["kept"].append(len(kept))
            record["test_accuracy"].append(train.evaluate_accuracy(net, test_x, test_y, device))
            record["train_accuracy"].append(train.evaluate_accuracy(net, crops[labelled], labels, device))
            if not last:  # the next round's labels: spread again over the classifier's own features
                features = F.normalize(train.predict(net.body, crops, device), dim=1)
                graph = neighbour_graph(features, recipe.num_neighbours)
                pseudo, confidence = spread(graph, labelled, labels, recipe.spreading_iterations)
                record["pseudo_accuracy"].append((pseudo == true_labels).float().mean().item())
            record["seconds"].append(time.perf_counter() - start)
            print(
                f"[{recipe.label(draw)}] round {round_index + 1}/{len(recipe.keep_shares)}: trained on {len(kept)} pool images, "
                f"spread labels right {100 * record['pseudo_accuracy'][-1]:.1f}%, test accuracy "
                f"{100 * record['test_accuracy'][-1]:.2f}%  {record['seconds'][-1]:.1f} s",
                flush=True,
            )
        return record

    config = {"recipe": asdict(recipe), "draw": draw, "autoencoder": {**asdict(ae_recipe), "test_size": test_size}}
    model, history = cache.load_or_train("self_training", config, build, fit, device, label=recipe.label(draw))
    return model.eval(), history
