"""Provenance marks on every picture lit-gans writes, and the model card written at the end of a fit."""

from __future__ import annotations

import re

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

import lit_gans
from lit_gans.callbacks.model_card import ModelCard
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.callbacks.translations import TranslationTriplets
from lit_gans.cli import main
from lit_gans.commands import translate
from lit_gans.data.digits import DigitsDataModule
from lit_gans.data.unpaired import DigitsStylesDataModule
from lit_gans.models.cyclegan import CycleGAN
from lit_gans.models.dcgan import DCGAN
from lit_gans.provenance import IPTC_SYNTHETIC, file_sha256, image_metadata, is_synthetic, read_provenance, weights_sha256
from lit_gans.provenance import save_synthetic_png

SILENT = dict(accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False)


def tiny_dcgan() -> DCGAN:
    return DCGAN(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4)


def assert_marked(path, model_name: str, checkpoint=None) -> dict:
    """The file carries the synthetic mark, the model's name, this library's version and, when it came from a file,
    that checkpoint's hash."""
    fields = read_provenance(path)
    assert fields["synthetic"] == "true" and fields["model"] == model_name
    assert fields["version"] == lit_gans.__version__
    assert re.fullmatch(r"[0-9a-f]{64}", fields["weights_sha256"])
    expected = file_sha256(checkpoint) if checkpoint is not None else "none"
    assert fields["checkpoint_sha256"] == expected
    with Image.open(path) as img:
        img.load()
        assert IPTC_SYNTHETIC in img.text["XML:com.adobe.xmp"]
    return fields


# --- the functions --------------------------------------------------------------------------------------------------
def test_provenance_round_trip(tmp_path):
    model = tiny_dcgan()
    ckpt = tmp_path / "m.ckpt"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    path = save_synthetic_png(Image.new("L", (4, 4)), tmp_path / "x.png", model, checkpoint=ckpt, description="d")
    fields = assert_marked(path, "DCGAN", checkpoint=ckpt)
    assert fields["weights_sha256"] == weights_sha256(model) and fields["step"] == "0"
    assert is_synthetic(path)
    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    assert read_provenance(plain) == {} and not is_synthetic(plain)


def test_provenance_weights_hash_changes_with_the_weights_only():
    a, b = tiny_dcgan(), tiny_dcgan()
    b.load_state_dict(a.state_dict())
    assert weights_sha256(a) == weights_sha256(b)
    with torch.no_grad():
        next(b.generator.parameters()).view(-1)[0] += 1e-3
    assert weights_sha256(a) != weights_sha256(b)


def test_provenance_metadata_names_model_and_description():
    meta = image_metadata(tiny_dcgan(), description="a grid")
    assert meta["Description"] == "a grid" and meta["Software"] == f"lit_gans {lit_gans.__version__}"
    assert meta["lit_gans:model"] == "DCGAN" and meta["lit_gans:checkpoint_sha256"] == "none"


# --- every writer ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """A 3-step DCGAN fit with the sample grid and the model card, and its checkpoint."""
    tmp = tmp_path_factory.mktemp("dcgan")
    L.seed_everything(0)
    model = tiny_dcgan()
    ckpt_cb = L.pytorch.callbacks.ModelCheckpoint(dirpath=tmp / "checkpoints", save_last=True)
    callbacks = [SampleGrid(every_n_steps=2, num_samples=4), ModelCard(), ckpt_cb]
    trainer = L.Trainer(max_steps=4, default_root_dir=tmp, callbacks=callbacks, **SILENT)
    trainer.fit(model, DigitsDataModule(image_size=8, batch_size=8))
    return model, tmp


def test_provenance_on_training_sample_grids(dcgan_run):
    model, tmp = dcgan_run
    grids = sorted((tmp / "samples").glob("*.png"))
    assert [p.name for p in grids] == ["interpolation_last.png", "interpolation_step_0000002.png", "last.png",
                                       "step_0000002.png"]
    steps = [assert_marked(p, "DCGAN")["step"] for p in grids]
    assert int(model.g_steps) == 2 and steps == ["2"] * 4  # max_steps counts both players' optimizer steps
    for last in (grids[0], grids[2]):  # drawn by the final weights
        assert read_provenance(last)["weights_sha256"] == weights_sha256(model)
    with Image.open(grids[0]) as img:
        img.load()
        assert img.text["Description"] == "latent interpolation of DCGAN (rows z0 -> z1) after 2 steps"


