"""Cost of one Inception evaluation through the Evaluation callback against torchmetrics called directly on the same
samples, and the speed-up of the callback's evaluation with 2 processes over 1 (DDP over gloo on the CPU).

    python experiments/benchmarks/eval_cost.py [--num_samples 256] [--num_real 64] [--repeats 1] [--batch_size 64]
                                               [--inception_weights PATH]

Workload, as a real job runs it: the Inception v3 backbone (torch-fidelity's FID network, images resized to 299x299;
random weights unless --inception_weights is given: the cost does not depend on the weights, nothing is downloaded),
an untrained DCGAN generator on 32x32 digits, FID only on both sides, ``num_samples`` generated images in chunks of
``batch_size``, the real features fed once beforehand on both sides (the callback in its untimed setup).

1. ``ratio``: the callback's ``evaluate`` against torchmetrics' ``FrechetInceptionDistance(feature=2048)`` updated
   with the same chunks (the same seeds) and computed, in this process with torch's default thread count, in wall
   time (and ``cpu_ratio`` in process CPU time).
2. The evaluation at the end of a 2-step ``Trainer.fit`` with 1 process and with 2 (``DDPStrategy``, fork). Every
   process of the 2-process run gets ``cpu_count // 2`` threads (Lightning sets them unless ``OMP_NUM_THREADS`` is
   set), so two comparisons are made:

   - ``speedup_2proc``: what a user gets from the machine: 1 process with torch's default threads (all cores)
     against 2 processes with Lightning's share each (the same cores in all);
   - ``speedup_2proc_1thread``: the callback's own scaling: 1 process with 1 thread against 2 processes with 1 thread
     each (wall), and ``speedup_2proc_cpu`` the same from CPU time (1 process's CPU seconds over the busiest
     process's), which a machine shared with other jobs distorts less.

   With ``OMP_NUM_THREADS=1`` (torch then runs 1 thread) the two comparisons are the same runs.
   The one-off setup of a run's first evaluation (building the backbone, computing the real features: every fit
   starts from an empty cache) is timed apart (``setup_s``, and ``setup_cpu_s`` per process) and left out of these
   times: a job pays it once, not at every evaluation.

Prints a Markdown table; writes experiments/results/eval_cost.json with the load average before and after.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import sys
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
from lit_gans.models.dcgan import DCGAN

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))  # the test fixtures: random Inception weights
from metric_fixtures import random_inception_weights_file  # noqa: E402

IMAGE_SIZE = 32
RESULTS = Path(__file__).resolve().parents[1] / "results" / "eval_cost.json"


def make_model() -> DCGAN:
    torch.manual_seed(0)
    opt = functools.partial(torch.optim.SGD, lr=0.0)  # every run must score the same generator
    return DCGAN(data_shape=(1, IMAGE_SIZE, IMAGE_SIZE), z_dim=100, g_optimizer=opt, d_optimizer=opt)


class TimedEvaluation(Evaluation):
    """The Evaluation callback, also recording per process the wall and CPU seconds of the scoring and of the setup
    of its first evaluation, and the thread count; gathered over the processes into ``trainer.callback_metrics``."""

    KEYS = ("scoring_seconds", "scoring_cpu_seconds", "setup_seconds", "setup_cpu_seconds", "threads")

    def _setup_scores(self, trainer, pl_module):
        first, start, cpu = self.scores is None, time.perf_counter(), time.process_time()
        scores = super()._setup_scores(trainer, pl_module)
        if first:
            self.setup = (time.perf_counter() - start, time.process_time() - cpu)
        return scores

    def evaluate(self, trainer, pl_module):
        self.setup, cpu = (0.0, 0.0), time.process_time()
        results = super().evaluate(trainer, pl_module)
        cpu = time.process_time() - cpu
        mine = torch.tensor([results["seconds"] - self.setup[0], cpu - self.setup[1], *self.setup,
                             float(torch.get_num_threads())], dtype=torch.float64)
        per_process = trainer.strategy.all_gather(mine).reshape(-1, len(self.KEYS))  # (processes, keys)
        for i, key in enumerate(self.KEYS):
            trainer.callback_metrics[f"bench/{key}"] = per_process[:, i].clone()
        return results


def fit_evaluation(devices: int, threads: int, cache: str, args) -> dict:
    """The evaluation at the end of a 2-step fit. ``threads`` applies to the 1-process run; Lightning sets those of
    the 2-process run. An empty ``cache`` folder makes the setup compute the real features."""
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
    m = {key: trainer.callback_metrics[f"bench/{key}"].tolist() for key in TimedEvaluation.KEYS}
    return {"wall_s": m["scoring_seconds"][0], "cpu_s": m["scoring_cpu_seconds"], "setup_s": max(m["setup_seconds"]),
            "setup_cpu_s": m["setup_cpu_seconds"], "threads": [int(t) for t in m["threads"]],
            "fid": float(trainer.callback_metrics["eval/fid"])}


def time_callback(cb: Evaluation, model, data, repeats: int) -> tuple[list[tuple[float, float]], float]:
    trainer = SimpleNamespace(global_rank=0, world_size=1, local_rank=0, datamodule=data, callback_metrics={},
                              loggers=[], global_step=0)
    cb._setup_scores(trainer, model)  # backbone and real features: once per run, not timed
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        results = cb.evaluate(trainer, model)
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times, results["fid"]


def time_direct(cb: Evaluation, model, real: torch.Tensor, repeats: int) -> tuple[list[tuple[float, float]], float]:
    """torchmetrics as a user calls it: images in [0, 1] (``normalize=True``), grey repeated on 3 channels."""
    fid = FrechetInceptionDistance(feature=2048, reset_real_features=False, normalize=True,
                                   feature_extractor_weights_path=cb.inception_weights)
    to_rgb01 = lambda x: ((x.clamp(-1, 1) + 1) / 2).expand(-1, 3, -1, -1)  # noqa: E731
    for x in real.split(cb.batch_size):
        fid.update(to_rgb01(x), real=True)
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(cb.num_chunks):
            n = min(cb.batch_size, cb.num_samples - i * cb.batch_size)
            fid.update(to_rgb01(model.sample(n, seed=cb.seed + i)), real=False)
        value = float(fid.compute())
        fid.reset()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times, value


def median_run(devices: int, threads: int, cache: str | None, args) -> dict:
    """Median (by scoring wall time) of ``repeats`` runs; ``cache=None``: a fresh, empty cache folder each run."""
    runs = [fit_evaluation(devices, threads, cache or tempfile.mkdtemp(prefix="eval_cost_"), args)
            for _ in range(args.repeats)]
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
    one = median_run(1, threads, None, args)  # None: every fit computes the real features in its setup
    one_1thread = one if threads == 1 else median_run(1, 1, None, args)
    two = median_run(2, threads, None, args)
    (callback_s, callback_cpu), (direct_s, direct_cpu) = (map(statistics.median, zip(*t))
                                                          for t in (callback_times, direct_times))
    result = {
        "num_samples": args.num_samples, "callback_s": callback_s, "direct_s": direct_s, "ratio": callback_s / direct_s,
        "one_process_s": one["wall_s"], "two_processes_s": two["wall_s"], "speedup_2proc": one["wall_s"] / two["wall_s"],
        "threads": threads, "callback_cpu_s": callback_cpu, "direct_cpu_s": direct_cpu,
        "cpu_ratio": callback_cpu / direct_cpu,
        "one_process_1thread_s": one_1thread["wall_s"],
        "speedup_2proc_1thread": one_1thread["wall_s"] / two["wall_s"],
        "speedup_2proc_cpu": one_1thread["cpu_s"][0] / max(two["cpu_s"]),
        "threads_per_process_2proc": two["threads"],
        "cpu_s": {"one_process": one["cpu_s"], "one_process_1thread": one_1thread["cpu_s"], "two_processes": two["cpu_s"]},
        "setup_s": {"one_process": one["setup_s"], "one_process_1thread": one_1thread["setup_s"],
                    "two_processes": two["setup_s"]},
        "setup_cpu_s": {"one_process_1thread": one_1thread["setup_cpu_s"], "two_processes": two["setup_cpu_s"]},
        "fid": {"callback": callback_fid, "direct": direct_fid, "one_process": one["fid"], "two_processes": two["fid"]},
        "backbone": "inception-v3 (torch-fidelity), 299x299, " + ("random weights" if "lit_gans_inception_" in
                                                                 args.inception_weights else "given weights"),
        "batch_size": args.batch_size, "num_real": args.num_real, "repeats": args.repeats, "image_size": IMAGE_SIZE,
        "cpu_count": os.cpu_count(), "load_average_before": list(load_before), "load_average_after": list(os.getloadavg()),
        "total_seconds": time.perf_counter() - start,
        "command": ("OMP_NUM_THREADS=1 " if os.environ.get("OMP_NUM_THREADS") == "1" else "")
        + f"python experiments/benchmarks/eval_cost.py --num_samples {args.num_samples} "
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
