"""Device choice: what the agent runs on, and a loud report when reserved GPUs are not visible."""

from __future__ import annotations

import pytest
import torch

from tradingbot.agent.device import choose_device


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_cpu_is_the_cpu_whatever_is_reserved(no_gpu):
    choice = choose_device("cpu", 2)
    assert choice.device.type == "cpu" and choice.problem is None
    assert choice.as_status()["using"] == "cpu"


def test_auto_without_reserved_gpus_quietly_uses_the_cpu(no_gpu):
    choice = choose_device("auto", 0)
    assert choice.device.type == "cpu" and choice.problem is None


def test_auto_with_reserved_gpus_that_are_not_visible_reports_the_problem(no_gpu):
    choice = choose_device("auto", 1)
    assert choice.device.type == "cpu"
    assert choice.problem is not None and "1 GPU(s) reserved but none is visible" in choice.problem
    status = choice.as_status()
    assert status["problem"] == choice.problem and status["gpus_reserved"] == 1 and status["requested"] == "auto"


def test_cuda_without_a_gpu_is_an_error(no_gpu):
    with pytest.raises(ValueError, match="no CUDA GPU is available"):
        choose_device("cuda")


def test_an_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="expected cpu, cuda or auto"):
        choose_device("tpu")
