"""Which distillation loss lets a narrow DCGAN student reproduce its teacher: pixel alone, or pixel plus the teacher
discriminator's features, read from every weighted layer (logit and batch norm included: the first version of
``lit_gans.compress.features``) or from the hidden convolutions only (the current one).

One teacher, the model of ``experiments/dcgan/digits.yaml`` trained for ``--budget`` CPU seconds on all the digits at
16x16 (as ``compression.py`` trains it); then, one after another in this process with one thread, a student of
``--width`` distilled from it for ``--steps`` steps per setting (:class:`lit_gans.models.distill.Distillation` with
the Trainer), and FID / precision / recall of 1,000 samples (``model.sample``, seed 0) against all digits in the digits
classifier's feature space, with the held-out pixel error (mean |student - teacher| on 256 seeded latents).

    nice -n 10 python experiments/benchmarks/distill_ablation.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from cli_fit import ROOT
from compression import scores, train_teacher
from stylegan2_digits import SIZE

import lit_gans.compress.features as features
from lit_gans.checkpoints import load_model
from lit_gans.compress.student import build_student, count_parameters
from lit_gans.data.digits import load_digits_tensors
from lit_gans.metrics.classifier import ClassifierFeatures, fit_classifier
from lit_gans.models.distill import Distillation

CURRENT_LAYERS = features.feature_layers


def every_weighted_layer(net: torch.nn.Module) -> list[torch.nn.Module]:
    """The first version's feature layers: every leaf module with weights, the logit layer and batch norm included."""
    return [m for m in net.modules() if not list(m.children()) and list(m.parameters(recurse=False))]


#: setting -> (feature layers, feature_weight, learning rate)
SETTINGS = {
    "pixel+feature(all layers) fw1 lr1e-3 (old default)": (every_weighted_layer, 1.0, 1e-3),
    "pixel+feature(all layers) fw0.1 lr1e-3": (every_weighted_layer, 0.1, 1e-3),
    "pixel+feature(hidden convs) fw1 lr1e-3": (CURRENT_LAYERS, 1.0, 1e-3),
    "pixel+feature(hidden convs) fw0.1 lr1e-3": (CURRENT_LAYERS, 0.1, 1e-3),
    "pixel fw0 lr1e-3": (CURRENT_LAYERS, 0.0, 1e-3),
    "pixel+feature(hidden convs) fw0.1 lr3e-3": (CURRENT_LAYERS, 0.1, 3e-3),
    "pixel fw0 lr3e-3 (new default)": (CURRENT_LAYERS, 0.0, 3e-3),
}


def distil(teacher, width: float, steps: int, layers, feature_weight: float, lr: float, seed: int):
    features.feature_layers = layers  # record_features looks the function up at call time
    try:
        L.seed_everything(seed, verbose=False)
        module = Distillation(teacher, build_student(teacher, width), steps=steps, batch_size=64, lr=lr,
                              feature_weight=feature_weight)
        trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, accelerator="cpu")
        start = time.process_time()
        trainer.fit(module)
        return module, round(time.process_time() - start, 1)
    finally:
        features.feature_layers = CURRENT_LAYERS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=45.0, help="CPU seconds of teacher training")
    parser.add_argument("--width", type=float, default=0.2)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/distill_ablation.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = load_digits_tensors(SIZE)
    backbone = ClassifierFeatures(fit_classifier(x, y, seed=args.seed), SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        teacher = load_model(train_teacher("dcgan", args.budget, args.seed, Path(tmp)))
    rows = [{"setting": "teacher", "params": count_parameters(teacher.generator)}
            | scores(backbone, x, teacher.sample(1000, seed=args.seed))]
    z = torch.randn(256, teacher.hparams.z_dim, generator=torch.Generator().manual_seed(12345))
    target = teacher.sample_from_latent(z)
    for name, (layers, fw, lr) in SETTINGS.items():
        module, cpu_s = distil(teacher, args.width, args.steps, layers, fw, lr, args.seed)
        student = module.student.eval()
        pixel = float((student.sample_from_latent(z) - target).abs().mean())
        rows.append({"setting": name, "params": count_parameters(student.generator), "pixel_error": round(pixel, 4),
                     "cpu_s": cpu_s} | scores(backbone, x, student.sample(1000, seed=args.seed)))
    result = {"rows": rows, "width": args.width, "steps": args.steps, "batch_size": 64, "budget_cpu_s": args.budget,
              "seed": args.seed, "threads": 1,
              "command": " ".join(["nice -n 10 python experiments/benchmarks/distill_ablation.py", *sys.argv[1:]])}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("| setting | params | pixel error | FID | precision | recall |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['params']} | {r.get('pixel_error', '')} | {r['fid']:.2f} | "
              f"{r['precision']:.3f} | {r['recall']:.3f} |")


if __name__ == "__main__":
    main()
