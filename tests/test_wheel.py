"""A wheel install carries the catalog and themes and works from any directory."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from tests.conftest import REPO_ROOT


def test_wheel_ships_catalog_and_themes_and_runs_elsewhere(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(dist.glob("paitui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "paitui/data/catalog.yml" in names
    assert {
        "paitui/data/themes/paitui-dark.toml",
        "paitui/data/themes/paitui-light.toml",
        "paitui/data/themes/paitui-contrast.toml",
    } <= names

    # A fresh venv that sees this interpreter's dependencies (a plain path line in a .pth file:
    # nested .pth files, such as an editable install of the checkout, are not processed).
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(
        [
            str(python),
            "-c",
            "import paitui.resources as r, paitui.services.catalog.loader as c; "
            "print(r.bundled('catalog.yml')); cat = c.load_catalog(); "
            "print(len(cat.apps), len(cat.issues))",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PAITUI_CONFIG_DIR": str(tmp_path / "cfg"),
        },
    )
    path, counts = done.stdout.strip().splitlines()
    assert str(env_dir) in path and "site-packages/paitui/data/catalog.yml" in path
    apps, issues = (int(n) for n in counts.split())
    assert apps >= 15 and issues == 0
