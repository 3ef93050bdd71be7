"""Problem 2 of idl_ex3, a GAN in the latent space of the course auto-encoder, as functions:
:func:`p2_latent_gan` loads the trained GANs of both generator designs (every training seed)
and scores their samples, the real test and training images and the auto-encoder's
reconstructions with both judges; the figure, row and summary functions turn its result into
what the report shows.  Every model comes from :mod:`lib.idl_ex3.gan` and
:mod:`lib.idl_ex3.autoencoder` (cached)."""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from lib import judging, models, paths, plots, train, zoo
from lib.analysis import mean_std
from lib.idl_ex3 import P2Settings, autoencoder, gan

DESIGNS = ("linear", "range")  # the generator's last layer (lib.idl_ex3.gan)
DESIGN_NAMES = {"linear": "linear-output design", "range": "range-matched design"}
GAN_NAMES = {"linear": "linear-output GAN", "range": "range-matched GAN"}
SAMPLE_SEED = 1000  # the noise draw every trained GAN is scored on: the same noise vectors for every GAN
GRID_SEED = 12345  # the fixed noise of the sample grid
GRID_COLUMNS = 10
GRID_ROWS_PER_DESIGN = 2
CHECKPOINT_NAME = "latent_gan.pt"
DECODER_ARGS = {"latent_dim": 64, "channels": (16, 32, 64, 96)}  # the course decoder's constructor arguments
# A digit is under- (over-) produced when its share of the samples, averaged over the training seeds, is below 0.8
# (above 1.2) times its share of the real test images.
UNDER, OVER = 0.8, 1.2
# The marking rule for failed samples: an image is flagged when either judge's largest class probability is below
# FLAG_CONFIDENCE, when the two judges read different digits, or when the judge's features of the image lie farther
# from the nearest real training digit (a bank of training images not used elsewhere) than those of FLAG_PERCENTILE %
# of the real test images.
FLAG_CONFIDENCE = 0.9
FLAG_PERCENTILE = 95
BANK_FACTOR = 2  # the bank of real training digits holds this many times the reference sets' size
REFERENCES = {"real test": "real test images", "real train": "real training images", "recon": "reconstructions"}
MINUS = "\N{MINUS SIGN}"


@dataclass
class Readings:
    """Per image: both judges' digit and largest class probability, and the judge's feature distance to the
    nearest real training digit of the bank."""

    digit: np.ndarray
    confidence: np.ndarray
    second: np.ndarray
    second_confidence: np.ndarray
    distance: np.ndarray

    def part(self, index: slice) -> Readings:
        return Readings(*(getattr(self, k)[index] for k in self.__dataclass_fields__))

    def unsure(self, threshold: float = FLAG_CONFIDENCE) -> np.ndarray:
        return np.minimum(self.confidence, self.second_confidence) < threshold

    @property
    def disagree(self) -> np.ndarray:
        return self.digit != self.second

    def far(self, limit: float) -> np.ndarray:
        return self.distance > limit

    def flagged(self, limit: float) -> np.ndarray:
        """The marking rule (FLAG_CONFIDENCE, disagreement, distance above ``limit``)."""
        return self.unsure() | self.disagree | self.far(limit)


@dataclass
class SetScore:
    """Both judges' verdict on one set of images."""

    fd: float  # Frechet distance to the real test images, the judge's 128 penultimate features
    inception: float  # the judge's Inception-Score-style value, mean over 10 splits
    unclaimed: float  # share of images whose largest class probability (judge) is below the threshold
    shares: np.ndarray  # (11,) share of the images the judge claims for each digit, then the unclaimed share
    fd2: float  # the same with the second judge (its 64 pooled features)
    inception2: float
    disagree: float  # share of images the two judges read as different digits
    flagged: float  # share of images the marking rule flags
    outside: float = 0.0  # share of codes with a coordinate outside the [min, max] of the real training codes

    def class_distance(self, reference: np.ndarray) -> float:
        """Total-variation distance between the 11 shares and ``reference`` (0 = same mix, 1 = disjoint)."""
        return judging.class_mix_distance(self.shares, reference)

    def as_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in self.__dict__.items()}


