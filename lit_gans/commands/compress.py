"""``lit-gans compress --ckpt TEACHER.ckpt --method distill|prune|int8 --out FILE``: a smaller or faster generator.

- ``distill`` (``--width 0.25``): a student of the teacher's variant with that fraction of the generator's channels,
  trained with the Trainer (progress bar, CSV logs, checkpoints in ``--run_dir``, ``--resume``) to reproduce the
  teacher on the same latents and conditions (:mod:`lit_gans.models.distill`). ``--out`` is an ordinary ``.ckpt`` of
  the variant: ``lit-gans sample`` draws from it, ``lit-gans fit --ckpt_path`` continues it adversarially.
- ``prune`` (``--amount 0.5``): removes that fraction of every hidden layer's channels, those of smallest L1 norm
  (:mod:`lit_gans.compress.prune`), then fine-tunes by the same distillation (``--steps``); a ``.ckpt`` as well.
- ``int8``: post-training static quantisation for CPU inference calibrated on ``--calibration`` batches of latents
  (:mod:`lit_gans.compress.quantize`); ``--out`` is a TorchScript ``.pt`` that ``lit-gans sample`` also draws from.

Every output gets a model card, ``<out stem>_MODEL_CARD.md``, naming the checkpoint it derives from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional, Sequence

from jsonargparse import ArgumentParser

from lit_gans.errors import UserError
from lit_gans.commands.parsing import parse_args


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans compress", description=__doc__, exit_on_error=False)
    p.add_argument("--ckpt", type=str, required=True, help="the teacher: a checkpoint written by lit-gans fit")
    p.add_argument("--method", type=Literal["distill", "prune", "int8"], required=True)
    p.add_argument("--out", type=str, required=True, help=".ckpt for distill and prune, .pt (TorchScript) for int8")
    p.add_argument("--width", type=float, default=0.25, help="distill: fraction of the generator's channels kept")
    p.add_argument("--amount", type=float, default=0.5, help="prune: fraction of each hidden layer's channels removed")
    p.add_argument("--steps", type=int, default=2000, help="distill / prune: training steps")
    p.add_argument("--batch_size", type=int, default=64, help="distill / prune: latents per step")
    p.add_argument("--lr", type=float, default=3e-3, help="distill / prune: Adam learning rate (cosine decay)")
    p.add_argument("--pixel_weight", type=float, default=1.0)
    p.add_argument("--feature_weight", type=float, default=0.0, help="weight of the loss on the teacher discriminator's hidden features (0: off, the best measured; docs/compression.md)")
    p.add_argument("--adv_weight", type=float, default=0.0, help="adversarial loss against the teacher's D")
    p.add_argument("--calibration", type=int, default=8, help="int8: calibration batches of --batch_size latents")
    p.add_argument("--run_dir", type=Optional[str], default=None, help="distill / prune: logs and checkpoints (default: <out stem>_run next to --out)")
    p.add_argument("--resume", type=Optional[str], default=None, help="distill / prune: a checkpoint of --run_dir to continue, or 'last'")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accelerator", type=str, default="auto")
    p.add_argument("--progress", type=bool, default=True, help="show the progress bar")
    return p


def main(argv: Sequence[str]) -> None:
    from lit_gans.checkpoints.loading import load_model

    args = parse_args(build_parser(), argv)
    out = Path(args.out)
    wanted = ".pt" if args.method == "int8" else ".ckpt"
    if out.suffix != wanted:
        raise UserError(f"--method {args.method} writes a {wanted} file: give --out ending in {wanted}, got {out.name}")
    teacher = load_model(args.ckpt)
    from lit_gans.compress.student import check_supported

    check_supported(teacher)
    if args.method == "int8":
        return _int8(teacher, args, out)
    return _train_student(teacher, args, out)


def _train_student(teacher, args, out: Path) -> None:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger

    from lit_gans.checkpoints.atomic import atomic_save
    from lit_gans.compress.card import derived_from, write_derived_card
    from lit_gans.compress.prune import prune_into
    from lit_gans.compress.student import build_student, count_parameters, student_checkpoint
    from lit_gans.models.distill import Distillation

    if args.method == "prune" and not 0.0 <= args.amount < 1.0:
        raise UserError(f"--amount must be in [0, 1), got {args.amount}")
    width = args.width if args.method == "distill" else 1.0 - args.amount
    L.seed_everything(args.seed, verbose=False)
    student = build_student(teacher, width)
    settings = {"width": width, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                "pixel_weight": args.pixel_weight, "feature_weight": args.feature_weight, "adv_weight": args.adv_weight}
    if args.method == "prune":
        settings["criterion"] = "L1 norm of output channels; kept per layer " + str(prune_into(teacher.sampling_generator(), student.generator))
    try:
        module = Distillation(teacher, student, args.steps, args.batch_size, args.lr, args.pixel_weight,
                              args.feature_weight, args.adv_weight)
    except ValueError as e:
        raise UserError(str(e)) from e
    run_dir = Path(args.run_dir) if args.run_dir else out.with_name(f"{out.stem}_run")
    trainer = L.Trainer(max_steps=args.steps, default_root_dir=run_dir, logger=CSVLogger(run_dir, name="logs"),
                        callbacks=[ModelCheckpoint(dirpath=run_dir / "checkpoints", save_last=True, every_n_train_steps=max(1, args.steps // 10))],
                        enable_progress_bar=args.progress, enable_model_summary=False, accelerator=args.accelerator,
                        devices=1, log_every_n_steps=max(1, min(50, args.steps // 10)))
    resume = str(run_dir / "checkpoints" / "last.ckpt") if args.resume == "last" else args.resume
    trainer.fit(module, ckpt_path=resume)
    student = module.student.cpu().eval()
    origin = derived_from(args.ckpt, args.method, settings)
    atomic_save(student_checkpoint(student, origin), out)
    held_out = module.cpu().held_out_loss()
    measured = {"generator parameters": f"{count_parameters(student.generator)} (source {count_parameters(teacher.sampling_generator())})",
                "held-out distillation loss (256 seeded latents)": ", ".join(f"{k} {v:.4f}" for k, v in held_out.items())}
    card = write_derived_card(out, teacher, origin, measured, "lit_gans checkpoint")
    print(f"wrote {out} ({type(student).__name__}, {measured['generator parameters']} generator parameters) and {card.name}")


def _int8(teacher, args, out: Path) -> None:
    import torch

    from lit_gans.compress.card import derived_from, write_derived_card
    from lit_gans.compress.graph import GeneratorGraph, recipe, save_torchscript
    from lit_gans.compress.quantize import ENGINE, quantize_int8, quantized_layers

    graph = GeneratorGraph(teacher)
    calibration = [graph.example_inputs(teacher, args.batch_size, seed=args.seed + i) for i in range(args.calibration)]
    quantized = quantize_int8(graph, calibration)
    origin = derived_from(args.ckpt, "int8", {"calibration_batches": args.calibration, "batch_size": args.batch_size,
                                              "scheme": f"static post-training, torch.ao FX, {ENGINE} backend"})
    check = graph.example_inputs(teacher, 64, seed=args.seed + 10_000)
    save_torchscript(quantized, check, out, recipe(teacher, "int8", origin) | {"quantized_engine": ENGINE})
    with torch.no_grad():
        error = float((quantized(*check) - graph(*check)).abs().mean())
    measured = {"int8 layers": quantized_layers(quantized), "mean |int8 - float| on 64 seeded latents": f"{error:.4f}"}
    card = write_derived_card(out, teacher, origin, measured, "TorchScript, int8")
    print(f"wrote {out} ({quantized_layers(quantized)} int8 layers, mean abs difference {error:.4f} from float) and {card.name}")
