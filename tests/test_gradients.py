"""Finite-difference gradient checks of the training step under each precision and memory-format option.

Each check takes the gradients the way `TrainStep` does (its `prepare`, its autocast region around the
method's forward, `backward` outside it; Adam with lr 0 so the weights stay put) on a tiny network built
from our blocks (the ResNet generator: reflection pads, convolutions, instance norm, blur-pool resampling,
residual blocks), in float64 on the CPU, and compares them with central differences of the same loss.

- float32 / float64: the plain path.
- bf16 autocast (`amp`, honoured on the CPU for these tests): autocast leaves float64 alone, so the float64
  path through the autocast region must give the exact float64 gradients, which central differences
  confirm; the bf16 gradient of the float32 network is then compared with the float64 one at a tolerance
  sized for bf16 (see `test_bf16_gradient_tracks_float64_within_bf16s_precision`).
- channels_last: a CUDA option. Forced through the step's path on the CPU, the float64 gradient check
  fails: torch's CPU InstanceNorm backward (2.14) is wrong when its incoming gradient is channels_last at
  batch size 1, which is what a channels_last generator hands it. So the harness refuses channels_last on
  the CPU (`cddgan.training.step.uses_channels_last`); the CUDA path is checked by the gpu-marked test.
- fused Adam and captured steps (CUDA graphs) are CUDA options that the harness leaves off on the CPU: the
  CPU checks that they are no-ops there (and the graph's no-op in tests/test_step_options.py); they change
  how Adam updates and how an iteration is launched, not the gradients, which the gpu tests compare.
"""

from __future__ import annotations

import copy

import pytest
import torch

from cddgan.config import TRAINING_DEFAULTS
from cddgan.errors import HarnessError
from cddgan.methods.base import GANMethod
from cddgan.nn import ResnetGenerator
from cddgan.training.step import TrainStep

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CPU = torch.device("cpu")
SIZE = 16


class OneLoss(GANMethod):
    """A tiny generator under one loss with a non-trivial gradient everywhere: a fixed random projection
    of G(hazy) plus an L2 term on G(clear) (one update, group "G")."""

    name = "one-loss"
    defaults = {"antialias": True}  # noqa: RUF012  (the Method interface's ClassVar)

    def build(self) -> None:
        a = self.settings["antialias"]
        self.G = ResnetGenerator(3, 3, ngf=4, n_blocks=1, antialias=a, antialias_up=a)
        self.register_buffer("target", torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)))

    def optim_groups(self) -> dict[str, list[torch.nn.Parameter]]:
        return {"G": list(self.G.parameters())}

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        return self.G(hazy)

    def step(self, hazy: torch.Tensor, clear: torch.Tensor):
        yield "G", (self.G(hazy) * self.target).mean() + ((self.G(clear) - clear) ** 2).mean(), {}


def make(antialias: bool = True) -> OneLoss:
    torch.manual_seed(0)
    return OneLoss({"antialias": antialias})


def batch(dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(2)
    hazy, clear = (torch.rand(1, 3, SIZE, SIZE, generator=g, dtype=torch.float64) * 2 - 1 for _ in range(2))
    return hazy.to(dtype), clear.to(dtype)


def step_for(method: OneLoss, channels_last: bool = False, **options) -> TrainStep:
    """A CPU step with Adam at lr 0; `channels_last` forces the option's path (refused on the CPU)."""
    step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10, "lr": 0.0, **options}, CPU)
    if channels_last:  # what TrainStep.__init__ does on CUDA: weights, then every batch (prepare)
        method.to(memory_format=torch.channels_last)
        step.channels_last = True
    return step


def step_gradient(step: TrainStep) -> torch.Tensor:
    """The flattened gradient of every parameter after one iteration of the step (float64)."""
    dtype = next(step.method.parameters()).dtype
    hazy, clear = batch(dtype)
    step(hazy, clear)
    return torch.cat([p.grad.flatten().double() for p in step.method.G.parameters()])