@dataclass
class P2Result:
    profile: str
    seeds: list[int]
    num_samples: int
    reference_size: int  # images in each real reference set
    threshold: float
    far_limit: float  # the feature distance above which the marking rule flags an image
    recipes: dict[str, gan.GANRecipe]  # per design, the first seed's recipe
    ae_recipe: autoencoder.CourseAERecipe
    judge_accuracy: tuple[float, float]  # both judges, on the test images
    references: dict[str, SetScore]
    scores: dict[str, dict[int, SetScore]]  # design -> training seed -> score
    histories: dict[str, dict[int, dict]]
    pairs: dict[str, gan.GANPair]  # per design, the first training seed's GAN
    decoder: nn.Module
    grid: dict[str, torch.Tensor]  # row name -> images
    grid_readings: dict[str, Readings]
    architecture: list[list]
    test_outside: float  # real test codes with a coordinate outside the training codes' range
    spread: np.ndarray  # (10,) class_spread of the real test codes

    def values(self, design: str, name: str) -> list[float]:
        return [getattr(self.scores[design][s], name) for s in self.seeds]

    def fd_verdict(self, name: str = "fd") -> tuple[str, str, float, float, bool]:
        """(lower design, other design, gap of the means, sum of both designs' seed sd, gap > that sum)."""
        mean = {d: mean_std(self.values(d, name)) for d in DESIGNS}
        lower = min(DESIGNS, key=lambda d: mean[d][0])
        other = next(d for d in DESIGNS if d != lower)
        gap, spread = mean[other][0] - mean[lower][0], mean[lower][1] + mean[other][1]
        return lower, other, gap, spread, gap > spread

    @property
    def chosen(self) -> str:
        """The design handed in: the one with the lower mean judge FD."""
        return self.fd_verdict()[0]

    def shares(self, design: str) -> np.ndarray:
        """(seeds, 11) class shares of every trained GAN of ``design``."""
        return np.array([self.scores[design][s].shares for s in self.seeds])


# --- scoring ---------------------------------------------------------------------------


def _nearest_distance(features: torch.Tensor, bank: torch.Tensor, chunk: int = 1000) -> np.ndarray:
    """Per row of ``features``, the Euclidean distance to the nearest row of ``bank``."""
    return torch.cat([torch.cdist(features[i : i + chunk], bank).min(1).values for i in range(0, len(features), chunk)]).numpy()


class Scorer:
    """Both judges, the real test images' features (the FD reference) and the bank of real training digits."""

    def __init__(self, judges, test_images, bank_images, threshold: float, device: torch.device):
        self.judges, self.threshold, self.device = judges, threshold, device
        self.test_features = tuple(judging.judge_outputs(j, test_images, device)[1] for j in judges)
        self.bank = judging.judge_outputs(judges[0], bank_images, device)[1]
        self.far_limit = float(np.percentile(_nearest_distance(self.test_features[0], self.bank), FLAG_PERCENTILE))

    def readings(self, images: torch.Tensor) -> tuple[Readings, tuple]:
        (probs, features), (probs2, features2) = (judging.judge_outputs(j, images, self.device) for j in self.judges)
        top, top2 = probs.max(1), probs2.max(1)
        reading = Readings(top.indices.numpy(), top.values.numpy(), top2.indices.numpy(), top2.values.numpy(),
                           _nearest_distance(features, self.bank))  # fmt: skip
        return reading, (probs, features, probs2, features2)

    def score(self, images: torch.Tensor, outside: float = 0.0) -> SetScore:
        reading, (probs, features, probs2, features2) = self.readings(images)
        return SetScore(
            fd=judging.frechet_distance(features, self.test_features[0]),
            inception=judging.inception_score(probs)[0],
            unclaimed=float((reading.confidence < self.threshold).mean()),
            shares=judging.claimed_shares(probs, self.threshold),
            fd2=judging.frechet_distance(features2, self.test_features[1]),
            inception2=judging.inception_score(probs2)[0],
            disagree=float(reading.disagree.mean()),
            flagged=float(reading.flagged(self.far_limit).mean()),
            outside=outside,
        )


def _outside_share(generator: gan.LatentGenerator, codes: torch.Tensor) -> float:
    """Share of ``codes`` (N, latent_dim) with at least one coordinate outside the [min, max] that
    coordinate spans over the real training codes (the generator's buffers)."""
    low, high = generator.code_min.cpu(), generator.code_max.cpu()
    return ((codes < low) | (codes > high)).any(1).float().mean().item()


