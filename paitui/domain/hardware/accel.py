"""The accelerator kinds a variant can need; below the catalog and the hardware report."""

from __future__ import annotations

from enum import StrEnum


class Accel(StrEnum):
    """An accelerator kind: what a variant needs from the host to run."""

    ROCM = "rocm"
    INTEL = "intel"  # oneAPI / SYCL / XPU / IPEX on Intel Arc and iGPUs
    VULKAN = "vulkan"
    CUDA = "cuda"
    CPU = "cpu"
