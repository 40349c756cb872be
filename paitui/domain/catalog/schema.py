"""The app catalog's schema: what an app is, its variants per accelerator, ports, health, mounts.

Validated with pydantic so a broken ``catalog.yml`` is reported field by field; every model is
frozen and forbids unknown keys, so a typo in a key is an error rather than a silently
ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from paitui.domain.catalog import values as values
from paitui.domain.hardware.accel import Accel
from paitui.domain.models.store_rules import store_target_problems
from paitui.domain.models.suggested import SuggestedModels


class AppKind(StrEnum):
    """What an app is for; used for grouping and filtering."""

    LLM = "llm"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    UI = "ui"
    OTHER = "other"


#: Variant names are ``<family>`` or ``<family>-<flavour>``; the family decides the accelerator.
VARIANT_FAMILIES: dict[str, Accel] = {
    "rocm": Accel.ROCM,
    "intel": Accel.INTEL,
    "xpu": Accel.INTEL,
    "ipex": Accel.INTEL,
    "sycl": Accel.INTEL,
    "vulkan": Accel.VULKAN,
    "cuda": Accel.CUDA,
    "cpu": Accel.CPU,
}
_VARIANT_NAME = re.compile(r"^(?P<family>[a-z]+)(?:-(?P<flavour>[a-z0-9][a-z0-9.]*))?$")
_APP_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Placeholders the launch planner fills in ``env``, ``command``, ``entrypoint`` and
#: ``extra_mounts`` values: ``{model}`` = container path of the chosen model file,
#: ``{model_id}`` = the chosen Hugging Face repo id, ``{port}`` = the app's first container port,
#: ``{render_gid}`` = the host's numeric ``render`` group id. ``{{`` and ``}}`` stand for braces.
#: Where the models store's layouts appear (``mounts.models``): ``{models}`` = the store's container
#: path, ``{models_by_kind}`` = its folders per model type, ``{models_hf_cache}`` = its Hugging
#: Face cache view, ``{comfyui_model_paths}`` = an extra_model_paths file for ComfyUI,
#: ``{models_views}`` = the views' root (``domain.model_views``).
PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "model",
        "model_id",
        "port",
        "render_gid",
        "models",
        "models_by_kind",
        "models_hf_cache",
        "comfyui_model_paths",
        "models_views",
    }
)
#: ``{name}`` around an identifier; JSON (``{"a": 1}``) and shell ``${VAR}`` are left alone.
_PLACEHOLDER = re.compile(r"(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders_in(text: str) -> list[str]:
    """The ``{name}`` placeholders in one value (escaped ``{{...}}`` excluded)."""
    return _PLACEHOLDER.findall(text.replace("{{", "").replace("}}", ""))


def _check_placeholders(values: Iterable[str]) -> None:
    for value in values:
        for name in placeholders_in(value):
            if name not in PLACEHOLDERS:
                known = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
                raise ValueError(
                    f"unknown placeholder {{{name}}} in {value!r}: expected one of {known}"
                )


def _placeholders_ok_seq(v: tuple[str, ...] | None) -> tuple[str, ...] | None:
    _check_placeholders(v or ())
    return v


def _placeholders_ok_text(v: str) -> str:
    _check_placeholders((v,))
    return v


def _placeholders_ok_map(v: dict[str, str]) -> dict[str, str]:
    _check_placeholders(v.values())
    return v


#: A string passed on to the container as is.
Text = Annotated[str, AfterValidator(values.check_text)]
#: An argv list whose items may hold placeholders.
Argv = Annotated[tuple[Text, ...] | None, AfterValidator(_placeholders_ok_seq)]
#: Environment variables whose values may hold placeholders.
EnvMap = Annotated[
    dict[Annotated[str, AfterValidator(values.check_env_name)], Text],
    AfterValidator(_placeholders_ok_map),
]
ImageRef = Annotated[str, AfterValidator(values.check_image)]
ContainerPath = Annotated[str, AfterValidator(values.check_container_path)]
Id = Annotated[int | None, AfterValidator(values.check_id)]
User = Annotated[str | None, AfterValidator(values.check_user)]
ShmSize = Annotated[str | None, AfterValidator(values.check_shm_size)]
Port = Annotated[int, Field(ge=1, le=65535)]


def accel_of_variant(name: str) -> Accel:
    """The accelerator a variant name stands for; ValueError if the name is not a known family."""
    m = _VARIANT_NAME.match(name)
    if not m or m.group("family") not in VARIANT_FAMILIES:
        families = ", ".join(sorted(VARIANT_FAMILIES))
        raise ValueError(
            f"unknown variant name {name!r}: expected one of {families}, optionally with a "
            "'-flavour' suffix (e.g. cuda-llm)"
        )
    return VARIANT_FAMILIES[m.group("family")]


def _check_variant_name(name: str) -> str:
    accel_of_variant(name)
    return name


VariantName = Annotated[str, AfterValidator(_check_variant_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LinkSpec(_Model):
    """A URL an app serves on one of its ports (web UI, API docs, OpenAI base URL)."""

    label: str
    path: str = "/"
    kind: Literal["ui", "docs", "api", "openai"] = "ui"

    @field_validator("path")
    @classmethod
    def _path_starts_with_slash(cls, v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("a link path starts with '/'")
        return v


class PortSpec(_Model):
    """A container port and what it serves."""

    container: Port
    purpose: str
    protocol: Literal["http", "tcp"] = "http"
    links: tuple[LinkSpec, ...] = ()


class HttpExpect(_Model):
    """What an HTTP answer looks like in one state: status codes, and optionally the body."""

    status: tuple[int, ...] = (200,)
    #: Each key must be present in the JSON body with this value (top level keys only).
    json_fields: dict[str, str | int | bool] = Field(default_factory=dict)
    #: Each key must be present in the JSON body with one of these values (e.g. status OK or IDLE).
    json_any: dict[str, tuple[str | int | bool, ...]] = Field(default_factory=dict)
    #: Each key must be present in the JSON body with a non-empty list or object (llama.cpp's
    #: ``/v1/models`` ``data``: started without a model it answers 200 with an empty list).
    json_nonempty: tuple[str, ...] = ()
    body_contains: str | None = None


class HealthCheck(_Model):
    """How to tell whether the app is ready: an HTTP request or a TCP connect."""

    type: Literal["http", "tcp"] = "http"
    port: Port | None = None  # container port; defaults to the app's first port
    path: str = "/"
    ready: HttpExpect = Field(default_factory=HttpExpect)
    loading: HttpExpect | None = None
    #: What an app that failed to start answers (e.g. ai-runner's ``{"status": "ERROR"}``).
    error: HttpExpect | None = None
    #: How long the app may take to become ready before paitui calls it unhealthy.
    start_period_s: Annotated[float, Field(gt=0)] = 600.0


ModelFormat = Literal["gguf", "safetensors", "ckpt", "diffusers", "hf-repo", "ollama"]
#: How an app finds its models: ``files`` = the store's own tree, one file chosen by argument;
#: ``by-kind`` = folders per model type; ``hf-cache`` = a Hugging Face hub cache; ``app-store`` =
#: the app keeps its own store (Ollama) and imports from the read-only one; ``links`` = the app
#: lists one writable folder of its own (LocalAI's models path): paitui puts symlinks there, into
#: the read-only store, one per installed file of the formats it reads.
ModelLayout = Literal["files", "by-kind", "hf-cache", "app-store", "links"]


class SeedFile(_Model):
    """A file paitui writes into the app's data dir when it is not there yet (Fooocus's
    config.txt naming the store's folders); never rewritten after: from then on it is the user's."""

    path: ContainerPath  # inside mounts.data
    content: Annotated[Text, AfterValidator(_placeholders_ok_text)]


class ModelsMount(_Model):
    """Where the shared models store appears in the container and which formats the app reads."""

    path: ContainerPath
    formats: tuple[ModelFormat, ...] = ()
    layout: ModelLayout = "files"
    #: For ``links``: the app's models folder, inside its data dir.
    links_dir: ContainerPath | None = None
    #: Arguments appended to the command that point the app at its layout (ComfyUI's
    #: ``--extra-model-paths-config``, A1111's ``--ckpt-dir`` ...), and environment that does.
    args: Argv = None
    env: EnvMap = Field(default_factory=dict)
    #: The flag that hands the app a GGUF's multimodal projector (``--mmproj``): the planner
    #: appends it and the projector's path when the chosen model has one beside it.
    projector_arg: Text | None = None
    #: For apps that take their arguments in one variable (KoboldCpp's ``KCPP_ARGS``): the
    #: projector arguments are appended to it rather than to the command.
    projector_env: Annotated[str, AfterValidator(values.check_env_name)] | None = None
    #: For ``app-store``: whose import API feeds it (``paitui models import APP``).
    importer: Literal["ollama", "invokeai"] = "ollama"
    #: Written into the data dir when absent, so the app reads the store's folders.
    seed: SeedFile | None = None
    #: Always true: the store is the user's data and no container may write it (store_rules).
    read_only: bool = True

    @model_validator(mode="after")
    def _projector_env_needs_arg(self) -> ModelsMount:
        if self.projector_env is not None and self.projector_arg is None:
            raise ValueError("projector_env needs projector_arg (the flag, e.g. --mmproj)")
        return self

    @field_validator("read_only")
    @classmethod
    def _always_read_only(cls, v: bool) -> bool:
        if not v:
            raise ValueError(
                "the models store is always mounted read-only; what the app writes for itself "
                "(caches, downloads, outputs) goes to its data dir (mounts.data)"
            )
        return v


class DataMount(_Model):
    """The app's own writable data dir in the container and who owns it."""

    path: ContainerPath
    uid: Id = None
    gid: Id = None


