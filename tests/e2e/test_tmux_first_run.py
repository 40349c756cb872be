"""End to end in tmux at 80x24: an app with no model gets one from its suggestions and starts.

The real paitui, the real Docker engine and the local Hub server (tests/models/hub_server.py):
a busybox stand-in that needs a GGUF file suggests one in the Hub server's repo. Enter on the
suggestion downloads it with progress, then the app starts with the file in its command and
turns ready only when the file is there in the container. Failure paths: the Hub answers 404 and
500 for the file, and a download cancelled midway: nothing is started, nothing is installed, the
dialog says why and stays usable.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.e2e.tmux import TmuxPane, paitui_command
from tests.models.conftest import GGUF_Q4
from tests.models.hub_server import HubServer, make_repo
from tests.status.standins import remove_containers

pytestmark = [pytest.mark.tmux, pytest.mark.docker]

REPO = "acme/tiny-gguf"
FILE = "tiny.Q4_K_M.gguf"

# The health CGI answers 200 only once the model file named in the command is readable in the
# container: "ready" proves the download reached the app. Braces are doubled for the planner.
_SCRIPT = r"""trap 'exit 0' TERM
printf '%s' "$1" > /tmp/model
mkdir -p /www/cgi-bin
cat > /www/cgi-bin/health <<'EOF'
#!/bin/sh
if [ -s "$(cat /tmp/model)" ]; then
  printf 'Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{{"status":"ok"}}'
else
  printf 'Status: 503 Service Unavailable\r\nContent-Type: application/json\r\n\r\n'
  printf '{{"error":"Loading model"}}'
fi
EOF
chmod +x /www/cgi-bin/health
httpd -f -p 8080 -h /www &
echo "serving $1"
wait
"""


def _catalog(folder: Path, suffix: str, image: str) -> Path:
    script = "\n".join(("        " + line) if line else "" for line in _SCRIPT.splitlines())
    text = f"""apps:
  - id: gguf-{suffix}
    name: GGUF stand-in
    description: busybox stand-in that reads one GGUF model
    kind: llm
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 8080
        purpose: Stand-in web UI
        links:
          - {{label: Web UI, path: /, kind: ui}}
    health:
      path: /cgi-bin/health
      ready: {{status: [200], json_fields: {{status: ok}}}}
      loading: {{status: [503], body_contains: Loading model}}
      start_period_s: 60
    mounts:
      models: {{path: /models, formats: [gguf], read_only: true}}
    needs:
      model_file: [gguf]
    suggested_models:
      - repo: {REPO}
        file: {FILE}
        size_gb: 0.002
        kind: llm
        note: the test Hub's tiny model
        source: tests/e2e/test_tmux_first_run.py
    command:
      - sh
      - -c
      - |
{script}
      - stand-in
      - "{{model}}"
"""
    path = folder / f"first-run-{suffix}.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def hub() -> Iterator[HubServer]:
    """The Hub stand-in with the suggested repo."""
    repo = make_repo(REPO, {FILE: GGUF_Q4, "README.md": b"# tiny\n"}, tags=("gguf",))
    with HubServer([repo]) as server:
        yield server


class FirstRun:
    """One paitui in tmux on the stand-in catalog, pointed at the local Hub."""

    def __init__(self, tmp_path: Path, label: str, image: str, hub: HubServer) -> None:
        self.app_id = f"gguf-{label}"
        self.models = tmp_path / "models"
        self.installed = self.models / REPO / FILE
        catalog = _catalog(tmp_path, label, image)
        env = {
            "PAITUI_CONFIG_DIR": str(tmp_path / "config"),
            "PAITUI_STATE_DIR": str(tmp_path / "state"),
            "PAITUI_MODELS_DIR": str(self.models),
            "PAITUI_PROBE_START_INTERVAL": "0.3",
            "PAITUI_HUB_RETRY_BASE": "0.01",
            "HF_ENDPOINT": hub.url,
            "HF_HOME": str(tmp_path / "hf-home"),
            "HF_TOKEN": "",
            "HF_HUB_OFFLINE": "",
            "TERM": "xterm-256color",
        }
        self.pane = TmuxPane(
            paitui_command("--catalog", str(catalog)), env, (80, 24), cwd=REPO_ROOT
        )

    def open_dialog(self) -> str:
        """Desktop, the palette, the app: the launch dialog with the suggestion focused."""
        pane = self.pane
        # The header names the usable accelerators (cpu always) once detection is done: the
        # launch dialog opens only after that.
        pane.wait_for(
            lambda t: "GGUF stand-in" in t and re.search(r"\bcpu\b", t.splitlines()[1]) is not None,
            what="the Desktop with the hardware detected",
        )
        pane.send("C-p")
        pane.wait_for(lambda t: "🔎" in t or "Search" in t, what="the palette")
        pane.type("Start GGUF stand-in")
        pane.wait_for(f"launch {self.app_id}", what="the palette hit")
        pane.send("Enter")
        return pane.wait_for(
            lambda t: "Launch GGUF stand-in" in t and FILE in t,
            what="the launch dialog with the suggestion",
        )

    def wait_ready(self, docker_client: Any) -> str:
        """Wait until this app's container exists and its row on the Running screen is ready
        (other apps on the shared engine may be ready too)."""

        def ready(screen: str) -> bool:
            rows = [line for line in screen.splitlines() if "GGUF stand-in" in line]
            return any("● ready" in row for row in rows) and self.container(docker_client)

        return self.pane.wait_for(ready, timeout=40, what="the app ready")

    def container(self, docker_client: Any) -> Any:
        """The app's container, or None."""
        import docker.errors

        try:
            return docker_client.containers.get(f"paitui-{self.app_id}")
        except docker.errors.NotFound:
            return None


