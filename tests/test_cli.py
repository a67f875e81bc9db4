"""The `lit-gans` command: fit from names and from YAML, the run directory, `sample`, and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lit_gans.cli import main

REPO = Path(__file__).resolve().parents[1]
FAST = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", "--trainer.logger", "false"]


def run_cli(args, tmp_path):
    """Runs lit-gans in-process from tmp_path; returns the exit status (0 when it returns normally)."""
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        main(args)
        return 0
    except SystemExit as e:
        return e.code
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny DCGAN fit on the digits through the CLI, shared by the tests that need a run directory."""
    tmp = tmp_path_factory.mktemp("fit")
    args = ["fit", "--model", "DCGAN", "--data", "Digits", "--data.image_size", "8",
            "--model.g_channels", "8", "--model.d_channels", "8", "--model.z_dim", "8",
            "--trainer.max_steps", "6", "--trainer.default_root_dir", "run", "--samples.every_n_steps", "2",
            "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
    assert run_cli(args, tmp) == 0
    return tmp / "run"


def test_fit_leaves_config_checkpoints_and_sample_grids(trained):
    version = next(trained.rglob("config.yaml")).parent
    config = yaml.safe_load((version / "config.yaml").read_text())
    assert config["model"]["class_path"] == "lit_gans.models.dcgan.DCGAN"
    assert "data_shape" not in config["model"]["init_args"]  # linked from the data: written once, on the data
    assert config["data"]["init_args"]["image_size"] == 8
    ckpt = torch.load(version / "checkpoints" / "last.ckpt", weights_only=True)
    assert tuple(ckpt["hyper_parameters"]["data_shape"]) == (1, 8, 8)
    grids = sorted(p.name for p in (version / "samples").glob("*.png"))
    assert "last.png" in grids and "step_0000002.png" in grids


def test_sample_writes_a_tensor_and_a_grid(trained, tmp_path):
    ckpt = next(trained.rglob("last.ckpt"))
    assert run_cli(["sample", "--ckpt", str(ckpt), "--num", "5", "--out", str(tmp_path / "s.pt")], tmp_path) == 0
    samples = torch.load(tmp_path / "s.pt")
    assert samples.shape == (5, 1, 8, 8) and float(samples.abs().max()) <= 1.0
    assert run_cli(["sample", "--ckpt", str(ckpt), "--num", "9", "--out", str(tmp_path / "g.png")], tmp_path) == 0
    from PIL import Image

    assert Image.open(tmp_path / "g.png").size == (19 * 28, 19 * 28)  # 3x3 grid of 8px images, 1px padding: 28px
    native = ["--num", "9", "--min_size", "0", "--out", str(tmp_path / "n.png")]  # enlarged 19x to >= 512 by default
    assert run_cli(["sample", "--ckpt", str(ckpt), *native], tmp_path) == 0
    assert Image.open(tmp_path / "n.png").size == (3 * 9 + 1, 3 * 9 + 1)
    again = tmp_path / "again.pt"
    run_cli(["sample", "--ckpt", str(ckpt), "--num", "5", "--out", str(again)], tmp_path)
    assert torch.equal(torch.load(again), samples)  # seeded by default


def test_sample_with_label_for_a_conditional_model(tmp_path):
    args = ["fit", "--model", "CGAN", "--data", "Digits", "--model.z_dim", "4", "--model.hidden", "[8, 8]",
            "--trainer.max_steps", "2", "--trainer.default_root_dir", "r", *FAST, "--checkpoint.dirpath", "ck"]
    assert run_cli(args, tmp_path) == 0
    out = tmp_path / "s.pt"
    assert run_cli(["sample", "--ckpt", str(tmp_path / "ck" / "last.ckpt"), "--num", "3", "--label", "4", "--out", str(out)], tmp_path) == 0
    assert torch.load(out).shape == (3, 1, 8, 8)


@pytest.mark.parametrize("config", sorted(str(p.relative_to(REPO)) for p in (REPO / "experiments").glob("*/*.yaml")))
def test_shipped_configs_parse_and_build(config, tmp_path):
    """Every shipped config resolves to a model and data module (no training, no data download)."""
    from lit_gans.cli import GANCLI, _expand_short_names
    from lit_gans.data import GANDataModule
    from lit_gans.models import GANModule

    cli = GANCLI(GANModule, GANDataModule, subclass_mode_model=True, subclass_mode_data=True, run=False,
                 args=_expand_short_names(["-c", str(REPO / config), "--trainer.logger", "false"]),
                 auto_configure_optimizers=False, save_config_callback=None)
    assert isinstance(cli.model, GANModule) and isinstance(cli.datamodule, GANDataModule)
    assert tuple(cli.model.hparams.data_shape) == tuple(cli.datamodule.data_shape)


def _errors(tmp_path, args, capsys):
    code = run_cli(args, tmp_path)
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize("args,needle", [
    (["fit", "--model", "NoSuchGAN", "--data", "Digits"], "NoSuchGAN"),
    (["fit", "--model", "DCGAN", "--data", "NoSuchData"], "NoSuchData"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--model.not_a_key", "3"], "not_a_key"),
    (["fit", "-c", "missing.yaml"], "missing.yaml"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--data.image_size", "12"], "image_size"),
    (["fit", "--model", "DCGAN", "--data", "ImageFolder", "--data.root", "nowhere"], "nowhere"),
    (["sample", "--ckpt", "missing.ckpt", "--out", "x.png"], "missing.ckpt"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--data.batch_size", "0"], "batch_size must be >= 1, got 0"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--model.z_dim", "0"], "model.z_dim must be positive, got 0"),
    (["fit", "--model", "VanillaGAN", "--data", "Digits", "--model.g_hidden=[16, 0]"], "model.g_hidden must be positive"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--model.g_optimizer", "torch.optim.Adam",
      "--model.g_optimizer.lr", "0"], "model.g_optimizer.lr must be positive, got 0"),
    (["fit", "--model", "DCGAN", "--data", "Digits", "--model.d_optimizer", "torch.optim.SGD",
      "--model.d_optimizer.lr", "-1"], "model.d_optimizer.lr must be positive, got -1"),
    (["fit", "--model", "VanillaGAN", "--data", "Toy2D", "--data.std", ".nan", "--trainer.max_steps", "2",
      "--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--samples.every_n_steps", "0"],
     "the discriminator loss became nan at step 0"),
])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, capsys, args, needle):
    code, err = _errors(tmp_path, args, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("lit-gans: error:") and needle in err[0], err


def test_a_file_that_is_not_a_checkpoint(tmp_path, capsys):
    (tmp_path / "notes.ckpt").write_text("hello")
    code, err = _errors(tmp_path, ["sample", "--ckpt", "notes.ckpt", "--out", "x.png"], capsys)
    assert code == 2 and len(err) == 1 and "not a readable PyTorch checkpoint" in err[0]
    torch.save({"weights": torch.ones(2)}, tmp_path / "other.ckpt")
    code, err = _errors(tmp_path, ["sample", "--ckpt", "other.ckpt", "--out", "x.png"], capsys)
    assert code == 2 and "not a Lightning checkpoint" in err[0]


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lit_gans.cli", "sample", "--ckpt", "nope.ckpt", "--out", "a.png"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and out.stderr.strip().startswith("lit-gans: error:")
    assert "Traceback" not in out.stderr


def test_validate_test_and_predict_subcommands(trained, tmp_path):
    ckpt = str(next(trained.rglob("last.ckpt")))
    common = ["--model", "DCGAN", "--data", "Digits", "--data.image_size", "8", "--model.g_channels", "8",
              "--model.d_channels", "8", "--model.z_dim", "8", "--ckpt_path", ckpt, *FAST]
    for sub in ("validate", "test", "predict"):
        assert run_cli([sub, *common], tmp_path) == 0, sub
    # predict wrote its samples beside the checkpoint's run: every one as a tensor, the first 64 as a grid
    written = Path(ckpt).parents[1] / "predictions"
    samples = torch.load(written / "predictions.pt")
    from PIL import Image

    assert samples.shape[1:] == (1, 8, 8) and samples.shape[0] > 64 and float(samples.abs().max()) <= 1.0
    assert Image.open(written / "predictions.png").size == (8 * 73, 8 * 73)  # 8x8 grid of 8px + padding: 73px, 8x


def test_resume_refuses_bad_checkpoints_in_one_line(trained, tmp_path, capsys):
    """``fit --ckpt_path`` with another variant's checkpoint, a newer format or a file that is not a checkpoint."""
    from lit_gans.checkpoints.format import CHECKPOINT_FORMAT

    ckpt_path = next(trained.rglob("last.ckpt"))
    ckpt = torch.load(ckpt_path, weights_only=True)
    ckpt["lit_gans_format"] = CHECKPOINT_FORMAT + 1
    torch.save(ckpt, tmp_path / "newer.ckpt")
    (tmp_path / "notes.ckpt").write_text("hello")
    for model, path, needle in [("WGAN", ckpt_path, "holds a DCGAN model, but this run builds a WGAN"),
                                ("DCGAN", tmp_path / "newer.ckpt", "newer than this lit_gans reads"),
                                ("DCGAN", tmp_path / "notes.ckpt", "not a readable PyTorch checkpoint")]:
        code, err = _errors(tmp_path, ["fit", "--model", model, "--data", "Digits", "--ckpt_path", str(path)], capsys)
        assert code == 2 and len(err) == 1 and needle in err[0], err
    with pytest.raises(Exception, match="newer than this lit_gans reads"):
        from lit_gans.checkpoints import load_model

        load_model(tmp_path / "newer.ckpt")


def test_short_names_expand_to_class_paths():
    from lit_gans.cli import _expand_short_names

    assert _expand_short_names(["fit", "--model", "DCGAN", "--data=Digits", "--trainer.logger", "WandbLogger"]) == [
        "fit", "--model", "lit_gans.models.dcgan.DCGAN", "--data=lit_gans.data.digits.DigitsDataModule",
        "--trainer.logger", "lit_gans.loggers.WandbLogger"]
    assert _expand_short_names(["--trainer.logger=WandbLogger"]) == ["--trainer.logger=lit_gans.loggers.WandbLogger"]
    assert _expand_short_names(["--trainer.logger", "false"]) == ["--trainer.logger", "false"]
