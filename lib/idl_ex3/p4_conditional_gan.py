"""Problem 4 of idl_ex3: a digit-specific generator, a conditional GAN in the latent space of
the course auto-encoder.  :func:`p4_conditional_gan` loads the cached models (the course
auto-encoder, one conditional GAN per training seed, both judges), generates
``samples_per_digit`` images of every digit per seed and measures them; the table, figure and
summary functions turn the result into what the report shows.  :func:`p4_export_sampler`
writes the handed-in sampler checkpoint of the first seed's generator and checks it (silently:
the report does not mention it).

Every measure compares the generated images with references that went through the same
pipeline: real test images of the digit, the auto-encoder's reconstructions of real images
(the generator's codes pass through the same decoder, so these are the best it can do), and
two real sets against each other (the floor of a finite-sample estimate).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy import ndimage
from torch import nn

from lib import judging, paths, plots, train, zoo
from lib.analysis import join_words, mean_std
from lib.idl_ex3 import P2Settings, P4Settings, autoencoder, gan
from lib.idl_ex3.p2_latent_gan import SAMPLE_SEED as P2_SAMPLE_SEED

TARGET = 0.95  # class consistency asked for every digit under both judges
EVAL_NOISE_SEED = 2024  # the noise behind every score (the same noise vectors for every digit)
GRID_NOISE_SEED = 321  # the columns of the every-digit grid
VARIANT_NOISE_SEED = 77  # the random samples of the chosen digit
INK_THRESHOLD = 0.5  # a pixel is ink when its intensity (0-1) is above this
MIN_HOLE_PIXELS = 2  # a closed loop encloses at least this many background pixels
SMEAR_INK, SMEAR_FULL = 0.2, 0.8  # smear: share of the ink pixels (above SMEAR_INK) that stay below SMEAR_FULL
SMEAR_QUANTILE = 95  # an image is smeared when its smear exceeds this percentile of real test images of its digit
FD_SUBSET_SEED = 5  # draws the equal-size subsets behind the per-digit Frechet distances
CLASS_THRESHOLD = P2Settings.model_fields["confidence_threshold"].default  # Problem 2's class-mix rule
ROW = 8  # images per row of the figures of the chosen digit
JUDGE_NAMES = ("judge", "second judge")
MEASURES = ("slant", "stroke width", "ink mass")
MEASURE_UNITS = {"slant": "degrees", "stroke width": "px", "ink mass": "px"}
GLUE_WORD = {"slant": "slant", "stroke width": "stroke", "ink mass": "ink"}  # glued names start with these
MEASURE_DECIMALS = {"slant": 1, "stroke width": 2, "ink mass": 0}
SET_NAMES = ("real test images", "AE reconstructions", "conditional GAN")
SET_HEADERS = {"real test images": "real", "AE reconstructions": "AE recon.", "conditional GAN": "generated"}
TABLE_SETS = ("real test images", "conditional GAN")  # the variability table's columns (the text gives the AE's ratios)
DECODER_ARGS = {"latent_dim": 64, "channels": (16, 32, 64, 96)}  # the course decoder (the sampler's constructor)


def _percent(value: float, decimals: int = 1) -> str:
    return f"{100 * value:.{decimals}f}%"


def _minus(text: str) -> str:
    """A number's text with true minus signs (U+2212) instead of hyphens."""
    return text.replace("-", "\u2212")


def _number(value: float, decimals: int) -> str:
    return _minus(f"{value:.{decimals}f}")


def _range(values: np.ndarray, decimals: int, unit: str = "", scale: float = 1.0) -> str:
    """ "lowest–highest" of ``values`` (an en dash)."""
    low, high = (_number(scale * v, decimals) for v in (np.min(values), np.max(values)))
    return f"{low}{unit}\u2013{high}{unit}"


# --- measuring single images ----------------------------------------------------------------


def _crop(images: torch.Tensor) -> np.ndarray:
    """(N, 1, 32, 32) or (N, 1, 28, 28) images -> (N, 28, 28) float64 array (the MNIST frame)."""
    return judging.judge_view(images)[:, 0].double().numpy()


def slant_degrees(images: torch.Tensor) -> np.ndarray:
    """Slant of each image from its intensity moments: the shear angle ``atan(-mu11 / mu02)``
    (x to the right, y down), in degrees; positive when the top of the digit leans right."""
    img = _crop(images)
    ys, xs = np.mgrid[0 : img.shape[1], 0 : img.shape[2]].astype(np.float64)
    mass = img.sum((1, 2)).clip(1e-9)
    x_mean = (img * xs).sum((1, 2)) / mass
    y_mean = (img * ys).sum((1, 2)) / mass
    dx, dy = xs - x_mean[:, None, None], ys - y_mean[:, None, None]
    mu11 = (img * dx * dy).sum((1, 2)) / mass
    mu02 = (img * dy * dy).sum((1, 2)) / mass
    return np.degrees(np.arctan(-mu11 / mu02.clip(1e-9)))


def stroke_width(images: torch.Tensor) -> np.ndarray:
    """Mean stroke width in pixels, ``2 * ink area / ink perimeter`` on the binary image
    (intensity above :data:`INK_THRESHOLD`): a ribbon of length L and width w has area L w and
    a perimeter of about 2 L.  The perimeter counts pixel edges between ink and background."""
    ink = np.pad(_crop(images) > INK_THRESHOLD, ((0, 0), (1, 1), (1, 1)))
    area = ink.sum((1, 2))
    perimeter = (ink[:, 1:, :] != ink[:, :-1, :]).sum((1, 2)) + (ink[:, :, 1:] != ink[:, :, :-1]).sum((1, 2))
    return 2 * area / np.maximum(perimeter, 1)


def ink_mass(images: torch.Tensor) -> np.ndarray:
    """Sum of the pixel intensities (in pixels of full intensity)."""
    return _crop(images).sum((1, 2))


def loop_count(images: torch.Tensor) -> np.ndarray:
    """Closed loops per image: connected background regions (4-neighbourhood) of the binary
    image that do not reach the border and have at least :data:`MIN_HOLE_PIXELS` pixels."""
    counts = []
    for ink in _crop(images) > INK_THRESHOLD:
        regions, _ = ndimage.label(~np.pad(ink, 1))  # the padding joins everything outside into one region
        sizes = np.bincount(regions.ravel())
        sizes[[0, regions[0, 0]]] = 0  # ink, and the outside
        counts.append(int((sizes >= MIN_HOLE_PIXELS).sum()))
    return np.asarray(counts)


