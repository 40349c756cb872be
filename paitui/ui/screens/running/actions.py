"""The Running screen's keys on the selected app: start/stop, restart, remove, open and copy links.

Lifecycle calls go through :func:`paitui.ui.fleet_actions.run_fleet_action`, so each one is a
named worker and a failure says "Could not stop llama" with the engine's reason.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

from paitui.domain.fleet.hosts import HostState, host_links
from paitui.domain.fleet.links import AppLinks, app_links, can_open_browser, over_ssh
from paitui.domain.fleet.status import AppState, AppStatus
from paitui.ui.fleet_actions import run_fleet_action
from paitui.ui.host import host_of
from paitui.ui.screens.confirm import ConfirmDialog
from paitui.ui.screens.running.cells import STOPPABLE

if TYPE_CHECKING:
    from paitui.domain.catalog.schema import App
    from paitui.services.fleet.hosts import MultiFleet
    from paitui.services.fleet.tracker import Fleet


class AppActions(Screen[None]):
    """What the keys do to the selected app; the Running screen adds the table it selects in."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "start_stop", "Start/Stop"),
        Binding("R", "restart", "Restart", key_display="R"),
        Binding("l", "logs", "Logs"),
        Binding("o", "open_link", "Open"),
        Binding("c", "copy_link", "Copy"),
        Binding("t", "copy_tunnel", "Tunnel"),
        Binding("d", "remove", "Remove"),
    ]

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__()
        #: The environment links are made for (SSH or not, display or not).
        self.env = env
        self.fleet: Fleet | None = None
        #: Rows by key: the app id on this host, ``app@host`` on another (several hosts).
        self.statuses: dict[str, AppStatus] = {}
        self.selected: str | None = None
        #: Several hosts followed: the fleet across them, each row's host and each host's state.
        self.multi: MultiFleet | None = None
        self.current_host: str | None = None
        self.hosts_of: dict[str, str] = {}
        self.host_states: dict[str, HostState] = {}

    def row_key(self, host: str | None, app_id: str) -> str:
        """A row's key: the app id here (as with one host), ``app@host`` on another host."""
        return app_id if host is None or host == self.current_host else f"{app_id}@{host}"

    def is_local(self, key: str) -> bool:
        """Whether the row's app runs on the engine paitui uses by default."""
        host = self.hosts_of.get(key)
        return host is None or host == self.current_host

    def fleet_of(self, key: str) -> Fleet | None:
        """The fleet of the row's host (stop, restart, logs go there)."""
        host = self.hosts_of.get(key)
        if self.multi is not None and host is not None:
            return self.multi.fleet(host)
        return self.fleet

    def _app(self, app_id: str) -> App | None:
        if self.fleet is not None:
            return self.fleet.app(app_id)
        catalog = host_of(self).catalog
        return catalog.apps.get(app_id) if catalog is not None else None

    def links_of(self, status: AppStatus, key: str | None = None) -> AppLinks:
        """The links of an app as this session can use them (on another host: with the
        ``ssh -L`` line for that box)."""
        host = self.hosts_of.get(key or self.selected or "")
        if self.multi is not None and host is not None and host in self.multi.members:
            spec = self.multi.members[host].spec
            return host_links(
                self._app(status.app_id), status.ports, spec, self.env, socket.gethostname()
            )
        return app_links(
            self._app(status.app_id), status.ports, self.env, hostname=socket.gethostname()
        )

    def _current(self) -> AppStatus | None:
        status = self.statuses.get(self.selected or "")
        if status is None:
            self.notify("No app selected.", severity="warning")
        return status

    def action_start_stop(self) -> None:
        """Stop a running app; start a stopped one again."""
        status = self._current()
        fleet = self.fleet_of(self.selected or "")
        if status is None or fleet is None:
            return
        app_id = status.app_id
        if status.state in STOPPABLE:
            run_fleet_action(
                self, f"stop {app_id}", fleet.stop(app_id), announce=f"Stopping {app_id}…"
            )
        elif status.state in (AppState.EXITED, AppState.CRASHED):
            run_fleet_action(
                self, f"start {app_id}", fleet.start_stopped(app_id), announce=f"Starting {app_id}…"
            )
        elif fleet.engine_away or status.state == AppState.UNKNOWN:
            self.notify("The Docker engine is away; try again when it is back.", severity="warning")
        else:
            self.notify(f"{app_id} is {status.state}; wait a moment.")

    def action_restart(self) -> None:
        """Restart the selected app's container."""
        status = self._current()
        fleet = self.fleet_of(self.selected or "")
        if status is not None and fleet is not None:
            app_id = status.app_id
            run_fleet_action(
                self,
                f"restart {app_id}",
                fleet.restart(app_id),
                announce=f"Restarting {app_id}…",
            )

    def _primary_url(self, status: AppStatus) -> str | None:
        link = self.links_of(status).primary
        if link is None:
            self.notify(f"{status.app_id} publishes no port.", severity="warning")
            return None
        return link.url

    def action_open_link(self) -> None:
        """Open the app's main link in the local browser, when there is a display."""
        status = self._current()
        if status is None:
            return
        url = self._primary_url(status)
        if url is None:
            return
        if can_open_browser(self.env):
            self.app.open_url(url)
            self.notify(f"Opening {url}")
        elif over_ssh(self.env):
            tunnel = self.links_of(status).ssh_tunnel
            self.notify(
                f"No browser over SSH. On your laptop run:\n{tunnel}\nthen open {url}",
                title="Open",
                timeout=12,
            )
        else:
            self.notify(
                f"No display to open a browser on; the link is {url} (c copies it).",
                title="Open",
                timeout=8,
            )

    def action_copy_link(self) -> None:
        """Copy the app's main link (OSC 52)."""
        status = self._current()
        if status is None:
            return
        url = self._primary_url(status)
        if url is not None:
            self.app.copy_to_clipboard(url)
            self.notify(f"Copied {url}")

    def action_copy_tunnel(self) -> None:
        """Copy the ``ssh -L`` command to run on the laptop."""
        status = self._current()
        if status is None:
            return
        tunnel = self.links_of(status).ssh_tunnel
        if tunnel is None:
            self.notify("Not over SSH: the links work here as they are.")
            return
        self.app.copy_to_clipboard(tunnel)
        self.notify(f"Copied: {tunnel}")

    def action_remove(self) -> None:
        """Remove the selected app's container, asking first (and again for its data)."""
        status = self._current()
        if status is not None and self.selected is not None:
            # A worker: the confirmations wait for answers (push_screen_wait).
            run_fleet_action(self, f"remove {status.app_id}", self._remove_flow(self.selected))

    async def _remove_flow(self, key: str) -> None:
        fleet = self.fleet_of(key)
        status = self.statuses.get(key)
        if fleet is None or status is None:
            return
        app_id = status.app_id
        if status.container_id is None:
            await fleet.remove(app_id)  # a failed launch: no container, nothing to lose
            return
        yes = await self.app.push_screen_wait(
            ConfirmDialog(
                f"Remove {app_id}?",
                "The container is stopped and removed. The app's data dir is kept.",
                "Remove",
            )
        )
        if not yes:
            return
        delete_data = False
        data_dir = fleet.settings.apps_dir / app_id
        # Another host's data dir is on that box: paitui cannot see it from here.
        if self.is_local(key) and data_dir.is_dir():
            delete_data = await self.app.push_screen_wait(
                ConfirmDialog(
                    f"Also delete the data of {app_id}?",
                    f"{data_dir} and everything in it will be deleted. This cannot be undone.",
                    "Delete data",
                    danger=True,
                )
            )
        await fleet.remove(app_id, delete_data=delete_data)
        self.notify(f"Removed {app_id}" + (" and its data" if delete_data else ""))