class Mounts(_Model):
    """Mount points of the models store and the app's data dir."""

    models: ModelsMount | None = None
    data: DataMount | None = None


class Needs(_Model):
    """What the app needs from the user before it can start."""

    #: One model file of one of these formats, filled into ``{model}`` in command and env.
    model_file: tuple[str, ...] = ()
    #: Environment variables the user must set (e.g. PIPELINE and MODEL_ID for ai-runner).
    env: tuple[str, ...] = ()
    #: A Hugging Face repo id, filled into ``{model_id}``.
    hf_repo: bool = False
    #: Allowed values of a needed environment variable, offered as a pick list (e.g. PIPELINE).
    choices: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class BuildSpec(_Model):
    """A build-only image: its Dockerfile in the user's source tree, and how the tree is used."""

    #: The Dockerfile, relative to the source directory (the build context).
    dockerfile: str = "Dockerfile"
    #: Where the container sees the source tree (upstream mounts the repo: the image holds no app).
    source_mount: str | None = None
    working_dir: str | None = None
    #: What paitui cannot do for the user with this app, said on every plan.
    limits: tuple[str, ...] = ()

    @field_validator("dockerfile")
    @classmethod
    def _relative(cls, v: str) -> str:
        if PurePosixPath(v).is_absolute() or ".." in PurePosixPath(v).parts:
            raise ValueError("build.dockerfile is a path inside the source directory")
        return v


