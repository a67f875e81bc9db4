"""``lit-gans fit | validate | test | predict``: LightningCLI with the lit_gans links, callbacks and defaults.

The model and data are chosen by name (``--model DCGAN --data Digits``) or by YAML
(``-c experiments/dcgan/digits.yaml``); the data's sample shape and class count are linked into the model, so they are written once. Beside LightningCLI:

- loggers by short name (``--trainer.logger CSVLogger | TensorBoardLogger | WandbLogger | MLFlowLogger``, or
  ``--trainer.logger+=NAME`` for several), in the run folder (``trainer.default_root_dir``) unless given a ``save_dir``;
- every run with a logger keeps its scalars in ``<run folder>/metrics.csv`` too (Lightning's CSV logger), the stable
  form ``lit-gans report`` reads whatever the logger;
- ``--trainer.accumulate_grad_batches N`` accumulates each player's gradients over N batches
  (:mod:`lit_gans.accumulation`), which Lightning's Trainer cannot do under manual optimisation;
- ``predict`` writes its samples (:class:`~lit_gans.callbacks.predictions.PredictionWriter`).

This module imports Lightning; :mod:`lit_gans.cli` imports it only when one of these subcommands runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import yaml
from jsonargparse import ArgumentError, Namespace
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger, Logger, MLFlowLogger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from lit_gans.callbacks.model_card import ModelCard
from lit_gans.callbacks.performance import ClipGradNorm
from lit_gans.callbacks.predictions import PredictionWriter
from lit_gans.callbacks.preemption import Preemption
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.callbacks.throughput import Throughput
from lit_gans.errors import UserError, condense
from lit_gans.config_checks import check_fit_config
from lit_gans.data import DATAMODULES, GANDataModule
from lit_gans.loggers import WandbLogger
from lit_gans.models import MODELS, GANModule

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")
#: ``save_dir`` given by a logger's short name: replaced by ``trainer.default_root_dir`` once the config is read
RUN_FOLDER = "<default_root_dir>"


def _drop_advertisements(record: logging.LogRecord) -> bool:
    """Lightning's "Tip: try installing litlogger / litmodels" lines are third-party advertisements."""
    return not str(record.msg).lstrip().startswith("\N{ELECTRIC LIGHT BULB} Tip:")


logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_drop_advertisements)