def smear(images: torch.Tensor) -> np.ndarray:
    """Share of an image's ink pixels (intensity above :data:`SMEAR_INK`) whose intensity stays
    below :data:`SMEAR_FULL`: grey, blurred strokes instead of solid ones."""
    img = _crop(images)
    ink = img > SMEAR_INK
    return (ink & (img < SMEAR_FULL)).sum((1, 2)) / np.maximum(ink.sum((1, 2)), 1)


def measure(images: torch.Tensor) -> dict[str, np.ndarray]:
    """The per-image measures of :data:`MEASURES` and ``loop`` (1 when the image has a closed loop)."""
    return {
        "slant": slant_degrees(images),
        "stroke width": stroke_width(images),
        "ink mass": ink_mass(images),
        "loop": (loop_count(images) >= 1).astype(np.float64),
    }


# --- the experiment -------------------------------------------------------------------------


@dataclass
class P4Result:
    profile: str
    seeds: list[int]
    recipe: gan.GANRecipe  # the first seed's (the others differ only in the seed)
    samples_per_digit: int
    chosen_digit: int
    test_size: int
    histories: dict[int, dict]
    consistency: dict[str, np.ndarray]  # judge name -> (seeds, 10): share of digit-d samples read as d
    confusion: dict[str, np.ndarray]  # judge name -> (10, 10) requested digit x reading, summed over seeds
    real_recall: dict[str, np.ndarray]  # judge name -> (10,): real test images of d read as d
    recon_recall: dict[str, np.ndarray]  # judge name -> (10,): AE reconstructions of them read as d
    fd_generated: np.ndarray  # (seeds, 10): generated images of d vs real test images of d
    fd_reconstructed: np.ndarray  # (10,): AE reconstructions of real training images of d vs test images of d
    fd_floor: np.ndarray  # (10,): real training images of d vs test images of d
    fd_mean_term: np.ndarray  # (seeds, 10): the part ||m_gen - m_test||^2 of fd_generated
    variance_generated: np.ndarray  # (seeds, 10): total feature variance of the generated images of d / of the test images
    variance_reconstructed: np.ndarray  # (10,): the same for the AE reconstructions of training images of d
    fd_sizes: np.ndarray  # (10,): images per set (all four sets) behind each digit's distances
    fd_overall: np.ndarray  # (seeds,): Problem 2's FD of all generated images (digits requested equally often)
    tv_overall: np.ndarray  # (seeds,): Problem 2's class-mix distance of those images
    fd_p2: np.ndarray  # (seeds,): the same two for Problem 2's range-matched unconditional GAN
    tv_p2: np.ndarray
    smear_style: np.ndarray  # (seeds,): mean r between digits drawn with the same noise, of the smear
    smear_stroke: np.ndarray  # (seeds,): r between smear and stroke width over all generated images
    smear_share: np.ndarray  # (seeds,): generated images (all digits) more smeared than SMEAR_QUANTILE % of real ones
    smear_recon: float  # the same for the AE reconstructions of the test images
    smear_read: dict[str, np.ndarray]  # judge name -> (seeds,): smeared generated images read as the requested digit
    grid: torch.Tensor  # (10, columns, 1, 28, 28): digit x shared noise, first seed
    grid_smeared: np.ndarray  # (10, columns) bool: the grid's smeared images
    variants: torch.Tensor  # (num_variants, 1, 28, 28): random samples of the chosen digit, first seed
    real_examples: torch.Tensor  # (ROW, 1, 28, 28): the first real test images of the chosen digit
    recon_examples: torch.Tensor  # (ROW, 1, 28, 28): their AE reconstructions
    chosen_images: dict[str, torch.Tensor]  # set name -> images of the chosen digit (generated: first seed)
    chosen_measures: dict[str, list[dict[str, np.ndarray]]]  # set name -> per seed (real sets: one) -> measures
    style_correlation: dict[str, np.ndarray]  # measure -> (seeds,): mean r between digits drawn with the same noise
    generator: gan.LatentGenerator  # the first seed's
    discriminator: gan.LatentDiscriminator  # the first seed's
    decoder: nn.Module


def _load(cfg: P4Settings, device: torch.device):
    ae_recipe = autoencoder.recipe(cfg.profile)
    test_size = autoencoder.TEST_IMAGES[cfg.profile]
    model, _ = autoencoder.course_autoencoder(ae_recipe, device, test_size)
    pairs, histories = {}, {}
    for seed in cfg.cgan_seeds:
        pairs[seed], histories[seed] = gan.latent_gan(gan.conditional_recipe(cfg.profile, seed), ae_recipe, device, test_size)
    return model, pairs, histories, autoencoder.judges(cfg.profile, device), test_size


def _generate(generator: gan.LatentGenerator, decoder: nn.Module, noise: torch.Tensor, labels: torch.Tensor, device):
    """Images (N, 1, 32, 32) for ``labels`` from ``noise`` (N, noise_dim)."""
    return gan.decode(decoder, gan.sample_codes(generator, len(labels), device, labels=labels, noise=noise), device)


def _fd_parts(features: torch.Tensor, reference: torch.Tensor) -> tuple[float, float, float]:
    """Frechet distance of ``features`` to ``reference``, its mean term ``|mu - mu_ref|^2``, and the
    ratio of their total variances ``tr C / tr C_ref`` (below 1: less varied than the reference)."""
    mu, cov = judging.feature_statistics(features)
    mu_ref, cov_ref = judging.feature_statistics(reference)
    distance = judging.frechet_distance_from_statistics(mu, cov, mu_ref, cov_ref)
    return distance, float(np.sum((mu - mu_ref) ** 2)), float(np.trace(cov) / np.trace(cov_ref))


def _style_correlation(values: np.ndarray) -> float:
    """Mean Pearson r over the 45 pairs of digits of a measure of images drawn with the same
    noise vectors; ``values`` is (10, n): digit x noise vector."""
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant row (an untrained smoke model): r undefined
        r = np.corrcoef(values)
    return float(r[np.triu_indices(10, 1)].mean())


