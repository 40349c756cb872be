"""Image tags read into their software stack (oEEP-0014, NVIDIA, ROCm and Pai formats)."""

from __future__ import annotations

from datetime import date

import pytest

from paitui.domain.catalog.tags import (
    Component,
    parse_image,
    parse_tag,
    split_reference,
    stack_summary,
)

PAI = "ghcr.io/futursolo/pai-apps"


def test_pai_koboldcpp_rocm() -> None:
    s = parse_image(f"{PAI}/koboldcpp:v1.117.1-rocm-v7.2.4-20260101")
    assert (s.registry, s.repository, s.tag) == (
        "ghcr.io",
        "futursolo/pai-apps/koboldcpp",
        "v1.117.1-rocm-v7.2.4-20260101",
    )
    assert s.app_version == "1.117.1"
    assert s.components == (("ROCm", "7.2.4"),)
    assert s.build_date == date(2026, 1, 1)
    assert not s.is_moving
    assert s.stack_summary() == "1.117.1 · ROCm 7.2.4 · 2026-01-01"


def test_pai_comfyui_rocm_and_xpu() -> None:
    rocm = parse_image("comfyui:v0.28.2-pytorch-v2.11.0-rocm-v7.2.4-20260101")
    assert rocm.registry == "docker.io"
    assert rocm.app_version == "0.28.2"
    assert rocm.components == (("PyTorch", "2.11.0"), ("ROCm", "7.2.4"))
    assert rocm.build_date == date(2026, 1, 1)
    xpu = parse_image("comfyui:v0.28.2-pytorch-v2.11.0-xpu-20260101")
    assert xpu.components == (("PyTorch", "2.11.0"), ("XPU", None))
    assert xpu.component("xpu") is None and xpu.component("pytorch") == "2.11.0"
    assert xpu.stack_summary() == "0.28.2 · PyTorch 2.11.0 · XPU · 2026-01-01"


def test_nvidia_cuda_leading_version_is_cuda() -> None:
    s = parse_image("nvidia/cuda:12.2.0-runtime-ubuntu20.04")
    assert s.app_version is None
    assert s.components == (("CUDA", "12.2.0"), ("Ubuntu", "20.04"))
    assert s.flavour == "runtime"
    for flavour in ("base", "devel"):
        assert parse_image(f"nvidia/cuda:12.2.0-{flavour}-ubuntu20.04").flavour == flavour


def test_nvidia_cudnn_runtime() -> None:
    s = parse_image("nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04")
    assert s.components == (("CUDA", "12.8.1"), ("cuDNN", None), ("Ubuntu", "22.04"))
    assert s.flavour == "runtime"


def test_rocm_pytorch_underscores() -> None:
    s = parse_image("rocm/pytorch:rocm5.7_ubuntu22.04_py3.10_pytorch_2.0.1")
    assert s.components == (
        ("ROCm", "5.7"),
        ("Ubuntu", "22.04"),
        ("Python", "3.10"),
        ("PyTorch", "2.0.1"),
    )
    assert s.app_version is None and s.flavour is None and not s.is_moving


def test_rocm_tensorflow_dev() -> None:
    s = parse_image("rocm/tensorflow:rocm5.7-ubuntu22.04-tf2.13-dev")
    assert s.components == (("ROCm", "5.7"), ("Ubuntu", "22.04"), ("TensorFlow", "2.13"))
    assert s.flavour == "dev"


def test_setsoft_sd_webui() -> None:
    s = parse_image("setsoft/sd_webui:sd1.10.1_cn1.1_pt2.2.0_rocm5.4.3_u22.04.4")
    assert (s.app, s.app_version) == ("sd", "1.10.1")
    assert s.components == (
        ("ControlNet", "1.1"),
        ("PyTorch", "2.2.0"),
        ("ROCm", "5.4.3"),
        ("Ubuntu", "22.04.4"),
    )


def test_oeep_framework_image() -> None:
    s = parse_tag("pytorch2.1.0-cann7.0.RC1.alpha002-oe2203sp2")
    assert s.components == (
        ("PyTorch", "2.1.0"),
        ("CANN", "7.0.RC1.alpha002"),
        ("openEuler", "22.03 SP2"),
    )
    assert s.flavour is None and s.app is None