class GANCLI(LightningCLI):
    """LightningCLI with the lit_gans links, forced callbacks, loggers in the run folder and the Trainer flags that
    manual optimisation needs done another way (accumulation, gradient clipping)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # The data decides the shape of a sample and the number of classes; the model takes them from it.
        parser.link_arguments("data.data_shape", "model.init_args.data_shape", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.init_args.num_classes", apply_on="instantiate")
        # Callbacks every run has, configurable as --checkpoint.*, --samples.* and --model_card.*
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults({"checkpoint.save_last": True, "checkpoint.filename": "{epoch}-{step}"})
        parser.add_lightning_class_args(SampleGrid, "samples")
        parser.add_lightning_class_args(ModelCard, "model_card")
        parser.add_lightning_class_args(Throughput, "throughput")  # time/elapsed_s, time/images: for lit-gans report
        parser.add_lightning_class_args(Preemption, "preemption")
        parser.add_lightning_class_args(PredictionWriter, "predictions")

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand] if self.subcommand else self.config
        for logger in _logger_configs(config.trainer.logger):  # a short name's save_dir: the run folder
            if logger.get("init_args") is not None and logger.init_args.get("save_dir") == RUN_FOLDER:
                logger.init_args.save_dir = config.trainer.default_root_dir

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list) -> Any:
        if config.get("enable_checkpointing") is False:  # the forced --checkpoint callback would be refused
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        self._describe_wandb_runs()
        folder = run_folder(self.trainer)
        if folder is not None:
            if not any(isinstance(lg, CSVLogger) for lg in self.trainer.loggers):  # the scalars lit-gans report reads
                self.trainer.loggers = [*self.trainer.loggers, CSVLogger(folder, name="", version="")]
            for callback in self.trainer.checkpoint_callbacks:  # in the run folder, whatever the loggers
                callback.dirpath = callback.dirpath or os.path.join(folder, "checkpoints")
        manual_optimization_flags(self.trainer, self.model)
        if self.trainer.fast_dev_run:  # a smoke test leaves no checkpoint (Lightning's save_last still writes one)
            for callback in self.trainer.callbacks:
                if isinstance(callback, ModelCheckpoint):
                    callback.save_last = False
                elif isinstance(callback, ModelCard):
                    callback.enabled = False

    def _describe_wandb_runs(self) -> None:
        # W&B runs (lit_gans.loggers.WandbLogger) carry the variant, the dataset and the whole resolved config, so
        # that a dashboard can group and compare them; they must be told before their run starts.
        describers = [lg for lg in self.trainer.loggers if isinstance(lg, WandbLogger)]
        if describers:
            config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
            config = config.get(self.subcommand, config) if self.subcommand else config
            names = {cls: name for name, cls in {**MODELS, **DATAMODULES}.items()}
            variant, dataset = (names.get(type(x), type(x).__name__) for x in (self.model, self.datamodule))
            for logger in describers:
                logger.describe_run(variant, dataset, config, self.trainer.default_root_dir)

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        super().parse_arguments(parser, args)
        subcommand = self.config.get("subcommand")
        if subcommand is not None:
            resolve_last_checkpoint(self.config[subcommand])
        # sizes, learning rates, and --ckpt_path (another variant's, a newer or an unreadable checkpoint), each in one
        # line before LightningCLI reads the checkpoint's hyper-parameters into the model's config; continue its W&B run
        if subcommand == "fit":
            check_fit_config(self.config.fit)


def resolve_last_checkpoint(config: Namespace) -> None:
    """``--ckpt_path last`` without ``--checkpoint.dirpath``: each run has a folder of its own, so Lightning (which
    looks in this run's new folder) would start from scratch; take the newest ``last.ckpt`` of earlier runs under
    ``trainer.default_root_dir`` instead, or say that there is none."""
    if config.get("ckpt_path") != "last" or config.get("checkpoint.dirpath"):
        return
    root = Path(config.trainer.default_root_dir or ".")
    found = sorted(root.rglob("last.ckpt"), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
    if not found:
        raise UserError(f"--ckpt_path last: no last.ckpt under {root}; give a checkpoint file, or the folder with "
                        "--checkpoint.dirpath")
    config.ckpt_path = str(found[-1])


def _logger_configs(value: Any) -> list[Namespace]:
    """The logger entries (class_path, init_args) of ``trainer.logger``: one, a list, or none (bool, None)."""
    return [lg for lg in (value if isinstance(value, list) else [value]) if isinstance(lg, Namespace)]


def run_folder(trainer) -> str | None:
    """The folder of a run, as ``trainer.log_dir`` finds it (without its broadcast, which needs the processes to be
    started): the first logger's ``log_dir`` (CSV, TensorBoard) or ``save_dir`` (W&B, MLflow); None without a real
    logger (none, or a fast dev run's stand-in)."""
    if not trainer.loggers or trainer.fast_dev_run:
        return None
    first = trainer.loggers[0]
    return first.log_dir if isinstance(first, (CSVLogger, TensorBoardLogger)) else first.save_dir


def manual_optimization_flags(trainer, model: GANModule) -> None:
    """Trainer flags that Lightning refuses under manual optimisation, done the model's way:
    ``accumulate_grad_batches`` by the model's accumulation, ``gradient_clip_val`` (norm) by ClipGradNorm."""
    if model.automatic_optimization:
        return
    if trainer.accumulate_grad_batches != 1:
        model.accumulate_grad_batches, trainer.accumulate_grad_batches = trainer.accumulate_grad_batches, 1
    if trainer.gradient_clip_val:
        if trainer.gradient_clip_algorithm not in (None, "norm"):
            raise UserError("trainer.gradient_clip_algorithm=value is not supported with a GAN's manual optimisation;"
                            " use the default norm (lit_gans.callbacks.performance.ClipGradNorm)")
        trainer.callbacks.append(ClipGradNorm(float(trainer.gradient_clip_val)))
        trainer.gradient_clip_val = None


def _expand_short_names(argv: Sequence[str]) -> list[str]:
    """``--model DCGAN`` / ``--data Digits`` to the full class paths jsonargparse resolves; ``--trainer.logger NAME``
    (or ``--trainer.logger+=NAME``) to a logger class, lit_gans' own for ``WandbLogger`` (which goes offline by
    itself), with ``save_dir`` the run folder unless the user gives one after it."""
    out = []
    for i, arg in enumerate(argv):
        key, eq, value = arg.partition("=")
        option, value = (key, value) if eq else (argv[i - 1] if i > 0 else "", arg)
        if option not in _SHORT_NAMES:
            out.append(arg)
            continue
        path = _resolve(option, value)
        out.append(f"{key}={path}" if eq else path)
        if option.startswith("--trainer.logger") and value in _RUN_FOLDER_LOGGERS:
            out.append(f"--trainer.logger.save_dir={RUN_FOLDER}")
    return out


def _resolve(option: str, value: str) -> str:
    """A registry name to its class path; dotted paths, config files and ``.init_arg`` forms pass through, and so do
    other names where the registry only adds aliases (``--trainer.logger false``)."""
    registry, complete = _SHORT_NAMES[option]
    if value in registry:
        cls = registry[value]
        return f"{cls.__module__}.{cls.__qualname__}"
    if not complete or "." in value or "/" in value or value.startswith("{"):
        return value
    raise UserError(f"unknown {option.lstrip('-')} {value!r}; choose one of {', '.join(registry)}")


#: loggers by short name; those that take a save_dir get the run folder
_LOGGERS: dict[str, type[Logger]] = {"WandbLogger": WandbLogger, "CSVLogger": CSVLogger,
                                     "TensorBoardLogger": TensorBoardLogger, "MLFlowLogger": MLFlowLogger}
_RUN_FOLDER_LOGGERS = ("CSVLogger", "TensorBoardLogger", "MLFlowLogger")
#: option -> (names it takes, whether those are all it takes)
_SHORT_NAMES: dict[str, tuple[dict[str, type], bool]] = {
    "--model": (MODELS, True),
    "--data": (DATAMODULES, True),
    "--trainer.logger": (_LOGGERS, False),
    "--trainer.logger+": (_LOGGERS, False),
}


#: classes that need a package Lightning does not install, and that package
_OPTIONAL_PACKAGES = {"MLFlowLogger": "mlflow", "RichProgressBar": "rich", "RichModelSummary": "rich",
                      "CometLogger": "comet_ml", "NeptuneLogger": "neptune", "TensorBoardLogger": "tensorboard"}


def missing_package(argv: Sequence[str]) -> str | None:
    """Why a command that failed to parse may have failed: it names a class (on the command line or in a ``-c``
    config) whose package is not installed; jsonargparse then only says that no type matched."""
    text = " ".join(argv)
    for i, arg in enumerate(argv[1:], 1):
        if argv[i - 1] in ("-c", "--config") and os.path.isfile(arg):
            text += Path(arg).read_text(encoding="utf-8", errors="replace")
    for name, package in _OPTIONAL_PACKAGES.items():
        if name in text and importlib.util.find_spec(package) is None:
            return f"{name} needs the {package} package, which is not installed: pip install {package}"
    return None


def run_lightning(argv: Sequence[str]) -> None:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    # metrics.csv joins a run folder that the first logger made: nothing of that logger's is deleted
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    # jsonargparse raises instead of printing the whole usage; it becomes one line
    no_exit = {"exit_on_error": False}
    try:
        GANCLI(
            GANModule,
            GANDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=_expand_short_names(argv),
            auto_configure_optimizers=False,
            save_config_kwargs={"overwrite": True},
            trainer_defaults={"default_root_dir": "runs",
                              "plugins": [{"class_path": "lit_gans.checkpoints.atomic.AtomicCheckpointIO"}]},
            parser_kwargs={**no_exit, **{cmd: no_exit for cmd in LIGHTNING_SUBCOMMANDS}},
        )
    except ArgumentError as e:
        raise UserError(missing_package(argv) or condense(str(e))) from e
    except ValueError as e:  # jsonargparse building a class whose package is missing; else main() reports it
        hint = missing_package(argv)
        if hint is None:
            raise
        raise UserError(hint) from e
    except MisconfigurationException as e:  # Lightning's word on a flag that cannot work: one line
        raise UserError(" ".join(str(e).split())) from e
