"""What the machine computes natively, for choices that depend on it and for model cards."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

import torch

# CPU features with which bfloat16 matrix products run in hardware. Without them PyTorch emulates bfloat16
# in float32 and converts at every layer: on an AVX2-only Xeon a projected discriminator's EfficientNet
# features ran 8× slower under bfloat16 autocast than in float32.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux; empty elsewhere)."""
    for line in _cpuinfo_lines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` computes bfloat16 in hardware (a GPU that says so; a CPU with AVX512-BF16 or AMX)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)


def cpu_name() -> str:
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpuinfo_lines() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def hardware_description() -> str:
    """The CPU (and GPU, if any) this process runs on, for model cards and run records."""
    bf16 = "native bfloat16" if native_bf16("cpu") else "no native bfloat16"
    text = f"{cpu_name()} ({bf16}), {os.cpu_count()} logical cores, PyTorch {torch.__version__}"
    if torch.cuda.is_available():
        text += f"; GPU: {torch.cuda.get_device_name(0)}"
    return text
