"""StyleGAN2 on digits: against DCGAN at an equal CPU budget, and the limited-data experiments (DiffAugment, transfer).

Every run trains the model of a shipped config (``experiments/stylegan2/digits.yaml``,
``experiments/dcgan/digits.yaml``) for the same CPU time (``--budget`` seconds of its own process's CPU time, one
thread: on a shared machine wall-clock time measures the neighbours, CPU time measures the run) and is scored by the
digits-feature FID of ``lit_gans.metrics``: the digits classifier (:func:`lit_gans.metrics.classifier.fit_classifier`
on all 1,797 digits at 16x16, seeded) as the backbone of :class:`lit_gans.metrics.scores.FeatureScores`,
``--n-fake`` samples (EMA generator where the model has one) against all real digits.

Runs (keys of experiments/results/stylegan2_digits.json):
- fid_stylegan2 / fid_dcgan: all digits, same budget (StyleGAN2 without DiffAugment, like DCGAN);
- fid_10pct_plain / fid_10pct_diffaug: a seeded 10% of the digits (179 images), StyleGAN2 without / with DiffAugment
  (color, translation, cutout);
- fid_10pct_scratch / fid_10pct_transfer: the same 10%, DiffAugment on, from scratch (the run above) versus initialised
  (``init_from``) from a StyleGAN2 trained for the same budget on the other 90%.
Two runs at a time in worker processes (``--workers``), each on one thread. StyleGAN2's scores also give the FID of
the same samples before they are clipped to [-1, 1] (``fid_unclipped``, and ``unclipped_share``, the share of pixels
the clip changed): samples were not clipped before 2026-12-02, so older results compare with that column.

    python experiments/benchmarks/stylegan2_digits.py --budget 480
    python experiments/benchmarks/stylegan2_digits.py --budget 480 --seed 1 --runs fid_10pct_plain fid_10pct_diffaug \
        --out experiments/results/stylegan2_digits_seed1.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Optional

import lightning as L
import torch
import yaml
from cli_fit import ROOT, build_model
from torch.utils.data import TensorDataset

from lit_gans.data.base import GANDataModule
from lit_gans.data.digits import load_digits_tensors
from lit_gans.metrics.classifier import ClassifierFeatures, fit_classifier
from lit_gans.metrics.scores import FeatureScores
from lit_gans.models import GANModule

CONFIGS = {"stylegan2": "experiments/stylegan2/digits.yaml", "dcgan": "experiments/dcgan/digits.yaml"}
DIFFAUG = "color,translation,cutout"
SIZE = 16


class TensorImages(GANDataModule):
    """A fixed set of (N, 1, 16, 16) digit images as a DataModule."""

    def __init__(self, x: torch.Tensor, batch_size: int = 32) -> None:
        super().__init__(batch_size=batch_size)
        self.x = x

    @property
    def data_shape(self):
        return tuple(self.x.shape[1:])

    def setup(self, stage=None):
        self.train_set = TensorDataset(self.x, torch.zeros(len(self.x), dtype=torch.long))


class CPUBudget(L.Callback):
    """Stops training once this process has used ``seconds`` of CPU time for training; on the way, at each of
    ``marks`` (training CPU seconds), calls ``score(pl_module)`` and keeps its dict in ``curve``. Scoring time is
    not counted as training time."""

    def __init__(self, seconds: float, marks: tuple[float, ...] = (), score=None) -> None:
        self.seconds, self.marks, self.score = seconds, sorted(m for m in marks if m < seconds), score
        self.start, self.excluded, self.curve = None, 0.0, []

    def on_train_start(self, trainer, pl_module):
        self.start = time.process_time()

    def used(self) -> float:
        return time.process_time() - self.start - self.excluded

    def on_train_batch_end(self, trainer, pl_module, *args):
        if self.marks and self.used() >= self.marks[0]:
            self.marks.pop(0)
            scoring = time.process_time()
            self.curve.append({"cpu_s": round(self.used(), 1), "batches": int(pl_module.d_steps)} | self.score(pl_module))
            self.excluded += time.process_time() - scoring
        if self.used() > self.seconds:
            trainer.should_stop = True


def model_from_config(name: str, **overrides):
    """The model of a shipped config, as ``lit-gans fit -c`` builds it, with ``overrides`` of its init_args; and the
    config's batch size."""
    config = yaml.safe_load((ROOT / CONFIGS[name]).read_text())
    model = build_model(config["model"]["class_path"], config["model"]["init_args"] | overrides,
                        data_shape=(1, SIZE, SIZE))
    return model, config["data"]["init_args"]["batch_size"]


