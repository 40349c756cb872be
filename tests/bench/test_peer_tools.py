"""The peer benchmark's pane checks and summaries (bench/peer.py, bench/profile_paitui.py).

A wrong "listed" check would time the wrong moment (a catalog tile is not a managed app; a table
header is not a row), and a summary that counted waiting threads would blame idle CPU on a
``select``; both are pure functions of text, tested on text shaped like the real panes.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The benchmarks are scripts beside each other (``from common import``), not a package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from peer import (
    Client,
    paitui_desktop_listed,
    paitui_running_listed,
    peer_first_frame,
    peer_listed,
    spread,
    table,
)
from profile_paitui import summarise

FOOTER = " 1 Desktop  2 Hardware  3 Catalog  4 Models  5 Running      ^p palette  q Quit"


def desktop(tile_line: str) -> str:
    return "\n".join([FOOTER, "╭──────────────╮", tile_line, "╰──────────────╯", FOOTER])


def test_desktop_listed_needs_a_state_on_a_tile() -> None:
    assert not paitui_desktop_listed(desktop("│ Bench stand-in 000 │"))  # catalog only
    assert paitui_desktop_listed(desktop("│ Bench stand-in 000 · ready │"))
    assert paitui_desktop_listed(desktop("│ ● Bench stand-in 003 · running │"))
    # A state word elsewhere (the taskbar's "no apps running") is not a listed app.
    assert not paitui_desktop_listed(desktop("│ Bench stand-in 000 │ no apps running"))
    # Without the first frame's footer the pane is not paitui's yet.
    assert not paitui_desktop_listed("Bench stand-in 000 · ready")


def test_running_listed_needs_a_row_not_the_header() -> None:
    header = " App                Variant  State    Uptime   Ports   CPU   Memory"
    assert not paitui_running_listed(header)
    assert not paitui_running_listed(header + "\n No apps are running.")
    assert paitui_running_listed(header + "\n Bench stand-in 000  cpu  ● ready  5m  :8080")
    # A Desktop tile with a state is not the Running screen.
    assert not paitui_running_listed(desktop("│ Bench stand-in 000 · ready │"))


def test_peer_checks() -> None:
    frame = "╭─Project─╮\n╭─Containers─╮\n╭─Images─╮"
    assert peer_first_frame(frame)
    assert not peer_first_frame("╭─Project─╮")
    listed = peer_listed("bpeerab12cd")
    assert not listed(frame)
    assert listed(frame + "\n│ running paitui-bpeerab12cd-000 │")
    assert not listed(frame + "\n│ running paitui-bpeerzz99zz-000 │")  # another run's


def test_spread_is_median_with_range() -> None:
    assert spread([0.3, 0.1, 0.2], 1000, 0) == "200 (100–300)"
    assert spread([1.0, 2.0, 3.0, 10.0]) == "2.50 (1.00–10.00)"
    assert spread([]) == "–"
    assert spread(None) == "–"


def test_table_puts_the_peer_first_and_fills_missing_rows() -> None:
    ours = Client("paitui", lambda _c: [], {}, lambda _t: True, lambda *_: lambda _t: True, ())
    theirs = Client("peer", lambda _c: [], {}, lambda _t: True, lambda *_: lambda _t: True, ())
    for v in (0.5, 0.7, 0.6):
        ours.add("first frame", v)
    theirs.add("first frame", 0.09)
    ours.add("first frame", None)  # a timeout adds nothing
    out = table(ours, theirs).splitlines()
    assert out[0] == "| figure (median (min–max)) | lazydocker | paitui |"
    row = next(line for line in out if line.startswith("| launch → first frame"))
    assert row == "| launch → first frame (ms) | 90 (90–90) | 600 (500–700) |"
    idle = next(line for line in out if "idle CPU client, Running" in line)
    assert idle.endswith("| – | – |")
    alone = table(ours, None).splitlines()
    assert alone[0] == "| figure (median (min–max)) | paitui |"


def test_summarise_leaves_waiting_threads_out(tmp_path: Path) -> None:
    raw = tmp_path / "p.raw"
    main = "thread (1): MainThread;run_ui (paitui/cli/common.py:37);App.run (textual/app.py:10)"
    raw.write_text(
        f"{main};Compositor.render (textual/_compositor.py:5) 30\n"
        f"{main};RunningScreen._tick (paitui/ui/screens/running.py:362) 10\n"
        "thread (2): textual-input;LinuxDriver.run (textual/drivers/linux_driver.py:458);"
        "SelectSelector.select (selectors.py:323) 60\n"
        "garbage line without a count\n"
    )
    text = summarise(raw, "t")
    assert "100 samples, 60 of them waiting (left out), 40 busy" in text
    assert "textual-input" not in text  # its only samples were waiting
    assert "30  75.0 %  textual" in text  # shares are of the busy samples
    assert "10  25.0 %  RunningScreen._tick (ui/screens/running.py:362)" in text
    assert "40 100.0 %  run_ui (cli/common.py:37)" in text