def step_loss(step: TrainStep) -> float:
    """The loss as the step computes it (same preparation, same autocast region), without autograd."""
    hazy, clear = (step.prepare(x) for x in batch(next(step.method.parameters()).dtype))
    with torch.no_grad(), step._autocast():
        _, loss, _ = next(step.method.step(hazy, clear))
    return float(loss)


def central_differences(step: TrainStep, direction: torch.Tensor, eps: float = 1e-6) -> float:
    """d loss / d t of loss(weights + t * direction) at t = 0, by central differences."""
    params = list(step.method.G.parameters())
    chunks = direction.split([p.numel() for p in params])

    def shift(t: float) -> None:
        with torch.no_grad():
            for p, c in zip(params, chunks, strict=True):
                p.add_(t * c.view_as(p).to(p.dtype))

    shift(eps)
    up = step_loss(step)
    shift(-2 * eps)
    down = step_loss(step)
    shift(eps)
    return (up - down) / (2 * eps)


def directions(n: int, count: int = 3) -> list[torch.Tensor]:
    return [torch.randn(n, generator=torch.Generator().manual_seed(10 + i), dtype=torch.float64) for i in range(count)]


def assert_matches_finite_differences(step: TrainStep, grad: torch.Tensor, rel: float = 1e-6) -> None:
    for v in directions(grad.numel()):
        want = central_differences(step, v)
        assert float(grad @ v) == pytest.approx(want, rel=rel, abs=1e-9)


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got - want).norm() / want.norm())


# ---------------------------------------------------------------- plain float64 and float32


@pytest.mark.parametrize("antialias", [True, False], ids=["cut-layout", "cyclegan-layout"])
def test_float64_gradient_matches_central_differences(antialias):
    step = step_for(make(antialias).double())
    assert_matches_finite_differences(step, step_gradient(step))


def test_generator_input_gradient_passes_gradcheck():
    g = make().G.double()
    x = batch(torch.float64)[0].requires_grad_()
    assert torch.autograd.gradcheck(g, (x,), fast_mode=True)


def test_float32_gradient_is_the_float64_one_to_float32_rounding():
    method = make()
    want = step_gradient(step_for(copy.deepcopy(method).double()))
    assert relative_error(step_gradient(step_for(method)), want) < 1e-5


# ---------------------------------------------------------------- bf16 autocast


def test_the_autocast_region_leaves_float64_alone_and_its_gradient_exact():
    """The `amp` path (the step's autocast region, backward outside it) on a float64 network: autocast
    does not touch float64 ops, so the gradient equals the plain one bit for bit and matches central
    differences taken through the same region."""
    method = make().double()
    plain = step_gradient(step_for(copy.deepcopy(method)))
    step = step_for(method, amp=True)
    assert step.amp
    mixed = step_gradient(step)
    assert torch.equal(mixed, plain)
    assert_matches_finite_differences(step, mixed)


def test_bf16_gradient_tracks_float64_within_bf16s_precision():
    """The float32 network under bf16 autocast against the float64 gradient (itself checked against
    central differences above). Why this tolerance: bf16 keeps 8 significant bits (a relative rounding of
    2^-9, 0.2 %, on every input and weight of a convolution), and a weight's gradient is a sum over every
    pixel whose terms largely cancel (a mean loss), so its relative error is that rounding times the
    cancellation; here the whole gradient vector is about 10 % off in norm with a cosine of 0.994 to the
    float64 one. The bounds (25 %, cosine 0.97) leave room for that and still fail a wrong layout (the
    channels_last fault below: 100 %, cosine 0.46), a dropped term or a sign."""
    method = make()
    want = step_gradient(step_for(copy.deepcopy(method).double()))
    step = step_for(method, amp=True)
    got = step_gradient(step)
    assert relative_error(got, want) < 0.25
    assert float(torch.nn.functional.cosine_similarity(got, want, dim=0)) > 0.97
    with torch.autocast("cpu", dtype=torch.bfloat16):  # and the forward really ran in bf16
        assert method.G.model[1](batch(torch.float32)[0]).dtype == torch.bfloat16


# ---------------------------------------------------------------- channels_last


