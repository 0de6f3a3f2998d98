"""The Method interface: what every dehazing method is, and the facts general code asks it for.

Training-free methods implement `dehaze` only. GAN methods subclass `GANMethod`: they build their networks
from `cddgan.nn` and say only which losses to minimise in which order (`step`); the shared loop in
`cddgan.training` owns devices, precision, seeds, sampling, schedules, checkpoints, logging and progress.

Facts about one method (is it a reference row, how much memory does its training take, what does an
ablation plot read) are declared here, on the class, so that the config, the resources and the report ask
the class instead of keeping tables keyed by method names that a plug-in can never join.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from cddgan.errors import ConfigError


def resolve_settings(cls: type[Method], overrides: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """The method's defaults updated by `overrides`; an unknown key is a `ConfigError` naming `where`."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(cls.defaults))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {unknown} for method {cls.name!r}; "
            f"allowed: {', '.join(sorted(cls.defaults)) or '(none)'}"
        )
    settings = dict(cls.defaults)
    settings.update(overrides)
    return settings


class Method:
    """A dehazing method. Images are float tensors (B, 3, H, W) in [0, 1]."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    trainable: ClassVar[bool] = False
    #: True for a reference row, not a ranked method (the hazy input scored as if it were the answer): the
    #: report shows it as the floor every method must beat and keeps it out of rankings and visual grids.
    reference_floor: ClassVar[bool] = False
    #: Bytes of training memory per activation unit (`cddgan.resources.activation_units`), fitted to peak
    #: RSS; the resource estimate of a training job scales with it. The default is the largest measured
    #: value (CDD-GAN's), so a method nobody measured (a plug-in) asks for enough rather than too little.
    bytes_per_unit: ClassVar[float] = 40.0

    def __init__(self, settings: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        self.settings = resolve_settings(type(self), settings, f"runs.<{self.name}>.settings")
        self.device = torch.device(device)

    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        """Return the dehazed images, same shape as `hazy`, values in [0, 1]."""
        raise NotImplementedError

    @classmethod
    def full_resolution_upsampling(cls, settings: Mapping[str, Any]) -> bool:
        """Whether the generator upsamples at full resolution (CUT's anti-aliased layout), which roughly
        doubles the memory and time of dehazing a large image; sizes the dehaze jobs. Read from the
        `antialias_up` setting; without one, assume it does (the costlier case)."""
        return bool(settings.get("antialias_up", True))

    @classmethod
    def ablation_axes(cls, settings: Mapping[str, Any]) -> dict[str, float]:
        """Numbers an ablation plot puts on its x axis for a run with these settings (e.g. the number of
        negatives), keyed by axis name. Default: none."""
        return {}

    @classmethod
    def facts(cls, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Everything general code needs to know about a run of this method, as JSON-able data: the
        resolved config carries it, so the rules, the resources and the report never ask by name."""
        return {
            "trainable": bool(cls.trainable),
            "reference_floor": bool(cls.reference_floor),
            "bytes_per_unit": float(cls.bytes_per_unit),
            "full_resolution_upsampling": bool(cls.full_resolution_upsampling(settings)),
            "ablation_axes": {k: float(v) for k, v in cls.ablation_axes(settings).items()},
        }


class GANMethod(Method, nn.Module):
    """A trainable method. Subclasses implement `build`, `optim_groups`, `step` and `translate`.

    `step` is a generator: it yields ``(group, loss, logs)`` once per optimiser update, in update order.
    The loop zeroes that group's gradients, back-propagates the loss, steps its optimiser, then resumes the
    generator. `logs` maps names to floats (or 0-dim tensors) written to losses.csv.

    CUDA graphs (`training.cuda_graph`) replay one captured iteration, so everything the host decides
    inside `step` is frozen at capture. A method whose iteration branches on a host-side draw returns
    that draw from `host_decisions()`; the loop calls it before every iteration, passes the result to
    `step` as keyword arguments and keeps one graph per distinct value. A method whose tensor shapes
    change during its first iterations (a queue filling up) says how many in `graph_warmup()`.
    """

    trainable: ClassVar[bool] = True
    #: The reference's learning-rate schedule: constant until this fraction of the iterations, then linear
    #: to 0 at the last. `training.decay_start: null` resolves to it (cddgan.config.resolve).
    decay_start: ClassVar[float] = 0.5

    def __init__(self, settings: Mapping[str, Any] | None = None, device: torch.device | str = "cpu") -> None:
        nn.Module.__init__(self)
        Method.__init__(self, settings, device)
        self.build()

    def build(self) -> None:
        """Create the networks from `self.settings` (as attributes, so they are in the state dict)."""
        raise NotImplementedError

    def optim_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser, keyed by the group names `step` yields (e.g. ``D``, ``G``)."""
        raise NotImplementedError

    def step(self, hazy: torch.Tensor, clear: torch.Tensor) -> Iterator[tuple[str, torch.Tensor, dict]]:
        """One training iteration on an unpaired batch: yield each update's loss in order."""
        raise NotImplementedError

    def translate(self, hazy: torch.Tensor) -> torch.Tensor:
        """The hazy -> clear generator's output in [-1, 1] for input in [-1, 1]."""
        raise NotImplementedError

    def after_step(self) -> None:
        """Hook run after every iteration (e.g. EMA updates). Default: nothing."""

    def host_decisions(self) -> dict[str, Hashable]:
        """Host-side random choices of the next iteration, passed to `step` as keywords. Default: none."""
        return {}

    def graph_warmup(self) -> int:
        """Iterations after which every iteration runs the same kernels on same-shaped tensors."""
        return 0

    @torch.no_grad()
    def dehaze(self, hazy: torch.Tensor) -> torch.Tensor:
        return ((self.translate(hazy * 2 - 1) + 1) / 2).clamp(0, 1)


def set_requires_grad(modules: nn.Module | list[nn.Module], flag: bool) -> None:
    """Switch gradient tracking of whole networks (saves the weight-gradient work of frozen ones)."""
    for module in modules if isinstance(modules, list | tuple) else [modules]:
        for p in module.parameters():
            p.requires_grad_(flag)
