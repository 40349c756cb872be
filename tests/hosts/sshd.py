"""A real OpenSSH server on a loopback port with key auth, and a $HOME whose ~/.ssh points a
paramiko client at it; the test can kill it (with every session it serves) and start it again."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (sshd's per-connection children call setsid, so a process
    group kill misses them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class SshBox:
    """``sshd -D`` on 127.0.0.1:PORT for root with a key made here; ``home`` has the client side."""

    def __init__(
        self, session_env: dict[str, str] | None = None, user_env: dict[str, str] | None = None
    ) -> None:
        """``session_env``: sshd's SetEnv; ``user_env``: the key's ``environment=`` options,
        which sshd applies after its own PATH (the way to put a command on a session's PATH)."""
        if shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists():
            raise RuntimeError("sshd is needed: scripts/test-env.sh up installs openssh-server")
        self.root = Path(tempfile.mkdtemp(prefix="pssh-", dir="/tmp"))
        self.home = self.root / "home"
        ssh_dir = self.home / ".ssh"
        ssh_dir.mkdir(parents=True, mode=0o700)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.root / "sshd.log"
        keygen = ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f"]
        subprocess.run([*keygen, str(self.root / "host_key")], check=True, timeout=30)
        subprocess.run([*keygen, str(ssh_dir / "id_ed25519")], check=True, timeout=30)
        options = ",".join(f'environment="{k}={v}"' for k, v in (user_env or {}).items())
        public = (ssh_dir / "id_ed25519.pub").read_text()
        (self.root / "authorized_keys").write_text(f"{options} {public}" if options else public)
        # The session's HOME is the test's own: root's real ~/.bashrc (which bash reads for an
        # ssh command) stays out, and so does any ~/.docker there.
        (self.root / "session-home").mkdir()
        env = {"HOME": str(self.root / "session-home"), **(session_env or {})}
        # One SetEnv line: sshd keeps only the first SetEnv directive it reads.
        env_lines = "SetEnv " + " ".join(f'{k}="{v}"' for k, v in env.items()) + "\n"
        (self.root / "sshd_config").write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.root / 'host_key'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\nStrictModes no\nUsePAM no\n"
            f"PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
            f"PidFile {self.root / 'sshd.pid'}\n{env_lines}"
            + ("PermitUserEnvironment yes\n" if user_env else "")
        )
        (ssh_dir / "config").write_text(
            f"Host 127.0.0.1\n  Port {self.port}\n  User root\n"
            f"  IdentityFile {ssh_dir / 'id_ed25519'}\n"
        )
        self.start()
        keys = subprocess.run(
            ["ssh-keyscan", "-p", str(self.port), "127.0.0.1"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        (ssh_dir / "known_hosts").write_text(keys)

    @property
    def endpoint(self) -> str:
        return f"ssh://root@127.0.0.1:{self.port}"

    def alias(self, name: str) -> str:
        """An ``ssh://root@NAME`` endpoint that ~/.ssh/config maps to this sshd: to paitui the
        box is another machine (not loopback), as a real remote is."""
        ssh_dir = self.home / ".ssh"
        with (ssh_dir / "config").open("a") as config:
            config.write(
                f"Host {name}\n  HostName 127.0.0.1\n  Port {self.port}\n  User root\n"
                f"  IdentityFile {ssh_dir / 'id_ed25519'}\n"
            )
        # The port in the URL too: the docker SDK takes it from there, not from the config.
        return f"ssh://root@{name}:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start sshd and wait until it accepts connections."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(self.root / "sshd_config")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()[-2000:]}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn,
            ):
                if conn.recv(4).startswith(b"SSH-"):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("sshd did not answer in time")
            time.sleep(0.05)

    def kill(self) -> None:
        """The box drops off: sshd and every session it serves are killed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for pid in [*_descendants(self.proc.pid), self.proc.pid]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)
