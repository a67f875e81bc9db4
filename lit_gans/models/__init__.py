"""LightningModules, one per GAN variant; :data:`MODELS` maps the CLI's model names to their classes."""

from lit_gans.models.base import GANModule
from lit_gans.models.cgan import CGAN
from lit_gans.models.cyclegan import CycleGAN
from lit_gans.models.dcgan import DCGAN
from lit_gans.models.gan import VanillaGAN
from lit_gans.models.progan import ProGAN
from lit_gans.models.seqgan import SeqGAN
from lit_gans.models.stylegan2 import StyleGAN2
from lit_gans.models.wgan import WGAN, WGANGP

MODELS: dict[str, type[GANModule]] = {cls.__name__: cls for cls in (VanillaGAN, CGAN, DCGAN, WGAN, WGANGP, CycleGAN, ProGAN, StyleGAN2, SeqGAN)}

__all__ = ["GANModule", "VanillaGAN", "CGAN", "DCGAN", "WGAN", "WGANGP", "CycleGAN", "ProGAN", "StyleGAN2", "SeqGAN", "MODELS"]
