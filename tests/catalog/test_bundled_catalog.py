"""The catalog that ships with paitui: loads cleanly and holds the facts each app needs."""

from __future__ import annotations

import pytest

from paitui.domain.catalog.schema import App, Catalog, accel_of_variant, placeholders_in
from paitui.domain.catalog.tags import parse_image
from paitui.services.catalog.files import bundled_catalog_path
from paitui.services.catalog.loader import load_catalog, load_file

SEED_VARIANTS = {
    "pai-koboldcpp": {"rocm", "vulkan"},
    "pai-comfyui": {"rocm", "xpu"},
    "pai-ollama-intel": {"intel"},
    "sd-webui-rx5500": {"rocm", "rocm-lowvram"},
    "livepeer-ai-runner": {"cuda", "cuda-llm", "cpu-test", "cuda-sam2", "cuda-tts", "cuda-asr"},
    "runai": {"cuda"},
}
COMMON_APPS = {
    "llama-cpp-server",
    "ollama",
    "open-webui",
    "vllm",
    "localai",
    "koboldcpp",
    "sdnext",
    "comfyui-community",
    "invokeai",
    "fooocus",
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(include_user=False)


def all_apps(catalog: Catalog) -> list[App]:
    return list(catalog.apps.values())


def test_loads_with_zero_issues(catalog: Catalog) -> None:
    assert catalog.issues == ()
    apps, issues = load_file(bundled_catalog_path())
    assert issues == []
    assert len(apps) == len(catalog.apps) == len(SEED_VARIANTS) + len(COMMON_APPS)


def test_every_seed_system_with_its_variants(catalog: Catalog) -> None:
    for app_id, variants in SEED_VARIANTS.items():
        assert app_id in catalog.apps, app_id
        assert set(catalog.apps[app_id].variants) == variants, app_id


def test_common_apps_present(catalog: Catalog) -> None:
    assert set(catalog.apps) >= COMMON_APPS


def test_variant_images_are_valid_references(catalog: Catalog) -> None:
    for app in all_apps(catalog):
        for name, variant in app.variants.items():
            accel_of_variant(name)
            assert variant.image.strip(), (app.id, name)
            parse_image(variant.image)
            for alias in variant.aliases:
                parse_image(alias)


def test_pinned_tags_carry_a_stack_of_the_same_image(catalog: Catalog) -> None:
    pinned = 0
    for app in all_apps(catalog):
        for name, variant in app.variants.items():
            if variant.pinned is None:
                continue
            pinned += 1
            pin, moving = parse_image(variant.pinned), parse_image(variant.image)
            assert (pin.registry, pin.repository) == (moving.registry, moving.repository)
            assert not pin.is_moving, (app.id, name)
            assert pin.components, (app.id, name)
    assert pinned >= 6


def test_pai_pinned_stacks(catalog: Catalog) -> None:
    kobold = parse_image(catalog.apps["pai-koboldcpp"].variants["rocm"].pinned or "")
    assert kobold.app_version == "1.117.1" and kobold.component("ROCm") == "7.2.4"
    comfy = parse_image(catalog.apps["pai-comfyui"].variants["xpu"].pinned or "")
    assert comfy.app_version == "0.28.2" and comfy.component("PyTorch") == "2.11.0"
    sd = parse_image(catalog.apps["sd-webui-rx5500"].variants["rocm"].pinned or "")
    assert sd.component("ROCm") == "5.4.3" and sd.component("PyTorch") == "2.2.0"


def test_pai_pinned_build_dates_are_never_made_up(catalog: Catalog) -> None:
    # Pai's release builds stamp the day they were started by hand; no upstream file has it, so
    # a pinned Pai tag must not carry a date as fact (it had 20260101 placeholders).
    pai = 0
    for app in all_apps(catalog):
        for name, variant in app.variants.items():
            if variant.pinned and variant.pinned.startswith("ghcr.io/futursolo/pai-apps/"):
                pai += 1
                stack = parse_image(variant.pinned)
                assert stack.build_date is None, (app.id, name)
                assert stack.build_date_unverified, (app.id, name)
                assert stack.stack_summary().endswith(" · build date unverified"), (app.id, name)
    assert pai == 5


def test_every_http_app_has_a_consistent_health_check(catalog: Catalog) -> None:
    for app in all_apps(catalog):
        assert app.ports, app.id
        assert app.health is not None, app.id
        port = app.health_port()
        spec = next(p for p in app.ports if p.container == port)
        assert app.health.type == spec.protocol, app.id
        if app.health.type == "http":
            assert app.health.path.startswith("/"), app.id
            assert app.health.ready.status, app.id
        for p in app.ports:
            assert p.purpose.strip(), app.id
            if p.protocol == "tcp":
                assert not p.links, app.id


def test_port_numbers_are_unique_per_app(catalog: Catalog) -> None:
    for app in all_apps(catalog):
        numbers = [p.container for p in app.ports]
        assert len(numbers) == len(set(numbers)), app.id


def test_openai_links_point_at_v1(catalog: Catalog) -> None:
    with_openai = set()
    for app in all_apps(catalog):
        for port in app.ports:
            for link in port.links:
                if link.kind == "openai":
                    assert link.path == "/v1", app.id
                    with_openai.add(app.id)
    assert {"llama-cpp-server", "ollama", "vllm", "localai", "koboldcpp"} <= with_openai


def _texts(app: App) -> list[str]:
    texts = [*app.env.values(), *(app.command or ()), *(app.entrypoint or ())]
    for v in app.variants.values():
        texts += [*v.env.values(), *(v.command or ()), *(v.entrypoint or ()), *v.extra_mounts]
    return texts


def test_placeholders_match_needs(catalog: Catalog) -> None:
    for app in all_apps(catalog):
        used = {name for text in _texts(app) for name in placeholders_in(text)}
        assert ("model" in used) == bool(app.needs.model_file), app.id
        assert ("model_id" in used) == app.needs.hf_repo, app.id
        if app.needs.model_file:
            assert app.mounts.models is not None, app.id
            assert set(app.needs.model_file) <= set(app.mounts.models.formats), app.id


def test_models_mounts_name_their_formats(catalog: Catalog) -> None:
    for app in all_apps(catalog):
        if app.mounts.models is not None:
            assert app.mounts.models.path.startswith("/"), app.id
            assert app.mounts.models.formats, app.id


def test_pai_apps_run_as_pai_user(catalog: Catalog) -> None:
    for app_id in ("pai-koboldcpp", "pai-comfyui", "pai-ollama-intel"):
        assert catalog.apps[app_id].user == "1999:1999"
    data = catalog.apps["pai-comfyui"].mounts.data
    assert data is not None and (data.path, data.uid, data.gid) == ("/mnt/comfyui", 1999, 1999)


def test_pai_koboldcpp(catalog: Catalog) -> None:
    app = catalog.apps["pai-koboldcpp"]
    assert app.entrypoint == ("/opt/koboldcpp/koboldcpp",)
    assert app.variants["rocm"].image == "ghcr.io/futursolo/pai-apps/koboldcpp:rocm"
    assert "--usevulkan" in (app.variants["vulkan"].command or ())
    assert app.needs.model_file == ("gguf",)
    assert app.health is not None and app.health.path == "/api/extra/version"


def test_pai_comfyui_ipex_alias_of_xpu(catalog: Catalog) -> None:
    xpu = catalog.apps["pai-comfyui"].variants["xpu"]
    assert xpu.image == "ghcr.io/futursolo/pai-apps/comfyui:xpu"
    assert xpu.aliases == ("ghcr.io/futursolo/pai-apps/comfyui:ipex",)
    assert accel_of_variant("ipex") == accel_of_variant("xpu")


def test_pai_ollama_intel_is_legacy(catalog: Catalog) -> None:
    app = catalog.apps["pai-ollama-intel"]
    assert app.legacy and app.variants["intel"].legacy
    assert app.variants["intel"].env["ONEAPI_DEVICE_SELECTOR"] == "level_zero:0"
    assert catalog.sorted_apps()[-1].legacy


def test_sd_webui_rx5500_run_options(catalog: Catalog) -> None:
    app = catalog.apps["sd-webui-rx5500"]
    rocm = app.variants["rocm"]
    assert rocm.image == "setsoft/sd_webui:latest"
    assert (rocm.ipc, rocm.cap_add, rocm.security_opt) == (
        "host",
        ("SYS_PTRACE",),
        ("seccomp=unconfined",),
    )
    assert "--medvram" in (rocm.command or ()) and "--listen" in (rocm.command or ())
    assert "--lowvram" in (app.variants["rocm-lowvram"].command or ())
    assert app.env["RENDER_GID"] == "{render_gid}"
    data = app.mounts.data
    assert data is not None and (data.path, data.uid) == ("/dockerx", 1000)
    assert app.min_vram_gb == 4


def test_livepeer_ai_runner(catalog: Catalog) -> None:
    app = catalog.apps["livepeer-ai-runner"]
    assert app.variants["cuda"].image == "livepeer/ai-runner:latest"
    assert app.variants["cuda-llm"].image == "livepeer/ai-runner:llm"
    assert app.variants["cpu-test"].image == "livepeer/ai-runner:live-app-noop"
    assert set(app.needs.env) == {"PIPELINE", "MODEL_ID"}
    assert "text-to-image" in app.needs.choices["PIPELINE"]
    health = app.health
    assert health is not None and health.path == "/health"
    assert health.loading is not None and health.loading.json_fields == {"status": "LOADING"}
    assert health.error is not None and health.error.json_fields == {"status": "ERROR"}
    assert "OK" in health.ready.json_any["status"]


def test_runai_is_a_tcp_service_built_locally(catalog: Catalog) -> None:
    app = catalog.apps["runai"]
    assert [(p.container, p.protocol) for p in app.ports] == [(50006, "tcp")]
    assert app.health is not None and app.health.type == "tcp"
    cuda = app.variants["cuda"]
    assert cuda.local_build and cuda.unverified


def test_llama_cpp_loading_shape(catalog: Catalog) -> None:
    health = catalog.apps["llama-cpp-server"].health
    assert health is not None and health.ready.status == (200,)
    assert health.loading is not None and health.loading.status == (503,)


def test_ollama_vulkan_switch(catalog: Catalog) -> None:
    assert catalog.apps["ollama"].variants["vulkan"].env == {"OLLAMA_VULKAN": "1"}


def test_vllm_xpu_extras(catalog: Catalog) -> None:
    xpu = catalog.apps["vllm"].variants["xpu"]
    assert xpu.privileged and xpu.ipc == "host"
    assert xpu.extra_mounts == ("/dev/dri/by-path:/dev/dri/by-path",)


def test_koboldcpp_official_never_tunnels_or_updates(catalog: Catalog) -> None:
    app = catalog.apps["koboldcpp"]
    assert app.env["KCPP_DONT_TUNNEL"] == "true" and app.env["KCPP_DONT_UPDATE"] == "true"
    for variant in app.variants.values():
        assert "{model}" in variant.env["KCPP_ARGS"]


def test_device_rules_are_not_in_the_catalog() -> None:
    # /dev/kfd, /dev/dri and group ids come from the accelerator, never from catalog entries.
    text = bundled_catalog_path().read_text(encoding="utf-8")
    data_lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any("/dev/kfd" in line or "group_add" in line for line in data_lines)