def test_oeep_base_sdk_image() -> None:
    s = parse_tag("cann7.0.RC1.alpha002-oe2203sp2")
    assert s.components == (("CANN", "7.0.RC1.alpha002"), ("openEuler", "22.03 SP2"))


def test_oeep_llm_dev_image() -> None:
    s = parse_tag("chatglm6b-cann7.0.RC1.alpha002-pytorch2.1.0-oe2203sp2-dev")
    # "6b" is part of the model's name, not a version.
    assert (s.app, s.app_version) == ("chatglm6b", None)
    assert s.components == (
        ("CANN", "7.0.RC1.alpha002"),
        ("PyTorch", "2.1.0"),
        ("openEuler", "22.03 SP2"),
    )
    assert s.flavour == "dev"
    assert s.stack_summary() == (
        "chatglm6b · CANN 7.0.RC1.alpha002 · PyTorch 2.1.0 · openEuler 22.03 SP2 · dev"
    )


def test_oeep_dev_suffix_on_framework_image() -> None:
    assert parse_tag("pytorch2.1.0-cann7.0.RC1.alpha002-oe2203sp2-dev").flavour == "dev"


def test_openeuler_without_service_pack() -> None:
    assert parse_tag("pytorch2.1.0-oe2203").component("openEuler") == "22.03"


@pytest.mark.parametrize(
    "reference",
    [
        "ghcr.io/ggml-org/llama.cpp:server-rocm",
        "ollama/ollama:rocm",
        "ghcr.io/open-webui/open-webui:main",
        "ollama/ollama:latest",
        "ollama/ollama",
        "localai/localai:latest-gpu-nvidia-cuda-12",
    ],
)
def test_moving_tags(reference: str) -> None:
    s = parse_image(reference)
    assert s.is_moving
    assert s.stack_summary().endswith("(moving)")


def test_moving_tag_still_names_its_components() -> None:
    s = parse_image("ghcr.io/ggml-org/llama.cpp:server-rocm")
    assert s.components == (("ROCm", None),)
    assert s.stack_summary() == "server-rocm (moving)"


def test_plain_app_versions() -> None:
    ollama = parse_image("ollama/ollama:0.9.3")
    assert (ollama.app_version, ollama.components, ollama.is_moving) == ("0.9.3", (), False)
    vllm = parse_image("vllm/vllm-openai:v0.10.1")
    assert vllm.app_version == "0.10.1" and not vllm.is_moving
    assert vllm.stack_summary() == "0.10.1"


def test_short_cuda_tag() -> None:
    s = parse_image("yanwk/comfyui-boot:cu128-slim")
    assert s.components == (("CUDA", "12.8"),)
    assert s.extras == ("slim",)


def test_digest_pins_even_a_moving_tag() -> None:
    digest = "sha256:" + "0123456789abcdef" * 4
    s = parse_image(f"ghcr.io/ggml-org/llama.cpp:server-rocm@{digest}")
    assert (s.tag, s.digest) == ("server-rocm", digest)
    assert not s.is_moving
    bare = parse_image(f"busybox@{digest}")
    assert (bare.repository, bare.tag, bare.digest) == ("busybox", None, digest)
    assert not bare.is_moving


def test_registry_with_port() -> None:
    assert split_reference("127.0.0.1:5000/paitest/busybox:latest") == (
        "127.0.0.1:5000",
        "paitest/busybox",
        "latest",
        None,
    )
    assert split_reference("localhost:5000/foo") == ("localhost:5000", "foo", None, None)
    assert split_reference("localhost/foo:1.0") == ("localhost", "foo", "1.0", None)


def test_no_tag() -> None:
    s = parse_image("ubuntu")
    assert (s.registry, s.repository, s.tag, s.is_moving) == ("docker.io", "ubuntu", None, True)
    assert s.stack_summary() == "latest (moving)"


def test_dotted_first_part_without_slash_is_not_a_registry() -> None:
    assert split_reference("my.image:1.0") == ("docker.io", "my.image", "1.0", None)


