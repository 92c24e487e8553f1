"""bfloat16 only where the machine computes it: emulated bf16 made a projected discriminator 8× slower."""

from __future__ import annotations

import pytest
import torch

from thisineq import hardware
from thisineq.training.gan import GANTrainConfig, uses_bf16


@pytest.fixture
def flags(monkeypatch):
    def set_flags(*names):
        monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(names))

    return set_flags


@pytest.mark.parametrize(
    ("cpu", "native"),
    [(("avx", "avx2", "fma"), False), (("avx2", "avx512f", "avx512_bf16"), True), (("avx2", "amx_bf16", "amx_tile"), True)],
)
def test_auto_precision_uses_bf16_only_on_a_cpu_that_computes_it(flags, cpu, native):
    flags(*cpu)
    cpu_device = torch.device("cpu")
    assert hardware.native_bf16(cpu_device) is native
    assert uses_bf16(GANTrainConfig(dataset="d", run_dir="r", precision="auto"), cpu_device) is native
    assert uses_bf16(GANTrainConfig(dataset="d", run_dir="r", precision="bf16"), cpu_device)  # asked for: always
    assert not uses_bf16(GANTrainConfig(dataset="d", run_dir="r"), cpu_device)
    assert ("no native bfloat16" in hardware.hardware_description()) is not native


def test_this_machines_flags_are_read():
    flags = hardware.cpu_flags()
    assert isinstance(flags, frozenset)
    if flags:  # Linux: every x86-64 or ARM CPU reports some
        assert hardware.native_bf16("cpu") == any(f in flags for f in hardware.BF16_CPU_FLAGS)
