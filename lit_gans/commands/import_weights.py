"""``lit-gans import-weights stylegan2-ada --G G.pt --D D.pt --out model.ckpt``: official StyleGAN2 networks in lit_gans.

``G.pt`` / ``D.pt`` are ``torch.save(net.state_dict())`` files of the ``Generator`` / ``Discriminator`` classes of
NVlabs' stylegan2-ada-pytorch (``training/networks.py``); either may be left out (that network then starts from a
fresh initialisation). The configuration is read from the tensors' names and shapes: resolution, image channels,
channels per resolution (as channel_base / channel_max), mapping depth, z and w sizes, the generator's
skip/resnet/orig and the discriminator's resnet/skip/orig architecture, the minibatch-stddev features. What the tensors
cannot tell comes from options with the official training defaults (``train.py``): the minibatch-stddev group (4),
the conv clamp (256; ``null`` for the networks of ``--fp32`` runs), the mapping learning-rate multiplier (0.01).

The output is a lit_gans ``StyleGAN2`` checkpoint (the generator also as the EMA generator) for ``lit-gans sample
--ckpt``, ``lit_gans.load_model`` and fine-tuning with ``lit-gans fit --model StyleGAN2 --data ... --ckpt_path OUT`` (the model's
settings come from the checkpoint, the optimizers start fresh).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

import torch
from jsonargparse import ArgumentParser

from lit_gans.errors import UserError

FORMATS = ("stylegan2-ada",)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="lit-gans import-weights", description=__doc__, exit_on_error=False)
    p.add_argument("format", type=str, help=f"layout of the weights: {', '.join(FORMATS)}")
    p.add_argument("--G", type=Optional[str], default=None, help="state dict of the official Generator (or G_ema)")
    p.add_argument("--D", type=Optional[str], default=None, help="state dict of the official Discriminator")
    p.add_argument("--out", type=str, required=True, help="the lit_gans checkpoint to write (.ckpt)")
    p.add_argument("--mbstd_group", type=int, default=4, help="minibatch standard deviation group size")
    p.add_argument("--conv_clamp", type=Optional[float], default=256.0, help="conv output clamp (null: none)")
    p.add_argument("--mapping_lr_mul", type=float, default=0.01, help="learning rate multiplier of the mapping")
    p.add_argument("--z_dim", type=int, default=512, help="z size when --G is left out")
    p.add_argument("--w_dim", type=int, default=512, help="w size when --G is left out")
    p.add_argument("--mapping_layers", type=int, default=8, help="mapping depth when --G is left out")
    p.add_argument("--g_architecture", type=str, default="skip", help="generator architecture when --G is left out")
    p.add_argument("--d_architecture", type=str, default="resnet", help="discriminator architecture when --D is left out")
    return p


# --- reading the official layout ----------------------------------------------------------------------------------------
def read_state_dict(path: str, what: str) -> dict[str, torch.Tensor]:
    """An official state dict, loaded with ``weights_only=True``, without the fixed ``resample_filter`` buffers."""
    if not Path(path).is_file():
        raise UserError(f"--{what} {path} does not exist")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused, not a torch file
        raise UserError(f"--{what} {path} is not a state dict readable with weights_only=True ({type(e).__name__})") from e
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise UserError(f"--{what} {path} is not a state dict (a dict of tensors): save net.state_dict()")
    return {k: v for k, v in sd.items() if not k.endswith("resample_filter")}


def block_resolutions(sd: dict[str, torch.Tensor], prefix: str, what: str) -> list[int]:
    """The r of the ``{prefix}b{r}.`` blocks, 4 ... R, checked to be every power of two in between."""
    found = sorted({int(k[len(prefix) + 1:].split(".")[0]) for k in sd
                    if k.startswith(prefix + "b") and k[len(prefix) + 1:].split(".")[0].isdigit()})
    if not found or found != [2**i for i in range(2, len(found) + 2)]:
        raise UserError(f"--{what}: blocks at resolutions {found} are not 4, 8, ..., R: not a layout this importer maps")
    return found


def channel_settings(channels: dict[int, int], what: str) -> tuple[int, int]:
    """(channel_base, channel_max) with min(channel_base // r, channel_max) == channels[r] at every resolution r."""
    cmax = max(channels.values())
    base = max(c * r if c < cmax else cmax * r for r, c in channels.items())
    if any(min(base // r, cmax) != c for r, c in channels.items()):
        raise UserError(f"--{what}: channels per resolution {channels} do not follow min(channel_base // r, channel_max)")
    return base, cmax


def generator_config(sd: dict[str, torch.Tensor]) -> dict:
    """StyleGAN2 arguments read from an official ``Generator`` state dict."""
    if "mapping.embed.weight" in sd:
        raise UserError("--G is a conditional generator (c_dim > 0): lit_gans' StyleGAN2 is unconditional")
    layers = sum(1 for k in sd if k.startswith("mapping.fc") and k.endswith(".weight"))
    if layers == 0 or "synthesis.b4.const" not in sd:
        raise UserError("--G has no mapping.fc0 or synthesis.b4.const: not an official stylegan2-ada Generator")
    z_dim, w_dim = sd["mapping.fc0.weight"].shape[1], sd[f"mapping.fc{layers - 1}.weight"].shape[0]
    if any(sd[f"mapping.fc{i}.weight"].shape[0] != w_dim for i in range(layers)):
        raise UserError("--G: mapping layers narrower or wider than w_dim (layer_features) are not supported")
    res = block_resolutions(sd, "synthesis.", "G")
    if any(f"synthesis.b{r}.conv1.noise_const" not in sd for r in res):
        raise UserError("--G: layers without noise inputs (use_noise=False) are not supported")
    channels = {r: sd[f"synthesis.b{r}.conv1.weight"].shape[0] for r in res}
    arch = ("skip" if all(f"synthesis.b{r}.torgb.weight" in sd for r in res)
            else "resnet" if any(f"synthesis.b{r}.skip.weight" in sd for r in res) else "orig")
    img_channels = sd[f"synthesis.b{res[-1]}.torgb.weight"].shape[0]
    return dict(data_shape=(img_channels, res[-1], res[-1]), z_dim=z_dim, w_dim=w_dim, mapping_layers=layers,
                g_architecture=arch, channels=channels)


def discriminator_config(sd: dict[str, torch.Tensor]) -> dict:
    """StyleGAN2 arguments read from an official ``Discriminator`` state dict."""
    if any(k.startswith("mapping.") for k in sd) or sd.get("b4.out.weight", torch.empty(1, 0)).shape[0] != 1:
        raise UserError("--D is a conditional discriminator (c_dim > 0): lit_gans' StyleGAN2 is unconditional")
    if "b4.conv.weight" not in sd:
        raise UserError("--D has no b4.conv: not an official stylegan2-ada Discriminator")
    res = block_resolutions(sd, "", "D")
    if len(res) < 2:
        raise UserError("--D: a 4x4 discriminator has no blocks; the smallest resolution mapped is 8")
    channels = {r: sd[f"b{r}.conv0.weight"].shape[0] for r in res[1:]} | {4: sd["b4.conv.weight"].shape[0]}
    arch = "skip" if "b4.fromrgb.weight" in sd else "resnet" if f"b{res[-1]}.skip.weight" in sd else "orig"
    img_channels = sd[f"b{res[-1]}.fromrgb.weight"].shape[1]
    return dict(data_shape=(img_channels, res[-1], res[-1]), d_architecture=arch,
                mbstd_num_channels=sd["b4.conv.weight"].shape[1] - channels[4], channels=channels)


def stylegan2_arguments(g_cfg: Optional[dict], d_cfg: Optional[dict], args) -> dict:
    """The StyleGAN2 constructor arguments: both networks' readings (which must agree) and the options."""
    cfg = dict(z_dim=args.z_dim, w_dim=args.w_dim, mapping_layers=args.mapping_layers,
               g_architecture=args.g_architecture, d_architecture=args.d_architecture, mbstd_num_channels=1)
    for part in (g_cfg, d_cfg):
        cfg |= part or {}
    if g_cfg and d_cfg and (g_cfg["data_shape"], g_cfg["channels"]) != (d_cfg["data_shape"], d_cfg["channels"]):
        raise UserError(f"--G and --D do not fit together: images {g_cfg['data_shape']} vs {d_cfg['data_shape']}, "
                        f"channels {g_cfg['channels']} vs {d_cfg['channels']}")
    cfg["channel_base"], cfg["channel_max"] = channel_settings(cfg.pop("channels"), "G" if g_cfg else "D")
    return cfg | dict(mbstd_group=args.mbstd_group, conv_clamp=args.conv_clamp, mapping_lr_mul=args.mapping_lr_mul)


def load_official(net: torch.nn.Module, sd: dict[str, torch.Tensor], what: str) -> None:
    """Copies the official tensors into ``net`` (same names); one line for any tensor that does not fit."""
    own = net.state_dict()
    missing, extra = sorted(set(own) - set(sd)), sorted(set(sd) - set(own))
    wrong = [k for k in own if k in sd and own[k].shape != sd[k].shape]
    if missing or extra or wrong:
        raise UserError(f"--{what}: not a layout this importer maps (missing {missing[:3]}, unexpected {extra[:3]}, "
                        f"other shapes {wrong[:3]})")
    net.load_state_dict(sd)


# --- the command ----------------------------------------------------------------------------------------------------
def import_stylegan2_ada(g_path: Optional[str], d_path: Optional[str], args):
    """A lit_gans StyleGAN2 holding the official networks."""
    from lit_gans.models import StyleGAN2

    g_sd = read_state_dict(g_path, "G") if g_path else None
    d_sd = read_state_dict(d_path, "D") if d_path else None
    kwargs = stylegan2_arguments(generator_config(g_sd) if g_sd else None,
                                 discriminator_config(d_sd) if d_sd else None, args)
    try:
        model = StyleGAN2(**kwargs)
    except ValueError as e:
        raise UserError(str(e)) from e
    if g_sd is not None:
        load_official(model.generator, g_sd, "G")
    if d_sd is not None:
        load_official(model.discriminator, d_sd, "D")
    if model.ema_decay is not None:  # the official G (usually G_ema) is also the EMA generator that `sample` uses
        ema = {f"generator_ema.{k}": v for k, v in model.generator.state_dict().items()}
        model.load_state_dict(model.state_dict() | ema)
    return model


def checkpoint_of(model) -> dict:
    """A checkpoint that lit_gans loads and Lightning resumes from: weights and hyper-parameters, fresh optimizers."""
    import lightning

    from lit_gans.checkpoints.format import CHECKPOINT_FORMAT

    return {"epoch": 0, "global_step": 0, "pytorch-lightning_version": lightning.__version__,
            "state_dict": model.state_dict(), "hyper_parameters": hyper_parameters(model),
            "optimizer_states": [], "lr_schedulers": [],  # fine-tuning starts the configured optimizers afresh
            "lit_gans_model": type(model).__name__, "lit_gans_format": CHECKPOINT_FORMAT}


#: the StyleGAN2 arguments that shape the networks (the rest, training settings, stay with the user's config)
NETWORK_ARGUMENTS = ("data_shape", "z_dim", "w_dim", "mapping_layers", "mapping_lr_mul", "channel_base", "channel_max",
                     "g_architecture", "d_architecture", "mbstd_group", "mbstd_num_channels", "conv_clamp")


def hyper_parameters(model) -> dict:
    """The network's arguments as LightningCLI records hyper-parameters: ``fit --ckpt_path`` builds the network from
    these (they override the command line's) and takes the training settings from the command line or config."""
    return {"_class_path": f"{type(model).__module__}.{type(model).__name__}",
            "_instantiator": "lightning.pytorch.cli.instantiate_module",
            **{k: model.hparams[k] for k in NETWORK_ARGUMENTS}}


def main(argv: Sequence[str]) -> None:
    from lit_gans.checkpoints.atomic import atomic_save

    try:
        args = build_parser().parse_args(list(argv))
    except Exception as e:  # jsonargparse's ArgumentError: unknown or missing options
        raise UserError(str(e).splitlines()[0]) from e
    if args.format not in FORMATS:
        raise UserError(f"unknown weights format {args.format!r}; known: {', '.join(FORMATS)}")
    if not args.G and not args.D:
        raise UserError("give --G, --D or both")
    if args.mbstd_group < 1:
        raise UserError(f"--mbstd_group must be >= 1, got {args.mbstd_group}")
    if args.conv_clamp is not None and not (math.isfinite(args.conv_clamp) and args.conv_clamp > 0):
        raise UserError(f"--conv_clamp must be a positive number or null, got {args.conv_clamp}")
    model = import_stylegan2_ada(args.G, args.D, args)
    out = Path(args.out)
    atomic_save(checkpoint_of(model), out)
    h = model.hparams
    print(f"wrote {out}: StyleGAN2 {h.data_shape[1]}x{h.data_shape[1]}x{h.data_shape[0]}, z {h.z_dim}, "
          f"w {h.w_dim}, {h.mapping_layers} mapping layers, G {h.g_architecture}, D {h.d_architecture}, "
          f"channels {h.channel_base} // r up to {h.channel_max}; fine-tune with "
          f"lit-gans fit --model StyleGAN2 --data ... --ckpt_path {out}")