class RunOptions(_Model):
    """How the container runs: declared on an app, and on a variant to override the app's.

    ``merged`` is the one rule for combining them, field by field: environment maps merge key by
    key (the variant's value wins), any other option the variant sets replaces the app's.
    """

    env: EnvMap = Field(default_factory=dict)
    entrypoint: Argv = None
    command: Argv = None
    user: User = None
    shm_size: ShmSize = None
    ipc: Literal["host", "private", "shareable"] | None = None

    def merged(self, override: RunOptions) -> RunOptions:
        """These options with ``override``'s on top (see the class docstring)."""
        values: dict[str, Any] = {}  # each field's own type: validated where it was declared
        for name in RunOptions.model_fields:
            base, over = getattr(self, name), getattr(override, name)
            if isinstance(base, dict):
                values[name] = {**base, **over}
            else:
                values[name] = base if over is None else over
        return RunOptions.model_construct(**values)


class Variant(RunOptions):
    """One image of an app for one accelerator, with what that image needs to run."""

    image: ImageRef
    #: Older tags of the same image that still exist (e.g. Pai ComfyUI's ``ipex``).
    aliases: tuple[ImageRef, ...] = ()
    #: A pinned tag that carries the software stack, shown in the catalog.
    pinned: ImageRef | None = None
    security_opt: tuple[Annotated[str, AfterValidator(values.check_security_opt)], ...] = ()
    cap_add: tuple[Annotated[str, AfterValidator(values.check_capability)], ...] = ()
    #: Grants every device and no confinement: allowed, but warned about (``host_access``).
    privileged: bool = False
    #: Pass the whole ``/dev/dri`` (and ``/dev/kfd`` for rocm); False maps only the chosen GPU.
    all_gpus: bool = True
    #: Extra bind mounts ``host:container[:ro]`` the image needs (e.g. /dev/dri/by-path, vLLM XPU).
    extra_mounts: tuple[Annotated[str, AfterValidator(values.check_mount)], ...] = ()
    min_vram_gb: float | None = None
    legacy: bool = False
    unverified: bool = False
    #: No registry carries the image: it must be built locally, so paitui must not try to pull it.
    local_build: bool = False
    #: How to build the image from a source tree the user points paitui at (implies local_build).
    build: BuildSpec | None = None
    #: The values of a needed variable this image serves (ai-runner: its tag per PIPELINE): any
    #: other value runs an image that lacks its dependencies, so the planner refuses it.
    serves: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    notes: str = ""

    @field_validator("extra_mounts")
    @classmethod
    def _extra_mounts_placeholders(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        _check_placeholders(v)
        return v


class App(RunOptions):
    """A containerized AI app as the catalog describes it."""

    id: str
    name: str
    description: str
    kind: AppKind
    homepage: str | None = None
    variants: dict[VariantName, Variant]
    ports: tuple[PortSpec, ...] = ()
    health: HealthCheck | None = None
    mounts: Mounts = Field(default_factory=Mounts)
    min_vram_gb: float | None = None
    needs: Needs = Field(default_factory=Needs)
    suggested_models: SuggestedModels = ()  # domain.suggested: what to download first
    legacy: bool = False
    notes: str = ""

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _APP_ID.match(v):
            raise ValueError(
                "an app id is lower-case letters, digits and '-', starting with a letter or digit"
            )
        return v

    @field_validator("variants")
    @classmethod
    def _has_variants(cls, v: dict[VariantName, Variant]) -> dict[VariantName, Variant]:
        if not v:
            raise ValueError("an app needs at least one variant")
        return v

    @field_validator("ports")
    @classmethod
    def _ports_unique(cls, v: tuple[PortSpec, ...]) -> tuple[PortSpec, ...]:
        seen: set[int] = set()
        for spec in v:
            if spec.container in seen:
                raise ValueError(
                    f"container port {spec.container} is listed twice: list each port once"
                )
            seen.add(spec.container)
        return v

    @model_validator(mode="after")
    def _health_port_is_published(self) -> App:
        if (
            self.health
            and self.health.port is not None
            and self.health.port not in {p.container for p in self.ports}
        ):
            raise ValueError(f"health.port {self.health.port} is not one of the app's ports")
        return self

    @model_validator(mode="after")
    def _http_health_on_http_port(self) -> App:
        # An HTTP probe against a raw TCP service (e.g. RunAI's socket) would never succeed.
        port = self.health_port()
        if self.health and self.health.type == "http":
            if port is None:
                raise ValueError("an http health check needs a port: add one under 'ports'")
            spec = next((p for p in self.ports if p.container == port), None)
            if spec is not None and spec.protocol != "http":
                raise ValueError(
                    f"health is an http check but port {port} is {spec.protocol}: use 'type: tcp'"
                )
        return self

    @model_validator(mode="after")
    def _links_dir_in_the_data_dir(self) -> App:
        models = self.mounts.models
        if models is None or (models.layout != "links" and models.links_dir is None):
            return self
        data = self.mounts.data
        if models.layout != "links":
            raise ValueError("mounts.models.links_dir is only for layout: links")
        if models.links_dir is None or data is None:
            raise ValueError("layout: links needs mounts.models.links_dir inside mounts.data")
        if not PurePosixPath(models.links_dir).is_relative_to(data.path):
            raise ValueError(
                f"mounts.models.links_dir {models.links_dir} must be inside the data dir "
                f"{data.path}"
            )
        return self

    @model_validator(mode="after")
    def _seed_in_the_data_dir(self) -> App:
        models, data = self.mounts.models, self.mounts.data
        if models is None or models.seed is None:
            return self
        if (
            data is None
            or not PurePosixPath(models.seed.path).is_relative_to(data.path)
            or (PurePosixPath(models.seed.path) == PurePosixPath(data.path))
        ):
            where = data.path if data else "none"
            raise ValueError(
                f"mounts.models.seed.path {models.seed.path} must be a file inside the data dir "
                f"(mounts.data: {where})"
            )
        return self

    @model_validator(mode="after")
    def _store_apart_from_writable_mounts(self) -> App:
        if self.mounts.models is None:
            return self
        problems: list[str] = []
        for variant in self.variants.values():
            writable = [self.mounts.data.path] if self.mounts.data else []
            writable += _writable_extra_targets(variant.extra_mounts)
            for problem in store_target_problems(self.mounts.models.path, writable):
                if problem not in problems:
                    problems.append(problem)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _serves_known_choices(self) -> App:
        for name, variant in self.variants.items():
            for key, served in variant.serves.items():
                allowed = self.needs.choices.get(key)
                if allowed is None:
                    raise ValueError(f"variants.{name}.serves.{key}: {key} is not in needs.choices")
                unknown = [v for v in served if v not in allowed]
                if unknown:
                    raise ValueError(
                        f"variants.{name}.serves.{key}: {', '.join(unknown)} not in "
                        f"needs.choices.{key}"
                    )
                own = variant.env.get(key)
                if own is not None and own not in served:
                    raise ValueError(f"variants.{name}: env {key}={own} is not a value it serves")
        return self

    def variant_accel(self, name: str) -> Accel:
        """The accelerator of one of this app's variants."""
        return accel_of_variant(name)

    def health_port(self) -> int | None:
        """The container port the health check talks to."""
        if self.health and self.health.port is not None:
            return self.health.port
        return self.ports[0].container if self.ports else None


def _writable_extra_targets(mounts: tuple[str, ...]) -> list[str]:
    """Container paths of the ``host:container[:ro]`` extra mounts that are not read-only."""
    targets = []
    for text in mounts:
        parts = text.split(":")
        if len(parts) >= 2 and not (len(parts) > 2 and "ro" in parts[2].split(",")):
            targets.append(parts[1])
    return targets


def host_access(variant: Variant) -> list[tuple[str, str]]:
    """(field, why) for each setting of ``variant`` that hands the container the host.

    Such settings are allowed (vLLM's XPU image needs ``privileged``) but warned about, in
    ``paitui catalog check`` and on the launch screen.
    """
    found: list[tuple[str, str]] = []
    if variant.privileged:
        found.append(
            (
                "privileged",
                "privileged: true gives the container every host device and no "
                "confinement, i.e. root on the host",
            )
        )
    for i, cap in enumerate(variant.cap_add):
        if cap.upper().removeprefix("CAP_") in values.HOST_CAPABILITIES:
            found.append((f"cap_add.{i}", f"cap_add {cap} amounts to root on the host"))
    for i, mount in enumerate(variant.extra_mounts):
        why = values.host_access(values.split_mount(mount)[0])
        if why is not None:
            found.append((f"extra_mounts.{i}", f"{mount}: {why}"))
    return found


class CatalogIssue(_Model):
    """A problem found while loading a catalog file, located precisely.

    A ``warning`` does not stop the app from loading (a setting that grants the host).
    """

    file: str
    line: int | None = None
    column: int | None = None
    app_id: str | None = None
    field: str | None = None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        what = f"{self.field}: " if self.field else ""
        app = f" (app {self.app_id})" if self.app_id else ""
        level = "warning: " if self.severity == "warning" else ""
        return _printable(f"{where}{app}: {level}{what}{self.message}")


def _printable(text: str) -> str:
    """``text`` on one line: a newline, tab or control character from the file is escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class Catalog(_Model):
    """The merged catalog: apps by id, where each came from, and what could not be loaded."""

    apps: dict[str, App] = Field(default_factory=dict)
    sources: dict[str, str] = Field(default_factory=dict)
    issues: tuple[CatalogIssue, ...] = ()
    #: Settings of loaded apps that grant the container the host (see ``host_access``).
    warnings: tuple[CatalogIssue, ...] = ()

    def sorted_apps(self) -> list[App]:
        """Apps in a stable display order: seed systems and common apps by name."""
        return sorted(self.apps.values(), key=lambda a: (a.legacy, a.name.lower()))
