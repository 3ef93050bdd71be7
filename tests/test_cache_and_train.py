from __future__ import annotations

import re
import threading
import time

import pytest
import torch

from lib import cache, models, precision, train
from lib.nn4i_ex2.models import ConvAutoencoder
from lib.utils import seed_everything


def tiny_ae():
    seed_everything(0)
    return ConvAutoencoder(2, 1, base_channels=2, hidden_units=8)


def tiny_fit(images, epochs=1):
    def fit(model):
        return train.fit_reconstruction(
            model,
            images,
            images[:8],
            num_epochs=epochs,
            batch_size=8,
            learning_rate=1e-2,
            seed=0,
            device=torch.device("cpu"),
            name="tiny",
            loss="mse",
            schedule="one-cycle",
        )

    return fit


IMAGES = torch.rand(32, 1, 28, 28)


def tiny_entry(config):
    """Where load_or_train stores the tiny model of ``config`` (trained in this CPU's precision)."""
    used = cache.resolve_precision("auto", torch.device("cpu"))
    return cache.entry_path("tiny", config, cache.training_modules(tiny_ae.__module__), used)


def test_second_call_is_a_cache_hit():
    calls = []

    def fit(model):
        calls.append(1)
        return tiny_fit(IMAGES)(model)

    config = {"test": "hit"}
    first, history = cache.load_or_train("tiny", config, tiny_ae, fit, torch.device("cpu"))
    second, history2 = cache.load_or_train("tiny", config, tiny_ae, fit, torch.device("cpu"))
    assert len(calls) == 1 and history == history2
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    entry = tiny_entry(config)
    assert entry.exists() and entry.with_suffix(".json").exists()
    torch.load(entry, weights_only=True)  # plain tensors and containers only


