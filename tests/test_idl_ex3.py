"""Intro to Deep Learning Ex. 3 (lib/idl_ex3): the handout's recipe, the second judge, the
pieces of P1's scheme (d), the settings and the submission folder."""

from __future__ import annotations

import json
from dataclasses import replace

import nbformat
import pytest
import torch

from lib import cache, models, paths, zoo
from lib import idl_ex3 as idl
from lib.idl_ex3 import autoencoder, gan, semi_supervised
from lib.idl_ex3 import p2_latent_gan as p2

CPU = torch.device("cpu")


def test_full_recipe_is_the_handouts():
    """15 epochs, batch 128, input noise 0.35, a 64-number code, all 60,000 training images."""
    full = autoencoder.recipe("full")
    assert (full.num_epochs, full.batch_size, full.noise_std, full.latent_dim, full.train_size) == (15, 128, 0.35, 64, 60000)
    assert autoencoder.recipe("smoke").num_epochs < full.num_epochs
    assert gan.gan_recipe("full", "range").noise_dim == 32  # the handout's GAN noise dimension
    assert semi_supervised.recipe("full").num_labels == idl.P1Settings().num_labels == 50  # sml_train_size


def test_the_second_judge_is_built_differently():
    first, second = models.DigitClassifier(), models.DeepDigitClassifier()
    images = torch.rand(4, 1, 28, 28)
    assert second(images).shape == (4, 10) and second.features(images).shape == (4, 64)
    kinds = lambda m: {type(layer) for layer in m.modules()}  # noqa: E731
    assert torch.nn.BatchNorm2d in kinds(second) - kinds(first)  # normalisation the first judge lacks
    assert torch.nn.AdaptiveAvgPool2d in kinds(second) and torch.nn.MaxPool2d in kinds(first)


def test_judges_are_cached_apart(monkeypatch, tmp_path):
    """Both judges train once (distinct cache kinds, distinct seeds) and then load."""
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tmp_path))
    before = cache.stats()
    first = zoo.judge(CPU, num_epochs=1, train_size=256)
    second = zoo.second_judge(CPU, num_epochs=1, train_size=256)
    assert isinstance(second, models.DeepDigitClassifier) and not isinstance(first, models.DeepDigitClassifier)
    assert {p.parent.name for p in tmp_path.rglob("*.pt")} == {"judge", "second_judge"}
    zoo.second_judge(CPU, num_epochs=1, train_size=256)
    after = cache.stats()
    assert after["trained"] - before["trained"] == 2 and after["loaded"] - before["loaded"] == 1


def test_labelled_draws_are_balanced_and_differ():
    labels = torch.arange(1000) % 10
    first = semi_supervised.labelled_indices(labels, 50, draw=0)
    assert torch.bincount(labels[first], minlength=10).tolist() == [5] * 10
    assert set(first.tolist()) != set(semi_supervised.labelled_indices(labels, 50, draw=1).tolist())
    assert torch.equal(first, semi_supervised.labelled_indices(labels, 50, draw=0))


def test_confident_subset_keeps_the_most_confident_share_of_every_class():
    pseudo = torch.tensor([0, 0, 0, 0, 1, 1])
    confidence = torch.tensor([0.1, 0.9, 0.5, 0.7, 0.2, 0.3])
    kept = semi_supervised.confident_subset(pseudo, confidence, 0.5)
    assert sorted(kept.tolist()) == [1, 3, 5]  # the top half of class 0 and of class 1
    assert len(semi_supervised.confident_subset(pseudo, confidence, 1.0)) == 6


def test_spreading_labels_two_clusters_from_one_label_each():
    generator = torch.Generator().manual_seed(0)
    points = torch.cat([torch.randn(50, 2, generator=generator), torch.randn(50, 2, generator=generator) + 8])
    truth = torch.cat([torch.zeros(50), torch.ones(50)]).long()
    graph = semi_supervised.neighbour_graph(points, 5)
    pseudo, confidence = semi_supervised.spread(graph, torch.tensor([0, 50]), torch.tensor([0, 1]), 30)
    assert torch.equal(pseudo, truth) and confidence.min() > 0.5