def split(seed: int) -> dict[str, torch.Tensor]:
    x, _ = load_digits_tensors(SIZE)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    return {"all": x, "10pct": x[perm[: len(x) // 10]], "90pct": x[perm[len(x) // 10 :]]}


#: the real images a run did not train on, for D's overfitting check (runs on all the digits hold none out)
HELD_OUT = {"10pct": "90pct", "90pct": "10pct"}


#: run -> (config, data part, init_args overrides); the transfer run adds init_from.
RUNS = {
    "fid_stylegan2": ("stylegan2", "all", {"augment": None}),
    "fid_dcgan": ("dcgan", "all", {}),
    "fid_10pct_plain": ("stylegan2", "10pct", {"augment": None}),
    "fid_10pct_diffaug": ("stylegan2", "10pct", {"augment": DIFFAUG}),
    "source_90pct": ("stylegan2", "90pct", {"augment": DIFFAUG}),
    "fid_10pct_transfer": ("stylegan2", "10pct", {"augment": DIFFAUG}),
}


def fid(backbone: ClassifierFeatures, real: torch.Tensor, fake: torch.Tensor) -> float:
    scores = FeatureScores(backbone, metrics=("fid",))
    scores.update(real, real=True)
    scores.update(fake, real=False)
    return float(scores.compute()["fid"])


@torch.no_grad()
def unclipped_samples(model, n: int, seed: int) -> torch.Tensor:
    """What ``model.sample(n, seed=seed)`` draws before the model's ``to_data_range`` (StyleGAN2: the clip)."""
    rng = model.seeded_rng(seed)
    z = model.sample_latent(n, generator=rng)
    with model.eval_mode(model.sampling_generator()) as net:
        return model.generate(net, z, **model.sample_condition(n, rng))


def clipping_scores(model, backbone: ClassifierFeatures, real: torch.Tensor, fake: torch.Tensor,
                    seed: int) -> dict[str, float]:
    """For a model whose samples are clipped: the FID of the same samples unclipped, and the share of pixels clipped."""
    if type(model).to_data_range is GANModule.to_data_range:
        return {}
    raw = unclipped_samples(model, len(fake), seed)
    return {"fid_unclipped": fid(backbone, real, raw), "unclipped_share": float((raw != fake).float().mean())}


@torch.no_grad()
def d_outputs(model, part: torch.Tensor, held_out: Optional[torch.Tensor], fake: torch.Tensor,
              seed: int) -> dict[str, float]:
    """D's view of the data, the overfitting heuristic of StyleGAN2-ADA (Karras et al. 2020b, section 3): the mean
    logit on the training images, on held-out real images and on generated ones (each through the run's own
    augmentation, as D sees them in training), and r_t = E[sign(D(x_train))]. A D that overfits scores its training
    images far above held-out real ones."""
    with torch.random.fork_rng(devices=[]):  # the augmentation's draws must not move the training run's RNG
        torch.manual_seed(seed)
        train, gen = model.discriminate(part), model.discriminate(fake)
        other = model.discriminate(held_out) if held_out is not None else None
    out = {"d_train": float(train.mean()), "d_fake": float(gen.mean()), "r_t": float(train.sign().mean())}
    return out | ({"d_held_out": float(other.mean())} if other is not None else {})


def run(key: str, args: argparse.Namespace, classifier: str, workdir: str) -> dict:
    """One training run in a worker process: trains for the CPU budget, scores the FID (and D's overfitting) at the
    ``--score-at`` marks and at the end, saves the source checkpoint."""
    torch.set_num_threads(1)
    config, part, overrides = RUNS[key]
    if overrides.get("augment") == DIFFAUG:
        overrides = overrides | {"augment": args.augment}
    if key == "fid_10pct_transfer":
        overrides = overrides | {"init_from": str(Path(workdir) / "source_90pct.ckpt")}
    data = split(args.seed)
    backbone = ClassifierFeatures.load(classifier)

    def score(model) -> dict[str, float]:
        fake = model.sample(args.n_fake, seed=args.seed)
        held_out = data.get(HELD_OUT.get(part))
        return ({"fid": fid(backbone, data["all"], fake)}
                | clipping_scores(model, backbone, data["all"], fake, args.seed)
                | d_outputs(model, data[part], held_out, fake[: len(data[part])], args.seed))

    L.seed_everything(args.seed, verbose=False)  # the same initial weights whatever ran before in this process
    model, batch_size = model_from_config(config, **overrides)
    budget = CPUBudget(args.budget, tuple(args.score_at), score)
    trainer = L.Trainer(max_epochs=100_000, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", limit_val_batches=0, callbacks=[budget])
    trainer.fit(model, TensorImages(data[part], batch_size))
    cpu = budget.used()
    if key == "source_90pct":
        torch.save({"state_dict": model.state_dict(), "lit_gans_model": type(model).__name__},
                   Path(workdir) / "source_90pct.ckpt")
    final = {"cpu_s": round(cpu, 1), "batches": int(model.d_steps)} | score(model)
    return {"key": key, "fid": final["fid"], "batches": int(model.d_steps), "epochs": trainer.current_epoch,
            "train_cpu_s": cpu, "curve": budget.curve + [final]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=480.0, help="CPU seconds of training per run")
    parser.add_argument("--n-fake", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--score-at", type=float, nargs="*", default=[],
                        help="training CPU seconds at which to score each run on the way (a learning curve)")
    parser.add_argument("--augment", default=DIFFAUG, help="the DiffAugment policy of the runs that use it")
    parser.add_argument("--runs", nargs="+", choices=list(RUNS), default=list(RUNS),
                        help="a subset of the runs (the transfer run brings its source)")
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/stylegan2_digits.json")
    args = parser.parse_args()
    wanted = set(args.runs) | ({"source_90pct"} if "fid_10pct_transfer" in args.runs else set())
    torch.set_num_threads(1)
    start = time.perf_counter()

    x, y = load_digits_tensors(SIZE)
    backbone = ClassifierFeatures(fit_classifier(x, y, seed=args.seed), SIZE)
    accuracy = float((backbone.net(x).argmax(1) == y).float().mean())
    with tempfile.TemporaryDirectory() as workdir:
        classifier = str(backbone.save(Path(workdir) / "classifier.pt"))
        runs = {}
        with ProcessPoolExecutor(args.workers) as pool:
            try:
                # the source first: the transfer run waits for its checkpoint
                order = ["source_90pct", "fid_stylegan2", "fid_dcgan", "fid_10pct_plain", "fid_10pct_diffaug"]
                futures = {key: pool.submit(run, key, args, classifier, workdir) for key in order if key in wanted}
                if "fid_10pct_transfer" in wanted:
                    runs["source_90pct"] = futures.pop("source_90pct").result()
                    futures["fid_10pct_transfer"] = pool.submit(run, "fid_10pct_transfer", args, classifier, workdir)
                for key, future in futures.items():
                    runs[key] = future.result()
                    print(f"{key}: FID {runs[key]['fid']:.2f} after {runs[key]['batches']} batches", flush=True)
            except BaseException:  # a failed run: do not train the queued ones before saying so
                pool.shutdown(wait=False, cancel_futures=True)
                raise

    parts = split(args.seed)
    results = {key: runs[key]["fid"] for key in RUNS if key != "source_90pct" and key in runs}
    if "fid_10pct_diffaug" in results:
        results["fid_10pct_scratch"] = results["fid_10pct_diffaug"]  # the same run: 10%, DiffAugment, from scratch
    if "source_90pct" in runs:
        results["fid_90pct_source"] = runs["source_90pct"]["fid"]
    results["fid_real_10pct_vs_all"] = fid(backbone, parts["all"], parts["10pct"])  # the 10% set itself: a floor
    report = {**results, "augment": args.augment, "budget_cpu_s": args.budget, "n_fake": args.n_fake, "seed": args.seed,
              "classifier_train_accuracy": accuracy, "configs": CONFIGS, "wall_s": time.perf_counter() - start,
              "command": f"python experiments/benchmarks/stylegan2_digits.py --budget {args.budget:g}"
              + (f" --seed {args.seed}" if args.seed else "")
              + (f" --n-fake {args.n_fake}" if args.n_fake != 1000 else "")
              + (f" --augment {args.augment}" if args.augment != DIFFAUG else "")
              + (" --score-at " + " ".join(f"{m:g}" for m in args.score_at) if args.score_at else "")
              + (" --runs " + " ".join(args.runs) if set(args.runs) != set(RUNS) else ""),
              "runs": {k: {m: v for m, v in r.items() if m != "key"} for k, r in runs.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    labels = {
        "fid_stylegan2": "StyleGAN2, all digits", "fid_dcgan": "DCGAN, all digits",
        "fid_10pct_plain": "StyleGAN2, 10%, no augmentation", "fid_10pct_diffaug": "StyleGAN2, 10%, DiffAugment (scratch)",
        "fid_10pct_transfer": "StyleGAN2, 10%, DiffAugment, transferred from the 90% run",
        "fid_90pct_source": "StyleGAN2, 90% (the transfer source)", "fid_real_10pct_vs_all": "real: the 10% set itself",
    }
    print("\n| run | batches | digits-feature FID (lower is better) |\n|---|---|---|")
    for key, label in labels.items():
        if key not in results:
            continue
        batches = runs.get(key if key != "fid_90pct_source" else "source_90pct", {}).get("batches", "-")
        print(f"| {label} | {batches} | {results[key]:.2f} |")
    if args.score_at:
        marks = [point["cpu_s"] for point in next(iter(runs.values()))["curve"]]
        print("\nAlong training: FID, and D's mean logit on its training images minus held-out real ones (overfitting)\n")
        print("| run | " + " | ".join(f"{m:.0f} CPU s" for m in marks) + " |\n|---|" + "---|" * len(marks))
        for key, r in runs.items():
            cells = [f"{p['fid']:.2f}" + (f" ({p['d_train'] - p['d_held_out']:+.2f})" if "d_held_out" in p else "")
                     for p in r["curve"]]
            print(f"| {key} | " + " | ".join(cells) + " |")
    print(f"\n{args.budget:.0f} CPU s of training per run, {args.n_fake} samples, seed {args.seed}, classifier "
          f"accuracy {accuracy:.3f}; {report['wall_s'] / 60:.1f} min; wrote {args.out}")


if __name__ == "__main__":
    main()