def test_provenance_on_the_sample_command(dcgan_run, tmp_path, monkeypatch):
    _, tmp = dcgan_run
    ckpt = tmp / "checkpoints" / "last.ckpt"
    monkeypatch.chdir(tmp_path)
    main(["sample", "--ckpt", str(ckpt), "--num", "4", "--out", "s.png"])
    assert_marked(tmp_path / "s.png", "DCGAN", checkpoint=ckpt)


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cyclegan")
    L.seed_everything(0)
    model = CycleGAN(data_shape=(1, 16, 16), g_channels=4, d_channels=4, n_residual_blocks=1, d_layers=1)
    trainer = L.Trainer(max_steps=2, default_root_dir=tmp, callbacks=[TranslationTriplets(num_images=2)],
                        enable_checkpointing=False, **SILENT)
    trainer.fit(model, DigitsStylesDataModule(batch_size=2))
    trainer.save_checkpoint(tmp / "model.ckpt")
    return model, tmp


def test_provenance_on_training_translation_grids(cyclegan_run):
    _, tmp = cyclegan_run
    grids = sorted((tmp / "samples").glob("translations_*.png"))
    assert grids and all(assert_marked(p, "CycleGAN")["synthetic"] == "true" for p in grids)


def test_provenance_on_the_translate_command(cyclegan_run, tmp_path):
    _, tmp = cyclegan_run
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (16, 16), np.uint8)).save(tmp_path / "in.png")
    translate.main(["--ckpt", str(tmp / "model.ckpt"), "--input", str(tmp_path / "in.png"), "--out", str(tmp_path / "o")])
    fields = assert_marked(tmp_path / "o" / "in.png", "CycleGAN", checkpoint=tmp / "model.ckpt")
    with Image.open(tmp_path / "o" / "in.png") as img:
        img.load()
        assert "translation of in.png" in img.text["Description"]
        assert "translation of in.png" in img.text["XML:com.adobe.xmp"]  # the XMP packet says the same
    assert fields["model"] == "CycleGAN"


# --- the model card -------------------------------------------------------------------------------------------------
def test_model_card_names_data_metrics_and_checkpoints(dcgan_run):
    model, tmp = dcgan_run
    card = (tmp / "checkpoints" / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card: DCGAN trained on DigitsDataModule")
    assert "arXiv:1511.06434" in card  # the paper, from the variant's docstring
    assert "- training examples: " in card and "- data_shape: (1, 8, 8)" in card
    assert "Training finished." in card and "- g_steps: 2" in card
    # final metrics: the last logged D loss, as the trainer holds it
    d_loss = float(re.search(r"\| train/d_loss \| ([-0-9.e]+) \|", card).group(1))
    assert abs(d_loss - float(model.trainer.callback_metrics["train/d_loss"])) < 1e-4
    sha = file_sha256(tmp / "checkpoints" / "last.ckpt")
    assert f"`last.ckpt` sha256 `{sha}`" in card
    for section in ("## Intended use", "## Limitations", "## Responsible use"):
        assert section in card


def test_model_card_is_written_when_training_stops_on_an_error(tmp_path):
    class Exploding(DCGAN):
        def generator_loss(self, batch):
            loss, logs = super().generator_loss(batch)
            return loss * float("nan"), logs

    trainer = L.Trainer(max_steps=3, default_root_dir=tmp_path, callbacks=[ModelCard()], **SILENT)
    with pytest.raises(FloatingPointError):
        trainer.fit(Exploding(data_shape=(1, 8, 8), z_dim=4, g_channels=4, d_channels=4), DigitsDataModule(image_size=8, batch_size=8))
    card = next(tmp_path.rglob("MODEL_CARD.md")).read_text()
    assert "Training stopped early: NonFiniteLossError" in card


def test_model_card_from_the_cli(tmp_path, monkeypatch):
    args = ["fit", "--model", "DCGAN", "--data", "Digits", "--data.image_size", "8", "--model.g_channels", "4",
            "--model.d_channels", "4", "--model.z_dim", "4", "--trainer.max_steps", "2", "--trainer.logger", "false",
            "--trainer.enable_progress_bar", "false", "--checkpoint.dirpath", str(tmp_path / "ck")]
    monkeypatch.chdir(tmp_path)
    main(args)
    card = (tmp_path / "ck" / "MODEL_CARD.md").read_text()
    assert "DCGAN trained on DigitsDataModule" in card and "`last.ckpt` sha256" in card


def test_provenance_command_reports_each_file(dcgan_run, tmp_path, capsys):
    _, tmp = dcgan_run
    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    main(["provenance", str(tmp / "samples" / "last.png"), str(plain)])
    out = capsys.readouterr().out.splitlines()
    fields = read_provenance(tmp / "samples" / "last.png")
    assert out[0].startswith(f"{tmp / 'samples' / 'last.png'}: synthetic; model=DCGAN, checkpoint_sha256=none, ")
    assert f"weights_sha256={fields['weights_sha256']}, step=2, version={lit_gans.__version__}" in out[0]
    assert out[1] == f"{plain}: no lit_gans provenance"
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(SystemExit) as e:
        main(["provenance", str(tmp_path / "bad.png")])
    assert e.value.code == 2 and "not a readable image" in capsys.readouterr().err
