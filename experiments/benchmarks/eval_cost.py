"""Cost of one Inception evaluation through the Evaluation callback against torchmetrics called directly on the same
samples, and the speed-up of the callback's evaluation with 2 processes over 1 (DDP over gloo on the CPU).

    python experiments/benchmarks/eval_cost.py [--num_samples 256] [--num_real 64] [--repeats 1]
                                               [--inception_weights PATH]

Workload, as a real job runs it: the Inception v3 backbone (torch-fidelity's FID network, images resized to 299x299;
random weights unless --inception_weights is given: the cost does not depend on the weights, nothing is downloaded),
an untrained DCGAN generator on 32x32 digits, FID only on both sides, ``num_samples`` generated images in chunks of
``batch_size``, the real features fed once beforehand on both sides (the callback from its disk cache).

1. ``ratio``: the callback's ``evaluate`` against torchmetrics' ``FrechetInceptionDistance(feature=2048)`` updated
   with the same chunks (the same seeds) and computed, in this process with torch's default thread count.
2. The evaluation at the end of a 2-step ``Trainer.fit`` with 1 process and with 2 (``DDPStrategy``, fork). Every
   process of the 2-process run gets ``cpu_count // 2`` threads (Lightning sets them unless ``OMP_NUM_THREADS`` is
   set), so two comparisons are made:

   - ``speedup_2proc``: what a user gets from the machine: 1 process with torch's default threads (all cores)
     against 2 processes with Lightning's share each (the same cores in all);
   - ``speedup_2proc_1thread``: the callback's own scaling: 1 process with 1 thread against 2 processes with 1 thread
     each (wall), and ``speedup_2proc_cpu`` the same from CPU time (1 process's CPU seconds over the busiest
     process's), which a machine shared with other jobs distorts less.

   The one-off setup of a run's first evaluation (building the backbone, reading the cached real features) is timed
   apart (``setup_s``) and left out of these times: a job pays it once, not at every evaluation.

Prints a Markdown table; writes experiments/results/eval_cost.json with the load average before and after.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy
from torchmetrics.image import FrechetInceptionDistance

from lit_gans.callbacks.evaluation import Evaluation
from lit_gans.data.digits import DigitsDataModule
from lit_gans.metrics.testing import random_inception_weights_file
from lit_gans.models.dcgan import DCGAN

IMAGE_SIZE = 32
RESULTS = Path(__file__).resolve().parents[1] / "results" / "eval_cost.json"


def make_model() -> DCGAN:
    torch.manual_seed(0)
    opt = functools.partial(torch.optim.SGD, lr=0.0)  # every run must score the same generator
    return DCGAN(data_shape=(1, IMAGE_SIZE, IMAGE_SIZE), z_dim=100, g_optimizer=opt, d_optimizer=opt)


class TimedEvaluation(Evaluation):
    """The Evaluation callback, also recording per process: the setup seconds of its first evaluation, the CPU
    seconds and the thread count; gathered over the processes into ``trainer.callback_metrics``."""

    setup_seconds = 0.0

    def _setup_scores(self, trainer, pl_module):
        start = time.perf_counter()
        first = self.scores is None
        scores = super()._setup_scores(trainer, pl_module)
        if first:
            self.setup_seconds = time.perf_counter() - start
        return scores

    def evaluate(self, trainer, pl_module):
        self.setup_seconds, cpu = 0.0, time.process_time()
        results = super().evaluate(trainer, pl_module)
        mine = torch.tensor([results["seconds"] - self.setup_seconds, time.process_time() - cpu, self.setup_seconds,
                             float(torch.get_num_threads())], dtype=torch.float64)
        per_process = trainer.strategy.all_gather(mine).reshape(-1, 4)  # (processes, 4)
        for i, key in enumerate(("scoring_seconds", "cpu_seconds", "setup_seconds", "threads")):
            trainer.callback_metrics[f"bench/{key}"] = per_process[:, i].clone()
        return results


def fit_evaluation(devices: int, threads: int, cache: str, args) -> dict:
    """The evaluation at the end of a 2-step fit (real features already cached). ``threads`` applies to the 1-process
    run; Lightning sets those of the 2-process run."""
    cb = TimedEvaluation(every_n_epochs=0, num_samples=args.num_samples, batch_size=args.batch_size,
                         backbone="inception", inception_weights=args.inception_weights, metrics=["fid"],
                         num_real=args.num_real, cache_dir=cache)
    strategy = DDPStrategy(start_method="fork") if devices > 1 else "auto"
    trainer = L.Trainer(max_steps=2, accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        limit_val_batches=0, callbacks=[cb])
    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        trainer.fit(make_model(), datamodule=DigitsDataModule(image_size=IMAGE_SIZE, batch_size=64))
    finally:
        torch.set_num_threads(default_threads)
    m = trainer.callback_metrics
    return {"wall_s": float(m["bench/scoring_seconds"][0]), "cpu_s": m["bench/cpu_seconds"].tolist(),
            "setup_s": float(m["bench/setup_seconds"].max()), "threads": m["bench/threads"].int().tolist(),
            "fid": float(m["eval/fid"])}


def time_callback(cb: Evaluation, model, data, repeats: int) -> tuple[list[float], float]:
    trainer = SimpleNamespace(global_rank=0, world_size=1, local_rank=0, datamodule=data, callback_metrics={},
                              loggers=[], global_step=0)
    cb._setup_scores(trainer, model)  # backbone and real features: once per run, not timed
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = cb.evaluate(trainer, model)
        times.append(time.perf_counter() - start)
    return times, results["fid"]


def time_direct(cb: Evaluation, model, real: torch.Tensor, repeats: int) -> tuple[list[float], float]:
    """torchmetrics as a user calls it: images in [0, 1] (``normalize=True``), grey repeated on 3 channels."""
    fid = FrechetInceptionDistance(feature=2048, reset_real_features=False, normalize=True,
                                   feature_extractor_weights_path=cb.inception_weights)
    to_rgb01 = lambda x: ((x.clamp(-1, 1) + 1) / 2).expand(-1, 3, -1, -1)  # noqa: E731
    for x in real.split(cb.batch_size):
        fid.update(to_rgb01(x), real=True)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(cb.num_chunks):
            n = min(cb.batch_size, cb.num_samples - i * cb.batch_size)
            fid.update(to_rgb01(model.sample(n, seed=cb.seed + i)), real=False)
        value = float(fid.compute())
        fid.reset()
        times.append(time.perf_counter() - start)
    return times, value


def median_run(devices: int, threads: int, cache: str, args) -> dict:
    runs = [fit_evaluation(devices, threads, cache, args) for _ in range(args.repeats)]
    return sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--num_samples", type=int, default=256)
    p.add_argument("--batch_size", type=int, default=64)
    p.add_argument("--num_real", type=int, default=64, help="real images (their features are computed once)")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--inception_weights", type=str, default=None, help="default: random weights (nothing downloaded)")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    load_before, start = os.getloadavg(), time.perf_counter()
    args.inception_weights = args.inception_weights or random_inception_weights_file()
    cache = tempfile.mkdtemp(prefix="eval_cost_")
    data = DigitsDataModule(image_size=IMAGE_SIZE)
    data.setup()
    model, threads = make_model(), torch.get_num_threads()
    cb = Evaluation(num_samples=args.num_samples, batch_size=args.batch_size, backbone="inception",
                    inception_weights=args.inception_weights, metrics=["fid"], num_real=args.num_real, cache_dir=cache)
    callback_times, callback_fid = time_callback(cb, model, data, args.repeats)  # also fills the real-feature cache
    direct_times, direct_fid = time_direct(cb, model, data.val_set.tensors[0][: args.num_real], args.repeats)
    one = median_run(1, threads, cache, args)
    one_1thread = median_run(1, 1, cache, args)
    two = median_run(2, threads, cache, args)
    callback_s, direct_s = statistics.median(callback_times), statistics.median(direct_times)
    result = {
        "num_samples": args.num_samples, "callback_s": callback_s, "direct_s": direct_s, "ratio": callback_s / direct_s,
        "one_process_s": one["wall_s"], "two_processes_s": two["wall_s"], "speedup_2proc": one["wall_s"] / two["wall_s"],
        "threads": threads,
        "one_process_1thread_s": one_1thread["wall_s"],
        "speedup_2proc_1thread": one_1thread["wall_s"] / two["wall_s"],
        "speedup_2proc_cpu": one_1thread["cpu_s"][0] / max(two["cpu_s"]),
        "threads_per_process_2proc": two["threads"],
        "cpu_s": {"one_process": one["cpu_s"], "one_process_1thread": one_1thread["cpu_s"], "two_processes": two["cpu_s"]},
        "setup_s": {"one_process": one["setup_s"], "two_processes": two["setup_s"]},
        "fid": {"callback": callback_fid, "direct": direct_fid, "one_process": one["fid"], "two_processes": two["fid"]},
        "backbone": "inception-v3 (torch-fidelity), 299x299, " + ("random weights" if "lit_gans_inception_" in
                                                                 args.inception_weights else "given weights"),
        "batch_size": args.batch_size, "num_real": args.num_real, "repeats": args.repeats, "image_size": IMAGE_SIZE,
        "cpu_count": os.cpu_count(), "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
        "total_seconds": time.perf_counter() - start,
        "command": f"python experiments/benchmarks/eval_cost.py --num_samples {args.num_samples} "
                   f"--batch_size {args.batch_size} --num_real {args.num_real} --repeats {args.repeats}",
    }
    print("| measure | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value:.4g} |" if isinstance(value, float) else f"| {key} | {value} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
