"""Every bad input we know of, run through ``lit_gans.cli.main`` in this process, with the exact message it gets.

Each case is a command line (and the files it needs, made in a temporary folder). The table shows the exit status
and the last line written to stderr; a case that ends in a Python traceback instead of one line shows
``TRACEBACK <exception>`` and fails the script, so the table in docs/bad_input.md cannot drift from the code.

    python experiments/benchmarks/bad_input.py

Prints a Markdown table, writes experiments/results/bad_input.json, and puts the table into docs/bad_input.md
(between its ``<!-- table -->`` markers).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path
from typing import Callable

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lit_gans.cli import main  # noqa: E402
from lit_gans.checkpoints.format import CHECKPOINT_FORMAT  # noqa: E402

QUIET = ["--trainer.logger", "false", "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary",
         "false", "--samples.every_n_steps", "0", "--trainer.limit_val_batches", "0", "--trainer.max_steps", "4"]
DCGAN = ["--model", "DCGAN", "--data", "Digits", "--data.image_size", "16", "--model.init_args.g_channels", "8",
         "--model.init_args.d_channels", "4", "--model.init_args.max_channels", "8"]


def fit(*args: str) -> list[str]:
    return ["fit", *DCGAN, *QUIET, *args]


# --- files some cases need ------------------------------------------------------------------------------------------
def image_folder(tmp: Path, name: str, corrupt: str = "") -> str:
    folder = tmp / name
    folder.mkdir()
    for i in range(8):
        Image.new("L", (16, 16), color=i * 30).save(folder / f"{i}.png")
    if corrupt == "truncated":
        data = (folder / "3.png").read_bytes()
        (folder / "3.png").write_bytes(data[: len(data) // 2])
    elif corrupt == "not_an_image":
        (folder / "3.png").write_text("this is not a PNG")
    return str(folder)


def dcgan_checkpoint(tmp: Path) -> str:
    path = tmp / "dcgan" / "last.ckpt"
    if not path.exists():
        main(fit("--trainer.max_steps", "2", "--trainer.default_root_dir", str(tmp / "dcgan"),
                 "--checkpoint.dirpath", str(tmp / "dcgan")))
    return str(path)


def newer_checkpoint(tmp: Path) -> str:
    ckpt = torch.load(dcgan_checkpoint(tmp), weights_only=True)
    ckpt["lit_gans_format"] = CHECKPOINT_FORMAT + 1
    torch.save(ckpt, tmp / "newer.ckpt")
    return str(tmp / "newer.ckpt")


def text_file(tmp: Path) -> str:
    (tmp / "notes.ckpt").write_text("not a checkpoint")
    return str(tmp / "notes.ckpt")


def truncated_checkpoint(tmp: Path) -> str:
    data = Path(dcgan_checkpoint(tmp)).read_bytes()
    (tmp / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    return str(tmp / "truncated.ckpt")


def unknown_key_yaml(tmp: Path) -> str:
    (tmp / "typo.yaml").write_text("model:\n  class_path: lit_gans.models.DCGAN\n  init_args:\n    zdim: 64\n"
                                   "data:\n  class_path: lit_gans.data.DigitsDataModule\n")
    return str(tmp / "typo.yaml")


#: (input, command line made from the temporary folder)
CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("unknown model name", lambda t: ["fit", "--model", "NoSuchGAN", "--data", "Digits"]),
    ("unknown data name", lambda t: ["fit", "--model", "DCGAN", "--data", "NoSuchData"]),
    ("unknown model key (command line)", lambda t: fit("--model.zdim", "64")),
    ("unknown model key (YAML)", lambda t: ["fit", "-c", unknown_key_yaml(t)]),
    ("unknown trainer key", lambda t: fit("--trainer.max_stepz", "4")),
    ("unknown subcommand", lambda t: ["train", "--model", "DCGAN"]),
    ("config file missing", lambda t: ["fit", "-c", str(t / "missing.yaml")]),
    ("dataset folder missing", lambda t: fit("--data", "ImageFolder", "--data.root", str(t / "nowhere"))),
    ("dataset folder empty", lambda t: fit("--data", "ImageFolder", "--data.root", str(t / "empty"))),
    ("truncated image file", lambda t: fit("--data", "ImageFolder", "--data.root", image_folder(t, "trunc", "truncated"),
                                           "--data.channels", "1", "--data.batch_size", "8")),
    ("file that is not an image", lambda t: fit("--data", "ImageFolder", "--data.root",
                                                image_folder(t, "garbage", "not_an_image"), "--data.channels", "1",
                                                "--data.batch_size", "8")),
    ("image size the model cannot take (DCGAN 12x12)", lambda t: fit("--data.image_size", "12")),
    ("image size the model cannot take (ProGAN 24x24)",
     lambda t: ["fit", "--model", "ProGAN", "--data", "Digits", "--data.image_size", "24", *QUIET]),
    ("channels the model cannot take (SeqGAN on images)", lambda t: ["fit", "--model", "SeqGAN", "--data", "Digits",
                                                                    *QUIET]),
    ("resume from another variant's checkpoint",
     lambda t: ["fit", "--model", "WGAN", "--data", "Digits", *QUIET, "--ckpt_path", dcgan_checkpoint(t)]),
    ("resume from a newer-format checkpoint", lambda t: fit("--ckpt_path", newer_checkpoint(t))),
    ("resume from a file that is not a checkpoint", lambda t: fit("--ckpt_path", text_file(t))),
    ("resume from a truncated checkpoint", lambda t: fit("--ckpt_path", truncated_checkpoint(t))),
    ("resume from a missing checkpoint", lambda t: fit("--ckpt_path", str(t / "missing.ckpt"))),
    ("sample from a newer-format checkpoint", lambda t: ["sample", "--ckpt", newer_checkpoint(t), "--out",
                                                         str(t / "s.png")]),
    ("sample from a file that is not a checkpoint", lambda t: ["sample", "--ckpt", text_file(t), "--out",
                                                               str(t / "s.png")]),
    ("batch size 0", lambda t: fit("--data.batch_size", "0")),
    ("image size 0", lambda t: fit("--data.image_size", "0")),
    ("z_dim 0", lambda t: fit("--model.z_dim", "0")),
    ("n_critic 0", lambda t: ["fit", "--model", "WGAN", "--data", "Digits", *QUIET, "--model.n_critic", "0"]),
    ("learning rate 0", lambda t: fit("--model.g_optimizer", "torch.optim.Adam", "--model.g_optimizer.lr", "0")),
    ("negative learning rate", lambda t: fit("--model.d_optimizer", "torch.optim.Adam", "--model.d_optimizer.lr",
                                             "-0.001")),
    ("NaN loss (NaN in the data)", lambda t: ["fit", "--model", "VanillaGAN", "--data", "Toy2D", "--data.std", ".nan",
                                              *QUIET]),
    ("Inf loss (learning rate 1e30)", lambda t: fit("--model.d_optimizer", "torch.optim.SGD",
                                                    "--model.d_optimizer.lr", "1e30")),
]


def run_case(argv: list[str]) -> tuple[int, str]:
    """Runs one command in this process: (exit status, last stderr line), or (-1, 'TRACEBACK ...')."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main(argv)
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except Exception as e:  # noqa: BLE001 - the point is to find these
        return -1, f"TRACEBACK {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    return code, (lines[-1] if lines else "")


