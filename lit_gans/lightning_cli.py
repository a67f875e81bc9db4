"""The ``lit-gans`` command.

``fit``, ``validate``, ``test`` and ``predict`` are LightningCLI's, with the model and data chosen by name
(``--model DCGAN --data Digits``) or by YAML (``-c experiments/dcgan/digits.yaml``); the data's sample shape and
class count are linked into the model, so they are written once. The other subcommands (``sample``, ...) are
small programs in :mod:`lit_gans.commands`, each on a checkpoint.

Every error a user can cause (an unknown name or key, a missing file, data the network cannot take) ends the
command with one line on stderr that says what to fix, and exit status 2.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from typing import NoReturn, Optional, Sequence

import yaml
from jsonargparse import ArgumentError
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI

from lit_gans.callbacks.model_card import ModelCard
from lit_gans.callbacks.preemption import Preemption
from lit_gans.callbacks.samples import SampleGrid
from lit_gans.callbacks.throughput import Throughput
from lit_gans.commands import COMMANDS, UserError
from lit_gans.config_checks import check_fit_config
from lit_gans.data import DATAMODULES, GANDataModule
from lit_gans.loggers import WandbLogger
from lit_gans.models import MODELS, GANModule

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


def _condense(message: str) -> str:
    """The informative part of a nested, multi-line jsonargparse message, as one line."""
    noise = ("Subtypes:", "Errors:", "Given value", "Does not validate", "Expected a <class 'NoneType'>", "Problem with")
    useful = [ln.strip().lstrip("- ").strip() for ln in str(message).splitlines()]
    useful = [ln for ln in useful if ln and not ln.startswith(noise)] or [str(message).strip()]
    head, tail = useful[0], re.sub(r"^[\w.]+\.\w+(Error|Exception): ", "", useful[-1])  # a DataLoader worker's re-raise
    return f"{head} {tail}" if head.startswith("Parser key") and tail != head else tail


class GANCLI(LightningCLI):
    """LightningCLI with the lit_gans links, forced callbacks and one-line errors."""

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

    def instantiate_classes(self) -> None:
        super().instantiate_classes()
        # W&B runs (lit_gans.loggers.WandbLogger) carry the variant, the dataset and the whole resolved config, so
        # that a dashboard can group and compare them; they must be told before their run starts.
        describers = [lg for lg in self.trainer.loggers if hasattr(lg, "describe_run")]
        if describers:
            config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
            config = config.get(self.subcommand, config) if self.subcommand else config
            names = {cls: name for name, cls in {**MODELS, **DATAMODULES}.items()}
            variant, dataset = (names.get(type(x), type(x).__name__) for x in (self.model, self.datamodule))
            for logger in describers:
                logger.describe_run(variant, dataset, config, self.trainer.default_root_dir)
            if self.trainer.loggers[0] in describers:  # checkpoints in the run folder, as with CSV and TensorBoard
                for callback in self.trainer.checkpoint_callbacks:
                    callback.dirpath = callback.dirpath or os.path.join(self.trainer.loggers[0].save_dir, "checkpoints")

    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        super().parse_arguments(parser, args)
        # sizes, learning rates, and --ckpt_path (another variant's, a newer or an unreadable checkpoint), each in one
        # line before LightningCLI reads the checkpoint's hyper-parameters into the model's config; continue its W&B run
        if self.config.get("subcommand") == "fit":
            check_fit_config(self.config.fit)


def _expand_short_names(argv: Sequence[str]) -> list[str]:
    """``--model DCGAN`` / ``--data Digits`` to the full class paths jsonargparse resolves; ``--trainer.logger
    WandbLogger`` to lit_gans' W&B logger (which goes offline by itself), a name Lightning's own class shares."""
    out = []
    for i, arg in enumerate(argv):
        key, eq, value = arg.partition("=")
        if eq and key in _SHORT_NAMES:
            arg = f"{key}={_resolve(key, value)}"
        elif i > 0 and argv[i - 1] in _SHORT_NAMES and not eq:
            arg = _resolve(argv[i - 1], arg)
        out.append(arg)
    return out


def _resolve(option: str, value: str) -> str:
    """A registry name to its class path; dotted paths, config files and ``.init_arg`` forms pass through, and so do
    other names where the registry only adds aliases (``--trainer.logger false``, ``CSVLogger``)."""
    registry, complete = _SHORT_NAMES[option]
    if value in registry:
        cls = registry[value]
        return f"{cls.__module__}.{cls.__qualname__}"
    if not complete or "." in value or "/" in value or value.startswith("{"):
        return value
    raise UserError(f"unknown {option.lstrip('-')} {value!r}; choose one of {', '.join(registry)}")


#: option -> (names it takes, whether those are all it takes)
_SHORT_NAMES: dict[str, tuple[dict[str, type], bool]] = {
    "--model": (MODELS, True),
    "--data": (DATAMODULES, True),
    "--trainer.logger": ({"WandbLogger": WandbLogger}, False),
}


def run_lightning(argv: Sequence[str]) -> None:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    # jsonargparse raises instead of printing the whole usage; main() turns the error into one line.
    no_exit = {"exit_on_error": False}
    GANCLI(
        GANModule,
        GANDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=_expand_short_names(argv),
        auto_configure_optimizers=False,
        save_config_kwargs={"overwrite": True},
        trainer_defaults={"default_root_dir": "runs", "plugins": [{"class_path": "lit_gans.checkpoint_io.AtomicCheckpointIO"}]},
        parser_kwargs={**no_exit, **{cmd: no_exit for cmd in LIGHTNING_SUBCOMMANDS}},
    )


def main(argv: Optional[Sequence[str]] = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            COMMANDS[argv[0]](argv[1:])
        else:
            run_lightning(argv)
    except UserError as e:
        _fail(str(e))
    except ArgumentError as e:
        _fail(_condense(str(e)))
    except (ValueError, FileNotFoundError, NotADirectoryError, FloatingPointError) as e:  # building or training (NaN)
        if os.environ.get("LIT_GANS_DEBUG"):
            raise
        _fail(_condense(str(e)))


def _fail(message: str) -> NoReturn:
    print(f"lit-gans: error: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