def _score_p2_range(cfg, decoder, judge, reference, real_mix, size, device) -> tuple[np.ndarray, np.ndarray]:
    """Problem 2's range-matched unconditional GAN (cached, one per training seed), scored by the
    same code as the conditional GAN: ``size`` samples of Problem 2's noise draw."""
    ae_recipe, test_size = autoencoder.recipe(cfg.profile), autoencoder.TEST_IMAGES[cfg.profile]
    fd, tv = np.zeros(len(cfg.cgan_seeds)), np.zeros(len(cfg.cgan_seeds))
    for i, seed in enumerate(cfg.cgan_seeds):
        pair, _ = gan.latent_gan(gan.gan_recipe(cfg.profile, "range", seed), ae_recipe, device, test_size)
        codes = gan.sample_codes(pair.generator, size, device, seed=P2_SAMPLE_SEED)
        probs, features = judging.judge_outputs(judge, gan.decode(decoder, codes, device), device)
        fd[i] = judging.frechet_distance(features, reference)
        tv[i] = judging.class_mix_distance(judging.claimed_shares(probs, CLASS_THRESHOLD), real_mix)
    return fd, tv


def p4_conditional_gan(cfg: P4Settings, device: torch.device) -> P4Result:
    """Generate and measure ``samples_per_digit`` images of every digit with each seed's
    conditional GAN, next to the real-data references."""
    model, pairs, histories, judges, test_size = _load(cfg, device)
    judge_of = dict(zip(JUDGE_NAMES, judges, strict=True))
    decoder = model.decoder
    test_x, test_y = zoo.mnist_images("test", test_size)
    train_x, train_y = zoo.mnist_images("train", test_size)  # as many as the test images, first of the fixed shuffle
    test_recon = train.predict(model, test_x, device)
    train_recon = train.predict(model, train_x, device)

    real_recall, recon_recall, test_features = {}, {}, {}
    for name, judge in judge_of.items():
        probs, test_features[name] = judging.judge_outputs(judge, test_x, device)
        real_recall[name] = judging.per_digit_recall(probs, test_y)
        recon_recall[name] = judging.per_digit_recall(judging.judge_outputs(judge, test_recon, device)[0], test_y)
    train_features = judging.judge_outputs(judge_of["judge"], train_x, device)[1]
    recon_features = judging.judge_outputs(judge_of["judge"], train_recon, device)[1]
    per_digit = cfg.samples_per_digit
    # every set behind a digit's distances has the same size: n_d = min(generated, test, training images of d)
    fd_sizes = np.array([min(per_digit, int((test_y == d).sum()), int((train_y == d).sum())) for d in range(10)])
    rng = np.random.default_rng(FD_SUBSET_SEED)
    test_ref, train_pick = [], []
    for d in range(10):
        test_ref.append(test_features["judge"][rng.choice(np.flatnonzero(test_y == d), fd_sizes[d], replace=False)])
        train_pick.append(rng.choice(np.flatnonzero(train_y == d), fd_sizes[d], replace=False))
    fd_floor, fd_recon, variance_recon = np.zeros(10), np.zeros(10), np.zeros(10)
    for d in range(10):
        fd_floor[d] = _fd_parts(train_features[train_pick[d]], test_ref[d])[0]
        fd_recon[d], _, variance_recon[d] = _fd_parts(recon_features[train_pick[d]], test_ref[d])
    # Problem 2's overall measures: FD to the first test images, class mix against theirs
    overall_size = min(10 * per_digit, test_size)
    overall_ref = test_features["judge"][:overall_size]
    real_mix = judging.claimed_shares(judging.judge_outputs(judge_of["judge"], test_x[:overall_size], device)[0], CLASS_THRESHOLD)
    fd_p2, tv_p2 = _score_p2_range(cfg, decoder, judge_of["judge"], overall_ref, real_mix, overall_size, device)

    smear_threshold = np.array([np.percentile(smear(test_x[test_y == d]), SMEAR_QUANTILE) for d in range(10)])
    smear_recon = float(np.mean(smear(test_recon) > smear_threshold[test_y.numpy()]))

    labels = torch.arange(10).repeat_interleave(per_digit)  # digit-major: the n samples of 0, then of 1, ...
    first = pairs[cfg.cgan_seeds[0]].generator
    noise = torch.randn(per_digit, first.noise_dim, generator=torch.Generator().manual_seed(EVAL_NOISE_SEED)).repeat(10, 1)
    consistency = {name: np.zeros((len(cfg.cgan_seeds), 10)) for name in JUDGE_NAMES}
    confusion = {name: np.zeros((10, 10), dtype=np.int64) for name in JUDGE_NAMES}
    fd_generated, fd_mean_term, variance_generated = (np.zeros((len(cfg.cgan_seeds), 10)) for _ in range(3))
    chosen_generated = []
    style = {m: np.zeros(len(cfg.cgan_seeds)) for m in ("slant", "stroke width")}
    chosen_images = {}
    smear_share = np.zeros(len(cfg.cgan_seeds))
    smear_read = {name: np.zeros(len(cfg.cgan_seeds)) for name in JUDGE_NAMES}
    fd_overall, tv_overall, smear_style, smear_stroke = (np.zeros(len(cfg.cgan_seeds)) for _ in range(4))
    spaced = np.linspace(0, 10 * per_digit - 1, overall_size).round().astype(int)  # the digits equally often
    for i, seed in enumerate(cfg.cgan_seeds):
        images = _generate(pairs[seed].generator, decoder, noise, labels, device)
        smeared = smear(images) > smear_threshold[labels.numpy()]
        smear_share[i] = smeared.mean()
        for name, judge in judge_of.items():
            probs, features = judging.judge_outputs(judge, images, device)
            consistency[name][i] = judging.per_digit_recall(probs, labels)
            right = (probs.argmax(1) == labels).numpy()
            smear_read[name][i] = right[smeared].mean() if smeared.any() else np.nan
            confusion[name] += np.bincount(10 * labels.numpy() + probs.argmax(1).numpy(), minlength=100).reshape(10, 10)
            if name == "judge":
                for d in range(10):
                    fd_generated[i, d], fd_mean_term[i, d], variance_generated[i, d] = _fd_parts(
                        features[labels == d][: fd_sizes[d]], test_ref[d]
                    )
                fd_overall[i] = judging.frechet_distance(features[spaced], overall_ref)
                tv_overall[i] = judging.class_mix_distance(judging.claimed_shares(probs[spaced], CLASS_THRESHOLD), real_mix)
        measures = measure(images)
        smear_values = smear(images)
        smear_style[i] = _style_correlation(smear_values.reshape(10, per_digit))
        with np.errstate(divide="ignore", invalid="ignore"):
            smear_stroke[i] = np.corrcoef(smear_values, measures["stroke width"])[0, 1]
        for m in style:
            style[m][i] = _style_correlation(measures[m].reshape(10, per_digit))
        chosen = labels == cfg.chosen_digit
        chosen_generated.append({k: v[chosen.numpy()] for k, v in measures.items()})
        if i == 0:
            chosen_images["conditional GAN"] = images[chosen]

    real_chosen = test_x[test_y == cfg.chosen_digit]
    chosen_images["real test images"] = real_chosen
    chosen_images["AE reconstructions"] = test_recon[test_y == cfg.chosen_digit]
    chosen_measures = {
        "real test images": [measure(chosen_images["real test images"])],
        "AE reconstructions": [measure(chosen_images["AE reconstructions"])],
        "conditional GAN": chosen_generated,
    }
    grid_noise = torch.randn(cfg.grid_columns, first.noise_dim, generator=torch.Generator().manual_seed(GRID_NOISE_SEED))
    grid_labels = torch.arange(10).repeat_interleave(cfg.grid_columns)
    grid = _generate(first, decoder, grid_noise.repeat(10, 1), grid_labels, device)
    grid_smeared = (smear(grid) > smear_threshold[grid_labels.numpy()]).reshape(10, cfg.grid_columns)
    variant_noise = torch.randn(cfg.num_variants, first.noise_dim, generator=torch.Generator().manual_seed(VARIANT_NOISE_SEED))
    variants = _generate(first, decoder, variant_noise, torch.full((cfg.num_variants,), cfg.chosen_digit), device)
    return P4Result(
        profile=cfg.profile, seeds=list(cfg.cgan_seeds), recipe=gan.conditional_recipe(cfg.profile, cfg.cgan_seeds[0]),
        samples_per_digit=per_digit, chosen_digit=cfg.chosen_digit, test_size=test_size, histories=histories,
        consistency=consistency, confusion=confusion, real_recall=real_recall, recon_recall=recon_recall,
        fd_generated=fd_generated, fd_reconstructed=fd_recon, fd_floor=fd_floor, fd_sizes=fd_sizes,
        fd_overall=fd_overall, tv_overall=tv_overall, fd_p2=fd_p2, tv_p2=tv_p2, smear_style=smear_style,
        smear_stroke=smear_stroke,
        fd_mean_term=fd_mean_term, variance_generated=variance_generated, variance_reconstructed=variance_recon,
        smear_share=smear_share, smear_recon=smear_recon, smear_read=smear_read, grid_smeared=grid_smeared,
        grid=judging.judge_view(grid).reshape(10, cfg.grid_columns, 1, 28, 28), variants=judging.judge_view(variants),
        real_examples=judging.judge_view(real_chosen[:ROW]),
        recon_examples=judging.judge_view(chosen_images["AE reconstructions"][:ROW]), chosen_images=chosen_images,
        chosen_measures=chosen_measures, style_correlation=style, generator=first,
        discriminator=pairs[cfg.cgan_seeds[0]].discriminator, decoder=decoder,
    )  # fmt: skip


