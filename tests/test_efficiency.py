"""Efficiency figures against hand counts: CycleGAN's paper-scale generator, layer by layer.

The counts below are written out from the architecture (Zhu et al. 2017, ResNet-9 at ngf 64): a
convolution costs H_out * W_out * C_in * C_out * k * k multiply-accumulates and has C_in * C_out * k * k
weights plus C_out biases (instance norm, so the convolutions keep their bias; the norm has no affine
parameters). A transposed convolution is counted per input pixel, as torch's flop counter does.
"""

from __future__ import annotations

import pytest
import torch

from baselines.cyclegan import CycleGAN
from cddgan.efficiency import called_parameters, count_macs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# (C_in, C_out, kernel, side of the pixel grid the MACs are counted on, transposed)
CYCLEGAN_G_256 = [
    (3, 64, 7, 256, False),  # c7s1-64
    (64, 128, 3, 128, False),  # d128 (stride 2: counted on its 128 px output)
    (128, 256, 3, 64, False),  # d256
    *[(256, 256, 3, 64, False)] * 18,  # nine residual blocks, two convolutions each
    (256, 128, 3, 64, True),  # u128: transposed, counted on its 64 px input
    (128, 64, 3, 128, True),  # u64
    (64, 3, 7, 256, False),  # c7s1-3
]


def test_cyclegan_generator_parameters_and_macs_match_the_hand_count():
    params = sum(cin * cout * k * k + cout for cin, cout, k, _, _ in CYCLEGAN_G_256)
    macs = sum(side * side * cin * cout * k * k for cin, cout, k, side, _ in CYCLEGAN_G_256)
    assert params == 11_378_179  # the 11.38 M every paper lists for CycleGAN's generator
    assert macs == 49_551_507_456
    torch.manual_seed(0)
    method = CycleGAN({})  # paper scale: ngf 64, 9 blocks
    x = torch.rand(1, 3, 256, 256)
    assert called_parameters(method, x) == params  # one generator, not both and not the discriminators
    assert count_macs(method, x) == macs


def test_a_training_free_method_has_no_macs_and_no_parameters():
    from baselines.dcp import DarkChannelPrior

    method = DarkChannelPrior({})
    x = torch.rand(1, 3, 32, 32)
    assert count_macs(method, x) is None and called_parameters(method, x) == 0
