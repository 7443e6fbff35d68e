"""Tests for vaediag.datasets.classifier: random tensors and tiny synthetic sets by default; the shipped weights'
accuracy on the real 10k MNIST test set under the ``mnist`` marker."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vaediag.datasets import classifier as clf
from vaediag.datasets.classifier import (ClassifierOutput, DigitClassifier, classify, evaluate_classifier,
                                         load_classifier, random_shift, save_classifier, train_classifier)
from vaediag.files.atomic import file_sha256
from vaediag.errors import CheckpointError

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
    assert pt.stat().st_size <= 2 * 1024 * 1024
    assert file_sha256(pt) == info["sha256"]
    assert info["test_accuracy"] >= 0.993 and info["n_train"] == 60_000 and info["n_test"] == 10_000
    for key in ("train", "train_seconds", "torch_version", "inference_seconds_10k", "history", "parameters"):
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


def test_random_hflip_mirrors_about_half_the_images():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (400, 28, 28), dtype=torch.uint8, generator=gen)
    out = clf.random_hflip(images, gen)
    mirrored = [torch.equal(o, i.flip(-1)) for o, i in zip(out, images)]
    assert all(m or torch.equal(o, i) for m, o, i in zip(mirrored, out, images))
    assert 150 < sum(mirrored) < 250  # Binomial(400, 1/2): mean 200, sd 10


def test_train_classifier_uses_the_recipe_widths_and_flips():
    recipe = clf.TRAIN_RECIPES["fashion-mnist"]
    assert recipe["hflip"] is True and clf.TRAIN_RECIPES["mnist"]["hflip"] is False
    data = synthetic_digits(n_train=64, n_test=20)
    model, info = train_classifier(data, epochs=1, device="cpu", batch_size=32, channels=(8, 8, 16), feature_dim=24,
                                   hflip=True, log=lambda *_: None)
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
    kw = dict(epochs=2, seed=3, device="cpu", batch_size=32, log=lambda *_: None)
    m1, info = train_classifier(data, **kw)
    m2, _ = train_classifier(data, **kw)
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert not m1.training and not m1.fused
    assert [row["epoch"] for row in info["history"]] == [1, 2]
    assert info["train"]["seed"] == 3 and info["n_train"] == 160 and info["n_test"] == 40
    assert 0 <= info["test_accuracy"] <= 1 and info["train_seconds"] > 0 and info["inference_seconds_10k"] > 0
    assert info["test_accuracy"] == pytest.approx(evaluate_classifier(m1, data.test_images, data.test_labels))
    save_classifier(m1, info, tmp_path)
    assert clf.read_info(tmp_path)["history"] == info["history"]
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
