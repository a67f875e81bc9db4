"""Reading a finished run's scalars back from its local log files: Lightning's CSV ``metrics.csv``, TensorBoard event
files and W&B offline runs — what ``lit-gans report`` compares, with no dashboard and no network.

``lit-gans fit`` keeps ``metrics.csv`` in the run folder beside whatever logger the run has (W&B, TensorBoard,
MLflow), so that is what is read when it is there: a plain, documented format that no logger upgrade changes. The
other readers are for runs made without it (runs of earlier lit_gans versions, Python runs with one logger):

- CSV: ``metrics.csv`` (one row per logging step, empty cells for metrics not logged then), ``hparams.yaml`` and
  LightningCLI's ``config.yaml`` (``model``, ``data``, ``trainer`` as run).
- W&B: ``run-<id>.wandb`` is a LevelDB-style log (a 7-byte file header, 32 KiB blocks, records of crc32, length and
  type) of W&B's protobuf ``Record`` messages; wandb has no public reader for it, so :func:`wandb_records` walks it.
  History rows give the metrics at ``trainer/global_step``, the run record the config, group and tags.
  This format is wandb's own and not promised stable; the reader is tested with the wandb version installed
  (``tests/test_report.py``: it reads the same numbers as the run's ``metrics.csv``); a file it cannot parse ends
  the report with one line naming the installed wandb version.
- TensorBoard: tensorboard's ``EventAccumulator`` (the ``tensorboard`` package).
"""

from __future__ import annotations

import csv
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

#: what each kind of run leaves, the stable form first: the first kind found in a folder is read
LOG_FILES = {"csv": "metrics.csv", "tensorboard": "events.out.tfevents.*", "wandb": "run-*.wandb"}
#: columns that are bookkeeping, not metrics
_NOT_METRICS = {"trainer/global_step", "global_step", "step", "epoch", "_step", "_runtime", "_timestamp", "hp_metric"}


class RunLogError(ValueError):
    """A run folder that cannot be read: missing, without logs, or holding several runs."""


@dataclass
class RunLog:
    """The scalars of one run: ``scalars[name]`` = [(global step, value), ...] in logging order."""

    path: Path
    source: str
    scalars: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    wall_s: float = math.nan  # from the log's own clock (timestamps), when it has one

    def add(self, name: str, step: int, value: float) -> None:
        if name not in _NOT_METRICS and not name.startswith("_"):
            self.scalars.setdefault(name, []).append((int(step), float(value)))


def read_run(path: str | Path) -> RunLog:
    """The run whose logs are in ``path`` (searched recursively: CSV first, then TensorBoard, then W&B)."""
    path = Path(path)
    if not path.is_dir():
        raise RunLogError(f"{path} is not a folder; give the folder of a run (e.g. runs/x/lightning_logs/version_0)")
    for source, pattern in LOG_FILES.items():
        files = sorted(path.rglob(pattern))
        if not files:
            continue
        folders = sorted({f.parent for f in files})
        if len(folders) > 1:
            shown = ", ".join(str(f.relative_to(path)) for f in folders[:4])
            raise RunLogError(f"{path} holds {len(folders)} {source} runs ({shown}); give one run's folder")
        return {"wandb": _read_wandb, "tensorboard": _read_tensorboard, "csv": _read_csv}[source](path, files)
    raise RunLogError(f"{path} has no run logs (no W&B run-*.wandb, TensorBoard events.out.tfevents.* or metrics.csv)")


# --- W&B offline runs -------------------------------------------------------------------------------------------------
def wandb_records(run_file: Path) -> Iterator[Any]:
    """The protobuf ``Record`` messages of an offline ``run-*.wandb`` file, in order; a record cut off at the end of
    the file (a run still being written) is skipped."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, chunk, block = run_file.read_bytes(), 7, b"", 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 or pos + 7 + length > len(data):  # zero padding, or a record not fully written yet
            break
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST: a whole record (FIRST = 2 and MIDDLE = 3 are parts)
            yield pb.Record.FromString(chunk)
            chunk = b""


def wandb_history(run_file: Path) -> list[dict[str, Any]]:
    """The history rows (one per ``wandb.log`` call) of an offline run file, values decoded from JSON."""
    return [
        {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item}
        for r in wandb_records(run_file)
        if r.WhichOneof("record_type") == "history"
    ]


def _read_wandb(path: Path, files: list[Path]) -> RunLog:
    try:
        records = list(wandb_records(files[0]))
    except Exception as e:  # protobuf's DecodeError, a moved module: a wandb whose format this reader does not know
        from importlib.metadata import version

        raise RunLogError(f"{files[0]} cannot be read with wandb {version('wandb')} ({type(e).__name__}); runs "
                          "written with metrics.csv beside them do not need wandb to be read") from e
    run = RunLog(path, "wandb")
    times: list[float] = []
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind in ("run", "config"):  # the config given to wandb.init, then updates (the hyper-parameters)
            items = record.run.config.update if kind == "run" else record.config.update
            run.config |= {i.key: json.loads(i.value_json) for i in items if i.key != "_wandb"}
            run.tags = list(record.run.tags) if kind == "run" else run.tags
        elif kind == "history":
            row = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            step = row.get("trainer/global_step", row.get("_step", 0))
            times.extend(t for t in [row.get("_runtime")] if isinstance(t, (int, float)))
            media = tuple(k[: -len("_type")] for k in row if k.endswith("/_type"))  # images: "samples/width", ...
            for name, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool) and not name.startswith(media):
                    run.add(name, step, value)
    run.wall_s = max(times, default=math.nan)
    return run


# --- TensorBoard ---------------------------------------------------------------------------------------------------
def _read_tensorboard(path: Path, files: list[Path]) -> RunLog:
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as e:
        raise RunLogError(f"{path} has TensorBoard logs; reading them needs tensorboard: pip install tensorboard") from e
    events = EventAccumulator(str(files[0].parent), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    run = RunLog(path, "tensorboard")
    times = []
    for tag in events.Tags()["scalars"]:
        for event in events.Scalars(tag):
            run.add(tag, event.step, event.value)
            times.append(event.wall_time)
    run.wall_s = max(times) - min(times) if times else math.nan
    run.config = _hparams(files[0].parent)
    return run


# --- CSV ---------------------------------------------------------------------------------------------------------------
def _read_csv(path: Path, files: list[Path]) -> RunLog:
    run = RunLog(path, "csv")
    with open(files[0], newline="") as f:
        for row in csv.DictReader(f):
            step = int(float(row.get("step") or 0))
            for name, cell in row.items():
                if cell not in ("", None):
                    run.add(name, step, float(cell))
    run.config = _hparams(files[0].parent) | _hparams(files[0].parent, "config.yaml")
    return run


class _HparamsLoader(yaml.SafeLoader):
    """Safe YAML that reads the ``!!python/tuple`` Lightning writes for tuples as lists (and other Python tags as
    None) instead of failing or running code."""


_HparamsLoader.add_multi_constructor(
    "tag:yaml.org,2002:python/",
    lambda loader, suffix, node: loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode) else None,
)


def _hparams(folder: Path, name: str = "hparams.yaml") -> dict[str, Any]:
    """The ``hparams.yaml`` Lightning writes beside CSV and TensorBoard logs, or another YAML file of the run folder
    ({} if absent or unreadable)."""
    file = folder / name
    try:
        return (yaml.load(file.read_text(), Loader=_HparamsLoader) or {}) if file.is_file() else {}
    except yaml.YAMLError:
        return {}
