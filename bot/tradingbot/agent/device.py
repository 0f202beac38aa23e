"""Where the agent runs, and whether that is where the pod asked it to run.

``DEVICE`` is ``cpu``, ``cuda`` (a start error without a GPU) or ``auto`` (CUDA when a device is
visible). ``GPU_COUNT`` is how many GPUs the pod reserved (the operator renders it from
``spec.gpu.count``). ``auto`` with reserved GPUs but none visible does not fall back silently: the
choice carries a ``problem`` that is logged at ERROR, shown in ``/status`` and as a metric, and
that the operator turns into a ``DeviceReady=False`` condition. The bot still trades, on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True, slots=True)
class DeviceChoice:
    """The device the agent uses and why; ``problem`` is set when it is not the one the pod asked for."""

    requested: str
    gpus_reserved: int
    device: torch.device
    gpu_name: str | None = None
    problem: str | None = None

    def as_status(self) -> dict[str, Any]:
        """The ``/status`` ``device`` section."""
        return {
            "requested": self.requested,
            "using": self.device.type,
            "gpus_reserved": self.gpus_reserved,
            "gpu_name": self.gpu_name,
            "torch_cuda": torch.version.cuda,
            "problem": self.problem,
        }


def _why_no_gpu() -> str:
    if torch.version.cuda is None:
        return "this torch is the CPU build (use the bot image's -cuda tag)"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and not visible.strip():
        return "CUDA_VISIBLE_DEVICES is empty"
    return (
        f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no device: "
        "are the NVIDIA driver and device plugin on the node?"
    )


def choose_device(requested: str, gpus_reserved: int = 0) -> DeviceChoice:
    """Resolve ``requested`` (``cpu``, ``cuda`` or ``auto``) against what this process can see."""
    if requested not in ("cpu", "cuda", "auto"):
        raise ValueError(f"unknown device {requested!r}: expected cpu, cuda or auto")
    if requested == "cpu":
        return DeviceChoice(requested, gpus_reserved, torch.device("cpu"))
    if torch.cuda.is_available():
        return DeviceChoice(requested, gpus_reserved, torch.device("cuda"), torch.cuda.get_device_name(0))
    if requested == "cuda":
        raise ValueError(f"--device cuda was requested but no CUDA GPU is available: {_why_no_gpu()}")
    problem = None
    if gpus_reserved > 0:
        problem = f"{gpus_reserved} GPU(s) reserved but none is visible, running on the CPU: {_why_no_gpu()}"
    return DeviceChoice(requested, gpus_reserved, torch.device("cpu"), problem=problem)