def test_channels_last_is_refused_on_the_cpu_with_what_to_do():
    with pytest.raises(HarnessError, match=r"training\.channels_last.*wrong gradients.*channels_last: false"):
        TrainStep(make(), {**TRAINING_DEFAULTS, "iterations": 10, "channels_last": True}, CPU)


def instance_norm_channels_last_backward_is_right() -> bool:
    """Probe of the backend fault: InstanceNorm's input gradient for a channels_last incoming gradient at
    batch size 1, against the same gradient given contiguous."""
    x = torch.randn(1, 8, 6, 6, dtype=torch.float64, requires_grad=True)
    g = torch.randn(1, 8, 6, 6, dtype=torch.float64)
    (want,) = torch.autograd.grad(torch.nn.functional.instance_norm(x), x, g)
    g_last = g.contiguous(memory_format=torch.channels_last)
    (got,) = torch.autograd.grad(torch.nn.functional.instance_norm(x), x, g_last)
    return torch.allclose(got, want)


def test_the_gradient_check_catches_the_cpu_channels_last_fault_on_our_generator():
    """The float64 checks above, on the channels_last path forced on the CPU: they fail while the backend
    fault is there (torch 2.14: it is), which is why the harness refuses the option on the CPU."""
    if instance_norm_channels_last_backward_is_right():
        pytest.skip("this torch computes channels_last InstanceNorm gradients right on the CPU")
    method = make().double()
    plain = step_gradient(step_for(copy.deepcopy(method)))
    forced = step_gradient(step_for(method, channels_last=True))
    assert relative_error(forced, plain) > 0.5
    g = make().G.double().to(memory_format=torch.channels_last)
    x = batch(torch.float64)[0].contiguous(memory_format=torch.channels_last).requires_grad_()
    assert not torch.autograd.gradcheck(g, (x,), fast_mode=True, raise_exception=False)


# ---------------------------------------------------------------- fused Adam, captured steps


def test_fused_adam_and_cuda_graph_are_no_ops_on_the_cpu():
    """Both are CUDA options; on the CPU the step builds plain, uncapturable Adam and eager iterations,
    and trains bit for bit what it trains without them."""

    def weights(**options) -> tuple[TrainStep, dict[str, torch.Tensor]]:
        method = make()
        step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10, **options}, CPU)
        for _ in range(3):
            step(*batch(torch.float32))
        return step, method.state_dict()

    fast, got = weights(fused_adam=True, cuda_graph=True)
    _, want = weights()
    opt = fast.optimizers["G"]
    assert not opt.defaults["fused"] and not opt.defaults["capturable"] and not fast.use_graph
    assert all(torch.equal(got[k], want[k]) for k in want)


# ---------------------------------------------------------------- the CUDA paths (gpu machines)

@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_float64_gradient_equals_the_checked_cpu_one(channels_last):
    """The CUDA path of each memory format (channels_last allowed there) against the CPU float64 gradient
    that central differences confirmed above."""
    cuda = torch.device("cuda")
    method = make().double().to(cuda)
    step = TrainStep(
        method, {**TRAINING_DEFAULTS, "iterations": 10, "lr": 0.0, "channels_last": channels_last}, cuda
    )
    hazy, clear = (x.to(cuda) for x in batch(torch.float64))
    step(hazy, clear)
    grad = torch.cat([p.grad.flatten().double().cpu() for p in method.G.parameters()])
    cpu_step = step_for(make().double())
    want = step_gradient(cpu_step)
    assert relative_error(grad, want) < 1e-8


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fused_adam_updates_as_plain_adam():
    cuda = torch.device("cuda")

    def weights(fused: bool) -> dict[str, torch.Tensor]:
        method = make().to(cuda)
        step = TrainStep(method, {**TRAINING_DEFAULTS, "iterations": 10, "fused_adam": fused}, cuda)
        for _ in range(3):
            step(*(x.to(cuda) for x in batch(torch.float32)))
        return method.state_dict()

    got, want = weights(True), weights(False)
    for key in want:
        torch.testing.assert_close(got[key], want[key], rtol=1e-4, atol=1e-6)
