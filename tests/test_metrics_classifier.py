"""The digits feature network: its command, FID/KID/IS on it, stacked-digits modes, Classification Accuracy Score."""

from __future__ import annotations

import math

import pytest
import torch
from torchmetrics.image import FrechetInceptionDistance

from lit_gans.commands.train_classifier import split_digits
from lit_gans.metrics.classifier import ClassifierFeatures, accuracy, classification_accuracy_score
from lit_gans.metrics.scores import FeatureScores
from lit_gans.metrics.stacked import NUM_MODES, stack_digits, stacked_mode_statistics
from metric_fixtures import digits_classifier_file


@pytest.fixture(scope="module")
def backbone() -> ClassifierFeatures:
    return ClassifierFeatures.load(digits_classifier_file())


@pytest.fixture(scope="module")
def digits():
    return split_digits(8, 0.2, 0)  # the command's own split: the test digits were never trained on


def test_train_classifier_command_learns(backbone, digits, capsys):
    (_, _), (x_test, y_test) = digits
    trained = accuracy(backbone.net, x_test, y_test)
    ckpt = torch.load(digits_classifier_file(), weights_only=True)
    assert abs(ckpt["test_accuracy"] - trained) < 1e-9
    assert trained > 0.85  # 4 epochs; the default 10 reach ~0.97
    untrained = ClassifierFeatures(type(backbone.net)(), 8)
    assert accuracy(untrained.net, x_test, y_test) < 0.35


def test_classifier_rejects_wrong_checkpoints_and_shapes(backbone, tmp_path):
    with pytest.raises(FileNotFoundError, match="lit-gans train-classifier"):
        ClassifierFeatures.load(tmp_path / "none.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint written by"):
        ClassifierFeatures.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"takes images \(N, 1, H, W\)"):
        backbone(torch.zeros(2, 3, 8, 8))


def test_classifier_fid_equals_torchmetrics_direct_and_orders_real_above_noise(backbone, digits):
    (x_train, _), (x_test, _) = digits
    noise = torch.rand(len(x_test), 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    scores = FeatureScores(backbone, ["fid", "kid", "is"], kid_subsets=10)
    scores.update(x_train, real=True)
    scores.update(x_test, real=False)
    held_out = scores.compute()
    scores.reset_fake()
    scores.update(noise, real=False)
    noisy = scores.compute()
    # torchmetrics on its own, with the classifier as its feature network (no dummy-image probe: num_features)
    direct = FrechetInceptionDistance(feature=backbone)
    direct.update(x_train, real=True)
    direct.update(x_test, real=False)
    assert abs(float(direct.compute()) - held_out["fid"]) < 1e-3 * max(1.0, held_out["fid"])
    assert held_out["fid"] < 0.1 * noisy["fid"] and held_out["kid"] < 0.1 * noisy["kid"]
    # classifier Inception Score: real balanced digits towards the 10 classes (a 4-epoch classifier is not very
    # confident), noise far below
    assert 5.0 < held_out["is"] <= 10.0 and noisy["is"] < 0.6 * held_out["is"]


def test_classifier_resizes_larger_samples(backbone):
    x8, _ = split_digits(8, 0.2, 0)[1]
    x16, _ = split_digits(16, 0.2, 0)[1]
    same = (backbone.features_and_logits(x8)[1].argmax(1) == backbone.features_and_logits(x16)[1].argmax(1))
    assert same.double().mean() > 0.9


def test_stacked_digit_modes_both_ways(backbone, digits):
    (_, _), (x_test, y_test) = digits
    gen = torch.Generator().manual_seed(0)
    images, modes = stack_digits(x_test, y_test, 5000, gen)
    assert images.shape == (5000, 3, 8, 8) and int(modes.max()) < NUM_MODES
    real = stacked_mode_statistics(images, backbone)
    assert real.modes > 950 and real.reverse_kl < 0.4  # 5 samples a mode on average: a little KL from sampling
    collapsed = stacked_mode_statistics(images[:10].repeat(500, 1, 1, 1), backbone)
    assert collapsed.modes <= 10 and abs(collapsed.reverse_kl - math.log(NUM_MODES / collapsed.modes)) < 0.05


def test_classification_accuracy_score_both_ways(digits):
    (x_train, y_train), (x_test, y_test) = digits
    good = classification_accuracy_score(x_train, y_train, x_test, y_test, epochs=4)
    shuffled = y_train[torch.randperm(len(y_train), generator=torch.Generator().manual_seed(0))]
    bad = classification_accuracy_score(x_train, shuffled, x_test, y_test, epochs=2)
    assert good > 0.85 and bad < 0.3
    with pytest.raises(ValueError, match="differ"):
        classification_accuracy_score(x_train[:, :, :4], y_train, x_test, y_test)