def test_scheme_d_reads_no_label_of_the_unlabelled_pool(monkeypatch, tmp_path):
    """Scheme (d) may use the 50 labels only: replacing every other pool label by noise
    changes neither its classifier nor its training record, except the diagnostic share of
    right spread labels (which reads them on purpose)."""
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tmp_path))
    ae_recipe = replace(autoencoder.recipe("smoke"), train_size=300)
    recipe = replace(semi_supervised.recipe("smoke"), num_labels=20)
    real_pool = semi_supervised.pool

    def run(scramble: bool):
        images, labels = real_pool(ae_recipe)
        if scramble:
            keep = semi_supervised.labelled_indices(labels, recipe.num_labels, 0)
            noisy = torch.randint(0, 10, labels.shape, generator=torch.Generator().manual_seed(5))
            noisy[keep] = labels[keep]
            # the balanced draw must pick the same images from the scrambled labels: it does when
            # every other image of a digit looks unlabelled to it, so draw from the scrambled ones
            monkeypatch.setattr(semi_supervised, "labelled_indices", lambda _labels, _n, _draw: keep)
            labels = noisy
        monkeypatch.setattr(semi_supervised, "pool", lambda _recipe: (images, labels))
        return semi_supervised.self_trained_classifier(recipe, 0, ae_recipe, CPU, test_size=200)

    clean_model, clean_record = run(False)
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tmp_path / "scrambled"))
    scrambled_model, scrambled_record = run(True)
    for a, b in zip(clean_model.state_dict().values(), scrambled_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert clean_record["test_accuracy"] == scrambled_record["test_accuracy"]
    assert clean_record["kept"] == scrambled_record["kept"]


@pytest.mark.parametrize("name", idl.NOTEBOOKS)
def test_every_notebook_has_settings_and_smoke_is_smaller(name):
    settings = idl.SETTINGS[name]
    full, smoke = settings.check(f"idl_ex3/{name}", {}), settings.check(f"idl_ex3/{name}", {"profile": "smoke"})
    assert set(full.model_dump()) == set(smoke.model_dump())
    for field, value in smoke.model_dump().items():
        if isinstance(value, int | list) and field not in ("chosen_digit", "num_labels") and not isinstance(value, bool):
            size = len(value) if isinstance(value, list) else value
            full_value = getattr(full, field)
            assert size <= (len(full_value) if isinstance(full_value, list) else full_value), field


def test_headings_carry_the_handouts_names():
    """LaTeX adds no section numbers to idl_ex3: the headings name the problems themselves."""
    from lib import build

    assert not build.ASSIGNMENTS["idl_ex3"].numbered_sections and build.ASSIGNMENTS["idl_ex3"].clean_pdf
    for name in idl.NOTEBOOKS[1:]:
        nb = nbformat.read(paths.NOTEBOOK_DIR / "idl_ex3" / f"{name}.ipynb", as_version=4)
        assert nb.cells[0].source.startswith(f"# Problem {name[1]}"), name


def test_sampler_checkpoint_format_names_the_assignment(tmp_path):
    generator = gan.LatentGenerator(4, 8, (8,))
    decoder = autoencoder.CourseDecoder(latent_dim=8, channels=(2, 2, 2, 4))
    path = gan.save_sampler(tmp_path / "s.pt", generator, decoder, {"latent_dim": 8, "channels": (2, 2, 2, 4)})
    assert torch.load(path, weights_only=True)["format"] == gan.CHECKPOINT_FORMAT
    assert json.dumps(gan.load_sampler(path)(3, seed=1).shape[1:]) == "[1, 28, 28]"


def test_p2_names_a_change_of_the_discriminators_lead_only_when_every_seed_shows_it():
    assert p2._lead([0.4, 0.4, 0.4], [0.5, 0.45, 0.44]) == "widens its lead"
    # the mean widens by 0.04, but one seed narrows: no verdict for the design
    assert p2._lead([0.39, 0.39, 0.39], [0.47, 0.46, 0.37]).startswith("keeps its lead (on average it widens")
    assert p2._lead([0.5, 0.5, 0.5], [0.4, 0.45, 0.51]).startswith("keeps its lead (on average it narrows")
    assert p2._lead([0.5, 0.5, 0.5], [0.4, 0.45, 0.46]) == "loses part of its lead"
    assert p2._lead([0.5, 0.5], [0.51, 0.49]) == "keeps its lead"
