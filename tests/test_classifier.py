"""Tests for vaediag.datasets.classifier, vaediag.datasets.classifier_training, vaediag.datasets.degrade and vaediag.datasets.judge_checks: random
tensors and tiny synthetic sets by default; the shipped judges on the real 10k test sets (clean, degraded, an
independent VAE's reconstructions, constructed images) under the ``mnist`` marker."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vaediag.datasets import classifier as clf
from vaediag.datasets.classifier import (ClassifierOutput, DigitClassifier, classify, evaluate_classifier, load_classifier,
                                save_classifier)
from vaediag.datasets.classifier import readable
from vaediag.datasets import classifier_training as training
from vaediag.datasets.classifier_training import fit_temperature, random_shift, train_classifier
from vaediag.files.atomic import file_sha256
from vaediag.errors import CheckpointError

from vaediag.datasets.degrade import SIGMAS, constructed_images, degrade, gaussian_blur
from vaediag.datasets.judge_checks import grid_cell, robustness_grid, unreadable_rates, vae_reconstruction_check

from helpers import synthetic_digits


def _random_model(seed: int = 0) -> DigitClassifier:
    """A random-init classifier whose BatchNorm statistics are not the identity (so fusing is really tested)."""
    torch.manual_seed(seed)
    model = DigitClassifier()
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(64, 1, 28, 28))
    return model.eval()


def _images(n: int = 37, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def model():
    return _random_model()


# -------------------------------------------------------------------------------------------- inference


def test_output_shapes_dtypes_and_probabilities(model):
    out = classify(model, _images(37), batch_size=16)  # three batches, the last one partial
    assert isinstance(out, ClassifierOutput)
    assert out.probs.shape == (37, 10) and out.probs.dtype == np.float64
    assert out.features.shape == (37, clf.FEATURE_DIM) and out.features.dtype == np.float32
    np.testing.assert_allclose(out.probs.sum(axis=1), 1.0, atol=1e-12)
    assert (out.probs >= 0).all() and np.isfinite(out.features).all()
    assert (out.features >= 0).all()  # post-ReLU features
    np.testing.assert_array_equal(out.predictions, out.probs.argmax(1))


def test_uint8_and_float_inputs_give_the_same_result(model):
    u8 = _images(20)
    f = u8.float().div(255).unsqueeze(1)
    a, b = classify(model, u8), classify(model, f)
    np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.features, b.features, rtol=0, atol=1e-6)
    c = classify(model, f.squeeze(1).numpy())  # float [N, 28, 28] numpy is accepted too
    np.testing.assert_allclose(a.probs, c.probs, rtol=0, atol=1e-12)


def test_probs_and_features_match_the_module(model):
    x = _images(9).float().div(255).unsqueeze(1)
    out = classify(model, x)
    with torch.no_grad():
        np.testing.assert_allclose(out.features, model.features(x).numpy(), atol=1e-5)
        np.testing.assert_allclose(out.probs, torch.softmax(model(x).double(), 1).numpy(), atol=1e-6)


def test_batch_size_does_not_change_results(model):
    x = _images(50)
    a, b = classify(model, x, batch_size=7), classify(model, x, batch_size=4096)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-9)
    np.testing.assert_allclose(a.features, b.features, atol=1e-5)


def test_empty_input(model):
    out = classify(model, _images(0))
    assert out.probs.shape == (0, 10) and out.features.shape == (0, clf.FEATURE_DIM)


@pytest.mark.parametrize("shape", [(4, 28), (4, 2, 28, 28), (4, 1, 32, 32)])
def test_bad_image_shape_is_rejected(model, shape):
    with pytest.raises(ValueError, match="shape"):
        classify(model, torch.zeros(shape))


def test_classify_keeps_the_training_mode(model):
    m = _random_model()
    m.train()
    classify(m, _images(4))
    assert m.training


def test_fused_model_gives_the_same_outputs(model):
    fused = _random_model().fuse_().to(memory_format=torch.channels_last)
    assert not any(isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for mod in fused.modules())
    x = _images(40)
    a, b = classify(model, x), classify(fused, x)
    np.testing.assert_allclose(a.probs, b.probs, atol=1e-5)
    np.testing.assert_allclose(a.features, b.features, atol=1e-4, rtol=1e-4)
    with pytest.raises(RuntimeError, match="inference only"):
        fused.train()


def test_evaluate_classifier_is_accuracy(model):
    x = _images(30)
    pred = classify(model, x).predictions
    labels = torch.as_tensor(pred.copy())
    labels[:6] = (labels[:6] + 1) % 10
    assert evaluate_classifier(model, x, labels) == pytest.approx(24 / 30)
    assert evaluate_classifier(model, x, labels.numpy()) == pytest.approx(24 / 30)


# -------------------------------------------------------------------------------------------- weights


def test_save_and_load_round_trip(tmp_path, model):
    path = save_classifier(model, {"test_accuracy": 0.5}, tmp_path)
    info = json.loads((tmp_path / clf.INFO_FILE).read_text())
    assert info["sha256"] == file_sha256(path) and info["test_accuracy"] == 0.5
    assert info["architecture"] == {"channels": list(clf.CHANNELS), "feature_dim": clf.FEATURE_DIM}
    loaded = load_classifier("cpu", weights_dir=tmp_path)
    assert not loaded.training and loaded.fused
    x = _images(25)
    np.testing.assert_allclose(classify(loaded, x).probs, classify(model, x).probs, atol=1e-5)


def test_tampered_weights_raise_checkpoint_error(tmp_path):
    shutil.copytree(clf.WEIGHTS_DIR, tmp_path, dirs_exist_ok=True)
    pt = tmp_path / clf.WEIGHTS_FILE
    blob = bytearray(pt.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    pt.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="sha256") as exc:
        load_classifier(weights_dir=tmp_path)
    assert "\n" not in str(exc.value)


def test_unloadable_weights_with_matching_sha_raise_checkpoint_error(tmp_path, model):
    save_classifier(model, {}, tmp_path)
    pt = tmp_path / clf.WEIGHTS_FILE
    pt.write_bytes(b"not a torch file")
    info = json.loads((tmp_path / clf.INFO_FILE).read_text())
    info["sha256"] = file_sha256(pt)
    (tmp_path / clf.INFO_FILE).write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="cannot be loaded") as exc:
        load_classifier(weights_dir=tmp_path)
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("missing", [clf.WEIGHTS_FILE, clf.INFO_FILE])
def test_missing_files_raise_checkpoint_error(tmp_path, model, missing):
    save_classifier(model, {}, tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_classifier(weights_dir=tmp_path)


def test_shipped_weights_are_small_verified_and_documented():
    info = clf.read_info()
    pt = clf.WEIGHTS_DIR / clf.WEIGHTS_FILE
    assert pt.stat().st_size <= 3 * 1024 * 1024
    assert file_sha256(pt) == info["sha256"]
    assert info["test_accuracy"] >= 0.993 and info["n_test"] == 10_000
    assert info["n_train"] + info["n_calibration"] == 60_000 and info["n_calibration"] >= 1000
    for key in ("train", "train_seconds", "torch_version", "inference_seconds_10k", "history", "parameters",
                "robustness_grid", "calibration", "unreadable", "vae_reconstructions"):
        assert key in info
    model = load_classifier()
    assert not model.training and clf.n_parameters(model) > 0
    out = classify(model, _images(8))
    assert out.features.shape == (8, info["architecture"]["feature_dim"])


@pytest.mark.parametrize("dataset", ["fashion-mnist", "mnist"])
def test_missing_classifier_names_the_command_that_trains_it(tmp_path, dataset):
    with pytest.raises(CheckpointError) as exc:
        load_classifier(dataset=dataset, weights_dir=tmp_path)
    option = "" if dataset == "mnist" else " --dataset fashion-mnist"
    assert f"`vaediag classifier train{option}`" in str(exc.value) and "\n" not in str(exc.value)


def test_per_dataset_files_and_a_classifier_of_another_dataset_is_refused(tmp_path, model):
    path = save_classifier(model, {"test_accuracy": 0.5}, tmp_path, dataset="fashion-mnist")
    assert path.name == "fashion_cnn.pt" and sorted(p.name for p in tmp_path.iterdir()) == [
        "fashion_cnn.json", "fashion_cnn.pt"]
    assert clf.read_info(tmp_path, dataset="fashion-mnist")["dataset"] == "fashion-mnist"
    loaded = load_classifier("cpu", dataset="fashion-mnist", weights_dir=tmp_path)
    x = _images(9)
    np.testing.assert_allclose(classify(loaded, x).probs, classify(model, x).probs, atol=1e-5)
    # MNIST's file names holding a Fashion-MNIST classifier: refused by what the info records
    (tmp_path / "fashion_cnn.pt").rename(tmp_path / clf.WEIGHTS_FILE)
    (tmp_path / "fashion_cnn.json").rename(tmp_path / clf.INFO_FILE)
    with pytest.raises(CheckpointError, match="was trained on fashion-mnist, not mnist"):
        load_classifier(weights_dir=tmp_path)


def test_a_wider_architecture_loads_generically(tmp_path):
    torch.manual_seed(0)
    wide = DigitClassifier((8, 24, 40), 48).eval()
    save_classifier(wide, {}, tmp_path, dataset="fashion-mnist")
    loaded = load_classifier(dataset="fashion-mnist", weights_dir=tmp_path)
    assert loaded.channels == (8, 24, 40) and loaded.feature_dim == 48
    assert classify(loaded, _images(5)).features.shape == (5, 48)


# -------------------------------------------------------------------------------------------- training

# a recipe small enough for a unit test: one tiny auxiliary VAE copied after 3 steps, a small held-out split
TINY = dict(aux_vaes=((16, 2),), aux_steps=(3,), aux_train_size=64, calibration_size=20)


def test_random_hflip_mirrors_about_half_the_images():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (400, 28, 28), dtype=torch.uint8, generator=gen)
    out = training.random_hflip(images, gen)
    mirrored = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    assert all(m or torch.equal(o, i) for m, o, i in zip(mirrored, out, images))
    assert 150 < sum(mirrored) < 250  # Binomial(400, 1/2): mean 200, sd 10


def test_train_classifier_uses_the_recipe_widths_and_flips():
    recipe = training.TRAIN_RECIPES["fashion-mnist"]
    assert recipe["hflip"] is True and training.TRAIN_RECIPES["mnist"]["hflip"] is False
    data = synthetic_digits(n_train=64, n_test=20)
    model, info = train_classifier(data, epochs=1, device="cpu", batch_size=32, channels=(8, 8, 16), feature_dim=24,
                                   hflip=True, log=lambda *_: None, report=False, **TINY)
    assert model.channels == (8, 8, 16) and model.feature_dim == 24
    assert info["train"]["hflip"] is True and info["train"]["channels"] == [8, 8, 16]




def test_random_shift_translates_each_image():
    gen = torch.Generator().manual_seed(0)
    images = torch.zeros(64, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 10:16] = torch.randint(1, 256, (64, 12, 6), dtype=torch.uint8, generator=gen)
    shifted = random_shift(images, 2, gen)
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    seen = set()
    for before, after in zip(images, shifted):
        offsets = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if torch.equal(torch.roll(before, (dy, dx), dims=(0, 1)), after)]
        assert len(offsets) == 1  # a pure translation by at most 2 px, nothing lost
        seen.add(offsets[0])
    assert len(seen) > 10  # offsets vary per image
    assert torch.equal(random_shift(images, 0, gen), images)


def test_train_classifier_is_seeded_and_reports(tmp_path):
    data = synthetic_digits(n_train=160, n_test=40)
    kw = dict(epochs=2, seed=3, device="cpu", batch_size=32, log=lambda *_: None, report=False, **TINY)
    m1, info = train_classifier(data, **kw)
    m2, _ = train_classifier(data, **kw)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert not m1.training and not m1.fused
    assert [row["epoch"] for row in info["history"]] == [1, 2]
    assert info["train"]["seed"] == 3 and info["n_train"] + info["n_calibration"] == 160 and info["n_test"] == 40
    assert 0 <= info["test_accuracy"] <= 1 and info["train_seconds"] > 0 and info["inference_seconds_10k"] > 0
    assert info["test_accuracy"] == pytest.approx(evaluate_classifier(m1, data.test_images, data.test_labels))
    assert m1.temperature == info["calibration"]["temperature"] > 0
    assert set(info["unreadable"]["constructed"]) == set(constructed_images())
    save_classifier(m1, info, tmp_path)
    assert clf.read_info(tmp_path)["history"] == info["history"]
    assert load_classifier(weights_dir=tmp_path).temperature == m1.temperature
    with pytest.raises(ValueError):
        save_classifier(load_classifier(weights_dir=tmp_path), info, tmp_path)  # a fused copy is not saved


# -------------------------------------------------------------------------------------------- real MNIST


SHIPPED_ACCURACY = {"mnist": 0.993, "fashion-mnist": 0.92}  # the least each shipped classifier must reach


@pytest.mark.mnist
@pytest.mark.parametrize("dataset", list(SHIPPED_ACCURACY))
def test_shipped_classifier_accuracy_on_the_real_test_set(request, dataset):
    """Re-measures each shipped classifier on its dataset's full 10k test set (the Fashion-MNIST weights are
    trained by `vaediag classifier train --dataset fashion-mnist` and shipped as vaediag/weights/fashion_cnn.*)."""
    from vaediag.datasets.data import load_dataset

    root = request.getfixturevalue("mnist_root" if dataset == "mnist" else "fashion_root")
    data = load_dataset(dataset, root, train_size=10, log=lambda *_: None)  # the full 10k test set
    assert data.n_test == 10_000
    info = clf.read_info(dataset=dataset)
    assert info.get("dataset", "mnist") == dataset and info["n_test"] == 10_000
    accuracy = evaluate_classifier(load_classifier(dataset=dataset), data.test_images, data.test_labels)
    assert accuracy >= SHIPPED_ACCURACY[dataset]
    assert accuracy == pytest.approx(info["test_accuracy"], abs=3e-4)  # fused == trained, ±3 images


# -------------------------------------------------------------------------------------------- degradations


def test_degrade_without_blur_or_grey_is_the_float_image():
    u8 = _images(6)
    np.testing.assert_array_equal(degrade(u8, 0, 0).numpy(), u8.float().div(255).unsqueeze(1).numpy())


@pytest.mark.parametrize("sigma", SIGMAS[1:])
def test_degrade_blurs_with_the_documented_gaussian_kernel(sigma):
    """A point of light spreads into the outer product of the normalised kernel exp(-k^2 / 2 sigma^2), |k| <= ceil(3
    sigma); scipy's gaussian_filter with truncate=3 and black outside is the same filter at the grid's sigmas."""
    from scipy.ndimage import gaussian_filter

    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 14, 14] = 1.0
    radius = int(np.ceil(3 * sigma))
    k = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * sigma**2))
    k /= k.sum()
    out = degrade(x, sigma, 0)[0, 0].numpy()
    np.testing.assert_allclose(out[14 - radius : 15 + radius, 14 - radius : 15 + radius], np.outer(k, k), atol=1e-7)
    assert out.sum() == pytest.approx(1.0, abs=1e-6)
    image = _images(3).float().div(255).unsqueeze(1)
    expected = [gaussian_filter(im[0].double().numpy(), sigma, mode="constant", cval=0.0, truncate=3.0)
                for im in image]
    np.testing.assert_allclose(degrade(image, sigma, 0)[:, 0].numpy(), np.stack(expected), atol=1e-5)


def test_degrade_grey_background_maps_black_to_grey_and_keeps_white():
    x = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3).expand(1, 1, 28, 3).repeat(1, 1, 1, 10)[..., :28]
    out = degrade(x, 0, 0.1)
    np.testing.assert_allclose(out.numpy(), (0.1 + 0.9 * x).numpy(), atol=1e-7)
    assert float(out.min()) == pytest.approx(0.1) and float(out.max()) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        degrade(x, -1, 0)
    with pytest.raises(ValueError):
        degrade(x, 0, 1.0)


def test_per_image_blur_matches_blurring_each_image_alone():
    x = _images(4).float().div(255).unsqueeze(1)
    sigmas = torch.tensor([0.0, 0.7, 1.5, 2.5])
    together = gaussian_blur(x, sigmas)
    for i, s in enumerate(sigmas.tolist()):
        np.testing.assert_allclose(together[i].numpy(), degrade(x[i : i + 1], s, 0)[0].numpy(), atol=1e-6)


def test_augmentations_keep_shapes_ranges_and_are_seeded():
    from vaediag.datasets.classifier_augment import junk_images, random_photometric, random_warp

    x = _images(16).float().div(255).unsqueeze(1)
    for fn in (random_warp, random_photometric):
        a, b = fn(x, torch.Generator().manual_seed(1)), fn(x, torch.Generator().manual_seed(1))
        assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
        assert float(a.min()) >= 0 and float(a.max()) <= 1 + 1e-6
    junk = junk_images(50, torch.Generator().manual_seed(0))
    assert junk.shape == (50, 1, 28, 28) and float(junk.min()) >= 0 and float(junk.max()) <= 1


# -------------------------------------------------------------------------------------------- calibration


def test_fit_temperature_recovers_the_temperature_that_made_the_labels():
    gen = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(20_000, 10, generator=gen)
    labels = torch.multinomial(torch.softmax(logits / 2.5, 1), 1, generator=gen)[:, 0]
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.05)


def test_the_temperature_is_stored_with_the_weights_and_applied(tmp_path):
    model = _random_model()
    model.temperature = 2.5
    save_classifier(model, {}, tmp_path)
    info = clf.read_info(tmp_path)
    assert info["temperature"] == 2.5 and info["format"] == clf.FORMAT
    assert torch.load(tmp_path / clf.WEIGHTS_FILE, weights_only=True)["temperature"] == 2.5
    loaded = load_classifier(weights_dir=tmp_path)
    assert loaded.temperature == 2.5
    x = _images(12).float().div(255).unsqueeze(1)
    with torch.no_grad():
        expected = torch.softmax(model(x).double() / 2.5, 1).numpy()
    np.testing.assert_allclose(classify(loaded, x).probs, expected, atol=1e-6)
    info["temperature"] = 1.0  # the json disagrees with the weights file
    (tmp_path / clf.INFO_FILE).write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="temperature"):
        load_classifier(weights_dir=tmp_path)


def test_weights_of_the_first_format_load_with_temperature_one(tmp_path):
    model = _random_model()
    torch.save({"format": "vaediag-digit-cnn/1", "architecture": model.architecture,
                "state_dict": model.state_dict()}, tmp_path / clf.WEIGHTS_FILE)
    (tmp_path / clf.INFO_FILE).write_text(json.dumps({"sha256": file_sha256(tmp_path / clf.WEIGHTS_FILE)}))
    assert load_classifier(weights_dir=tmp_path).temperature == 1.0


def test_readable_is_a_threshold_on_the_top_probability():
    probs = np.array([[0.05] * 9 + [0.55], [0.1] * 10, [clf.UNREADABLE_BELOW] + [0.0] * 9])
    probs[2, 1] = 1 - clf.UNREADABLE_BELOW
    assert readable(probs).tolist() == [True, False, clf.UNREADABLE_BELOW >= 1 - clf.UNREADABLE_BELOW]
    assert readable(torch.as_tensor(probs), threshold=0.6).tolist() == [False, False, False]
    out = ClassifierOutput(probs=probs, features=np.zeros((3, 4), np.float32))
    np.testing.assert_array_equal(out.readable, readable(probs))


# -------------------------------------------------------------------------------------------- real data: the judges


def _test_set(request, dataset):
    from vaediag.datasets.data import load_dataset

    request.getfixturevalue("mnist_root" if dataset == "mnist" else "fashion_root")
    return load_dataset(dataset, train_size=10, log=lambda *_: None)


@pytest.mark.mnist
@pytest.mark.parametrize("dataset", list(SHIPPED_ACCURACY))
def test_shipped_judge_reads_blurred_grey_images_and_reports_its_grid(request, dataset):
    """The robustness grid recorded by the training command is what the shipped judge does now (±3 images per
    cell); MNIST's blur 1.5 px + 5 % grey reaches the bar; few real images are unreadable."""
    data = _test_set(request, dataset)
    info = clf.read_info(dataset=dataset)
    judge = load_classifier(dataset=dataset)
    grid = robustness_grid(judge, data.test_images, data.test_labels)
    for row, recorded in zip(grid, info["robustness_grid"]):
        assert (row["sigma"], row["grey"]) == (recorded["sigma"], recorded["grey"])
        assert row["accuracy"] == pytest.approx(recorded["accuracy"], abs=3e-4)
    if dataset == "mnist":
        assert grid_cell(grid, 1.5, 0.05)["accuracy"] >= 0.97
    assert grid_cell(grid, 0.0, 0.0)["unreadable_share"] <= 0.02


