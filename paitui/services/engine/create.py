"""From a launch plan to the engine's create parameters, and the data dir the container needs."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paitui.domain.engine.errors import EngineError, ErrorKind
from paitui.domain.launch.plan import LaunchPlan, SeedFile


def prepare_data_dir(plan: LaunchPlan, chown_fallback: Callable[[LaunchPlan, int], None]) -> None:
    """Create the plan's data dir owned by the image's user; ``chown_fallback`` when not root."""
    if not plan.data_dir:
        return
    path = Path(plan.data_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EngineError(
            ErrorKind.DATA_DIR,
            f"cannot create the data dir {path}: {exc.strerror}",
            "check apps_dir in config.toml and its permissions",
        ) from None
    if plan.data_uid is None:
        return
    gid = plan.data_gid if plan.data_gid is not None else plan.data_uid
    st = path.stat()
    if (st.st_uid, st.st_gid) == (plan.data_uid, gid):
        return
    try:
        os.chown(path, plan.data_uid, gid)
    except PermissionError:
        # Not root: let the engine do it in a throw-away container of the same image, which
        # also maps the owner right under rootless Docker.
        chown_fallback(plan, gid)


def write_seed(seed: SeedFile) -> bool:
    """Write ``seed`` unless something is at its path already (the user's file, or the one
    written before); True when written. Made whole under a temp name and linked into place, so
    the app never reads half of it and a file that appears meanwhile is not replaced."""
    path = Path(seed.host_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_symlink() or path.exists():
        return False
    tmp = path.with_name(f".{path.name}.paitui-{os.getpid()}.tmp")
    try:
        tmp.write_text(seed.content, "utf-8")
        os.chmod(tmp, 0o644)
        os.link(tmp, path)  # fails if the path exists: never replaces, never follows
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def prepare_models_views(plan: LaunchPlan) -> None:
    """Bring the store's views the app reads up to date, so it sees every installed model, and
    write the files that point the app at them (``seed_files``) where none are yet."""
    for seed in plan.seed_files:
        try:
            write_seed(seed)
        except OSError as exc:
            raise EngineError(
                ErrorKind.DATA_DIR,
                f"cannot write {seed.host_path}: {exc.strerror or exc}",
                "check that the app's data dir is writable by you",
            ) from None
    if not plan.models_views and not plan.models_links:
        return
    from paitui.services.models.views import ViewsError, refresh_views, sync_links

    try:
        if plan.models_views:
            refresh_views(Path(plan.models_views))
        if plan.models_links:
            sync_links(plan.models_links)
    except ViewsError as exc:
        fix = "fix the models store, then start again"
        raise EngineError(ErrorKind.DATA_DIR, str(exc), fix) from None


def create_kwargs(plan: LaunchPlan) -> dict[str, Any]:
    """The docker SDK ``containers.create`` keyword arguments for a plan."""
    from docker.types import DeviceRequest, Mount

    kwargs: dict[str, Any] = {
        "name": plan.name,
        "labels": dict(plan.labels),
        "environment": dict(plan.env),
        "detach": True,
        "restart_policy": {"Name": plan.restart_policy} if plan.restart_policy != "no" else None,
        "ports": {f"{p.container_port}/{p.protocol}": (p.host_ip, p.host_port) for p in plan.ports},
        "mounts": [
            Mount(m.target, m.source, type="bind", read_only=m.read_only) for m in plan.mounts
        ],
        "devices": [f"{d.host}:{d.container}:{d.permissions}" for d in plan.devices],
        "group_add": list(plan.group_add),
        "security_opt": list(plan.security_opt),
        "cap_add": list(plan.cap_add),
        "privileged": plan.privileged,
        "device_requests": [
            DeviceRequest(
                driver=r.driver,
                count=r.count if r.count is not None else 0,
                device_ids=list(r.device_ids),
                capabilities=[list(c) for c in r.capabilities],
            )
            for r in plan.device_requests
        ],
    }
    optional = {
        "user": plan.user,
        "shm_size": plan.shm_size,
        "ipc_mode": plan.ipc_mode,
        "working_dir": plan.working_dir,
        "entrypoint": list(plan.entrypoint) if plan.entrypoint is not None else None,
        "command": list(plan.command) if plan.command is not None else None,
    }
    kwargs.update({k: v for k, v in optional.items() if v is not None})
    return {k: v for k, v in kwargs.items() if v not in (None, [], {})} | {"detach": True}
