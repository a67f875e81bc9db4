"""lit_gans: the classic GAN family as PyTorch Lightning modules."""

__version__ = "0.1.0"


def load_model(path):
    """The lit_gans model saved in the checkpoint ``path`` (``lit-gans fit`` or ``lit-gans import-weights``), on the
    CPU, in eval mode. Imported on use, so that ``import lit_gans`` stays light."""
    from lit_gans.checkpoints.loading import load_model as _load_model

    return _load_model(path)