@pytest.fixture
def first_run(
    tmp_path: Path, test_label: str, busybox_image: str, hub: HubServer, docker_client: Any
) -> Iterator[FirstRun]:
    run = FirstRun(tmp_path, test_label, busybox_image, hub)
    try:
        yield run
    finally:
        run.pane.close()
        remove_containers(docker_client, test_label)


def test_suggestion_to_running_app_keyboard_only(
    first_run: FirstRun, hub: HubServer, docker_client: Any
) -> None:
    form = first_run.open_dialog()
    # The suggestion with its size, kind and verdict against this box's RAM (a cpu variant).
    assert "2.0 MB  llm" in form and "host RAM has" in form, form
    assert "--model" not in form  # no command-line syntax in the dialog
    hub.faults.throttle = 700_000  # about 3 s for the 2 MB: the progress bar is seen moving
    first_run.pane.send("Enter")
    running = first_run.pane.wait_for(
        lambda t: "esc cancels" in t and "%" in t, what="download progress"
    )
    assert FILE in running
    # Verified and installed, then started with the previewed plan, and ready (the stand-in
    # is ready only when it can read the file its command names).
    first_run.wait_ready(docker_client)
    assert (
        hashlib.sha256(first_run.installed.read_bytes()).hexdigest()
        == hashlib.sha256(GGUF_Q4).hexdigest()
    )
    container = first_run.container(docker_client)
    assert container is not None and container.status == "running"
    assert f"/models/{REPO}/{FILE}" in container.attrs["Config"]["Cmd"]
    mounts = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert Path(mounts["/models"]["Source"]) == first_run.models.resolve()
    assert len(hub.gets("/resolve/")) >= 1


def flat(screen: str) -> str:
    """The dialog's text as one line: borders dropped, wrapped lines joined."""
    return " ".join(" ".join(line.strip("█▀▄ ").split()) for line in screen.splitlines())


def _nothing_started(run: FirstRun, docker_client: Any) -> None:
    assert run.container(docker_client) is None
    assert not run.installed.exists()
    assert not list(run.models.glob(f"{REPO}/*.gguf"))


def test_404_500_and_cancel_start_nothing_then_a_retry_works(
    first_run: FirstRun, hub: HubServer, docker_client: Any
) -> None:
    pane = first_run.pane
    first_run.open_dialog()
    # 404 for the file: the reason, and that nothing was started.
    hub.answer(FILE, 404)
    pane.send("Enter")
    shown = flat(pane.wait_for("Nothing was started", what="the 404 message"))
    assert "the file is not on the hub" in shown and "Launch GGUF stand-in" in shown, shown
    _nothing_started(first_run, docker_client)
    # 500 until the retries give up (PAITUI_HUB_RETRY_BASE keeps the backoff short).
    hub.answer(FILE, 500, times=50)
    pane.send("Enter")
    shown = flat(
        pane.wait_for(
            lambda t: (
                "HTTP 500" in flat(t)
                and "HTTP 404" not in flat(t)
                and "Nothing was started" in flat(t)
            ),
            timeout=30,
            what="the 500 message",
        )
    )
    assert "the hub answered HTTP 500" in shown and "Launch GGUF stand-in" in shown, shown
    _nothing_started(first_run, docker_client)
    hub.faults.answers.clear()
    # Cancel midway: a slow download (about 7 s), esc once some of it arrived cancels the
    # download, not the dialog.
    hub.faults.throttle = 300_000
    pane.send("Enter")
    pane.wait_for(
        lambda t: "esc cancels" in t and re.search(r"\b[1-9]\d?%", t) is not None,
        what="download progress above 0%",
    )
    pane.send("Escape")
    shown = flat(pane.wait_for("cancelled", what="the cancel message"))
    assert "Nothing was started" in shown and "Launch GGUF stand-in" in shown, shown
    _nothing_started(first_run, docker_client)
    partials = list((first_run.models / ".partial").rglob("*.part"))
    assert partials, "the data so far is kept for a resume"
    # The dialog is still usable: Enter again continues the download and starts the app.
    hub.faults.throttle = 0
    pane.send("Enter")
    first_run.wait_ready(docker_client)
    assert first_run.installed.read_bytes() == GGUF_Q4
    container = first_run.container(docker_client)
    assert container is not None and f"/models/{REPO}/{FILE}" in container.attrs["Config"]["Cmd"]
    # It continued from the cancelled download's data rather than starting over.
    last = [r for r in hub.requests if r.server == "cdn" and r.method == "GET"][-1]
    assert re.fullmatch(r"bytes=[1-9]\d*-", last.headers.get("range", "")), last.headers
