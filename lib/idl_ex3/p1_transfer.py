"""Problem 1 of idl_ex3: transfer learning from the course's denoising auto-encoder with 50
labelled images.  :func:`run` trains the handout's schemes (a)-(c), the ablation (b0) and
loads scheme (d) (:mod:`lib.idl_ex3.semi_supervised`) for every labelled draw; the other
functions turn the result into the report's figures, table rows, glued values and metrics.

Every scheme of a draw sees the same labelled images (the draw's balanced set from the
auto-encoder's training images).  The test images are never used to train or to choose
anything; they only score the final models.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from lib import data, judging, models, plots, train, zoo
from lib.analysis import mean_std
from lib.idl_ex3 import P1Settings, autoencoder, semi_supervised
from lib.utils import seed_everything

SCHEMES = {
    "a": "(a) minimal classifier, frozen codes",
    "b0": "(b0) our MLP, frozen codes, no augmentation",
    "b": "(b) our MLP, frozen codes",
    "c0": "(c0) encoder frozen + our MLP, (c)'s schedule",
    "c": "(c) encoder + our MLP, end to end",
    "d": "(d) spreading + self-training (beyond the handout)",
}
SHORT = {k: v.split(" ")[0] for k, v in SCHEMES.items()}
# (first, second, what the difference measures): per-draw paired differences of test accuracy
COMPARISONS = (
    ("b0", "a", "a hidden layer with dropout: our MLP vs the minimal classifier, both on the 50 plain codes"),
    ("b", "b0", "augmentation: our MLP with vs without the augmented copies"),
    ("b", "a", "(b) vs (a): both changes together"),
    ("c", "c0", "training the encoder: (c) vs the same network and schedule with the encoder frozen"),
    ("c0", "b", "the recipe: fresh augmentations of the images vs (b)'s codes of fixed copies, encoder frozen in both"),
    ("c", "b", "(c) vs (b): the encoder trained, and (c)'s recipe"),
    ("d", "b", "unlabelled images (d) vs (b)"),
)
INIT_SEED = 1000  # the same initial weights in every draw
AUGMENTATION = {"max_shift": 2.0, "max_degrees": 12.0}  # plus zoom 0.9-1.1 (random_affine's default)
DROPOUT = 0.2
BATCH_CODES = 256  # batch of the classifiers on codes
BATCH_IMAGES = 128  # batch of (c)


@dataclass
class P1Result:
    cfg: P1Settings
    ae_recipe: autoencoder.CourseAERecipe
    ae_history: dict
    self_training: semi_supervised.SelfTrainingRecipe
    test_size: int
    test_acc: dict[str, list[float]]  # scheme -> one value per draw
    train_acc: dict[str, list[float]]
    per_class: dict[str, np.ndarray]  # scheme -> (draws, 10) test accuracy per digit
    rounds: list[dict]  # scheme (d): per draw, the cached per-round record
    architectures: dict[str, tuple[list[list], int, str]]  # scheme -> (rows, trainable parameters, input)
    graph_same_digit: float  # share of k-NN links of the code graph that join images of the same digit
    pool_size: int
    recon_recognised: np.ndarray  # (10,) share of the AE's reconstructions of test digits the judge reads right
    real_recognised: np.ndarray  # (10,) the same for the real test digits


def _our_mlp(latent_dim: int, hidden_units: int) -> nn.Module:
    return models.MLPHead(latent_dim, hidden_units, dropout=DROPOUT)


def _augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return data.random_affine(images, generator, **AUGMENTATION)


def _per_class(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, device) -> tuple[float, list[float]]:
    predicted = train.predict(model, inputs, device).argmax(1)
    correct = predicted == labels
    return correct.float().mean().item(), [correct[labels == c].float().mean().item() for c in range(10)]


def _recognised_per_digit(judge: nn.Module, images: torch.Tensor, labels: torch.Tensor, device) -> np.ndarray:
    return judging.per_digit_recall(judging.judge_outputs(judge, images, device)[0], labels)


def run(cfg: P1Settings, device: torch.device) -> P1Result:
    """Every scheme on every labelled draw (seeds 0 .. num_draws - 1)."""
    ae_recipe, test_size = autoencoder.recipe(cfg.profile), autoencoder.TEST_IMAGES[cfg.profile]
    model, ae_history = autoencoder.course_autoencoder(ae_recipe, device, test_size)
    encoder = model.encoder
    pool_x, pool_y = semi_supervised.pool(ae_recipe)
    test_x, test_y = zoo.mnist_images("test", test_size)
    pool_codes = train.predict(encoder, pool_x, device)
    standardize = models.Standardize(pool_codes.mean(0), pool_codes.std(0))
    test_codes = standardize(train.predict(encoder, test_x, device))
    neighbours, _ = train.knn_graph(standardize(pool_codes), 10)
    graph_same_digit = (pool_y[neighbours] == pool_y[:, None]).float().mean().item()  # diagnostic: true labels never train
    judge, _ = autoencoder.judges(cfg.profile, device)
    real_recognised = _recognised_per_digit(judge, test_x, test_y, device)
    recon_recognised = _recognised_per_digit(judge, train.predict(model, test_x, device), test_y, device)
    self_training = semi_supervised.recipe(cfg.profile)

    def end_to_end(freeze_encoder: bool = False) -> models.EncoderClassifier:
        head = nn.Sequential(copy.deepcopy(standardize), _our_mlp(ae_recipe.latent_dim, cfg.hidden_units))
        return models.EncoderClassifier(copy.deepcopy(encoder), head, freeze_encoder=freeze_encoder)

    def fit_head(head: nn.Module, inputs, targets, learning_rate: float, draw: int) -> nn.Module:
        train.fit_few_labels(head, inputs, targets, num_steps=cfg.head_steps, batch_size=BATCH_CODES,
                             learning_rate=learning_rate, seed=draw, device=device)  # fmt: skip
        return head

    test_acc = {k: [] for k in SCHEMES}
    train_acc = {k: [] for k in SCHEMES}
    per_class = {k: [] for k in SCHEMES}
    rounds = []

    def record(key: str, model: nn.Module, train_inputs, labels, test_inputs) -> None:
        accuracy, classes = _per_class(model, test_inputs, test_y, device)
        test_acc[key].append(accuracy)
        per_class[key].append(classes)
        train_acc[key].append(train.evaluate_accuracy(model, train_inputs, labels, device))

    for draw in range(cfg.num_draws):
        idx = semi_supervised.labelled_indices(pool_y, cfg.num_labels, draw)
        images, labels = pool_x[idx], pool_y[idx]
        generator = torch.Generator().manual_seed(draw)
        codes = standardize(train.predict(encoder, images, device))
        copies = [_augment(images, generator) for _ in range(cfg.augment_copies)]
        aug_codes = standardize(train.predict(encoder, torch.cat(copies), device)) if copies else codes[:0]
        aug_labels = labels.repeat(cfg.augment_copies)

        seed_everything(INIT_SEED)
        head = fit_head(models.MLPHead(ae_recipe.latent_dim, 0), codes, labels, cfg.linear_learning_rate, draw)
        record("a", head, codes, labels, test_codes)
        seed_everything(INIT_SEED)
        head = fit_head(_our_mlp(ae_recipe.latent_dim, cfg.hidden_units), codes, labels, cfg.head_learning_rate, draw)
        record("b0", head, codes, labels, test_codes)
        seed_everything(INIT_SEED)
        inputs, targets = torch.cat([codes, aug_codes]), torch.cat([labels, aug_labels])
        head = fit_head(_our_mlp(ae_recipe.latent_dim, cfg.hidden_units), inputs, targets, cfg.head_learning_rate, draw)
        record("b", head, codes, labels, test_codes)
        seed_everything(INIT_SEED)
        net = end_to_end()
        groups = [{"params": net.encoder.parameters(), "lr": cfg.encoder_learning_rate}, {"params": net.head.parameters()}]
        train.fit_few_labels(net, images, labels, num_steps=cfg.finetune_steps, batch_size=BATCH_IMAGES,
                             learning_rate=cfg.head_learning_rate, seed=draw, device=device, augment=_augment,
                             param_groups=groups)  # fmt: skip
        record("c", net, images, labels, test_x)
        seed_everything(INIT_SEED)  # the control: (c)'s network, head initialisation and schedule, encoder frozen
        net = end_to_end(freeze_encoder=True)
        train.fit_few_labels(net, images, labels, num_steps=cfg.finetune_steps, batch_size=BATCH_IMAGES,
                             learning_rate=cfg.head_learning_rate, seed=draw, device=device, augment=_augment)  # fmt: skip
        record("c0", net, images, labels, test_x)
        classifier, history = semi_supervised.self_trained_classifier(self_training, draw, ae_recipe, device, test_size)
        record("d", classifier, images[..., 2:30, 2:30], labels, test_x[..., 2:30, 2:30])
        rounds.append(history)

    shapes = {"a": (ae_recipe.latent_dim,), "b": (ae_recipe.latent_dim,), "c": (1, 32, 32), "d": (1, 28, 28)}
    nets = {
        "a": nn.Sequential(copy.deepcopy(standardize), models.MLPHead(ae_recipe.latent_dim, 0)),
        "b": nn.Sequential(copy.deepcopy(standardize), _our_mlp(ae_recipe.latent_dim, cfg.hidden_units)),
        "c": end_to_end(),
        "d": models.DigitClassifier(),
    }
    architectures = {
        k: (plots.architecture_rows(net, shapes[k]), sum(p.numel() for p in net.parameters() if p.requires_grad),
            "×".join(map(str, shapes[k])))
        for k, net in nets.items()
    }  # fmt: skip
    return P1Result(
        cfg, ae_recipe, ae_history, self_training, test_size, test_acc, train_acc,
        {k: np.array(v) for k, v in per_class.items()}, rounds, architectures, graph_same_digit, len(pool_y),
        recon_recognised, real_recognised,
    )  # fmt: skip


# --- what the report shows -----------------------------------------------------------------


def _pct(values) -> str:
    """Accuracy as "mean% ± sd%" (sample sd), one decimal everywhere."""
    mean, sd = mean_std(values)
    return f"{100 * mean:.1f}% ± {100 * sd:.1f}%"


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "−")


def paired(result: P1Result, first: str, second: str) -> dict:
    """Per-draw difference of test accuracy (same labelled images): mean, sample sd, draws won by ``first``."""
    diffs = np.array(result.test_acc[first]) - np.array(result.test_acc[second])
    mean, sd = mean_std(diffs)
    return {"mean": mean, "std": sd, "wins": int((diffs > 0).sum()), "losses": int((diffs < 0).sum())}


def _verdict(result: P1Result, first: str, second: str) -> str:
    """'better in 10 of 10 draws' / 'worse in 9 of 10 draws' / 'no consistent winner (6 of 10 draws better)'."""
    d, n = paired(result, first, second), result.cfg.num_draws
    if d["wins"] >= 0.8 * n:
        return f"better in {d['wins']} of {n} draws"
    if d["losses"] >= 0.8 * n:
        return f"worse in {d['losses']} of {n} draws"
    return f"no consistent winner ({d['wins']} of {n} draws better)"


FONT = 9  # figures are drawn at about the text width (6.3 in), so 9 pt stays 9 pt in print
SHOWN_SCHEMES = ("a", "b", "c", "d")  # the per-digit figure leaves out the two controls


def ae_figure(result: P1Result) -> plt.Figure:
    history = result.ae_history
    epochs = np.arange(1, len(history["test_bce"]) + 1)
    fig, axes = plt.subplots(1, 2, figsize=(6.3, 2.6))
    axes[0].plot(epochs, history["train_bce"], "o-", ms=3, label="training (noisy inputs)")
    axes[0].plot(epochs, history["test_bce"], "s--", ms=3, label="test (clean inputs)")
    axes[0].set_xlabel("epoch", fontsize=FONT)
    axes[0].set_ylabel("cross-entropy per pixel", fontsize=FONT)
    axes[0].set_title("(a) binary cross-entropy", fontsize=FONT)
    axes[1].plot(epochs, history["test_mse"], "s--", ms=3, color="C1")
    axes[1].set_xlabel("epoch", fontsize=FONT)
    axes[1].set_ylabel("test MSE (28×28 region)", fontsize=FONT)
    axes[1].set_title("(b) test reconstruction error", fontsize=FONT)
    axes[0].legend(fontsize=FONT - 0.5)
    for ax in axes:
        ax.set_xticks(epochs[1::2] if len(epochs) > 8 else epochs)
        ax.tick_params(labelsize=FONT)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def denoising_figure(result: P1Result, device: torch.device) -> plt.Figure:
    """Eight test digits: noisy input, the auto-encoder's output, the clean original."""
    model, _ = autoencoder.course_autoencoder(result.ae_recipe, device, result.test_size)
    test_x, _ = zoo.mnist_images("test", result.test_size)
    shown = test_x[:8]
    noisy = shown + result.ae_recipe.noise_std * torch.randn(shown.shape, generator=torch.Generator().manual_seed(0))
    denoised = train.predict(model, noisy, device)
    crop = lambda images: list(images[..., 2:30, 2:30])  # noqa: E731 - the 28x28 digit inside the padding
    return plots.image_rows([crop(noisy.clamp(0, 1)), crop(denoised), crop(shown)],
                            ["noisy input", "output", "clean original"], "", cell_inches=0.6, label_size=10)  # fmt: skip