def class_spread(generator: gan.LatentGenerator, codes: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """Per digit, the mean distance of real codes to their class mean, in standardised code units
    (each coordinate divided by its sd over the real training codes): how tightly a class is packed."""
    z = ((codes - generator.code_mean.cpu()) / generator.code_std.cpu()).double()
    return np.array([(z[labels == d] - z[labels == d].mean(0)).norm(dim=1).mean().item() for d in range(10)])


def architecture_rows(pair: dict[str, gan.GANPair]) -> list[list]:
    """The layer table: widths and parameters of both generators and of the discriminator."""

    def widths(net: nn.Module) -> str:
        linear = [m for m in net.modules() if isinstance(m, nn.Linear)]
        return " → ".join(str(n) for n in [linear[0].in_features, *(m.out_features for m in linear)])

    rows = [
        ["generator, linear-output design", widths(pair["linear"].generator.net), "linear, then × sd + mean",
         models.count_parameters(pair["linear"].generator)],
        ["generator, range-matched design", widths(pair["range"].generator.net), "tanh, scaled to [min, max]",
         models.count_parameters(pair["range"].generator)],
        ["discriminator (both designs)", widths(pair["linear"].discriminator), "linear: one logit",
         models.count_parameters(pair["linear"].discriminator)],
    ]  # fmt: skip
    return [[name, width, words, f"{params:,}"] for name, width, words, params in rows]


def p2_latent_gan(cfg: P2Settings, device: torch.device) -> P2Result:
    """Load the course auto-encoder, both judges and every GAN (design x training seed); score one
    noise draw of ``cfg.num_samples`` samples per GAN and the real-data references; draw the grid."""
    ae_recipe = autoencoder.recipe(cfg.profile)
    test_size = autoencoder.TEST_IMAGES[cfg.profile]
    ae, _ = autoencoder.course_autoencoder(ae_recipe, device, test_size)
    judges = autoencoder.judges(cfg.profile, device)
    test_x, test_y = zoo.mnist_images("test", test_size)
    size = min(cfg.num_samples, test_size)  # every real reference set has as many images as a generated set
    shuffled, _ = zoo.mnist_images("train", (1 + BANK_FACTOR) * size)  # a prefix of one fixed shuffle of the split
    train_x, bank = shuffled[:size], shuffled[size:]  # the real training set, then the bank: disjoint
    accuracy = tuple(train.evaluate_accuracy(j, judging.judge_view(test_x), test_y, device) for j in judges)
    scorer = Scorer(judges, test_x[:size], bank, cfg.confidence_threshold, device)
    sets = {"real test": test_x[:size], "real train": train_x, "recon": train.predict(ae, train_x, device)}
    references = {name: scorer.score(images) for name, images in sets.items()}
    noise_dim = gan.gan_recipe(cfg.profile, DESIGNS[0], cfg.gan_seeds[0]).noise_dim
    grid_noise = torch.randn(GRID_COLUMNS * GRID_ROWS_PER_DESIGN, noise_dim, generator=torch.Generator().manual_seed(GRID_SEED))
    grid = {"real test": test_x[:GRID_COLUMNS], "recon": train.predict(ae, test_x[:GRID_COLUMNS], device)}
    scores, histories, pairs, recipes = {}, {}, {}, {}
    for design in DESIGNS:
        scores[design], histories[design] = {}, {}
        for seed in cfg.gan_seeds:
            recipe = gan.gan_recipe(cfg.profile, design, seed)
            pair, histories[design][seed] = gan.latent_gan(recipe, ae_recipe, device, test_size)
            codes = gan.sample_codes(pair.generator, cfg.num_samples, device, seed=SAMPLE_SEED)
            images = gan.decode(ae.decoder, codes, device)
            scores[design][seed] = scorer.score(images, _outside_share(pair.generator, codes))
            if design not in pairs:
                pairs[design], recipes[design] = pair, recipe
                grid[design] = gan.decode(ae.decoder, gan.sample_codes(pair.generator, 0, device, noise=grid_noise), device)
    grid_readings = {name: scorer.readings(images)[0] for name, images in grid.items()}
    test_codes = train.predict(ae.encoder, test_x[:size], device)
    generator = pairs[DESIGNS[0]].generator  # any GAN: they hold the same real-code statistics
    return P2Result(cfg.profile, list(cfg.gan_seeds), cfg.num_samples, size, cfg.confidence_threshold, scorer.far_limit,
                    recipes, ae_recipe, accuracy, references, scores, histories, pairs, ae.decoder, grid, grid_readings,
                    architecture_rows(pairs), _outside_share(generator, test_codes),
                    class_spread(generator, test_codes, test_y[:size]))  # fmt: skip


def save_chosen_sampler(result: P2Result, device: torch.device) -> str:
    """Write the chosen design's first-seed generator and the decoder as the hand-in sampler
    checkpoint, check that :func:`gan.load_sampler` reproduces its images; the file's name in the report folder."""
    pair = result.pairs[result.chosen]
    path = gan.save_sampler(paths.exported_models_dir("idl_ex3") / CHECKPOINT_NAME, pair.generator, result.decoder, DECODER_ARGS)
    reloaded = gan.load_sampler(path, device, image_size=32)(16, seed=7)
    expected = gan.sample_images(pair.generator, result.decoder, 16, device, seed=7)
    if not torch.allclose(reloaded, expected, atol=1e-5):
        raise AssertionError(f"{path}: the reloaded sampler does not reproduce the generator's images")
    return f"idl_ex3/models/{CHECKPOINT_NAME}"


# --- text: one format per kind of number ---------------------------------------------------


def _signed(text: str) -> str:
    """A true minus sign for negative numbers."""
    return text.replace("-", MINUS)


def _fixed(values, decimals: int, scale: float = 1.0, unit: str = "") -> str:
    """A value, or "mean ± sd" (sample sd over the training seeds) of several, with fixed decimals."""
    values = np.atleast_1d(np.asarray(values, dtype=float)) * scale
    if len(values) == 1:
        return _signed(f"{values[0]:.{decimals}f}{unit}")
    mean, sd = values.mean(), values.std(ddof=1)
    return _signed(f"{mean:.{decimals}f}{unit} ± {sd:.{decimals}f}{unit}")


def _fd(values) -> str:
    return _fixed(values, 1)


def _fd2(values) -> str:
    return _fixed(values, 2)


def _is(values) -> str:
    return _fixed(values, 2)


def _pct(values, unit: str = "%") -> str:
    return _fixed(values, 1, 100, unit)


def _d(values) -> str:
    """Discriminator outputs and their gaps."""
    return _fixed(values, 3)


# --- text: glued values -----------------------------------------------------------------


def _final(result: P2Result, design: str, key: str) -> list[float]:
    return [result.histories[design][s][key][-1] for s in result.seeds]


def _gap(result: P2Result, design: str, epoch: int) -> list[float]:
    """Per training seed, D(real) - D(fake) in one epoch."""
    return [result.histories[design][s]["d_real"][epoch] - result.histories[design][s]["d_fake"][epoch] for s in result.seeds]


GAP_TOLERANCE = 0.03  # a change of the discriminator's gap below this counts as none


def _trend(first: list[float], last: list[float], tolerance: float = GAP_TOLERANCE) -> str:
    """How the discriminator's gap moved from the first to the last epoch (mean over seeds)."""
    change = float(np.mean(last) - np.mean(first))
    if abs(change) < tolerance:
        return "stays about the same"
    return f"{'widens' if change > 0 else 'narrows'} by {abs(change):.2f}"


def _seeds_moving_with_the_mean(first: list[float], last: list[float]) -> int:
    """How many training seeds' own gap moved the way the mean moved, by the tolerance or more."""
    moved = np.asarray(last) - np.asarray(first)
    return int((np.sign(moved.mean()) * moved >= GAP_TOLERANCE).sum())


def _lead(first: list[float], last: list[float]) -> str:
    """The discriminator's lead in a few words, from the same change as :func:`_trend`; a
    change is named only when every training seed's own gap moved that way by the tolerance,
    since a mean moved by one or two seeds is no verdict on the design."""
    words = {"stays": "keeps its lead", "widens": "widens its lead", "narrows": "loses part of its lead"}
    trend = _trend(first, last).split()[0]
    if trend != "stays" and _seeds_moving_with_the_mean(first, last) < len(first):
        return f"keeps its lead (on average it {trend}, but not for every training seed)"
    return words[trend]


def _gap_path(result: P2Result, design: str) -> str:
    """The gap's course over the whole run: its range over the epochs and its last epoch against
    its first (epoch means over the seeds), so that a swing in between is not called steady; then
    its last value, and for a change the training seeds whose own gap moved that way by the tolerance or more."""
    epochs = len(result.histories[design][result.seeds[0]]["d_real"])
    means = [float(np.mean(_gap(result, design, epoch))) for epoch in range(epochs)]
    change = means[-1] - means[0]
    last = _d(_gap(result, design, -1))
    if abs(change) < GAP_TOLERANCE:
        ending = f"ends at {last}, about where it started"
    else:
        word, verb = ("wider", "widen") if change > 0 else ("narrower", "narrow")
        moving = _seeds_moving_with_the_mean(_gap(result, design, 0), _gap(result, design, -1))
        agreeing = f"{moving} of {len(result.seeds)} training seeds"
        ending = (f"ends at {last}, {abs(change):.2f} {word} than after the first epoch "
                  f"({agreeing} {verb} by {GAP_TOLERANCE:g} or more)")  # fmt: skip
    return f"moves between {min(means):.2f} and {max(means):.2f} over the {epochs} epochs (means over seeds) and {ending}"


def _mode_report(result: P2Result, design: str) -> dict[str, str]:
    """The digits a design under- or over-produces on average over the training seeds, with their shares."""
    real = result.references["real test"].shares
    per_seed = result.shares(design)
    present = real[:10] > 0  # a digit the judge never claims among real images has no share to compare with
    ratio = np.where(present, per_seed.mean(0)[:10] / np.where(present, real[:10], 1.0), 1.0)

    mean = per_seed.mean(0)

    def listed(digits) -> str:
        parts = [f"{d} ({100 * mean[d]:.1f}%, real {100 * real[d]:.1f}%)" for d in digits]
        return ", ".join(parts) if parts else "no digit"

    under = listed([d for d in np.argsort(ratio) if ratio[d] < UNDER])
    over = listed([d for d in np.argsort(-ratio) if ratio[d] > OVER])
    return {f"modes_{design}": f"under-produces {under} and over-produces {over}"}


def _late(result: P2Result, design: str) -> dict[str, str]:
    """How the discriminator's gap moves over the last two epochs, and what that says about its lead."""
    epochs = len(result.histories[design][result.seeds[0]]["d_real"])
    trend = _trend(_gap(result, design, max(0, epochs - 3)), _gap(result, design, -1))
    meaning = {
        "stays": "the discriminator is no longer pulling ahead at the end",
        "widens": "the discriminator is still pulling ahead at the end",
        "narrows": "the generator is catching up at the end",
    }
    return {f"d_gap_late_{design}": trend, f"d_late_meaning_{design}": meaning[trend.split()[0]]}


def _seed_list(seeds: list[int]) -> str:
    """ "0–2" for consecutive seeds, else "0, 3, 7"."""
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def _verdict(result: P2Result) -> dict[str, str]:
    lower, other, gap, spread, separated = result.fd_verdict()
    lower2, _, gap2, spread2, separated2 = result.fd_verdict("fd2")
    worst_lower, best_other = max(result.values(lower, "fd")), min(result.values(other, "fd"))
    return {
        "verdict_short": f"the {DESIGN_NAMES[lower]} is the better one" if separated else "neither design is shown to be better",
        "fd_gap": f"{gap:.1f}",
        "fd_sd_sum": f"{spread:.1f}",
        "verdict": (
            f"the {DESIGN_NAMES[lower]} is the better one: its mean FD is lower by {gap:.1f}, against {spread:.1f} for "
            "the two seed standard deviations together"
            if separated
            else f"neither design is shown to be better: the {DESIGN_NAMES[lower]}'s mean FD is lower by {gap:.1f}, "
            f"against {spread:.1f} for the two seed standard deviations together"
        ),
        "seed_overlap": (
            f"even its worst training seed (FD {worst_lower:.1f}) is better than the {DESIGN_NAMES[other]}'s best "
            f"({best_other:.1f})"
            if worst_lower < best_other
            else f"the two designs' seeds overlap (worst {DESIGN_NAMES[lower]} seed: FD {worst_lower:.1f}; best "
            f"{DESIGN_NAMES[other]} seed: {best_other:.1f})"
        ),
        "fd2_verdict": (
            f"ranks the {DESIGN_NAMES[lower2]} first as well"
            if lower2 == lower
            else f"ranks the {DESIGN_NAMES[lower2]} first instead"
        )
        + (
            f", with a gap ({gap2:.2f}) larger than the seeds' spread ({spread2:.2f})"
            if separated2
            else f", with a gap ({gap2:.2f}) within the seeds' spread ({spread2:.2f})"
        ),  # fmt: skip
        "chosen_design": DESIGN_NAMES[result.chosen],
    }


def p2_summary(result: P2Result) -> dict[str, str]:
    """Every value the prose quotes."""
    ref = result.references
    recipe = result.recipes[DESIGNS[0]]
    real = ref["real test"].shares
    out = {
        "num_seeds": str(len(result.seeds)),
        "seed_list": _seed_list(result.seeds),
        "num_samples": f"{result.num_samples:,}",
        "threshold": f"{result.threshold:g}",
        "flag_confidence": f"{FLAG_CONFIDENCE:g}",
        "flag_percentile": f"{FLAG_PERCENTILE:g}%",
        "bank_size": f"{BANK_FACTOR * result.reference_size:,}",
        "judge_accuracy": _pct(result.judge_accuracy[0]),
        "judge2_accuracy": _pct(result.judge_accuracy[1]),
        "ae_epochs": plots.count(result.ae_recipe.num_epochs, "epoch"),
        "gan_epochs": plots.count(recipe.num_epochs, "epoch"),
        "gan_batch": str(recipe.batch_size),
        "gan_lr": f"{recipe.learning_rate:g}",
        "noise_dim": str(recipe.noise_dim),
        "hidden": " and ".join(map(str, recipe.hidden_units)),
        "disc_hidden": " and ".join(map(str, recipe.disc_hidden_units)),
        "train_codes": f"{result.ae_recipe.train_size:,}",
        "decoder_params": f"{models.count_parameters(result.decoder):,}",
        "fd_recon": _fd(ref["recon"].fd),
        "fd_floor": _fd(ref["real train"].fd),
        "flagged_test": _pct(ref["real test"].flagged),
        "flagged_recon": _pct(ref["recon"].flagged),
        "unclaimed_test": _pct(ref["real test"].unclaimed),
        "unclaimed_recon": _pct(ref["recon"].unclaimed),
        "tv_recon": _pct(ref["recon"].class_distance(real)),
        "tv_floor": _pct(ref["real train"].class_distance(real)),
        "real_share_range": f"{100 * real[:10].min():.1f}–{100 * real[:10].max():.1f}%",
        "is_recon": _is(ref["recon"].inception),
        "grid_total": str(GRID_COLUMNS * GRID_ROWS_PER_DESIGN),
        "outside_test": _pct(result.test_outside),
        **_verdict(result),
    }
    bound = float(np.mean([0.5 * (1 - result.scores["linear"][s].outside) for s in result.seeds]))
    measured = float(np.mean(_final(result, "linear", "d_fake")))
    out["d_fake_outside_only"] = f"{bound:.2f}"
    out["outside_explains"] = (
        "the cue explains only part of the lead" if measured < bound else "this cue alone could explain the lead"
    )
    for design in DESIGNS:
        d_real, d_fake = _final(result, design, "d_real"), _final(result, design, "d_fake")
        grid = result.grid_readings[design]
        out |= {
            f"fd_{design}": _fd(result.values(design, "fd")),
            f"is_{design}": _is(result.values(design, "inception")),
            f"unclaimed_{design}": _pct(result.values(design, "unclaimed")),
            f"flagged_{design}": _pct(result.values(design, "flagged")),
            f"tv_{design}": _pct([result.scores[design][s].class_distance(real) for s in result.seeds]),
            f"outside_{design}": _pct(result.values(design, "outside")),
            f"d_real_{design}": _d(d_real),
            f"d_fake_{design}": _d(d_fake),
            f"d_gap_first_{design}": _d(_gap(result, design, 0)),
            f"d_gap_path_{design}": _gap_path(result, design),
            f"lead_{design}": _lead(_gap(result, design, 0), _gap(result, design, -1)),
            f"grid_flagged_{design}": str(int(grid.flagged(result.far_limit).sum())),
        }
        out |= _mode_report(result, design) | _late(result, design)
    gaps = {d: np.mean(np.subtract(_final(result, d, "d_real"), _final(result, d, "d_fake"))) for d in DESIGNS}
    out["narrower_gap_design"] = DESIGN_NAMES[min(DESIGNS, key=gaps.get)]
    return out


# --- tables -------------------------------------------------------------------------------

SCORE_HEADERS = ["image set", "FD", "IS", "flagged (%)", "class mix (%)", "FD$_2$"]


def score_rows(result: P2Result) -> list[list]:
    """The scores table: the real-data references, then each design as mean ± sd over training seeds; one format
    per column."""
    real = result.references["real test"].shares
    rows = []
    for name, label in REFERENCES.items():
        s = result.references[name]
        rows.append([label, _fd(s.fd), _is(s.inception), _pct(s.flagged, ""), _pct(s.class_distance(real), ""),
                     _fd2(s.fd2)])  # fmt: skip
    for design in DESIGNS:
        fd, inception, flagged, fd2 = (result.values(design, name) for name in ("fd", "inception", "flagged", "fd2"))
        tv = [result.scores[design][s].class_distance(real) for s in result.seeds]
        rows.append([GAN_NAMES[design], _fd(fd), _is(inception), _pct(flagged, ""), _pct(tv, ""), _fd2(fd2)])
    return rows


# --- figures ------------------------------------------------------------------------------

FIGURE_WIDTH = 6.2  # inches; the report's text is 6.5 in wide, so figures print at (nearly) their own size
FONT = 9


def _band(ax, runs: list[list[float]], label: str, style: str, color) -> None:
    """Mean over training seeds, with the seeds' min-max range shaded."""
    values = np.asarray(runs)
    epochs = np.arange(1, values.shape[1] + 1)
    ax.plot(epochs, values.mean(0), style, markersize=3, label=label, color=color)
    if len(values) > 1:
        ax.fill_between(epochs, values.min(0), values.max(0), color=color, alpha=0.2, lw=0)
    ax.set_xlim(0.5, len(epochs) + 0.5)
    ax.set_xticks(epochs if len(epochs) <= 12 else epochs[:: len(epochs) // 8 + 1])


def discriminator_figure(result: P2Result) -> plt.Figure:
    """D(real) and D(fake) per epoch, one panel per design."""
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 2.7), sharey=True)
    for i, (ax, design) in enumerate(zip(axes, DESIGNS, strict=True)):
        runs = result.histories[design]
        _band(ax, [runs[s]["d_real"] for s in result.seeds], "D(real code)", "-o", "tab:blue")
        _band(ax, [runs[s]["d_fake"] for s in result.seeds], "D(generated code)", "--s", "tab:red")
        ax.axhline(0.5, color="black", lw=0.8, ls=":", label="0.5: no lead")
        ax.set(title=f"({'ab'[i]}) {DESIGN_NAMES[design]}", xlabel="epoch", ylim=(0, 1))
        ax.title.set_fontsize(FONT)
    axes[0].set_ylabel("mean discriminator output")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=FONT, ncol=3, loc="upper center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig


def histogram_figure(result: P2Result) -> plt.Figure:
    """Share of images the judge claims for each digit and for no digit: real test, reconstructions, each design
    (mean ± sd over seeds)."""
    series = {"real test images": [result.references["real test"].shares],
              "auto-encoder reconstructions": [result.references["recon"].shares]}  # fmt: skip
    series |= {GAN_NAMES[design]: result.shares(design) for design in DESIGNS}
    colors = ["0.25", "0.65", "tab:red", "tab:blue"]
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 2.9))
    width = 0.2
    for i, ((label, shares), color) in enumerate(zip(series.items(), colors, strict=True)):
        values = 100 * np.asarray(shares)
        error = values.std(0, ddof=1) if len(values) > 1 else None
        ax.bar(np.arange(11) + (i - 1.5) * width, values.mean(0), width, yerr=error, capsize=2, label=label, color=color,
               error_kw={"elinewidth": 0.8})  # fmt: skip
    ax.axvline(9.5, color="0.4", lw=0.8, ls=":")
    ax.set_xticks(range(11), [*map(str, range(10)), "none"])
    ax.set(xlabel="digit the judge claims (none: largest class probability below " f"{result.threshold:g})",
           ylabel="share of the images (%)")  # fmt: skip
    ax.grid(axis="x", visible=False)
    ax.legend(fontsize=FONT, ncol=2, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def _grid_label(reading: Readings, c: int, limit: float) -> tuple[str, bool]:
    """The text under one image (the judge's digit, ``a/b`` when the second judge reads b, ``?`` when a judge is
    unsure, ``*`` when far from every real digit) and whether the marking rule flags it."""
    text = str(reading.digit[c]) + (f"/{reading.second[c]}" if reading.disagree[c] else "")
    text += ("?" if reading.unsure()[c] else "") + ("*" if reading.far(limit)[c] else "")
    return text, bool(reading.flagged(limit)[c])


def grid_figure(result: P2Result) -> plt.Figure:
    """Real test digits, their reconstructions and both designs' samples from the same fixed noise
    (first training seed); a red frame around every image the marking rule flags."""
    rows = [(result.grid[name], label, result.grid_readings[name])
            for name, label in (("real test", "real test\ndigits"), ("recon", "auto-encoder\nreconstructions"))]  # fmt: skip
    for design in DESIGNS:
        for r in range(GRID_ROWS_PER_DESIGN):
            part = slice(r * GRID_COLUMNS, (r + 1) * GRID_COLUMNS)
            label = f"{DESIGN_NAMES[design].split()[0]}\nsamples {part.start + 1}–{part.stop}"
            rows.append((result.grid[design][part], label, result.grid_readings[design].part(part)))
    # at most 0.45 of the page's text height, so that the report prints it at its own size (fonts stay at FONT)
    fig, axes = plt.subplots(len(rows), GRID_COLUMNS, figsize=(FIGURE_WIDTH, 0.63 * len(rows)), squeeze=False)
    for ax_row, (images, label, reading) in zip(axes, rows, strict=True):
        for c, ax in enumerate(ax_row):
            ax.imshow(images[c, 0, 2:30, 2:30].numpy(), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            text, flagged = _grid_label(reading, c, result.far_limit)
            for spine in ax.spines.values():
                spine.set(color="red" if flagged else "0.7", linewidth=2.2 if flagged else 0.6)
            ax.set_xlabel(text, fontsize=FONT, labelpad=3, color="red" if flagged else "black")
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=FONT)
    fig.tight_layout(pad=0.3, h_pad=0.3, w_pad=0.3)
    return fig


# --- metrics -----------------------------------------------------------------------------


def p2_metrics(result: P2Result, cfg: P2Settings, checkpoint: str) -> dict:
    lower, other, gap, spread, separated = result.fd_verdict()
    return {
        "settings": cfg.model_dump(),
        "noise_seed_of_scored_samples": SAMPLE_SEED,
        "flag_rule": {"confidence": FLAG_CONFIDENCE, "percentile": FLAG_PERCENTILE, "distance_limit": result.far_limit},
        "judge_test_accuracy": result.judge_accuracy[0],
        "second_judge_test_accuracy": result.judge_accuracy[1],
        "references": {name: s.as_dict() for name, s in result.references.items()},
        "per_seed": {d: {str(seed): s.as_dict() for seed, s in runs.items()} for d, runs in result.scores.items()},
        # per-epoch training record without its timings (they differ between identical builds)
        "histories": {
            d: {str(seed): {k: v for k, v in h.items() if k != "seconds"} for seed, h in runs.items()}
            for d, runs in result.histories.items()
        },
        "fd_mean_sd": {d: mean_std(result.values(d, "fd")) for d in DESIGNS},
        "is_mean_sd": {d: mean_std(result.values(d, "inception")) for d in DESIGNS},
        "verdict": {"lower_fd": lower, "other": other, "gap": gap, "sd_sum": spread, "gap_exceeds_spread": separated},
        "chosen_design": result.chosen,
        "checkpoint": checkpoint,
        "real_test_codes_outside_training_range": result.test_outside,
        "class_spread_of_real_test_codes": result.spread,
        "grid": {
            name: {
                "judge": r.digit,
                "confidence": r.confidence,
                "second_judge": r.second,
                "second_confidence": r.second_confidence,
                "distance": r.distance,
                "flagged": r.flagged(result.far_limit),
            }
            for name, r in result.grid_readings.items()
        },  # fmt: skip
    }
