"""Is SeqGAN's reward informative? Checks the discriminator after the pre-training stages on the oracle benchmark.

SeqGAN can only lower NLL-oracle if its reward, D's P(real), prefers the sequences the oracle finds likely. This runs
the MLE and D pre-training stages of a config (``--config``; ``adversarial_rounds`` set to 0, stage lengths and data
size overridable) and reports for the pre-trained D:

- its mean P(real) on the real training sequences, on fresh sequences from the oracle, and on generated ones
  (a D that scores the training set far above fresh real data has memorised it);
- the correlation, over generated sequences, between P(real) and the sequence's log-likelihood under the oracle;
- NLL-oracle of all generated sequences and of the third D likes best.

    python experiments/benchmarks/seqgan_reward.py                                    # oracle_cpu.yaml as it is
    python experiments/benchmarks/seqgan_reward.py --config experiments/seqgan/oracle_cpu_2k.yaml \
        --num-samples 10000 --g-pretrain-epochs 10 --d-pretrain-steps 5                # the rows in the README

Prints one Markdown row and adds it (keyed by its settings) to ``experiments/results/seqgan_reward.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning as L
import torch
import yaml
from seqgan_oracle import DEFAULT_CONFIG, ROOT, _relative, build_model, config_flag, load_config

from lit_gans.data.sequences import OracleDataModule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--num-samples", type=int, help="real training sequences (config value if not given)")
    parser.add_argument("--g-pretrain-epochs", type=int)
    parser.add_argument("--d-pretrain-steps", type=int)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="other model init_args, values in YAML (e.g. d_num_filters=[64,64])")
    parser.add_argument("--num-eval", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "experiments/results/seqgan_reward.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    model_args, data_args = load_config(args.config)
    model_args = model_args | {"adversarial_rounds": 0}
    for key, value in (("g_pretrain_epochs", args.g_pretrain_epochs), ("d_pretrain_steps", args.d_pretrain_steps)):
        if value is not None:
            model_args[key] = value
    model_args |= {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    if args.num_samples is not None:
        data_args = data_args | {"num_samples": args.num_samples}
    data = OracleDataModule(**data_args)
    data.setup()
    L.seed_everything(args.seed, verbose=False)
    model = build_model(model_args, data)
    start = time.perf_counter()
    L.Trainer(max_epochs=-1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(model, data)
    seconds = time.perf_counter() - start

    oracle = data.oracle
    fresh = oracle.sample(args.num_eval, generator=torch.Generator().manual_seed(10_000 + args.seed))
    fake = model.sample(args.num_eval, seed=20_000 + args.seed)
    log_lik = oracle.log_prob(fake).sum(dim=1)  # (N,) log-likelihood of each generated sequence
    reward = model.p_real(fake)
    liked = reward.argsort(descending=True)[: args.num_eval // 3]
    row = {
        "settings": {"config": _relative(args.config), "num_samples": data_args["num_samples"],
                     "g_pretrain_epochs": model_args["g_pretrain_epochs"],
                     "d_pretrain_steps": model_args["d_pretrain_steps"], "d_epochs": model_args["d_epochs"],
                     "seed": args.seed, **({"set": args.set} if args.set else {})},
        "p_real_train": float(model.p_real(data.train_set.tensors[0]).mean()),
        "p_real_fresh": float(model.p_real(fresh).mean()),
        "p_real_generated": float(reward.mean()),
        "corr_reward_oracle_loglik": float(torch.corrcoef(torch.stack([reward, log_lik]))[0, 1]),
        "nll_oracle_generated": float(-oracle.log_prob(fake).mean()),
        "nll_oracle_top_third_by_d": float(-oracle.log_prob(fake[liked]).mean()),
        "seconds": seconds,
        "command": "python experiments/benchmarks/seqgan_reward.py"
        + config_flag(args.config)
        + (f" --num-samples {args.num_samples}" if args.num_samples is not None else "")
        + (f" --g-pretrain-epochs {args.g_pretrain_epochs}" if args.g_pretrain_epochs is not None else "")
        + (f" --d-pretrain-steps {args.d_pretrain_steps}" if args.d_pretrain_steps is not None else "")
        + (" --set " + " ".join(args.set) if args.set else ""),
    }
    rows = json.loads(args.out.read_text())["rows"] if args.out.is_file() else []
    rows = [r for r in rows if r["settings"] != row["settings"]] + [row]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print("| training sequences | MLE epochs | D pre-training (draws x epochs) | D options | P(real): train | fresh real | generated "
          "| corr(P(real), oracle log-lik) | NLL-oracle: all generated | D's top third |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        s = r["settings"]
        print(f"| {s['num_samples']} | {s['g_pretrain_epochs']} | {s['d_pretrain_steps']} x {s['d_epochs']} | {' '.join(s.get('set', [])) or '-'} | "
              f"{r['p_real_train']:.2f} | {r['p_real_fresh']:.2f} | {r['p_real_generated']:.2f} | "
              f"{r['corr_reward_oracle_loglik']:.3f} | {r['nll_oracle_generated']:.3f} | {r['nll_oracle_top_third_by_d']:.3f} |")


if __name__ == "__main__":
    main()