def architecture_rows(result: P1Result) -> list[list]:
    """One block per scheme; the encoder of (c), the auto-encoder's (described above), is one row."""
    rows = []
    for key in ("a", "b", "c", "d"):
        layer_rows, trainable, shape = result.architectures[key]
        rows.append([f"{SHORT[key]} input {shape}", "", "", f"{trainable:,} trainable"])
        encoder = [row for row in layer_rows if row[0] == "encoder"]
        if encoder:
            params = sum(int(row[3].replace(",", "")) for row in encoder)
            rows.append(["", "the course encoder (4 convolutions, fully connected 384 → 64)", encoder[-1][2],
                         f"{params:,}"])  # fmt: skip
        rows += [["", words, out, params] for part, words, out, params in layer_rows if part != "encoder"]
    return rows


def accuracy_rows(result: P1Result) -> list[list]:
    return [[SCHEMES[k], _pct(result.train_acc[k]), _pct(result.test_acc[k])] for k in SCHEMES]


def rounds_rows(result: P1Result) -> list[list]:
    """Scheme (d) round by round, mean ± sd over draws: training pool, right spread labels, test accuracy."""
    shares = result.self_training.keep_shares
    spread = np.array([r["pseudo_accuracy"] for r in result.rounds])  # (draws, rounds): codes, then after rounds 1..R-1
    tests = np.array([r["test_accuracy"] for r in result.rounds])
    kept = np.array([r["kept"] for r in result.rounds])
    rows = []
    for i, share in enumerate(shares):
        graph = "encoder codes" if i == 0 else f"CNN of round {i}"
        rows.append([i + 1, graph, _pct(spread[:, i]), f"{100 * share:.0f}% ({kept[:, i].mean():,.0f})", _pct(tests[:, i])])
    return rows