def test_two_concurrent_requests_for_one_model_train_it_once():
    """Notebooks built side by side may need the same model at the same moment: the entry
    lock makes the second wait and load the first one's result instead of training again."""
    calls = []
    started = threading.Event()

    def slow_fit(model):
        calls.append(1)
        started.set()
        time.sleep(0.5)  # the other request arrives while this one trains
        return tiny_fit(IMAGES)(model)

    config = {"test": "concurrent"}
    results = []

    def request():
        results.append(cache.load_or_train("tiny", config, tiny_ae, slow_fit, torch.device("cpu")))

    first = threading.Thread(target=request)
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=request)
    second.start()
    first.join(30)
    second.join(30)
    assert len(calls) == 1 and len(results) == 2
    for a, b in zip(results[0][0].state_dict().values(), results[1][0].state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_key_depends_on_config_and_code():
    assert cache.cache_key("k", {"a": 1}) != cache.cache_key("k", {"a": 2})
    assert cache.cache_key("k", {"a": 1}) != cache.cache_key("j", {"a": 1})
    assert cache.cache_key("k", {"a": 1}, ["lib.train"]) != cache.cache_key("k", {"a": 1}, ["lib.data"])
    assert cache.cache_key("k", {"a": 1}, ["lib.train"]) != cache.cache_key("k", {"a": 1})
    modules = cache.training_modules("lib.nn4i_ex2.models")
    assert cache.cache_key("k", {"a": 1}, modules) == cache.cache_key("k", {"a": 1}, list(modules))


def test_training_modules_follow_the_imports_and_leave_out_storage():
    """The module defining ``build`` and every lib module it imports, directly or not (also
    inside functions); lib.cache and lib.paths only store entries."""
    modules = cache.training_modules("lib.nn4i_ex2.models")
    assert {"lib.nn4i_ex2.models", "lib.train", "lib.data", "lib.utils"} <= set(modules)
    assert "lib.train" in cache.training_modules("lib.zoo")  # through lib.zoo's own imports
    assert not {"lib.cache", "lib.paths"} & set(modules)
    assert modules == sorted(set(modules))


def test_corrupt_entry_is_retrained(capsys):
    config = {"test": "corrupt"}
    cache.load_or_train("tiny", config, tiny_ae, tiny_fit(IMAGES), torch.device("cpu"))
    path = tiny_entry(config)
    path.write_bytes(path.read_bytes()[:100])  # truncated file
    calls = []

    def fit(model):
        calls.append(1)
        return tiny_fit(IMAGES)(model)

    cache.load_or_train("tiny", config, tiny_ae, fit, torch.device("cpu"))
    assert calls == [1] and "unreadable" in capsys.readouterr().out
    torch.load(path, weights_only=True)


def test_entry_without_history_is_retrained(capsys):
    """A readable checkpoint that is not a whole cache entry (no training history) is
    retrained, not loaded into a notebook that then fails on the missing history."""
    config = {"test": "no-history"}
    cache.load_or_train("tiny", config, tiny_ae, tiny_fit(IMAGES), torch.device("cpu"))
    path = tiny_entry(config)
    entry = torch.load(path, weights_only=True)
    torch.save({"state_dict": entry["state_dict"]}, path)
    _, history = cache.load_or_train("tiny", config, tiny_ae, tiny_fit(IMAGES), torch.device("cpu"))
    assert "unreadable" in capsys.readouterr().out and isinstance(history, dict)
    assert "history" in torch.load(path, weights_only=True)


def test_bad_thread_setting_is_named(monkeypatch):
    from lib.utils import configure_threads

    monkeypatch.setenv("BUNDLE_THREADS", "two")
    with pytest.raises(ValueError, match="BUNDLE_THREADS='two'.*fix"):
        configure_threads()


def test_interrupted_training_leaves_no_entry():
    config = {"test": "interrupt"}

    def fit(model):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.load_or_train("tiny", config, tiny_ae, fit, torch.device("cpu"))
    path = tiny_entry(config)
    assert not path.exists() and not list(path.parent.glob(".*"))  # no temporary file either (they are hidden)


def test_same_seed_same_losses():
    first = tiny_fit(IMAGES, epochs=2)(tiny_ae())
    second = tiny_fit(IMAGES, epochs=2)(tiny_ae())
    assert first["train_mse"] == second["train_mse"] and first["test_mse"] == second["test_mse"]


def test_nan_loss_stops_training_with_the_model_name():
    with pytest.raises(train.TrainingError, match="tiny.*epoch 1"):
        tiny_fit(torch.full_like(IMAGES, float("nan")))(tiny_ae())


def test_reconstruction_loop_settings():
    common = dict(num_epochs=1, batch_size=8, learning_rate=1e-2, seed=0, device=torch.device("cpu"), name="tiny")
    with pytest.raises(ValueError, match="unknown reconstruction loss 'l1'; fix"):
        train.fit_reconstruction(tiny_ae(), IMAGES, IMAGES[:8], loss="l1", schedule="constant", **common)
    bce = train.fit_reconstruction(tiny_ae(), IMAGES, IMAGES[:8], loss="bce", schedule="cosine", channels_last=True, **common)
    assert set(bce) == {"train_bce", "test_bce", "test_mse", "seconds"}

    # the same training, scored on a fixed noisy copy of the test set instead of the clean one;
    # a per-pixel model, because the tiny AE can collapse to a constant output (then both
    # test sets score alike), which made this check depend on the machine's rounding
    def per_pixel():
        seed_everything(0)
        return torch.nn.Sequential(torch.nn.Conv2d(1, 1, kernel_size=1), torch.nn.Sigmoid())

    clean = train.fit_reconstruction(per_pixel(), IMAGES, IMAGES[:8], loss="mse", schedule="constant", noise_std=1.0, **common)
    noisy = train.fit_reconstruction(
        per_pixel(), IMAGES, IMAGES[:8], loss="mse", schedule="constant", noise_std=1.0, noisy_test=True, **common
    )
    assert clean["train_mse"] == noisy["train_mse"] and noisy["test_mse"] != clean["test_mse"]


def test_chance_accuracy_is_flagged(capsys):
    assert train.warn_if_chance(0.11, "head")
    assert "WARNING: head is at chance level" in capsys.readouterr().out
    assert not train.warn_if_chance(0.9, "head")


def test_few_label_training_learns_a_separable_problem():
    torch.manual_seed(0)
    x = torch.randn(40, 4)
    y = (x[:, 0] > 0).long()
    model = torch.nn.Linear(4, 2)
    losses = train.fit_few_labels(
        model, x, y, num_steps=100, batch_size=40, learning_rate=0.1, seed=0, device=torch.device("cpu")
    )
    assert losses[-1] < losses[0] / 3
    assert train.evaluate_accuracy(model, x, y, torch.device("cpu")) > 0.9


def test_fingerprint_ignores_formatting_and_docstrings_but_not_logic():
    plain = "def f(x):\n    return x + 1\n"
    restyled = '"""Module."""\n\n\ndef f(x):\n    """Add one."""\n    return (x+1)  # comment\n'
    changed = "def f(x):\n    return x + 2\n"
    assert cache._semantic_source(plain) == cache._semantic_source(restyled)
    assert cache._semantic_source(plain) != cache._semantic_source(changed)


@pytest.mark.parametrize("skip", [False, True])
def test_architecture_rows_name_the_layers_in_words(skip):
    """The layer table of the report: one row per convolution or fully connected layer with the
    layers around it, in words (no module paths such as "decoder.up1.0", no class names), with
    the row's output shape and parameters."""
    from lib.cpsc663_ex2.prob6_CAE import ConvAutoencoder as HandoutCAE
    from lib.plots import architecture_rows

    model = HandoutCAE(skip=skip)
    rows = architecture_rows(model, (1, 28, 28))
    assert [row[0] for row in rows] == ["encoder"] * 4 + ["decoder"] * 4
    assert all(isinstance(cell, str) for row in rows for cell in row)
    layers = [re.findall(r"(?:conv|fully connected) \d+ → \d+", row[1]) for row in rows]
    assert layers == [
        ["conv 1 → 4"],
        ["conv 4 → 8"],
        ["fully connected 392 → 20"],
        ["fully connected 20 → 2"],
        ["fully connected 2 → 20"],
        ["fully connected 20 → 392"],
        ["conv 8 → 4"],
        ["conv 4 → 1"],
    ]
    assert rows[0][1].startswith("conv 1 → 4, 3×3, stride 1, ReLU, max pool 2×2") and rows[0][2:] == ["4×14×14", "40"]
    assert [row[2] for row in rows] == ["4×14×14", "392", "20", "2", "20", "8×7×7", "4×14×14", "1×28×28"]
    assert sum("upsample ×2 (nearest)" in row[1] for row in rows) == 2 and rows[-1][1].endswith("sigmoid")
    assert sum(int(row[3].replace(",", "")) for row in rows) == models.count_parameters(model)
    text = " ".join(cell for row in rows for cell in row)
    assert not re.search(r"\w\.\d|\b(encoder|decoder)\.\w|MaxPool|Upsample|Unflatten|Flatten", text), text


def test_every_torch_load_in_lib_is_weights_only():
    """Checkpoints are never unpickled in full: each torch.load call passes weights_only=True."""
    import ast

    from lib import paths

    offenders = []
    for source in paths.LIB_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "load"
                and getattr(node.func.value, "id", "") == "torch"
            ):
                safe = any(k.arg == "weights_only" and getattr(k.value, "value", None) is True for k in node.keywords)
                if not safe:
                    offenders.append(f"{source.name}:{node.lineno}")
    assert not offenders, f"torch.load without weights_only=True: {offenders}"


