"""What the benchmarks share: machine facts, /proc sampling, tmux panes and stand-in containers.

Stand-ins are busybox containers labelled exactly as paitui labels the containers it manages
(``paitui.managed=true``, ``paitui.app=<id>``, ``paitui.variant=cpu``), named ``paitui-<id>``,
serving ``GET /`` on 8080 published on 127.0.0.1, plus a catalog file whose entries describe
them, so a real ``paitui --catalog FILE`` follows and probes them like any app it started. Every
stand-in also carries ``paitui.bench=<run id>``: clean-up removes exactly those, on success,
errors, Ctrl-C and SIGTERM alike.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

IMAGE = os.environ.get("PAITUI_BENCH_IMAGE", "127.0.0.1:5000/paitest/busybox:latest")
BENCH_LABEL = "paitui.bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Process names (``/proc/PID/comm``, cut at 15 characters) that make up the engine side.
ENGINE_COMMS = ("dockerd", "containerd", "containerd-shim", "docker-proxy")


# --- the machine ---------------------------------------------------------------------------------


def docker_version() -> str:
    """The engine's version (empty when it does not answer)."""
    try:
        fmt = "{{.Server.Version}} (API {{.Server.APIVersion}})"
        out = subprocess.run(
            ["docker", "version", "--format", fmt], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip()


def machine() -> dict[str, str]:
    """The facts a figure needs next to it: cores, RAM, kernel, Docker, Python, Textual, date."""
    mem_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        import textual

        textual_version = textual.__version__
    except Exception:  # only for the header
        textual_version = "?"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "kernel": platform.release(),
        "docker": docker_version(),
        "python": platform.python_version(),
        "textual": textual_version,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_machine() -> None:
    """Print the machine facts as a header (and byte-compile paitui, see ``compile_package``)."""
    compile_package()
    m = machine()
    print(
        f"# {m['date']} · {m['nproc']} cores ({m['cpu']}) · {m['ram']} RAM · kernel {m['kernel']}"
        f" · Docker {m['docker']} · Python {m['python']} · Textual {m['textual']}"
        f" · load {m['load']}"
    )


def compile_package() -> None:
    """Byte-compile paitui as an installed package is: with ``PYTHONDONTWRITEBYTECODE`` set (as
    on some machines) every launch would compile each changed module again, which is not what a
    user's launch does."""
    import compileall

    compileall.compile_dir(REPO / "paitui", quiet=1)


# --- figures ------------------------------------------------------------------------------------


def summary(values: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    """``median 123.4 ms (min 100.0, max 150.0, n=5)``."""
    if not values:
        return "no samples"
    v = sorted(x * scale for x in values)
    return f"median {statistics.median(v):.1f} {unit} (min {v[0]:.1f}, max {v[-1]:.1f}, n={len(v)})"


def verdict(value: float, target: float) -> str:
    """``met`` or ``MISSED`` against an upper bound."""
    return "met" if value < target else "MISSED"


# --- /proc --------------------------------------------------------------------------------------


def cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process (all its threads), in clock ticks; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def rss_bytes(pid: int) -> int | None:
    """Resident set size (VmRSS) of a process; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def pids_by_comm(names: Iterable[str]) -> dict[str, list[int]]:
    """Processes whose ``comm`` starts with one of ``names``, grouped by that name."""
    wanted = tuple(names)
    found: dict[str, list[int]] = {n: [] for n in wanted}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        name = comm(int(entry.name))
        # The longest matching prefix wins ("containerd-shim" over "containerd").
        match = max((n for n in wanted if name.startswith(n)), key=len, default=None)
        if match is not None:
            found[match].append(int(entry.name))
    return found


def engine_pids() -> dict[str, list[int]]:
    """dockerd, containerd, the shims and docker-proxy processes."""
    return pids_by_comm(ENGINE_COMMS)


@dataclass
class CpuWindow:
    """CPU use of groups of processes over one window, in percent of one core."""

    seconds: float
    percent: dict[str, float] = field(default_factory=dict)
    processes: dict[str, int] = field(default_factory=dict)


def measure_cpu(
    groups: Callable[[], dict[str, list[int]]], seconds: float, stop: threading.Event | None = None
) -> CpuWindow:
    """Sample utime+stime of each group at the start and end of a window of ``seconds``.

    Processes that appear or vanish during the window are left out (their share is small for
    the steady state this measures).
    """
    start_groups = groups()
    t0 = time.monotonic()
    start = {pid: cpu_ticks(pid) for pids in start_groups.values() for pid in pids}
    (stop or threading.Event()).wait(seconds)
    elapsed = time.monotonic() - t0
    end_groups = groups()
    window = CpuWindow(elapsed)
    for name, pids in end_groups.items():
        ticks = 0
        for pid in pids:
            a, b = start.get(pid), cpu_ticks(pid)
            if a is not None and b is not None:
                ticks += b - a
        window.percent[name] = ticks / CLK_TCK / elapsed * 100
        window.processes[name] = len(pids)
    return window


# --- tmux -------------------------------------------------------------------------------------


class TmuxPane:
    """One pane on a private tmux server (``tmux -L``), so nothing touches the user's tmux."""

    def __init__(self, width: int = 120, height: int = 40) -> None:
        self.socket = f"paitui-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.target = "bench"
        self._tmux(
            "new-session",
            "-d",
            "-s",
            self.target,
            "-x",
            str(width),
            "-y",
            str(height),
            "sleep 100000",
        )
        # Keep the pane (and the server) when the program in it exits, so it can be respawned.
        self._tmux("set-option", "-t", self.target, "remain-on-exit", "on")

    def _tmux(self, *args: str, check: bool = True) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False
        )
        if check and out.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)}: {out.stderr.strip()}")
        return out.stdout

    def respawn(
        self, argv: Sequence[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> float:
        """Replace what runs in the pane with ``argv``; returns the monotonic time just before."""
        assignments = [f"{k}={v}" for k, v in (env or {}).items()]
        command = "exec env " + " ".join(shlex.quote(a) for a in (*assignments, *argv))
        t0 = time.monotonic()
        self._tmux("respawn-pane", "-k", "-c", str(cwd or REPO), "-t", self.target, command)
        return t0

    def pid(self) -> int:
        """The pid of the program in the pane (``exec`` makes it the pane's own process)."""
        return int(self._tmux("display-message", "-p", "-t", self.target, "#{pane_pid}").strip())

    def capture(self) -> str:
        """The visible text of the pane."""
        return self._tmux("capture-pane", "-p", "-t", self.target, check=False)

    def send_keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.target, *keys)

    def wait_for(
        self, check: Callable[[str], bool], timeout: float = 10.0, interval: float = 0.01
    ) -> tuple[float | None, str]:
        """Poll the pane every ``interval`` s until ``check(text)``; (monotonic time, text).

        The time is None on a timeout.
        """
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.capture()
            now = time.monotonic()
            if check(text):
                return now, text
            time.sleep(interval)
        return None, text

    def dead(self) -> bool:
        """Whether the program in the pane has exited."""
        out = self._tmux("display-message", "-p", "-t", self.target, "#{pane_dead}", check=False)
        return out.strip() == "1"

    def wait_exit(self, timeout: float = 5.0) -> bool:
        """Wait until the program in the pane has exited; False on a timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.dead():
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self._tmux("kill-server", check=False)

    def __enter__(self) -> TmuxPane:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def first_frame(text: str) -> bool:
    """Whether the pane shows paitui's first frame: its section bar and its footer."""
    return "1 Desktop" in text and ("palette" in text or "Quit" in text)


def paitui_argv(catalogs: Sequence[Path] = ()) -> list[str]:
    """``python -m paitui`` with this interpreter (no pyenv shim in the timing)."""
    argv = [sys.executable, "-m", "paitui"]
    for path in catalogs:
        argv += ["--catalog", str(path)]
    return argv


@contextlib.contextmanager
def isolated_dirs() -> Iterator[dict[str, str]]:
    """Fresh PAITUI_CONFIG_DIR and PAITUI_STATE_DIR, so the user's settings play no part."""
    with tempfile.TemporaryDirectory(prefix="paitui-bench-") as tmp:
        env = {"PAITUI_CONFIG_DIR": f"{tmp}/config", "PAITUI_STATE_DIR": f"{tmp}/state"}
        Path(env["PAITUI_CONFIG_DIR"]).mkdir()
        Path(env["PAITUI_STATE_DIR"]).mkdir()
        yield env


# --- clean-up on signals ------------------------------------------------------------------------


def raise_on_sigterm() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C, so ``finally`` blocks clean up."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGHUP, handler)


# --- stand-in containers --------------------------------------------------------------------------


def standin_script(log_lines_per_s: float = 0.0) -> str:
    """The stand-in's shell: httpd on 8080 serving ``/`` (and optionally a steady log stream)."""
    lines = [
        "trap 'exit 0' TERM",  # PID 1 ignores TERM without a trap; stop would wait 10 s
        "mkdir -p /www && echo ok > /www/index.html",
        "httpd -f -p 8080 -h /www &",
    ]
    if log_lines_per_s > 0:
        pause = 1.0 / log_lines_per_s
        lines.append(
            "(i=0; while :; do i=$((i+1)); "
            'echo "request $i: GET /v1/completions 200 model=stand-in tokens=128 '
            f'latency_ms=42 padding=................................"; sleep {pause:g}; done) &'
        )
    lines.append("wait")
    return "\n".join(lines) + "\n"


def catalog_yaml(app_ids: Sequence[str], image: str = IMAGE) -> str:
    """A catalog describing the stand-ins: HTTP GET / on 8080 is the health check."""
    out = ["apps:"]
    for i, app_id in enumerate(app_ids):
        out.append(f"""  - id: {app_id}
    name: Bench stand-in {i:03d}
    description: busybox httpd stand-in for the benchmarks
    kind: other
    variants:
      cpu: {{image: "{image}"}}
    ports:
      - container: 8080
        purpose: stand-in web UI
        links:
          - {{label: Web UI, path: /, kind: ui}}
    health:
      path: /
      ready: {{status: [200]}}
      start_period_s: 60""")
    return "\n".join(out) + "\n"


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandIns:
    """N managed stand-in containers and their catalog file; removes them all on exit."""

    def __init__(
        self,
        count: int,
        *,
        run: bool = True,
        log_lines_per_s: float = 0.0,
        prefix: str = "bench",
        workers: int = 8,
        docker_host: str | None = None,
    ) -> None:
        import docker

        self.docker_host = docker_host
        self.run_id = f"{prefix}{uuid.uuid4().hex[:6]}"
        self.count = count
        self.run = run
        self.log_lines_per_s = log_lines_per_s
        self.workers = workers
        self.client = (
            docker.DockerClient(base_url=docker_host, timeout=120)
            if docker_host
            else docker.from_env(timeout=120)
        )
        self.app_ids = [f"{self.run_id}-{i:03d}" for i in range(count)]
        self._tmp = tempfile.TemporaryDirectory(prefix="paitui-bench-cat-")
        self.catalog = Path(self._tmp.name) / f"{self.run_id}.yml"
        self.catalog.write_text(catalog_yaml(self.app_ids), encoding="utf-8")
        self.containers: dict[str, Any] = {}

    def _create(self, app_id: str) -> Any:
        # Host ports are picked here: two engines (a private one next to the machine's) would
        # each hand out the same ports from their own counters.
        for attempt in range(8):
            try:
                return self._create_on(app_id, free_port())
            except Exception as exc:
                if "address already in use" not in str(exc) or attempt == 7:
                    raise
                with contextlib.suppress(Exception):
                    self.client.containers.get(f"paitui-{app_id}").remove(force=True)
        raise AssertionError("unreachable")

    def _create_on(self, app_id: str, port: int) -> Any:
        kwargs: dict[str, Any] = dict(
            image=IMAGE,
            command=["sh", "-c", standin_script(self.log_lines_per_s)],
            name=f"paitui-{app_id}",
            labels={
                "paitui.managed": "true",
                "paitui.app": app_id,
                "paitui.variant": "cpu",
                BENCH_LABEL: self.run_id,
            },
            ports={"8080/tcp": ("127.0.0.1", port)},
            detach=True,
        )
        if self.run:
            return self.client.containers.run(**kwargs)
        kwargs.pop("detach")
        return self.client.containers.create(**kwargs)

    def up(self) -> StandIns:
        """Create (and start) every stand-in, in parallel."""
        if self.count:
            with ThreadPoolExecutor(self.workers) as pool:
                created = list(pool.map(self._create, self.app_ids))
            self.containers = dict(zip(self.app_ids, created, strict=True))
        return self

    def host_port(self, app_id: str) -> int:
        container = self.containers[app_id]
        container.reload()
        return int(container.ports["8080/tcp"][0]["HostPort"])

    def wait_serving(self, timeout: float = 120.0) -> None:
        """Wait until every stand-in answers GET / (so "all ready" is true before measuring)."""
        import urllib.request

        pending = set(self.app_ids)
        ports = {a: self.host_port(a) for a in pending}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for app_id in list(pending):
                url = f"http://127.0.0.1:{ports[app_id]}/"
                with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        pending.discard(app_id)
            if pending:
                time.sleep(0.1)
        if pending:
            raise RuntimeError(f"{len(pending)} stand-ins never answered on 8080")

    def down(self) -> None:
        """Remove every container of this run (by its label, so nothing else is touched)."""
        label: dict[str, str | list[str] | bool] = {"label": f"{BENCH_LABEL}={self.run_id}"}

        def remove(c: Any) -> None:
            with contextlib.suppress(Exception):
                c.remove(force=True)

        for _ in range(3):
            try:
                found = self.client.containers.list(all=True, filters=label)
            except Exception as exc:  # retried, then reported
                print(f"clean-up: listing failed ({exc}); retrying", file=sys.stderr)
                time.sleep(1)
                continue
            if not found:
                break
            with ThreadPoolExecutor(self.workers) as pool:
                list(pool.map(remove, found))
        else:
            print(
                f"clean-up incomplete: remove containers labelled {BENCH_LABEL}={self.run_id}",
                file=sys.stderr,
            )
        self._tmp.cleanup()

    def __enter__(self) -> StandIns:
        try:
            return self.up()
        except BaseException:
            self.down()
            raise

    def __exit__(self, *_: object) -> None:
        self.down()


class ForeignEvents:
    """Counts engine events of managed containers that are not this run's (others' tests).

    paitui follows every container labelled ``paitui.managed=true`` on the engine, so while
    other people's tests start and stop such containers, paitui (rightly) redraws: a figure
    taken during such events is not an idle figure. The count says how clean a window was.
    """

    def __init__(self, run_id: str, docker_host: str | None = None) -> None:
        import docker

        self.run_id = run_id
        self.client = (
            docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
        )
        self.count = 0
        self._stream: Any = None
        self._thread = threading.Thread(target=self._pump, daemon=True)

    def _pump(self) -> None:
        with contextlib.suppress(Exception):
            for event in self._stream:
                attrs = (event.get("Actor") or {}).get("Attributes") or {}
                if attrs.get(BENCH_LABEL) != self.run_id:
                    self.count += 1

    def reset(self) -> int:
        """The count so far, then start again from zero."""
        count, self.count = self.count, 0
        return count

    def __enter__(self) -> ForeignEvents:
        self._stream = self.client.events(
            decode=True, filters={"type": "container", "label": "paitui.managed=true"}
        )
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


# --- a private engine ---------------------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _ppid(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(raw[raw.rindex(")") + 2 :].split()[1])


class PrivateEngine:
    """A dockerd of the benchmark's own (own socket, bridge, data dir and containerd).

    paitui follows every managed container on its engine; on a shared engine other people's
    tests start and stop such containers all the time, and paitui rightly redraws for each, so
    idle figures taken there measure their activity. A private engine holds only the stand-ins.
    Its processes are found by their command lines (its root dir) and parentage.
    """

    def __init__(self, image: str = IMAGE) -> None:
        sys.path.insert(0, str(REPO))
        from tests.engine.second_dockerd import SecondDockerd

        self.daemon = SecondDockerd()
        try:
            self.daemon.start()
            import docker

            client = docker.DockerClient(base_url=self.host, timeout=120)
            client.images.pull(image)
            client.close()
        except BaseException:
            self.daemon.close()
            raise

    @property
    def host(self) -> str:
        return self.daemon.host

    def pids(self) -> dict[str, list[int]]:
        """dockerd, its containerd, the shims and docker-proxy processes of this engine."""
        assert self.daemon.proc is not None
        root = str(self.daemon.root)
        dockerd = self.daemon.proc.pid
        found: dict[str, list[int]] = {n: [] for n in ENGINE_COMMS}
        found["dockerd"].append(dockerd)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            name = comm(pid)
            if name.startswith("containerd-shim"):
                if root in _cmdline(pid):
                    found["containerd-shim"].append(pid)
            elif name == "containerd" and _ppid(pid) == dockerd:
                found["containerd"].append(pid)
            elif name == "docker-proxy" and _ppid(pid) == dockerd:
                found["docker-proxy"].append(pid)
        return found

    def close(self) -> None:
        self.daemon.close()

    def __enter__(self) -> PrivateEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


@contextlib.contextmanager
def engine_for(private: bool) -> Iterator[tuple[str | None, Callable[[], dict[str, list[int]]]]]:
    """(DOCKER_HOST or None, the engine's process groups): private or the machine's engine."""
    if not private:
        yield None, engine_pids
        return
    with PrivateEngine() as engine:
        yield engine.host, engine.pids