def per_class_figure(result: P1Result) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.3, 2.7))
    width = 0.8 / len(SHOWN_SCHEMES)
    for i, key in enumerate(SHOWN_SCHEMES):
        values = 100 * result.per_class[key]
        ax.bar(np.arange(10) + (i - (len(SHOWN_SCHEMES) - 1) / 2) * width, values.mean(0), width,
               yerr=values.std(0, ddof=1) if len(values) > 1 else None, capsize=1.5, label=SHORT[key])  # fmt: skip
    ax.set_xlabel("digit", fontsize=FONT)
    ax.set_ylabel("test accuracy (%)", fontsize=FONT)
    ax.set(xticks=range(10), ylim=(0, 105))
    ax.tick_params(labelsize=FONT)
    ax.legend(fontsize=FONT, ncol=len(SHOWN_SCHEMES), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _best_phrase(result: P1Result, means: dict[str, float]) -> str:
    """The handout scheme with the best mean test accuracy, and those it does not beat consistently."""
    leader = max(("a", "b", "c"), key=means.get)
    n = result.cfg.num_draws
    level = [k for k in ("a", "b", "c") if k == leader or paired(result, leader, k)["wins"] < 0.8 * n]
    if len(level) == 1:
        return f"The best of the three is {SHORT[leader]}"
    return f"{' and '.join(SHORT[k] for k in level)} are level: neither wins in 80% of the draws"


def summary(result: P1Result) -> dict[str, str]:
    """The values the prose quotes, as text."""
    cfg, h, st = result.cfg, result.ae_history, result.self_training
    test = {k: np.array(v) for k, v in result.test_acc.items()}
    spread = np.array([r["pseudo_accuracy"] for r in result.rounds])
    worst_recon = int(np.argmin(result.recon_recognised))
    fits_all = all(min(result.train_acc[k]) == 1.0 for k in ("a", "b0", "b", "c"))
    means = {k: float(np.mean(v)) for k, v in result.test_acc.items()}
    out = {
        "ae_epochs": str(result.ae_recipe.num_epochs),
        "ae_train_size": f"{result.ae_recipe.train_size:,}",
        "ae_lr": f"{result.ae_recipe.learning_rate:g}",
        "ae_test_bce": f"{h['test_bce'][-1]:.4f}",
        "ae_test_mse": f"{h['test_mse'][-1]:.4f}",
        "ae_third_epochs": str(max(1, len(h["test_mse"]) // 3)),
        "ae_test_mse_third": f"{h['test_mse'][max(1, len(h['test_mse']) // 3) - 1]:.4f}",
        "ae_test_bce_third": f"{h['test_bce'][max(1, len(h['test_bce']) // 3) - 1]:.4f}",
        "recon_recognised": f"{100 * float(np.mean(result.recon_recognised)):.1f}%",
        "real_recognised": f"{100 * float(np.mean(result.real_recognised)):.1f}%",
        "worst_recon_digit": str(worst_recon),
        "worst_recon_share": f"{100 * result.recon_recognised[worst_recon]:.1f}%",
        "num_labels": str(cfg.num_labels),
        "per_class_labels": str(cfg.num_labels // 10),
        "num_draws": str(cfg.num_draws),
        "last_draw": str(cfg.num_draws - 1),
        "test_size": f"{result.test_size:,}",
        "pool_size": f"{result.pool_size:,}",
        "augment_copies": str(cfg.augment_copies),
        "head_steps": str(cfg.head_steps),
        "finetune_steps": str(cfg.finetune_steps),
        "hidden_units": str(cfg.hidden_units),
        "encoder_lr": f"{cfg.encoder_learning_rate:g}",
        "head_lr": f"{cfg.head_learning_rate:g}",
        "linear_lr": f"{cfg.linear_learning_rate:g}",
        "fit_phrase": "fit all" if fits_all else "do not all fit all",
        "best_phrase": _best_phrase(result, means),
        "train_acc_d": _pct(result.train_acc["d"]),
        "graph_same_digit": f"{100 * result.graph_same_digit:.1f}%",
        "spread_codes": _pct(spread[:, 0]),
        "spread_last": _pct(spread[:, -1]),
        "num_rounds": str(len(st.keep_shares)),
        "round_epochs": str(st.epochs_per_round),
        "num_neighbours": str(st.num_neighbours),
        "spreading_iterations": str(st.spreading_iterations),
        "keep_shares": ", ".join(f"{100 * s:.0f}%" for s in st.keep_shares),
        "d_worst_draw": f"{100 * test['d'].min():.1f}%",
        "first_share": f"{100 * st.keep_shares[0]:.0f}%",
        "d_vs_labels": "above" if test["d"].mean() > spread[:, -1].mean() else "below",
    }
    for key in SCHEMES:
        out[f"test_{key}"] = _pct(test[key])
        out[f"train_{key}"] = _pct(result.train_acc[key])
    for first, second, _ in COMPARISONS:
        d = paired(result, first, second)
        out[f"diff_{first}_{second}"] = f"{_signed(100 * d['mean'])} ± {100 * d['std']:.1f} points"
        out[f"verdict_{first}_{second}"] = _verdict(result, first, second)
    effect = paired(result, "c", "c0")
    n = cfg.num_draws
    out["encoder_training_effect"] = (
        "helps" if effect["wins"] >= 0.8 * n else "hurts" if effect["losses"] >= 0.8 * n else "makes no consistent difference"
    )
    hardest = {k: int(np.argmin(result.per_class[k].mean(0))) for k in SCHEMES}
    out["hardest_b"] = f"{hardest['b']} ({100 * result.per_class['b'].mean(0)[hardest['b']]:.0f}%)"
    out["hardest_d"] = f"{hardest['d']} ({100 * result.per_class['d'].mean(0)[hardest['d']]:.0f}%)"
    return out


def metrics(result: P1Result) -> dict:
    return {
        "profile": result.cfg.profile,
        "settings": result.cfg.model_dump(exclude={"device"}),
        # timings differ between identical builds; the metrics keep only what the seeds determine
        "autoencoder": {"recipe": asdict(result.ae_recipe), **{k: v for k, v in result.ae_history.items() if k != "seconds"}},
        "self_training_recipe": asdict(result.self_training),
        "schemes": SCHEMES,
        "test_acc": result.test_acc,
        "train_acc": result.train_acc,
        "mean_test_acc": {k: float(np.mean(v)) for k, v in result.test_acc.items()},
        "std_test_acc": {k: mean_std(v)[1] for k, v in result.test_acc.items()},
        "mean_train_acc": {k: float(np.mean(v)) for k, v in result.train_acc.items()},
        "per_class_mean_test_acc": {k: v.mean(0) for k, v in result.per_class.items()},
        "paired_differences": {f"{a}-{b}": paired(result, a, b) for a, b, _ in COMPARISONS},
        "self_training_rounds": [{k: v for k, v in r.items() if k != "seconds"} for r in result.rounds],
        "graph_same_digit_share": result.graph_same_digit,
        "reconstructions_recognised_per_digit": result.recon_recognised,
        "real_recognised_per_digit": result.real_recognised,
        "draw_seeds": list(range(result.cfg.num_draws)),
    }
