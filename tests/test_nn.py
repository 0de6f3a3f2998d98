"""Building blocks: layouts and parameter counts against the published figures, blur filters against
hand-written numpy, GAN losses against hand-computed values, the image pool's contract, init."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from cddgan.errors import ConfigError
from cddgan.nn import (
    BlurDown,
    BlurUp,
    GANLoss,
    ImagePool,
    PatchDiscriminator,
    ResnetBlock,
    ResnetGenerator,
    init_weights,
)


def n_params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


# ---------------------------------------------------------------- parameter counts and layouts


def test_cyclegan_resnet9_generator_has_the_published_parameter_count():
    assert n_params(ResnetGenerator(ngf=64, n_blocks=9, antialias=False, antialias_up=False)) == 11_378_179


def test_antialiased_generator_has_the_same_parameters_plus_blur_buffers():
    g = ResnetGenerator(ngf=64, n_blocks=9)
    assert n_params(g) == 11_378_179  # blur filters are fixed buffers, not parameters
    blur_keys = [k for k in g.state_dict() if k.endswith(".filt")]
    assert len(blur_keys) == 4  # two BlurDown, two BlurUp


def test_patchgan_has_the_published_parameter_count():
    assert n_params(PatchDiscriminator(ndf=64, n_layers=3, antialias=False)) == 2_764_737
    assert n_params(PatchDiscriminator(ndf=64, n_layers=3, antialias=True)) == 2_764_737


def test_generator_layout_matches_the_cut_index_table():
    g = ResnetGenerator(ngf=8, n_blocks=9)
    m = g.model
    assert len(m) == 32
    assert isinstance(m[0], nn.ReflectionPad2d) and m[1].kernel_size == (7, 7)
    assert isinstance(m[2], nn.InstanceNorm2d) and not m[2].affine
    assert isinstance(m[4], nn.Conv2d) and m[4].stride == (1, 1) and isinstance(m[7], BlurDown)
    assert isinstance(m[8], nn.Conv2d) and isinstance(m[11], BlurDown)
    assert all(isinstance(m[i], ResnetBlock) for i in range(12, 21))
    assert isinstance(m[21], BlurUp) and isinstance(m[25], BlurUp)
    assert isinstance(m[29], nn.ReflectionPad2d) and isinstance(m[31], nn.Tanh)
    assert g.channels([0, 4, 8, 12, 16, 22, 26, 30]) == [3, 16, 32, 32, 32, 16, 8, 3]


def test_cyclegan_layout_uses_strided_and_transposed_convs():
    m = ResnetGenerator(ngf=8, n_blocks=9, antialias=False, antialias_up=False).model
    assert len(m) == 28
    assert m[4].stride == (2, 2) and m[7].stride == (2, 2)
    assert isinstance(m[19], nn.ConvTranspose2d) and isinstance(m[22], nn.ConvTranspose2d)
    assert not any(isinstance(x, BlurDown | BlurUp) for x in m)


@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(32, 32), (36, 44), (20, 64)])
def test_generator_output_shape_equals_input_shape(antialias, size):
    g = ResnetGenerator(ngf=4, n_blocks=1, antialias=antialias, antialias_up=antialias)
    x = torch.randn(2, 3, *size)
    y = g(x)
    assert y.shape == x.shape
    assert y.abs().max() <= 1


@pytest.mark.parametrize("antialias", [True, False])
def test_features_have_the_channels_that_channels_reports(antialias):
    g = ResnetGenerator(ngf=4, n_blocks=3, antialias=antialias, antialias_up=antialias)
    layers = [16, 0, 4, 8, 12, len(g) - 2]  # unsorted on purpose: features come back in this order
    x = torch.randn(1, 3, 32, 32)
    out, feats = g(x, layers)
    assert [f.shape[1] for f in feats] == g.channels(layers)
    assert torch.equal(out, g(x))
    assert torch.equal(feats[1], nn.functional.pad(x, (3, 3, 3, 3), mode="reflect"))  # layer 0 = padded input
    enc = g(x, layers, encode_only=True)
    assert all(torch.equal(a, b) for a, b in zip(enc, feats, strict=True))


def test_encode_only_stops_after_the_deepest_requested_layer():
    g = ResnetGenerator(ngf=4, n_blocks=2)
    calls: list[int] = []
    for i, m in enumerate(g.model):
        m.register_forward_hook(lambda *_, i=i: calls.append(i))
    g(torch.randn(1, 3, 16, 16), [4, 8], encode_only=True)
    assert calls == list(range(9))


def test_out_of_range_layer_is_a_config_error_naming_the_range():
    g = ResnetGenerator(ngf=4, n_blocks=2)
    with pytest.raises(ConfigError, match="out of range"):
        g.channels([0, 99])
    with pytest.raises(ConfigError, match="nce_layers"):
        g(torch.randn(1, 3, 16, 16), [-1], encode_only=True)


def test_patchgan_output_size_and_70px_receptive_field():
    for antialias in (True, False):
        d = PatchDiscriminator(ndf=4, n_layers=3, antialias=antialias)
        assert d(torch.zeros(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    d = PatchDiscriminator(ndf=4, n_layers=3, antialias=False)
    for i, m in enumerate(d.model):  # instance norm couples all positions; remove it to see the field
        if isinstance(m, nn.InstanceNorm2d):
            d.model[i] = nn.Identity()
    x = torch.randn(1, 3, 160, 160, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 3))).flatten()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2))).flatten()
    assert int(rows[-1] - rows[0]) + 1 == 70
    assert int(cols[-1] - cols[0]) + 1 == 70


# ---------------------------------------------------------------- blur filters vs numpy


def blur_down_numpy(x: np.ndarray) -> np.ndarray:
    """Reflect-pad 1, 3x3 binomial [1,2,1]x[1,2,1]/16, keep every second pixel."""
    f = np.outer([1, 2, 1], [1, 2, 1]) / 16.0
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    h, w = x.shape[1:]
    out = np.zeros((x.shape[0], (h + 1) // 2, (w + 1) // 2))
    for i in range(out.shape[1]):
        for j in range(out.shape[2]):
            out[:, i, j] = (xp[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3] * f).sum(axis=(1, 2))
    return out


def up_1d(x: np.ndarray, axis: int) -> np.ndarray:
    """Half-pixel linear upsampling x2 with edge clamping: y[2i] = x[i-1]/4 + 3x[i]/4, y[2i+1] = 3x[i]/4 +
    x[i+1]/4 (what a stride-2 transposed conv with [1,3,3,1]/4 and replicate padding computes)."""
    x = np.moveaxis(x, axis, -1)
    prev = np.concatenate([x[..., :1], x[..., :-1]], axis=-1)
    nxt = np.concatenate([x[..., 1:], x[..., -1:]], axis=-1)
    y = np.empty((*x.shape[:-1], 2 * x.shape[-1]))
    y[..., 0::2] = 0.25 * prev + 0.75 * x
    y[..., 1::2] = 0.75 * x + 0.25 * nxt
    return np.moveaxis(y, -1, axis)


@pytest.mark.parametrize("size", [(8, 8), (7, 10)])
def test_blur_down_matches_numpy(size):
    x = torch.randn(1, 2, *size, dtype=torch.float64)
    got = BlurDown(2).double()(x)[0].numpy()
    np.testing.assert_allclose(got, blur_down_numpy(x[0].numpy()), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("size", [(4, 4), (5, 7), (1, 3)])
def test_blur_up_doubles_exactly_and_matches_numpy(size):
    x = torch.randn(1, 2, *size, dtype=torch.float64)
    got = BlurUp(2).double()(x)
    assert got.shape == (1, 2, 2 * size[0], 2 * size[1])
    want = up_1d(up_1d(x[0].numpy(), 1), 2)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-12, atol=1e-12)


def test_blur_filters_are_buffers_that_follow_the_module():
    for blur in (BlurDown(3), BlurUp(3)):
        assert "filt" in blur.state_dict() and not list(blur.parameters())
        assert blur.double().filt.dtype == torch.float64


# ---------------------------------------------------------------- GAN losses


def _sig(x):
    return 1 / (1 + np.exp(-x))


REAL = np.array([0.3, -1.2, 2.0, 0.9])
FAKE = np.array([-0.4, 0.1, 1.5, -2.2])


@pytest.mark.parametrize(
    ("mode", "d_want", "g_want"),
    [
        ("lsgan", 0.5 * (np.mean((REAL - 1) ** 2) + np.mean(FAKE**2)), np.mean((FAKE - 1) ** 2)),
        (
            "vanilla",
            0.5 * (np.mean(-np.log(_sig(REAL))) + np.mean(-np.log(1 - _sig(FAKE)))),
            np.mean(-np.log(_sig(FAKE))),
        ),
        ("hinge", 0.5 * (np.mean(np.maximum(0, 1 - REAL)) + np.mean(np.maximum(0, 1 + FAKE))), -np.mean(FAKE)),
    ],
)
def test_gan_losses_match_hand_computation(mode, d_want, g_want):
    loss = GANLoss(mode)
    real = torch.tensor(REAL, dtype=torch.float64).view(1, 1, 2, 2)
    fake = torch.tensor(FAKE, dtype=torch.float64).view(1, 1, 2, 2)
    assert float(loss.d_loss(real, fake)) == pytest.approx(d_want, rel=1e-12)
    assert float(loss.g_loss(fake)) == pytest.approx(g_want, rel=1e-12)


def test_unknown_gan_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="gan_mode 'wgan'"):
        GANLoss("wgan")


# ---------------------------------------------------------------- image pool


def images(n: int, start: int = 0) -> torch.Tensor:
    """n distinguishable 1x2x2 images: image i is filled with the value i."""
    return torch.arange(start, start + n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2).clone()


def ids(batch: torch.Tensor) -> list[int]:
    return [int(v) for v in batch[:, 0, 0, 0]]


def test_pool_of_size_zero_passes_through():
    x = images(3)
    assert ImagePool(0).query(x) is x


def test_pool_fills_first_then_mixes_old_and_new_and_stores_at_most_size():
    torch.manual_seed(0)
    pool = ImagePool(4)
    assert ids(pool.query(images(4))) == [0, 1, 2, 3]  # filling: returned as given
    seen: set[int] = set(range(4))
    old = 0
    for step in range(100):
        out = ids(pool.query(images(2, start=100 + 2 * step)))
        new = {100 + 2 * step, 101 + 2 * step}
        assert all(v in new or v in seen for v in out)  # either the new image or an earlier one
        old += sum(v not in new for v in out)
        seen |= new
        assert pool.stored() == 4
    assert 60 < old < 140  # about half of the 200 answers are history (seeded, so deterministic)


def test_pool_is_reproducible_from_the_torch_seed_and_round_trips_its_state():
    def run(pool: ImagePool, start: int) -> list[int]:
        return [v for s in range(10) for v in ids(pool.query(images(2, start=start + 2 * s)))]

    torch.manual_seed(3)
    a = ImagePool(5)
    first = run(a, 0)
    torch.manual_seed(3)
    assert run(ImagePool(5), 0) == first

    state = a.state_dict()
    b = ImagePool(5)
    b.load_state_dict(state)
    torch.manual_seed(11)
    after_a = run(a, 1000)
    torch.manual_seed(11)
    assert run(b, 1000) == after_a
    with pytest.raises(ValueError, match="size 5"):
        ImagePool(7).load_state_dict(state)


# ---------------------------------------------------------------- init


def test_init_normal_and_xavier_set_the_documented_scales_and_zero_biases():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 64, 3)
    init_weights(conv, "normal", 0.02)
    assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert torch.all(conv.bias == 0)
    lin = nn.Linear(300, 200)
    init_weights(lin, "xavier", 0.02)
    assert lin.weight.std().item() == pytest.approx(0.02 * math.sqrt(2 / 500), rel=0.05)
    blur = BlurDown(4)
    before = blur.filt.clone()
    init_weights(nn.Sequential(blur), "normal", 0.02)
    assert torch.equal(blur.filt, before)


def test_unknown_init_kind_is_a_config_error():
    with pytest.raises(ConfigError, match="init_type 'uniform'"):
        init_weights(nn.Linear(2, 2), "uniform")