def p4_export_sampler(result: P4Result, device: torch.device) -> Path:
    """Write the first seed's generator and the course decoder as a sampler checkpoint
    (:func:`lib.idl_ex3.gan.save_sampler`), reload it with :func:`~lib.idl_ex3.gan.load_sampler`
    and check that it draws the same images; return the checkpoint's path."""
    target = paths.exported_models_dir("idl_ex3") / "conditional_gan.pt"
    checkpoint = gan.save_sampler(target, result.generator, result.decoder, DECODER_ARGS)
    digits = torch.arange(10)
    reloaded = gan.load_sampler(checkpoint, device)(10, labels=digits, seed=5)
    with torch.inference_mode():
        expected = gan.sample_images(result.generator, result.decoder, 10, device, seed=5, labels=digits)[..., 2:30, 2:30]
    difference = (reloaded - expected).abs().max().item()
    if difference > 1e-5:
        raise AssertionError(
            f"{checkpoint}: the reloaded sampler differs from the generator (largest pixel difference {difference})"
        )
    return checkpoint


# --- tables ---------------------------------------------------------------------------------


def _parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _linear_rows(network: str, layers: list[nn.Linear], last_words: str) -> list[list]:
    """One row per fully connected layer: LeakyReLU after each but the last, ``last_words`` after the last."""
    rows = []
    for i, layer in enumerate(layers):
        after = last_words if i == len(layers) - 1 else "LeakyReLU 0.2"
        rows.append([network, f"fully connected {layer.in_features} → {layer.out_features}, {after}", layer.out_features,
                     _parameters(layer)])  # fmt: skip
    return rows


def p4_architecture_rows(result: P4Result) -> list[list]:
    """The layers of the first seed's generator (G) and discriminator (D), the label's way in
    marked, with output sizes and parameter counts read from the modules."""
    g = result.generator
    pair_d = result.discriminator
    embedding = g.label_embedding
    g_layers = [m for m in g.net if isinstance(m, nn.Linear)]
    output_words = {"range": "tanh scaled to the real codes' range", "linear": "linear (a standardised code)"}[g.output]
    rows = [
        ["G", "input: noise $z$", g.noise_dim, 0],
        ["G", f"label: embedding of $y$ ({embedding.num_embeddings} → {embedding.embedding_dim})", embedding.embedding_dim,
         _parameters(embedding)],
        ["G", "concatenate $[z, \\mathrm{emb}(y)]$", g.noise_dim + embedding.embedding_dim, 0],
    ]  # fmt: skip
    rows += _linear_rows("G", g_layers, output_words)
    d_layers = [m for m in pair_d.body.modules() if isinstance(m, nn.Linear)]
    rows += [["D", "input: code $x$, standardised per coordinate", g.latent_dim, 0]]
    rows += _linear_rows("D", d_layers, "LeakyReLU 0.2 → features $h$")
    hidden = d_layers[-1].out_features
    rows += [
        ["D", f"real/fake head $\\psi(h)$: fully connected {hidden} → 1", 1, _parameters(pair_d.real_fake)],
        ["D", f"label: projection, logit $+ \\langle e(y), h \\rangle$, $e$: embedding {gan.NUM_CLASSES} → {hidden}", 1,
         _parameters(pair_d.projection)],
        ["D", f"label: auxiliary classifier, fully connected {hidden} → {gan.NUM_CLASSES}", gan.NUM_CLASSES,
         _parameters(pair_d.classifier)],
    ]  # fmt: skip
    return [[net, words, size, f"{params:,}"] for net, words, size, params in rows]


