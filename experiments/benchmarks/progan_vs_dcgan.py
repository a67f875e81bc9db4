"""ProGAN vs DCGAN on the digits at 16x16, at the same CPU-time budget, scored on what `lit-gans sample` returns.

Both models are built from their shipped configs (experiments/progan/digits.yaml, experiments/dcgan/digits.yaml, as
``lit-gans fit -c`` builds them) and trained on the configs' DigitsDataModule split for ``--budget`` seconds of this
process's CPU time (one thread; on a shared machine wall time measures the neighbours). ProGAN's images per phase
can be shrunk with ``--phase-kimg`` (fade and stable alike) so that its schedule reaches 16x16 inside the budget;
the JSON records where it ended. Each trained model is saved as a checkpoint and sampled by the ``lit-gans sample``
command itself (``--num --seed --out .pt``: EMA generator, the phase the checkpoint is at, images in [-1, 1] at the
data size), and those images are scored. A third row, ``dcgan_equal_images``, trains DCGAN again per seed until
it has seen as many real images as ProGAN saw in its budget (what each model makes of the same data, whatever it
costs); ``cost_ms_per_image`` measures what one real image of a 16x16 training batch costs each model (ProGAN with
and without its gradient penalty, at batch 16 and 64; DCGAN at 64 and 16).

The judge is the project's digits feature network: ``lit-gans train-classifier`` (8x8, seed 0, 20% held out; samples
are resized to 8x8 by :class:`~lit_gans.metrics.classifier.ClassifierFeatures`), digits-feature FID of
:class:`~lit_gans.metrics.scores.FeatureScores` between ``--samples`` samples and the 1,617 training digits; the
floor is the same FID for the 180 held-out real digits. Prints a Markdown table (mean +- std over seeds),
writes experiments/results/progan_vs_dcgan.json and .png (64 scored samples of each run of the first seed, left to
right in the table's order).

    nice -n 10 python experiments/benchmarks/progan_vs_dcgan.py --budget 120 --seeds 0 1 2 --keep /tmp/progan_runs
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import lightning as L
import torch
import yaml
from PIL import Image
from cli_fit import ROOT, build_model
from stylegan2_digits import CPUBudget, fid

from lit_gans.commands.sample import main as sample_command
from lit_gans.commands.train_classifier import main as train_classifier
from lit_gans.data.digits import DigitsDataModule
from lit_gans.images import samples_to_picture
from lit_gans.metrics.classifier import ClassifierFeatures

CONFIGS = {"progan": "experiments/progan/digits.yaml", "dcgan": "experiments/dcgan/digits.yaml"}


class ImageBudget(L.Callback):
    """Stops training once the discriminator has seen ``images`` real images (batches of ``batch_size``)."""

    def __init__(self, images: float, batch_size: int) -> None:
        self.images, self.batch_size = images, batch_size

    def on_train_batch_end(self, trainer, pl_module, *args):
        if int(pl_module.d_steps) * self.batch_size >= self.images:
            trainer.should_stop = True


def train(name: str, seed: int, budget: float, phase_kimg: float, workdir: Path, tag: str = "",
          images: float = float("inf")) -> tuple[Path, dict]:
    """Trains the config's model for ``budget`` CPU seconds (or until it has seen ``images`` real images); saves
    and returns its checkpoint and the run's facts."""
    L.seed_everything(seed, verbose=False)
    model, data_args = build(name, phase_kimg)
    data = DigitsDataModule(**data_args)
    budget_cb = CPUBudget(budget)
    trainer = L.Trainer(max_epochs=1_000_000, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", devices=1, limit_val_batches=0,
                        callbacks=[budget_cb, ImageBudget(images, data_args["batch_size"])])
    trainer.fit(model, data)
    ckpt = workdir / f"{tag or name}_seed{seed}.ckpt"
    trainer.save_checkpoint(ckpt)
    facts = {"train_cpu_s": round(budget_cb.used(), 1), "g_steps": int(model.g_steps), "d_steps": int(model.d_steps),
             "batch_size": data_args["batch_size"]}
    if name == "progan":
        phase = model.phase
        facts |= {"resolution": phase.resolution, "alpha": phase.alpha, "kimg": int(model.images_shown) / 1000,
                  "phase_kimg": model.hparams.fade_kimg}
    else:
        facts["kimg"] = int(model.d_steps) * data_args["batch_size"] / 1000
    return ckpt, facts


def build(name: str, phase_kimg: float = 0.0):
    config = yaml.safe_load((ROOT / CONFIGS[name]).read_text())
    init_args = dict(config["model"]["init_args"])
    if name == "progan" and phase_kimg > 0:
        init_args |= {"fade_kimg": phase_kimg, "stable_kimg": phase_kimg}
    return build_model(config["model"]["class_path"], init_args, data_shape=(1, 16, 16)), config["data"]["init_args"]


def step_cost(name: str, batch_size: int, gradient_penalty: bool = True, reps: int = 10) -> float:
    """CPU milliseconds per real image of one training batch at 16x16 (D loss and backward, G loss and backward;
    the optimizer steps, a small share, left out), the model of ``name``'s config at ``batch_size``; for ProGAN,
    with or without the gradient penalty term (its double backward through D)."""
    torch.manual_seed(0)
    model, _ = build(name)
    if name == "progan":
        model.images_shown = 10**9  # past the schedule: 16x16, alpha 1
    x = torch.rand(batch_size, 1, 16, 16) * 2 - 1
    patch = (contextlib.nullcontext() if gradient_penalty else
             mock.patch("lit_gans.models.progan.gradient_penalty", lambda *args: torch.zeros(())))
    with patch:
        for i in range(reps + 2):
            if i == 2:  # two warm-up batches
                start = time.process_time()
            for loss_fn in (model.discriminator_loss, model.generator_loss):
                loss_fn(x)[0].backward()
    return 1000 * (time.process_time() - start) / (reps * batch_size)


