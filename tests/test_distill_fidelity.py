"""A distilled student, sampled the way users sample it (``lit-gans compress`` -> checkpoint -> ``load_model`` ->
``sample``, and ``lit-gans sample``), reproduces its teacher on the same seeds: the check that would have caught the
students of FID 540 (docs/compression.md, "Why the students failed")."""

from __future__ import annotations

import torch
from compress_helpers import run_cli, visible_dcgan

from lit_gans.checkpoints import load_model
from lit_gans.checkpoints.atomic import atomic_save
from lit_gans.compress.student import build_student, student_checkpoint


def trained_like_teacher(folder):
    """:func:`visible_dcgan` of a 4-dimensional z (a random network of a larger z is a function too rough to learn in a
    test's steps), saved as a checkpoint."""
    teacher = visible_dcgan(z_dim=4)
    path = folder / "teacher.ckpt"
    atomic_save(student_checkpoint(teacher, {}), path)
    return teacher, path


def pixel_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().mean())


def test_a_distilled_student_samples_like_its_teacher_through_the_public_path(tmp_path):
    teacher, path = trained_like_teacher(tmp_path)
    out = tmp_path / "student.ckpt"
    args = ["--steps", "150", "--batch_size", "32", "--lr", "3e-3", "--progress", "false"]
    assert run_cli(["compress", "--ckpt", path, "--method", "distill", "--width", "0.5", "--out", out, *args],
                   tmp_path) == 0
    target = teacher.sample(256, seed=1)
    assert target.std() > 0.3  # the teacher's images are not blank
    untrained = pixel_error(build_student(teacher, 0.5).sample(256, seed=1), target)
    student = load_model(out)
    distilled = pixel_error(student.sample(256, seed=1), target)
    # the first version's loss (its discriminator-logit feature term outweighing the pixel term) ended at 0.6x
    assert distilled < 0.2 and distilled < 0.5 * untrained, (distilled, untrained)
    # lit-gans sample draws the same images from the file (same seed, same latents)
    assert run_cli(["sample", "--ckpt", out, "--num", "16", "--seed", "1", "--out", tmp_path / "s.pt"], tmp_path) == 0
    assert pixel_error(torch.load(tmp_path / "s.pt"), teacher.sample(16, seed=1)) < 0.2


def test_the_check_fails_for_a_student_that_did_not_learn(tmp_path):
    """The same check on a student distilled for one step: far from the teacher (the test above can fail)."""
    teacher, path = trained_like_teacher(tmp_path)
    out = tmp_path / "student.ckpt"
    assert run_cli(["compress", "--ckpt", path, "--method", "distill", "--width", "0.5", "--out", out, "--steps", "1",
                    "--batch_size", "8", "--progress", "false"], tmp_path) == 0
    target = teacher.sample(256, seed=1)
    untrained = pixel_error(build_student(teacher, 0.5).sample(256, seed=1), target)
    assert pixel_error(load_model(out).sample(256, seed=1), target) > 0.5 * untrained