def _fixed_mean_sd(values: np.ndarray, decimals: int, scale: float = 1.0, unit: str = "") -> str:
    """ "mean ± sd" (sample sd) with a fixed number of decimals; the mean alone for one value."""
    mean, sd = mean_std(list(values))
    text = _number(scale * mean, decimals) + unit
    return text if len(values) < 2 else f"{text} ± {scale * sd:.{decimals}f}{unit}"


def p4_consistency_rows(result: P4Result) -> list[list]:
    """Per digit and judge, in percent: generated samples read as the requested digit (mean ±
    sd over seeds), and the real test images read as their digit."""
    rows = []
    for d in range(10):
        row = [d]
        for name in JUDGE_NAMES:
            row += [_fixed_mean_sd(result.consistency[name][:, d], 1, 100), f"{100 * result.real_recall[name][d]:.1f}"]
        rows.append(row)
    last = ["mean of the digits"]  # unweighted: not the accuracy over all test images
    for name in JUDGE_NAMES:
        last += [_fixed_mean_sd(result.consistency[name].mean(1), 1, 100), f"{100 * result.real_recall[name].mean():.1f}"]
    return rows + [last]


FD_HEADERS = ["digit", "$n$", "generated", "AE recon.", "real train", "generated / AE"]
VARIANCE_HEADERS = ["digit", "var. generated", "var. AE recon.", "mean term (%)"]


def p4_fd_rows(result: P4Result) -> list[list]:
    """Per digit: the Frechet distance of the generated images to real test images of that
    digit (mean ± sd over seeds) next to the AE-reconstruction reference and the real floor,
    and the generated / AE ratio; one format per column."""
    rows = []
    for d in range(10):
        ratio = result.fd_generated[:, d] / result.fd_reconstructed[d]
        rows.append([d, f"{int(result.fd_sizes[d]):,}", _fixed_mean_sd(result.fd_generated[:, d], 1),
                     f"{result.fd_reconstructed[d]:.1f}", f"{result.fd_floor[d]:.1f}", _fixed_mean_sd(ratio, 2)])  # fmt: skip
    return rows


def p4_variance_rows(result: P4Result) -> list[list]:
    """Per digit: total feature variance relative to the test images' (generated: mean ± sd over
    seeds; AE reconstructions), and the mean term's share of the generated images' FD."""
    share = result.fd_mean_term / result.fd_generated
    return [
        [d, _fixed_mean_sd(result.variance_generated[:, d], 2), f"{result.variance_reconstructed[d]:.2f}",
         _fixed_mean_sd(share[:, d], 0, 100)]
        for d in range(10)
    ]  # fmt: skip


def _set_values(result: P4Result, name: str, key: str, statistic) -> list[float]:
    """``statistic`` of measure ``key`` per seed (generated) or once (real sets)."""
    return [float(statistic(values[key])) for values in result.chosen_measures[name]]


def _sd(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1))


def p4_variability_rows(result: P4Result) -> list[list]:
    """For the chosen digit: mean and spread (sd over images) of each measure in the real
    test images, their AE reconstructions and the generated images (mean ± sd over seeds)."""
    rows = []
    for key in MEASURES:
        decimals = MEASURE_DECIMALS[key]
        row = [f"{key} ({MEASURE_UNITS[key]})"]
        for name in TABLE_SETS:
            row += [_fixed_mean_sd(_set_values(result, name, key, np.mean), decimals),
                    _fixed_mean_sd(_set_values(result, name, key, _sd), decimals)]  # fmt: skip
        rows.append(row)
    row = ["closed loop (%)"]
    for name in TABLE_SETS:
        row += [_fixed_mean_sd(_set_values(result, name, "loop", np.mean), 0, 100), ""]
    return rows + [row]


def p4_variability_headers() -> list[str]:
    return ["measure"] + [f"{SET_HEADERS[name]}: {stat}" for name in TABLE_SETS for stat in ("mean", "sd")]


# --- figures --------------------------------------------------------------------------------