def main_() -> None:
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    logging.getLogger("lightning.fabric").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "empty").mkdir()
        cwd = os.getcwd()
        os.chdir(tmp_path)  # runs/ and W&B files of the cases land in the temporary folder
        try:
            for name, make in CASES:
                argv = make(tmp_path)
                code, message = run_case(argv)
                rows.append({"input": name, "command": "lit-gans " + " ".join(argv).replace(tmp, "TMP"),
                             "exit": code, "message": message.replace(tmp, "TMP")})
        finally:
            os.chdir(cwd)
    out = ROOT / "experiments" / "results" / "bad_input.json"
    out.write_text(json.dumps({"command": "python experiments/benchmarks/bad_input.py", "cases": rows}, indent=2) + "\n")
    table = "\n".join(["| bad input | exit | message |", "|---|---|---|"]
                      + [f"| {r['input']} | {r['exit']} | `{r['message'].replace('|', '/')}` |" for r in rows])
    print(table)
    doc = ROOT / "docs" / "bad_input.md"
    head, marker, rest = doc.read_text().partition("<!-- table -->\n")
    doc.write_text(head + marker + table + "\n<!-- table -->\n" + rest.partition("<!-- table -->\n")[2])
    bad = [r["input"] for r in rows if r["exit"] != 2 or not r["message"].startswith("lit-gans: error:")]
    if bad:
        print(f"\n{len(bad)} case(s) without a one-line error: {bad}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main_()