# --- training precision -----------------------------------------------------------------


def test_precision_setting_is_checked_and_float32_forces_float32(monkeypatch):
    monkeypatch.setenv("BUNDLE_PRECISION", "bf16")
    with pytest.raises(ValueError, match=r"BUNDLE_PRECISION='bf16'.*fix: export BUNDLE_PRECISION=auto"):
        precision.training_precision("cpu")
    monkeypatch.setenv("BUNDLE_PRECISION", "float32")
    assert precision.training_precision("cpu") == "float32"
    assert "BUNDLE_PRECISION=float32" in precision.describe("cpu")
    monkeypatch.setenv("BUNDLE_PRECISION", "auto")
    expected = "bfloat16" if precision.cpu_has_native_bf16() else "float32"
    assert precision.training_precision("cpu") == expected


@pytest.mark.parametrize(("has_bf16", "expected"), [(True, "bfloat16"), (False, "float16")])
def test_a_cuda_gpu_gets_bfloat16_where_it_has_it_else_float16(monkeypatch, has_bf16, expected):
    """No GPU here: the capability is faked, the choice and the float32 override are real."""
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: has_bf16)
    monkeypatch.setenv("BUNDLE_PRECISION", "auto")
    assert precision.training_precision("cuda") == expected
    assert precision.training_precision("mps") == "float32"
    monkeypatch.setenv("BUNDLE_PRECISION", "float32")
    assert precision.training_precision("cuda") == "float32"