def user_samples(ckpt: Path, num: int, seed: int) -> torch.Tensor:
    """What ``lit-gans sample --ckpt CKPT --num NUM --seed SEED --out s.pt`` writes."""
    out = ckpt.with_suffix(".samples.pt")
    sample_command(["--ckpt", str(ckpt), "--num", str(num), "--seed", str(seed), "--out", str(out)])
    return torch.load(out, weights_only=True)


def sample_grids(workdir: Path, tags: list[str], seed: int, out: Path) -> Path:
    """The first 64 scored samples of each run (seed ``seed``) as 8x8 grids side by side, enlarged 4x, to ``out``."""
    grids = [samples_to_picture(torch.load(workdir / f"{tag}_seed{seed}.samples.pt", weights_only=True)[:64], nrow=8)
             for tag in tags]
    gap = 8
    canvas = Image.new("RGB", (sum(g.width for g in grids) + gap * (len(grids) - 1), max(g.height for g in grids)),
                       "white")
    for i, grid in enumerate(grids):
        canvas.paste(grid.convert("RGB"), (i * (grid.width + gap), 0))
    canvas = canvas.resize((canvas.width * 4, canvas.height * 4), Image.NEAREST)
    canvas.save(out)
    return out


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0, help="CPU seconds of training per run")
    parser.add_argument("--phase-kimg", type=float, default=0.0,
                        help="ProGAN's fade and stable kimg per phase (0: the config's own)")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/progan_vs_dcgan.json")
    parser.add_argument("--no-equal-images", action="store_true",
                        help="skip the DCGAN runs stopped at the number of images ProGAN saw")
    parser.add_argument("--keep", type=Path, default=None, help="folder to keep the checkpoints and samples in")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        train_classifier(["--out", str(workdir / "digits_classifier.pt")])
        backbone = ClassifierFeatures.load(workdir / "digits_classifier.pt")
        data = DigitsDataModule(image_size=16)
        data.setup()
        real_train, real_val = data.train_set.tensors[0], data.val_set.tensors[0]
        result = {"fid_floor_real": fid(backbone, real_train, real_val), "budget_cpu_s": args.budget,
                  "samples": args.samples, "seeds": args.seeds, "phase_kimg": args.phase_kimg, "runs": {}}
        rows = [(name, name) for name in args.models]
        if not args.no_equal_images and set(args.models) == set(CONFIGS):
            rows.append(("dcgan_equal_images", "dcgan"))  # DCGAN stopped at the images ProGAN saw in its budget
        for tag, name in rows:
            runs = []
            for i, seed in enumerate(args.seeds):
                limit = {}
                if tag == "dcgan_equal_images":
                    limit = {"images": 1000 * result["runs"]["progan"][i]["kimg"], "budget": float("inf")}
                ckpt, facts = train(name, seed, limit.pop("budget", args.budget), args.phase_kimg, workdir, tag, **limit)
                fake = user_samples(ckpt, args.samples, seed)
                facts |= {"seed": seed, "fid": fid(backbone, real_train, fake), "sample_shape": list(fake.shape),
                          "sample_min": float(fake.min()), "sample_max": float(fake.max())}
                print(json.dumps({tag: facts}), flush=True)
                runs.append(facts)
            result["runs"][tag] = runs
            result[f"fid_{tag}"], result[f"fid_{tag}_std"] = mean_std([r["fid"] for r in runs])
        sample_grids(workdir, [tag for tag, _ in rows], args.seeds[0], args.out.with_suffix(".png"))
    result["cost_ms_per_image"] = {
        "progan_b16": step_cost("progan", 16), "progan_b16_no_gp": step_cost("progan", 16, gradient_penalty=False),
        "progan_b64": step_cost("progan", 64), "dcgan_b64": step_cost("dcgan", 64), "dcgan_b16": step_cost("dcgan", 16),
    }
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["command"] = "python experiments/benchmarks/progan_vs_dcgan.py " + " ".join(sys.argv[1:])
    print(f"\n| run | digits-feature FID (mean +- std, {len(args.seeds)} seeds) | train CPU s | kimg seen | G steps | ended at |")
    print("|---|---|---|---|---|---|")
    for name in result["runs"]:
        runs = result["runs"][name]
        kimg, steps = statistics.fmean(r["kimg"] for r in runs), statistics.fmean(r["g_steps"] for r in runs)
        end = ", ".join(f"{r['resolution']}x{r['resolution']} alpha {r['alpha']:.2f}" for r in runs) if name == "progan" else ""
        cpu = statistics.fmean(r["train_cpu_s"] for r in runs)
        print(f"| {name} | {result[f'fid_{name}']:.1f} +- {result[f'fid_{name}_std']:.1f} | {cpu:.0f} | {kimg:.1f} | "
              f"{steps:.0f} | {end} |")
    print(f"| real held-out vs training digits | {result['fid_floor_real']:.1f} | | | | |")
    print("\nCPU ms per real image of a training batch at 16x16: " +
          ", ".join(f"{k} {v:.2f}" for k, v in result["cost_ms_per_image"].items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