def _image_axes(ax: plt.Axes, image: torch.Tensor, frame: bool = False) -> None:
    """A grey image (0-1) without ticks; ``frame`` draws a red frame around it."""
    ax.imshow(image.reshape(28, 28).numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(frame)
        spine.set(edgecolor="red", linewidth=1.8)


def _image_grid(rows: list[list[torch.Tensor]], row_labels: list[str], labels: list[list[str]] | None = None,
                column_labels: list[str] | None = None, cell: float = 0.5,
                frames: np.ndarray | None = None) -> plt.Figure:  # fmt: skip
    """Grey images (0-1) in labelled rows; ``labels`` writes a value under each image, ``frames``
    (rows x columns, bool) frames images in red.  Sized for print at its natural size, labels in 8 pt."""
    num_cols = max(len(r) for r in rows)
    extra = 0.17 if labels else 0.0
    top = 0.25 if column_labels else 0.0
    fig, axes = plt.subplots(len(rows), num_cols, figsize=(cell * num_cols + 1.1, (cell + extra) * len(rows) + top),
                             squeeze=False)  # fmt: skip
    for r, row in enumerate(rows):
        for c in range(num_cols):
            ax = axes[r][c]
            if c >= len(row):
                ax.axis("off")
                continue
            _image_axes(ax, row[c], frame=bool(frames[r][c]) if frames is not None else False)
            if labels:
                ax.set_xlabel(labels[r][c], fontsize=8, labelpad=1)
            if column_labels and r == 0:
                ax.set_title(column_labels[c], fontsize=11.5, pad=2)  # a mathtext subscript prints at 0.7 x: 8 pt
        axes[r][0].set_ylabel(row_labels[r], rotation=0, ha="right", va="center", fontsize=8, labelpad=4)
    fig.subplots_adjust(wspace=0.08 if frames is not None else 0.05, hspace=0.5 if labels else 0.08)
    return fig


def p4_grid_figure(result: P4Result) -> plt.Figure:
    """Row d: digit d requested; column j: noise vector j, the same in every row; smeared images framed."""
    rows = [list(result.grid[d]) for d in range(10)]
    columns = [f"$z_{{{j + 1}}}$" for j in range(result.grid.shape[1])]
    return _image_grid(rows, [f"digit {d}" for d in range(10)], column_labels=columns, cell=0.37,
                       frames=result.grid_smeared)  # fmt: skip


def p4_variants_figure(result: P4Result) -> plt.Figure:
    """The random samples of the chosen digit, then real test images of it and their AE reconstructions."""
    v = list(result.variants)
    rows = [v[i : i + ROW] for i in range(0, len(v), ROW)] + [list(result.real_examples), list(result.recon_examples)]
    names = ["generated"] * (len(rows) - 2) + ["real test", "AE recon-\nstructions"]
    return _image_grid(rows, names, cell=min(0.45, 3.4 / len(rows)))


def _ordered(images: torch.Tensor, values: np.ndarray, fmt: str) -> tuple[list[torch.Tensor], list[str]]:
    """ROW images at evenly spaced quantiles (5% to 95%) of ``values``, with their values."""
    order = np.argsort(values, kind="stable")
    picks = order[np.round(np.linspace(0.05, 0.95, ROW) * (len(values) - 1)).astype(int)]
    return [images[i] for i in picks], [_minus(fmt.format(values[i])) for i in picks]


def _loop_row(images: torch.Tensor, loops: np.ndarray) -> tuple[list[torch.Tensor], list[str]]:
    """Up to half a row without a closed loop, the rest with one (the first found of each)."""
    without, with_loop = np.flatnonzero(loops == 0), np.flatnonzero(loops > 0)
    num_with = min(len(with_loop), max(ROW // 2, ROW - len(without)))
    picks = list(without[: ROW - num_with]) + list(with_loop[:num_with])
    return [images[i] for i in picks], ["loop" if loops[i] > 0 else "open" for i in picks]


def p4_ordered_figure(result: P4Result) -> plt.Figure:
    """Generated and real images of the chosen digit at quantiles of slant and of stroke width,
    and with and without a closed loop, each labelled with its measured value."""
    rows, labels, names = [], [], []
    for key, fmt in (("slant", "{:+.0f}°"), ("stroke width", "{:.1f} px")):
        for name, short in (("conditional GAN", "generated"), ("real test images", "real")):
            images = judging.judge_view(result.chosen_images[name])
            row, text = _ordered(images, result.chosen_measures[name][0][key], fmt)
            rows.append(row), labels.append(text), names.append(f"{short},\nby {key}")
    for name, short in (("conditional GAN", "generated"), ("real test images", "real")):
        row, text = _loop_row(judging.judge_view(result.chosen_images[name]), result.chosen_measures[name][0]["loop"])
        rows.append(row), labels.append(text), names.append(f"{short},\nclosed loop")
    return _image_grid(rows, names, labels=labels, cell=0.42)


def p4_measures_figure(result: P4Result) -> plt.Figure:
    """Histograms (share of images) of each measure for the chosen digit: real test images,
    their AE reconstructions and the generated images (all seeds pooled)."""
    fig, axes = plt.subplots(1, len(MEASURES), figsize=(6.3, 2.3))
    styles = {"real test images": ("k", "-"), "AE reconstructions": ("tab:blue", "--"), "conditional GAN": ("tab:red", "-")}
    for ax, key in zip(axes, MEASURES, strict=True):
        pooled = {name: np.concatenate([m[key] for m in result.chosen_measures[name]]) for name in SET_NAMES}
        everything = np.concatenate(list(pooled.values()))
        bins = np.linspace(*np.percentile(everything, [0.5, 99.5]), 26)
        for name, values in pooled.items():
            color, style = styles[name]
            weights = np.full(len(values), 100 / len(values))
            label = "generated images" if name == "conditional GAN" else name
            ax.hist(values.clip(bins[0], bins[-1]), bins=bins, weights=weights, histtype="step", color=color,
                    linestyle=style, linewidth=1.3, label=label)  # fmt: skip
        ax.set(xlabel=f"{key} ({MEASURE_UNITS[key]})", ylabel="images (%)" if key == MEASURES[0] else "")
        ax.yaxis.set_major_locator(plt.MaxNLocator(4, integer=True))
        ax.xaxis.set_major_locator(plt.MaxNLocator(4))
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9), w_pad=2.5)
    return fig


# --- prose and metrics ----------------------------------------------------------------------


def _target_verdict(result: P4Result) -> tuple[bool, str]:
    """Whether every digit reaches :data:`TARGET` (mean over seeds) under both judges, in words."""
    misses = []
    for name in JUDGE_NAMES:
        means = result.consistency[name].mean(0)
        below = [d for d in range(10) if means[d] < TARGET]
        if below:
            misses.append(f"under the {name} for digit{'s' if len(below) > 1 else ''} "
                          + join_words([f"{d} ({_percent(means[d])})" for d in below]))  # fmt: skip
    if not misses:
        return True, "reaches the target for every digit under both judges"
    return False, "misses the target " + "; ".join(misses)


def _misreadings(result: P4Result, name: str, digit: int, top: int = 2) -> str:
    row = result.confusion[name][digit].astype(float)
    row[digit] = 0
    order = [int(k) for k in np.argsort(-row, kind="stable")[:top] if row[k] > 0]
    if not order:
        return "nothing else"
    total = result.confusion[name][digit].sum()
    return join_words([f"{k} in {_percent(row[k] / total)}" for k in order]) + " of its samples"


def _direction(values: np.ndarray, reference: float, more: str, less: str, neither: str) -> str:
    """``more`` (``less``) with "in every seed" when every seed's value is above (below) the
    reference, else ``neither``."""
    values = np.asarray(values)
    if np.all(values > reference):
        return f"{more} in every seed"
    if np.all(values < reference):
        return f"{less} in every seed"
    return neither


def _ratio(values: np.ndarray) -> str:
    return _fixed_mean_sd(values, 2)


def p4_summary(result: P4Result, cfg: P4Settings) -> dict[str, str]:
    """The values the prose refers to."""
    recipe = result.recipe
    seeds = len(result.seeds)
    out: dict[str, str] = {
        "num_seeds": str(seeds),
        "seed_list": ", ".join(map(str, result.seeds)),
        "cgan_epochs": plots.count(recipe.num_epochs, "epoch"),
        "batch_size": str(recipe.batch_size),
        "learning_rate": f"{recipe.learning_rate:g}",
        "aux_weight": f"{recipe.aux_weight:g}",
        "mismatch_weight": f"{recipe.mismatch_weight:g}",
        "noise_dim": str(recipe.noise_dim),
        "label_dim": str(result.generator.label_embedding.embedding_dim),
        "samples_per_digit": f"{result.samples_per_digit:,}",
        "test_size": f"{result.test_size:,}",
        "chosen_digit": str(result.chosen_digit),
        "num_variants": str(len(result.variants)),
        "target": f"{100 * TARGET:.0f}%",
        "train_images": f"{autoencoder.recipe(result.profile).train_size:,}",
    }
    out["target_verdict"] = _target_verdict(result)[1]
    gaps = []
    for name, key in zip(JUDGE_NAMES, ("j1", "j2"), strict=True):
        means = result.consistency[name].mean(0)
        worst = int(np.argmin(means))
        # equal shares of equally many samples can differ in the last bit: a tie is named as one
        tied = [int(d) for d in np.flatnonzero(np.isclose(means, means[worst], rtol=0, atol=1e-6)) if d != worst]
        out[f"{key}_overall"] = _fixed_mean_sd(result.consistency[name].mean(1), 1, 100, "%")
        out[f"{key}_worst_digit"] = f"{worst} (tied with {' and '.join(map(str, tied))})" if tied else str(worst)
        out[f"{key}_worst"] = _fixed_mean_sd(result.consistency[name][:, worst], 1, 100, "%")
        out[f"{key}_worst_misread"] = _misreadings(result, name, worst)
        out[f"{key}_lowest_single"] = _percent(result.consistency[name].min())
        out[f"{key}_real_range"] = _range(result.real_recall[name], 1, "%", 100)
        # from the percentages as the table prints them (one decimal), so that the reader's
        # subtraction gives the same largest gap
        gaps.append(np.abs(np.round(100 * means, 1) - np.round(100 * np.asarray(result.real_recall[name]), 1)).max())
    out["max_gap"] = f"{max(gaps):.1f}"

    # training: D's outputs at the last epoch
    last = {key: [result.histories[s][key][-1] for s in result.seeds] for key in ("d_real", "d_fake")}
    out["d_real_final"], out["d_fake_final"] = (f"{np.mean(last[k]):.2f}" for k in ("d_real", "d_fake"))
    spread = max(mean_std(last[k])[1] for k in last) if seeds > 1 else 0.0
    out["d_final_sd"] = f"{spread:.1g}"
    balanced = all(0.3 <= np.mean(last[k]) <= 0.7 for k in last)
    out["d_balance"] = (
        "both close to 0.5: the discriminator does not overpower the generator" if balanced
        else "far from 0.5: the discriminator separates real from generated codes"
    )  # fmt: skip

    # columns of the grid, smeared samples
    for key, word in (("slant", "slant"), ("stroke width", "stroke")):
        out[f"{word}_r"] = _ratio(result.style_correlation[key])
    r = float(result.style_correlation["slant"].mean())
    out["column_verdict"] = (
        "the noise carries the slant from one digit to the next" if r >= 0.5
        else "the noise carries part of the slant from one digit to the next" if r >= 0.2
        else "the slant of a column is not shared between digits"
    )  # fmt: skip
    out["smear_quantile"] = f"{SMEAR_QUANTILE}%"
    out["smear_gen"] = _fixed_mean_sd(result.smear_share, 0, 100, "%")
    out["smear_recon"] = _percent(result.smear_recon, 0)
    out["smear_grid"] = f"{int(result.grid_smeared.sum())} of its {result.grid_smeared.size}"
    out["smear_ink"], out["smear_full"], out["ink_threshold"] = f"{SMEAR_INK:g}", f"{SMEAR_FULL:g}", f"{INK_THRESHOLD:g}"
    out["smear_r"] = _ratio(result.smear_style)
    out["smear_stroke_r"] = _ratio(result.smear_stroke)
    out["smear_stroke_word"] = (
        "the thinner the stroke, the more smeared the image" if np.all(result.smear_stroke < -0.3)
        else "the thicker the stroke, the more smeared the image" if np.all(result.smear_stroke > 0.3)
        else "only a weak or unsteady link"
    )  # fmt: skip
    r = float(result.smear_style.mean())
    out["smear_follows"] = (
        "The frames follow the noise more than the digit" if r >= 0.4
        else "The frames follow the noise only in part" if r >= 0.2
        else "The frames do not follow the noise"
    )  # fmt: skip
    out["smear_conclusion"] = (
        "The smear thus reads as a drawing style carried by the noise rather than as a malformed digit" if r >= 0.4
        else "The smear is thus not only a style carried by the noise"
    )  # fmt: skip
    per_column = result.grid_smeared.sum(0)
    top = np.argsort(-per_column, kind="stable")[:3]
    top = sorted(int(j) for j in top if per_column[j] > 0)
    out["smear_columns"] = (
        f"columns {join_words([f'$z_{{{j + 1}}}$' for j in top])} hold {int(per_column[top].sum())} of the "
        f"{int(per_column.sum())} frames" if top else "no column holds a frame"
    )  # fmt: skip
    for name, key in zip(JUDGE_NAMES, ("j1", "j2"), strict=True):
        out[f"smear_read_{key}"] = _fixed_mean_sd(result.smear_read[name], 1, 100, "%")

    # per-digit Frechet distances
    ratio = result.fd_generated / result.fd_reconstructed  # (seeds, 10)
    out["fd_generated_range"] = _range(result.fd_generated.mean(0), 1)
    out["fd_recon_range"] = _range(result.fd_reconstructed, 1)
    out["fd_floor_range"] = _range(result.fd_floor, 1)
    out["fd_ratio_range"] = _range(ratio.mean(0), 1)
    out["recon_floor_ratio_range"] = _range(result.fd_reconstructed / np.maximum(result.fd_floor, 1e-9), 1)
    out["fd_above_recon"] = _digits_phrase(int((result.fd_generated.min(0) > result.fd_reconstructed).sum()))
    out["fd_worst_digit"], out["fd_best_digit"] = str(int(np.argmax(ratio.mean(0)))), str(int(np.argmin(ratio.mean(0))))
    if np.all(ratio > 2):
        out["fd_verdict"] = "most of the distance comes from the generator, not from the decoder"
    elif np.all(ratio > 1):
        out["fd_verdict"] = "the generator adds to the distance the decoder causes, for every digit"
    else:
        out["fd_verdict"] = "for some digits the generator is no farther from the real images than the decoder's reconstructions"
    out["variance_gen_range"] = _range(result.variance_generated.mean(0), 2)
    out["variance_recon_range"] = _range(result.variance_reconstructed, 2)
    below = int((result.variance_generated < result.variance_reconstructed).all(0).sum())
    out["variance_verdict"] = (
        "the generated images have less feature variance than the reconstructions in every seed " + _digits_phrase(below)
    )
    out["chosen_variance"] = _ratio(result.variance_generated[:, result.chosen_digit])
    narrower = np.all(result.variance_generated[:, result.chosen_digit] < 1)
    real_slant_sd = _sd(result.chosen_measures["real test images"][0]["slant"])
    wider_slant = np.all(np.array(_set_values(result, "conditional GAN", "slant", _sd)) > real_slant_sd)
    out["variance_slant_link"] = "although" if narrower and wider_slant else "and"
    share = (result.fd_mean_term / result.fd_generated).mean(0)
    out["fd_mean_share_range"] = _range(share, 0, "%", 100)
    out.update(_overall_values(result))
    with np.errstate(divide="ignore", invalid="ignore"):  # a measure without spread (smoke models): the ratio is nan
        out.update(_variability_values(result))
    return out


def _digits_phrase(count: int) -> str:
    """ "for every digit", "for 7 of the 10 digits", "for no digit"."""
    return {10: "for every digit", 0: "for no digit"}.get(count, f"for {count} of the 10 digits")


def _overall_values(result: P4Result) -> dict[str, str]:
    """Problem 2's overall measures for the conditional GAN and Problem 2's range-matched GAN;
    a difference counts when the means differ by more than the two seed sds added together."""
    out = {
        "fd_overall": _fixed_mean_sd(result.fd_overall, 1),
        "tv_overall": _fixed_mean_sd(result.tv_overall, 1, 100, "%"),
        "fd_p2": _fixed_mean_sd(result.fd_p2, 1),
        "tv_p2": _fixed_mean_sd(result.tv_p2, 1, 100, "%"),
        "overall_size": f"{min(10 * result.samples_per_digit, result.test_size):,}",
    }
    for key, (ours, theirs) in {"fd": (result.fd_overall, result.fd_p2), "tv": (result.tv_overall, result.tv_p2)}.items():
        (m1, s1), (m2, s2) = mean_std(list(ours)), mean_std(list(theirs))
        gap = m1 - m2
        out[f"{key}_compare"] = "lower than" if -gap > s1 + s2 else "higher than" if gap > s1 + s2 else "not separable from"
    return out


def _variability_values(result: P4Result) -> dict[str, str]:
    """Spread of the chosen digit's measures: generated vs real (ratio of sds, mean ± sd over seeds)."""
    out = {}
    real = result.chosen_measures["real test images"][0]
    recon = result.chosen_measures["AE reconstructions"][0]
    sd_ratio = {}
    for key, word in GLUE_WORD.items():
        generated_sd = np.array(_set_values(result, "conditional GAN", key, _sd))
        sd_ratio[key] = generated_sd / _sd(real[key])
        out[f"{word}_sd_ratio"] = _ratio(sd_ratio[key])
        out[f"{word}_sd_ratio_recon"] = _ratio(generated_sd / _sd(recon[key]))
        out[f"{word}_spread_word"] = _direction(
            sd_ratio[key], 1.0, "wider than the real spread", "narrower than the real spread",
            "wider in some seeds, narrower in others",
        )  # fmt: skip
    loops = np.array(_set_values(result, "conditional GAN", "loop", np.mean))
    out["loop_word"] = _direction(
        loops, real["loop"].mean(), "more often than in the real images", "less often than in the real images",
        "more often than in the real images in some seeds and less often in others",
    )  # fmt: skip
    out["loop_gen"] = _fixed_mean_sd(loops, 0, 100, "%")
    out["loop_real"] = _percent(real["loop"].mean(), 0)
    out["loop_recon"] = _percent(recon["loop"].mean(), 0)
    varied = [key for key in ("slant", "stroke width") if np.all(sd_ratio[key] >= 0.5)]
    if np.all((loops >= 0.05) & (loops <= 0.95)):
        varied.append("whether they close a loop")
    none = "hardly differ from one another in any of the three properties"
    out["varied_measures"] = f"differ from one another in {join_words(varied)}" if varied else none
    return out


def p4_metrics(result: P4Result, cfg: P4Settings, checkpoint: Path) -> dict:
    """The numbers of this notebook as JSON (tests and notes read them)."""
    met, _ = _target_verdict(result)
    return {
        "profile": cfg.profile,
        "settings": {k: v for k, v in cfg.model_dump().items() if k != "device"},
        "recipe": asdict(result.recipe),
        "class_consistency": {name: result.consistency[name].tolist() for name in JUDGE_NAMES},
        "class_consistency_mean": {name: result.consistency[name].mean(0).tolist() for name in JUDGE_NAMES},
        "min_class_consistency": {name: float(result.consistency[name].mean(0).min()) for name in JUDGE_NAMES},
        "real_test_recall": {name: result.real_recall[name].tolist() for name in JUDGE_NAMES},
        "ae_reconstruction_recall": {name: result.recon_recall[name].tolist() for name in JUDGE_NAMES},
        "target": TARGET,
        "target_met_every_digit_both_judges": met,
        "fd_generated_per_seed_digit": result.fd_generated.tolist(),
        "fd_ae_reconstruction_per_digit": result.fd_reconstructed.tolist(),
        "fd_real_floor_per_digit": result.fd_floor.tolist(),
        "fd_set_sizes": result.fd_sizes.tolist(),
        "fd_subset_seed": FD_SUBSET_SEED,
        "overall_fd_per_seed": result.fd_overall.tolist(),
        "overall_class_mix_distance_per_seed": result.tv_overall.tolist(),
        "p2_range_gan_fd_per_seed": result.fd_p2.tolist(),
        "p2_range_gan_class_mix_distance_per_seed": result.tv_p2.tolist(),
        "smear_style_correlation_same_noise": result.smear_style.tolist(),
        "smear_stroke_width_correlation": result.smear_stroke.tolist(),
        "fd_generated_mean_term": result.fd_mean_term.tolist(),
        "feature_variance_ratio_generated": result.variance_generated.tolist(),
        "feature_variance_ratio_ae_reconstruction": result.variance_reconstructed.tolist(),
        "smeared_share_generated_per_seed": result.smear_share.tolist(),
        "smeared_share_ae_reconstruction": result.smear_recon,
        "smeared_read_as_requested_per_seed": {name: result.smear_read[name].tolist() for name in JUDGE_NAMES},
        "chosen_digit_measures": {
            name: [{k: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1))} for k, v in m.items()} for m in ms]
            for name, ms in result.chosen_measures.items()
        },
        "style_correlation_same_noise": {k: v.tolist() for k, v in result.style_correlation.items()},
        "checkpoint": str(checkpoint.relative_to(paths.output_dir())),
        "noise_seeds": {"scores": EVAL_NOISE_SEED, "grid": GRID_NOISE_SEED, "variants": VARIANT_NOISE_SEED},
    }
