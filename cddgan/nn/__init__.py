"""Network building blocks shared by every GAN method (CycleGAN, CUT, FastCUT, NEGCUT, CDD-GAN).

Defined once so that the methods differ only in their losses and update order:

- `ResnetGenerator`: flat module list whose indices are the `nce_layers`; `channels(layers)` gives the
  feature widths, `forward(x, layers, encode_only)` returns features.
- `PatchDiscriminator`: PatchGAN (anti-aliased CUT layout or CycleGAN's 70x70).
- `PatchSampleF` + `patch_nce_loss`: PatchNCE projection heads and the InfoNCE loss (optionally with
  explicit negatives for NEGCUT / CDD-GAN); `project_pairs` projects queries and keys at the same
  positions in the references' order; `parse_layers` reads an `nce_layers` setting.
- `GANLoss`, `ImagePool`, `init_weights`, `BlurDown`, `BlurUp`.
"""

from cddgan.nn.blur import BlurDown, BlurUp
from cddgan.nn.discriminators import PatchDiscriminator
from cddgan.nn.generators import ResnetBlock, ResnetGenerator
from cddgan.nn.init import INIT_KINDS, init_weights
from cddgan.nn.losses import GAN_MODES, GANLoss
from cddgan.nn.patchnce import PatchSampleF, l2_normalize, parse_layers, patch_nce_loss, project_pairs
from cddgan.nn.pool import ImagePool

__all__ = [
    "GAN_MODES",
    "INIT_KINDS",
    "BlurDown",
    "BlurUp",
    "GANLoss",
    "ImagePool",
    "PatchDiscriminator",
    "PatchSampleF",
    "ResnetBlock",
    "ResnetGenerator",
    "init_weights",
    "l2_normalize",
    "parse_layers",
    "patch_nce_loss",
    "project_pairs",
]