def test_impossible_date_is_not_a_date() -> None:
    s = parse_tag("v1.0.0-rocm-v7.2.4-20261399")
    assert s.build_date is None
    assert "20261399" in s.extras


def test_preview_suffix_kept_as_extra() -> None:
    s = parse_tag("v1.117.1-rocm-v7.2.4-preview")
    assert s.app_version == "1.117.1" and s.extras == ("preview",) and s.build_date is None


@pytest.mark.parametrize(
    "reference", ["", "  ", "ubuntu:", "busybox@sha256:xyz", ":tag", "host:5000/:x"]
)
def test_malformed_references(reference: str) -> None:
    with pytest.raises(ValueError):
        parse_image(reference)


def test_stack_summary_never_raises() -> None:
    assert stack_summary("ubuntu:") == "ubuntu:"
    vulkan = f"{PAI}/koboldcpp:v1.117.1-vulkan-20260101"
    assert stack_summary(vulkan) == "1.117.1 · Vulkan · 2026-01-01"


def test_component_is_a_named_pair() -> None:
    assert Component("ROCm", "7.2.4") == ("ROCm", "7.2.4")


@pytest.mark.parametrize(
    "tag", ["segment-anything-2", "audio-to-text", "text-to-speech", "live-app-noop"]
)
def test_ai_runner_pipeline_tags_are_moving_names(tag: str) -> None:
    # Regression: "segment-anything-2" read as app "segment" at version 2, a pinned tag.
    s = parse_image(f"livepeer/ai-runner:{tag}")
    assert (s.app, s.app_version, s.extras) == (tag, None, ())
    assert s.is_moving
    assert s.stack_summary() == f"{tag} (moving)"


def test_rocm_pytorch_release_keeps_pytorch_version() -> None:
    s = parse_image("rocm/pytorch:rocm6.1_ubuntu22.04_py3.10_pytorch_release_2.3.0")
    assert s.component("PyTorch") == "2.3.0"
    assert s.extras == ()
    assert s.stack_summary() == "ROCm 6.1 · Ubuntu 22.04 · Python 3.10 · PyTorch 2.3.0"


def test_rocm_dev_image_leading_version_is_rocm() -> None:
    s = parse_image("rocm/dev-ubuntu-24.04:7.2.4-complete")
    assert s.app_version is None
    assert s.components == (("ROCm", "7.2.4"), ("Ubuntu", "24.04"))
    assert s.flavour == "complete" and not s.is_moving
    assert s.stack_summary() == "ROCm 7.2.4 · Ubuntu 24.04 · complete"
    # Another namespace's "dev-" repository is not ROCm's.
    assert parse_image("someone/dev-ubuntu-24.04:7.2.4").app_version == "7.2.4"


@pytest.mark.parametrize(
    ("tag", "app"),
    [
        ("qwen1.5-7b-chat-pytorch2.1.0-cann8.0.RC1-oe2203sp4", "qwen1.5-7b-chat"),
        ("qwen1.5-pytorch2.1.0-cann8.0.RC1-oe2203sp4", "qwen1.5"),
        ("llama3.1-8b-cann8.0.RC1-oe2203sp4-dev", "llama3.1-8b"),
    ],
)
def test_oeep_llm_name_is_kept_whole(tag: str, app: str) -> None:
    s = parse_tag(tag)
    assert (s.app, s.app_version) == (app, None)
    assert s.component("CANN") == "8.0.RC1"
    assert s.component("openEuler") == "22.03 SP4"
    assert s.stack_summary().startswith(f"{app} · ")


def test_unknown_build_date_is_shown_unverified() -> None:
    s = parse_image(f"{PAI}/koboldcpp:v1.117.1-rocm-v7.2.4-YYYYMMDD")
    assert (s.build_date, s.build_date_unverified, s.extras) == (None, True, ())
    assert not s.is_moving
    assert s.stack_summary() == "1.117.1 · ROCm 7.2.4 · build date unverified"
    # A real date wins; the pattern in lower case or first is no date mark.
    assert not parse_tag("v1.0-20260101").build_date_unverified
    assert not parse_tag("YYYYMMDD").build_date_unverified
    assert "yyyymmdd" in parse_tag("v1.0-yyyymmdd").extras
