"""Links per published port, the SSH tunnel command, and the all-interfaces warning."""

from __future__ import annotations

from paitui.domain.catalog.schema import App, AppKind, LinkSpec, PortSpec, Variant
from paitui.domain.engine.containers import PublishedPort
from paitui.domain.fleet.links import app_links, can_open_browser, over_ssh, ssh_tunnel_command

SSH = {"SSH_CONNECTION": "10.0.0.7 53122 192.168.1.20 22", "USER": "ana"}


def kobold() -> App:
    return App(
        id="kobold",
        name="KoboldCpp",
        description="d",
        kind=AppKind.LLM,
        variants={"vulkan": Variant(image="img")},
        ports=(
            PortSpec(
                container=5001,
                purpose="UI and APIs",
                links=(
                    LinkSpec(label="Web UI", path="/", kind="ui"),
                    LinkSpec(label="OpenAI API", path="/v1", kind="openai"),
                ),
            ),
        ),
    )


def test_named_links_on_the_published_port() -> None:
    links = app_links(kobold(), [PublishedPort(5001, "tcp", "127.0.0.1", 5002)], env={})
    assert [(x.label, x.url, x.kind) for x in links.links] == [
        ("Web UI", "http://127.0.0.1:5002/", "ui"),
        ("OpenAI API", "http://127.0.0.1:5002/v1", "openai"),
    ]
    assert links.primary is not None and links.primary.label == "Web UI"
    assert links.ssh_tunnel is None and links.warnings == ()


def test_over_ssh_the_exact_tunnel_command() -> None:
    links = app_links(kobold(), [PublishedPort(5001, "tcp", "127.0.0.1", 5002)], env=SSH)
    assert links.ssh_tunnel == "ssh -L 5002:127.0.0.1:5002 ana@192.168.1.20"
    # The link itself stays the one that works on the laptop once the tunnel runs.
    assert links.links[0].url == "http://127.0.0.1:5002/"


def test_tunnel_for_several_ports_and_without_ssh_connection() -> None:
    ports = [PublishedPort(1, "tcp", "127.0.0.1", 8000), PublishedPort(2, "tcp", "127.0.0.1", 8001)]
    assert ssh_tunnel_command(ports, SSH) == (
        "ssh -L 8000:127.0.0.1:8000 -L 8001:127.0.0.1:8001 ana@192.168.1.20"
    )
    assert ssh_tunnel_command(ports, {"SSH_TTY": "/dev/pts/1", "USER": "bo"}, "gpubox") == (
        "ssh -L 8000:127.0.0.1:8000 -L 8001:127.0.0.1:8001 bo@gpubox"
    )
    assert ssh_tunnel_command([], SSH) is None


def test_all_interfaces_warning_and_dedup_of_v4_v6() -> None:
    ports = [PublishedPort(5001, "tcp", "0.0.0.0", 5001), PublishedPort(5001, "tcp", "::", 5001)]
    links = app_links(kobold(), ports, env=SSH)
    assert len(links.links) == 2  # one per named link, not per address family
    assert links.links[0].url == "http://127.0.0.1:5001/"
    assert len(links.warnings) == 1 and "all interfaces" in links.warnings[0]
    assert links.ssh_tunnel == "ssh -L 5001:127.0.0.1:5001 ana@192.168.1.20"


def test_unknown_app_tcp_port_and_ipv6_host() -> None:
    runai = App(
        id="runai",
        name="RunAI",
        description="d",
        kind=AppKind.LLM,
        variants={"cuda": Variant(image="i")},
        ports=(PortSpec(container=50006, purpose="socket", protocol="tcp"),),
    )
    links = app_links(runai, [PublishedPort(50006, "tcp", "127.0.0.1", 50006)], env={})
    assert [(x.url, x.kind) for x in links.links] == [("tcp://127.0.0.1:50006", "tcp")]
    plain = app_links(None, [PublishedPort(80, "tcp", "::1", 8080)], env={})
    assert plain.links[0].url == "http://[::1]:8080/" and plain.links[0].label == "port 80"
    assert app_links(None, [PublishedPort(53, "udp", "0.0.0.0", 53)], env={}).links == ()


def test_browser_only_with_a_display_and_not_over_ssh() -> None:
    assert can_open_browser({"DISPLAY": ":0"})
    assert can_open_browser({"WAYLAND_DISPLAY": "wayland-0"})
    assert not can_open_browser({})
    assert not can_open_browser({"DISPLAY": "localhost:10.0", **SSH})
    assert over_ssh({"SSH_TTY": "/dev/pts/0"}) and not over_ssh({"USER": "x"})