def test_the_precision_is_part_of_the_key_and_recorded(tmp_path, monkeypatch):
    """A bfloat16-trained model is never served to a float32 build, and the entry says how it
    was trained; training runs under autocast, the weights stay float32."""
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    seen = []

    def fit(model):
        seen.append(precision.active())
        return tiny_fit(IMAGES)(model)

    cpu = torch.device("cpu")
    monkeypatch.setenv("BUNDLE_PRECISION", "auto")
    model, _ = cache.load_or_train("tiny", {"a": 1}, tiny_ae, fit, cpu)
    assert seen == ["bfloat16"] and precision.active() == "float32"  # restored after training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    monkeypatch.setenv("BUNDLE_PRECISION", "float32")
    cache.load_or_train("tiny", {"a": 1}, tiny_ae, fit, cpu)
    assert seen == ["bfloat16", "float32"], "the float32 build reused the bfloat16 model"
    entries = sorted(tmp_path.glob("tiny/*.pt"))
    assert len(entries) == 2
    assert sorted(torch.load(e, weights_only=True)["precision"] for e in entries) == ["bfloat16", "float32"]
    forced, _ = cache.load_or_train("tiny", {"a": 1}, tiny_ae, fit, cpu, precision="float32")
    assert len(seen) == 2, "a model kept in float32 is the float32 entry"


def test_autocast_is_off_outside_training_and_bfloat16_inside():
    x = torch.rand(4, 8)
    layer = torch.nn.Linear(8, 3)
    with precision.autocast("cpu"):
        assert layer(x).dtype == torch.float32
    with precision.training("bfloat16"), precision.autocast("cpu"):
        assert layer(x).dtype == torch.bfloat16
    assert precision.active() == "float32"


def test_planned_entry_finds_the_entry_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("BUNDLE_CACHE_DIR", str(tmp_path))
    trained = []

    def fit(model):
        trained.append(1)
        return tiny_fit(IMAGES)(model)

    def fetch():
        return cache.load_or_train("tiny", {"b": 2}, tiny_ae, fit, torch.device("cpu"), label="tiny AE")

    path, label = cache.planned_entry(fetch)
    assert label == "tiny AE" and not path.exists() and not trained
    fetch()
    assert path.exists() and trained == [1]
    with pytest.raises(RuntimeError, match="reached no cached model"):
        cache.planned_entry(lambda: None)


def test_knn_graph_is_exact_and_bfloat16_candidates_keep_the_neighbours():
    generator = torch.Generator().manual_seed(0)
    points = torch.randn(700, 16, generator=generator)
    neighbours, sq_distances = train.knn_graph(points, 5, chunk_size=128)
    brute = torch.cdist(points, points).pow(2).fill_diagonal_(float("inf"))
    expected_distances, expected = brute.topk(5, dim=1, largest=False)
    assert torch.equal(neighbours, expected)  # no point is its own neighbour, none is missed
    assert torch.allclose(sq_distances, expected_distances, rtol=1e-5, atol=1e-5)
    fast, fast_distances = train.knn_graph(points, 5, chunk_size=128, candidate_dtype=torch.bfloat16)
    kept = sum(len(set(a) & set(b)) for a, b in zip(fast.tolist(), expected.tolist(), strict=True)) / expected.numel()
    assert kept > 0.999  # ranked in bfloat16, chosen in float32: the same graph up to rare ties
    # the distances are float32 ones whatever ranked the candidates
    assert torch.allclose(fast_distances, (points[fast] - points[:, None]).pow(2).sum(-1))
