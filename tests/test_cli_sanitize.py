"""Terminal escapes never reach the terminal: hostile catalog names, container labels and model
file names go through the real ``paitui`` commands (subprocesses), and what they print is
checked for raw control characters; ``--json`` stays valid and keeps the exact values.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paitui.domain.engine.containers import APP_LABEL, MANAGED_LABEL, VARIANT_LABEL
from paitui.domain.text_safety import terminal_safe

#: What a terminal would obey, spelled out independently of the module under test: C0 controls
#: (newline and tab are layout), DEL, C1 controls and the bidi embeddings/overrides/isolates.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

OSC52 = "\x1b]52;c;aGFja2VkIQ==\x07"  # writes "hacked!" to the clipboard
CLEAR = "\x1b[2J\x1b[3J\x1b[H"
DCS = "\x1bP1$qm\x1b\\"
C1_CSI = "\x9b31m"
RLO = "\u202eexe.txt\u202c"
HOSTILE = f"Evil{OSC52}{CLEAR}{DCS}{C1_CSI}{RLO}\r\nforged row\x08"
NICE = "Modèle ünïcödé 中文モデル 🤖 Ελληνικά"


def paitui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m paitui`` as a user would, with the test's isolated dirs."""
    return subprocess.run(
        [sys.executable, "-m", "paitui", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def assert_no_raw_controls(*texts: str) -> None:
    for text in texts:
        found = RAW_CONTROL.search(text)
        assert found is None, f"raw {found.group(0)!r} printed in: {text!r}"


def yaml_str(value: str) -> str:
    # A JSON string is a YAML double-quoted scalar: \u escapes carry the controls into the file.
    return json.dumps(value)


# --- the sanitizer itself (pure) ---------------------------------------------------------------


def test_sequences_become_visible_text_and_unicode_stays() -> None:
    shown = terminal_safe(HOSTILE)
    assert_no_raw_controls(shown)
    assert "\n" not in shown and "\\x1b]52;c;aGFja2VkIQ==\\x07" in shown
    assert "\\u202eexe.txt\\u202c" in shown and "\\x9b31m" in shown
    assert terminal_safe(NICE) == NICE
    assert terminal_safe("\x1b[1;31mred\x1b[0m text") == "red text"
    assert terminal_safe("a\nb\tc\rd", multiline=True) == "a\nb\tc\\x0dd"
    assert terminal_safe("bad \udcff name") == "bad \\udcff name"


def test_random_mixtures_never_leak_a_control() -> None:
    rng = random.Random(1111)
    pieces = [
        OSC52,
        CLEAR,
        DCS,
        C1_CSI,
        RLO,
        "\x1b",
        "\x07",
        "\x00",
        "\x7f",
        "\u2066",
        "\u2069",
        "\x1b[",
        "\x1b]",
        "é",
        "中",
        "🤖",
        "plain",
        " ",
        "\n",
        "\t",
        "\\",
        "[",
        "m",
    ]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        for multiline in (False, True):
            shown = terminal_safe(text, multiline=multiline)
            assert_no_raw_controls(shown)
            assert shown.count("\n") == (text.count("\n") if multiline else 0)
            # Nothing printable is lost: the safe letters survive in order.
            kept = [c for c in text if c in "é中🤖"]
            assert [c for c in shown if c in "é中🤖"] == kept


# --- paitui catalog ------------------------------------------------------------------------------


def hostile_catalog(tmp_path: Path) -> Path:
    path = tmp_path / "hostile.yml"
    path.write_text(
        "apps:\n"
        "  - id: evil-app\n"
        f"    name: {yaml_str(HOSTILE)}\n"
        f"    description: {yaml_str('desc ' + OSC52 + CLEAR)}\n"
        "    kind: other\n"
        '    variants: {cpu: {image: "example.org/evil:1"}}\n'
        f"    env: {{GREETING: {yaml_str('hi ' + OSC52)}}}\n"
        "    ports: [{container: 8080, purpose: web}]\n"
        "  - id: nice-app\n"
        f"    name: {yaml_str(NICE)}\n"
        "    description: fine\n"
        "    kind: llm\n"
        '    variants: {cpu: {image: "example.org/nice:1"}}\n'
        "  - id: broken-app\n"
        "    name: Broken\n"
        "    description: d\n"
        f"    kind: {yaml_str('chat' + OSC52)}\n"
        '    variants: {cpu: {image: "example.org/b:1"}}\n',
        encoding="utf-8",
    )
    return path


def test_catalog_list_prints_hostile_names_as_visible_escapes(tmp_path: Path) -> None:
    catalog = hostile_catalog(tmp_path)
    out = paitui("--catalog", str(catalog), "catalog")
    assert out.returncode == 0, out.stderr
    assert_no_raw_controls(out.stdout, out.stderr)
    assert NICE[:20] in out.stdout  # clipped to the name column, not mangled
    assert "Evil\\x1b]52;c;" in out.stdout
    assert "broken-app" in out.stderr and "\\x1b]52" in out.stderr  # the issue, escaped too
    check = paitui("catalog", "check", str(catalog))
    assert check.returncode == 1 and "broken-app" in check.stdout
    assert_no_raw_controls(check.stdout, check.stderr)


def test_catalog_json_is_valid_and_keeps_the_exact_values(tmp_path: Path) -> None:
    out = paitui("--catalog", str(hostile_catalog(tmp_path)), "catalog", "--json")
    assert out.returncode == 0, out.stderr
    assert_no_raw_controls(out.stdout)
    apps = {a["id"]: a for a in json.loads(out.stdout)["apps"]}
    assert apps["evil-app"]["name"] == HOSTILE
    assert apps["evil-app"]["description"] == "desc " + OSC52 + CLEAR
    assert apps["nice-app"]["name"] == NICE


def test_run_cmd_and_compose_escape_catalog_values(tmp_path: Path) -> None:
    catalog = str(hostile_catalog(tmp_path))
    line = paitui("--catalog", catalog, "run-cmd", "evil-app", "--no-hw")
    compose = paitui("--catalog", catalog, "compose", "evil-app", "--no-hw")
    as_json = paitui("--catalog", catalog, "run-cmd", "evil-app", "--no-hw", "--json")
    for out in (line, compose, as_json):
        assert out.returncode == 0, out.stderr
        assert_no_raw_controls(out.stdout, out.stderr)
    assert "GREETING=" in line.stdout and "\\x1b]52" in line.stdout
    assert "GREETING=hi " + OSC52 in json.loads(as_json.stdout)["argv"]


# --- paitui ls -----------------------------------------------------------------------------------


@pytest.fixture
def hostile_container(docker_client: Any, busybox_image: str, test_label: str) -> Any:
    """A real managed container whose app and variant labels carry escape sequences."""
    container = docker_client.containers.run(
        busybox_image,
        ["sleep", "120"],
        detach=True,
        name=f"paitui-san-{test_label}",
        labels={
            MANAGED_LABEL: "true",
            APP_LABEL: f"san-{test_label}{OSC52}{CLEAR}{RLO}",
            VARIANT_LABEL: f"cpu{DCS}{C1_CSI}",
        },
    )
    yield container
    container.remove(force=True)


def test_ls_escapes_hostile_label_values(hostile_container: Any, test_label: str) -> None:
    text = paitui("ls")
    assert text.returncode == 0, text.stderr
    assert_no_raw_controls(text.stdout, text.stderr)
    assert f"san-{test_label}\\x1b]52;c;aGFja2VkIQ==\\x07" in text.stdout
    as_json = paitui("ls", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert_no_raw_controls(as_json.stdout)
    mine = [r for r in json.loads(as_json.stdout) if r["container"] == hostile_container.name]
    assert len(mine) == 1
    assert mine[0]["app"] == f"san-{test_label}{OSC52}{CLEAR}{RLO}"
    assert mine[0]["variant"] == f"cpu{DCS}{C1_CSI}"


# --- paitui models ls ----------------------------------------------------------------------------


def test_models_ls_escapes_hostile_file_names(tmp_path: Path) -> None:
    from paitui.domain.models.records import UnsafePathError
    from paitui.services.models.store import ModelStore

    models = tmp_path / "models"
    store = ModelStore(models)
    # Control characters never reach the store (the Hub's names are checked on the way in) ...
    with pytest.raises(UnsafePathError):
        store.path_for("org/repo", f"weights{OSC52}.gguf")
    # ... while bidi overrides are legal in a file name, so they must be made visible on output.
    name = f"weights{RLO}.gguf"
    target = store.path_for("org/repo", name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"gguf")
    store.record("org/repo", name, size=4, sha256="0" * 64, revision=f"abc{CLEAR}")
    env = {"PAITUI_MODELS_DIR": str(models)}
    text = paitui("models", "ls", env=env)
    assert text.returncode == 0, text.stderr
    assert_no_raw_controls(text.stdout, text.stderr)
    assert "weights\\u202e" in text.stdout
    as_json = paitui("models", "ls", "--json", env=env)
    files = json.loads(as_json.stdout)["repos"][0]["files"]
    assert [f["path"] for f in files] == [name]


# --- paitui hw -----------------------------------------------------------------------------------


def test_hw_escapes_host_and_engine_text(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/group").write_text("root:x:0:\nvideo:x:44:\nrender:x:105:\n")
    (root / "proc/sys/kernel").mkdir(parents=True)
    (root / "proc/sys/kernel/osrelease").write_text(f"6.1.0{OSC52}{RLO}\n")
    docker = tmp_path / "docker-info.json"
    info = {"ServerVersion": f"20.10{CLEAR}{DCS}", "Runtimes": {"runc": {"path": "runc"}}}
    docker.write_text(json.dumps({"api_version": "1.41", "info": info}))
    env = {
        "PAITUI_HW_ROOT": str(root),
        "PAITUI_HW_IDENTITY": "1000:1000:alice",
        "PAITUI_HW_NVML": "off",
        "PAITUI_HW_UDEV": "off",
        "PAITUI_HW_DOCKER": str(docker),
    }
    text = paitui("hw", env=env)
    assert text.returncode == 0, text.stderr
    assert_no_raw_controls(text.stdout, text.stderr)
    assert "6.1.0\\x1b]52" in text.stdout
    as_json = paitui("hw", "--json", env=env)
    assert json.loads(as_json.stdout)["kernel"] == f"6.1.0{OSC52}{RLO}"
