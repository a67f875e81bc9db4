"""Cost of one evaluation through the Evaluation callback against torchmetrics called directly on the same samples,
and the speed-up of the callback's evaluation with 2 processes over 1 (DDP over gloo on the CPU).

    python experiments/benchmarks/eval_cost.py [--num_samples 2048] [--repeats 3] [--classifier PATH]

Backbone: the digits classifier (made with ``lit-gans train-classifier`` if no --classifier is given); generator: an
untrained VanillaGAN on 8x8 digits (its weights do not change the cost). Metric: FID only on both sides, the real
features fed once beforehand on both sides. Prints a Markdown table; writes experiments/results/eval_cost.json.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from torchmetrics.image import FrechetInceptionDistance

from lit_gans.callbacks.evaluation import Evaluation
from lit_gans.data.digits import DigitsDataModule
from lit_gans.metrics.classifier import ClassifierFeatures
from lit_gans.models.gan import VanillaGAN


def make_model() -> VanillaGAN:
    torch.manual_seed(0)
    opt = functools.partial(torch.optim.SGD, lr=0.0)  # the 2-process run must score the same generator
    return VanillaGAN(data_shape=(1, 8, 8), z_dim=64, g_optimizer=opt, d_optimizer=opt)


def time_callback(cb: Evaluation, model, data, repeats: int) -> list[float]:
    trainer = SimpleNamespace(global_rank=0, world_size=1, local_rank=0, datamodule=data, callback_metrics={},
                              loggers=[], global_step=0)
    cb.evaluate(trainer, model)  # first call: backbone loading and the real features, done once per run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        cb.evaluate(trainer, model)
        times.append(time.perf_counter() - start)
    return times


def time_direct(cb: Evaluation, model, real: torch.Tensor, repeats: int) -> list[float]:
    fid = FrechetInceptionDistance(feature=ClassifierFeatures.load(cb.backbone_name), reset_real_features=False)
    for x in real.split(cb.batch_size):
        fid.update(x, real=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(cb.num_chunks):
            n = min(cb.batch_size, cb.num_samples - i * cb.batch_size)
            fid.update(model.sample(n, seed=cb.seed + i), real=False)
        fid.compute()
        fid.reset()
        times.append(time.perf_counter() - start)
    return times


def time_processes(devices: int, clf: str, num_samples: int, cache: str) -> float:
    """Seconds of the evaluation at the end of a 2-step fit (rank 0's clock), real features already cached."""
    cb = Evaluation(every_n_epochs=0, num_samples=num_samples, batch_size=256, backbone=clf, metrics=["fid"],
                    cache_dir=cache)
    strategy = DDPStrategy(start_method="fork", find_unused_parameters=True) if devices > 1 else "auto"
    trainer = L.Trainer(max_steps=2, accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[cb])
    trainer.fit(make_model(), datamodule=DigitsDataModule(image_size=8, batch_size=64))
    return float(trainer.callback_metrics["eval/seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--num_samples", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--classifier", type=str, default=None)
    args = p.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    tmp = Path(tempfile.mkdtemp(prefix="eval_cost_"))
    clf = args.classifier
    if clf is None:
        from lit_gans.commands.train_classifier import main as train_classifier

        clf = str(tmp / "digits.pt")
        train_classifier(["--out", clf])
    data = DigitsDataModule(image_size=8)
    data.setup()
    real = data.val_set.tensors[0]
    model = make_model()
    cb = Evaluation(num_samples=args.num_samples, batch_size=256, backbone=clf, metrics=["fid"], cache_dir=str(tmp))
    callback_s = statistics.median(time_callback(cb, model, data, args.repeats))
    direct_s = statistics.median(time_direct(cb, model, real, args.repeats))
    time_processes(1, clf, args.num_samples, str(tmp))  # warm the cache of the train split's features
    one = statistics.median(time_processes(1, clf, args.num_samples, str(tmp)) for _ in range(args.repeats))
    two = statistics.median(time_processes(2, clf, args.num_samples, str(tmp)) for _ in range(args.repeats))
    result = {"num_samples": args.num_samples, "callback_s": callback_s, "direct_s": direct_s,
              "ratio": callback_s / direct_s, "one_process_s": one, "two_processes_s": two, "speedup_2proc": one / two,
              "threads": torch.get_num_threads()}
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    out = Path(__file__).resolve().parents[1] / "results" / "eval_cost.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
