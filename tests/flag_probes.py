"""A callback the Trainer-flag tests add to ``lit-gans fit`` runs in subprocesses (``--trainer.callbacks+=
flag_probes.BatchLog``): it records what each training batch was, so a test can tell which batches were trained on."""

import json

import lightning as L


class BatchLog(L.Callback):
    """Appends one JSON line per training batch to ``path``: epoch, batch index, the batch's first pixel values
    (a fingerprint), and the model's discriminator updates so far."""

    def __init__(self, path: str) -> None:
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        line = {"epoch": trainer.current_epoch, "batch": batch_idx, "d_steps": int(pl_module.d_steps),
                "fingerprint": [round(float(v), 5) for v in x.flatten(1)[:, :4].flatten()]}
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")


class EpochLog(L.Callback):
    """Appends one JSON line per finished validation (not the sanity check) and per training epoch end, with the
    value of ``eval/fid`` when there is one."""

    def __init__(self, path: str) -> None:
        self.path = path

    def _write(self, line: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self._write({"validated": trainer.current_epoch})

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        fid = trainer.callback_metrics.get("eval/fid")
        self._write({"epoch_end": trainer.current_epoch, "fid": None if fid is None else float(fid)})
