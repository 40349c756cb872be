"""The models store is the user's data: for every bundled app, a stand-in container with that
app's real mounts, user, working dir and environment can read the store but cannot write, chown
or copy into it, and a ``chown -R`` over the app's data dir (as SD WebUI's entrypoint does) leaves
the store as it was."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.plan import LaunchChoices, LaunchPlan
from paitui.domain.launch.planner import plan_launch
from paitui.services.catalog.loader import load_file
from paitui.settings import Settings
from tests.conftest import REPO_ROOT
from tests.engine.standin import run_to_end, stand_in_plan

pytestmark = pytest.mark.docker

STORE_UID = 4242
MODEL = "org/repo/model.gguf"


def _bundled_apps_with_store() -> list[App]:
    apps, issues = load_file(REPO_ROOT / "catalog.yml")
    assert not issues, issues
    return [a for a in apps if a.mounts.models is not None]


def _choices(app: App, source: Path) -> LaunchChoices:
    needs = app.needs
    env = {k: (needs.choices.get(k) or ("x",))[0] for k in needs.env}
    model_file = None
    if needs.model_file:
        model_file = f"org/repo/model.{needs.model_file[0]}"
    return LaunchChoices(
        variant=next(iter(app.variants)),
        # Build-only images (RunAI) are built from the user's checkout, mounted as upstream does.
        source_dir=str(source) if any(v.build for v in app.variants.values()) else None,
        model_file=model_file,
        model_id="org/repo" if needs.hf_repo else None,
        env=env,
    )


def _stand_in(plan: LaunchPlan, image: str, script: str, user: str | None) -> LaunchPlan:
    return stand_in_plan(
        plan, image, entrypoint=("/bin/sh", "-c"), command=(script,), user=user, label="store"
    )


def _numeric_user(user: str | None) -> str:
    # busybox has no passwd entries beyond root: run as the image's numeric uid, root otherwise.
    if user and user.split(":")[0].isdigit():
        return user if ":" in user else f"{user}:{user}"
    return "0:0"


def _snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    result = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        result[str(path.relative_to(root))] = (st.st_uid, st.st_gid, st.st_mode, st.st_size)
    return result


@pytest.mark.parametrize("app", _bundled_apps_with_store(), ids=lambda a: a.id)
def test_store_is_read_only_to_the_app_and_survives_chown_of_its_data(
    app: App, tmp_path: Path, docker_client: Any, busybox_image: str
) -> None:
    store = tmp_path / "models"
    (store / "org" / "repo").mkdir(parents=True)
    (store / "org" / "repo" / "model.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    for path in [store, *store.rglob("*")]:
        os.chown(path, STORE_UID, STORE_UID)
    (tmp_path / "src").mkdir()  # a source checkout, for apps built from one
    settings = Settings(models_dir=store, apps_dir=tmp_path / "apps")
    plan = plan_launch(
        app,
        HardwareReport(render_gid=993, video_gid=44),
        settings,
        _choices(app, tmp_path / "src"),
        models_store=store,
    )
    assert app.mounts.models is not None
    target = app.mounts.models.path
    store_mounts = [m for m in plan.mounts if m.source == str(store)]
    assert [(m.target, m.read_only) for m in store_mounts] == [(target, True)]
    if plan.data_dir:
        Path(plan.data_dir).mkdir(parents=True)
        uid = plan.data_uid if plan.data_uid is not None else 0
        gid = plan.data_gid if plan.data_gid is not None else uid
        os.chown(plan.data_dir, uid, gid)
    before = _snapshot(store)

    # As the user the image runs as: it reads the model and every kind of write fails.
    user = _numeric_user(plan.user)
    probe = (
        f"cd {target} && cat {MODEL} >/dev/null && echo READ; "
        f"busybox touch {target}/probe 2>/dev/null && echo WROTE-FILE; "
        f"mkdir {target}/dir 2>/dev/null && echo WROTE-DIR; "
        f"(echo x >>{target}/{MODEL}) 2>/dev/null && echo WROTE-MODEL; "
        f"rm -f {target}/{MODEL} 2>/dev/null; [ -e {target}/{MODEL} ] || echo REMOVED; true"
    )
    out = run_to_end(docker_client, _stand_in(plan, busybox_image, probe, user))
    assert out.split() == ["READ"], out

    # As root, what hostile entrypoints do: chown -R and cp -r over the data dir and the store.
    data = app.mounts.data.path if app.mounts.data else "/tmp"
    attack = (
        f"busybox chown -R 1000:1000 {data} 2>/dev/null; "
        f"busybox chown -R 1000:1000 {target} 2>/dev/null; "
        f"busybox cp -r /bin {target}/stock 2>/dev/null; "
        f"busybox chmod -R 777 {target} 2>/dev/null; echo DONE"
    )
    out = run_to_end(docker_client, _stand_in(plan, busybox_image, attack, "0:0"))
    assert out.split() == ["DONE"], out
    assert _snapshot(store) == before
    # The store's mount point is not inside the data dir, so the engine made nothing there.
    if plan.data_dir:
        assert not any(Path(plan.data_dir).iterdir())