@pytest.mark.mnist
@pytest.mark.parametrize("dataset", list(SHIPPED_ACCURACY))
def test_constructed_images_are_unreadable_to_the_shipped_judges(dataset):
    rates = unreadable_rates(load_classifier(dataset=dataset))
    assert rates["all_unreadable"], rates["constructed"]
    assert clf.read_info(dataset=dataset)["unreadable"]["all_unreadable"]


@pytest.fixture(scope="module")
def independent_vae_check(mnist_root):
    """A pytorch/examples VAE (784-400-20, 3 epochs on 10k digits, seeded, one thread; never seen by the recipe)
    trained here: the judge on its reconstructions of the 10k test digits vs the 5-NN accuracy of its codes."""
    from vaediag.datasets.data import load_dataset

    data = load_dataset("mnist", mnist_root, log=lambda *_: None)
    return vae_reconstruction_check(load_classifier(), data, latent_dim=20, epochs=3, train_size=10_000, seed=0)


@pytest.mark.mnist
def test_the_independent_vae_check_reproduces_what_training_recorded(independent_vae_check):
    recorded = next(c for c in clf.read_info()["vae_reconstructions"] if c["latent_dim"] == 20)
    for key in ("latent_knn_accuracy", "judge_accuracy"):
        assert independent_vae_check[key] == pytest.approx(recorded[key], abs=0.005), key


@pytest.mark.mnist
@pytest.mark.xfail(strict=True, reason="target not reached yet: the shipped MNIST judge reads 88.6 % of this VAE's "
                   "reconstructions, its latent 5-NN 91.2 % (the bar is 89.2 %)")
def test_shipped_judge_reads_an_independent_vaes_reconstructions(independent_vae_check):
    """The judge's accuracy on the reconstructions is within 2 points of the latent 5-NN accuracy."""
    check = independent_vae_check
    assert check["judge_accuracy"] >= check["latent_knn_accuracy"] - 0.02, check


def test_the_classifier_module_does_not_import_the_training_recipe():
    import subprocess
    import sys

    code = ("import sys, vaediag.datasets.classifier as c; "
            "assert 'vaediag.datasets.classifier_training' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
