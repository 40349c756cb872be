"""The Running screen over several hosts: a ``MultiFleet`` when more than one is configured.

Each row is tagged with its host (``hosts_of``); a host that comes or goes updates its rows'
HOST cells and the banner that names the unreachable ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on
from textual.message import Message
from textual.widgets import DataTable, Static

from paitui.domain.fleet.hosts import HostState, show_host_column
from paitui.domain.fleet.status import AppStatus
from paitui.ui.host import host_of
from paitui.ui.screens.running.actions import AppActions
from paitui.ui.screens.running.cells import Cell, host_column_cell

if TYPE_CHECKING:
    from collections.abc import Callable

    from paitui.services.fleet.hosts import MultiFleet
    from paitui.services.fleet.tracker import Fleet


class FollowsHosts(AppActions):
    """Following one host's fleet or all of them; the Running screen supplies the table."""

    @dataclass
    class StatusChanged(Message):
        """The fleet has a new status for an app (``host``: its host, several followed)."""

        status: AppStatus
        host: str | None = None

    @dataclass
    class HostChanged(Message):
        """A host of a multi-host fleet came or went."""

        state: HostState

    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        #: Whether the HOST column is shown (several hosts followed).
        self._show_host = False
        self._unsubscribe: Callable[[], None] | None = None
        self._unsubscribe_engine: Callable[[], None] | None = None

    # What the screen supplies.
    @property
    def table(self) -> DataTable[Cell]:
        raise NotImplementedError

    def _set_cells(self, key: str, cells: dict[str, Cell]) -> None:
        raise NotImplementedError

    def _build_columns(self) -> None:
        raise NotImplementedError

    def _upsert(self, status: AppStatus, host: str | None = None) -> None:
        raise NotImplementedError

    def _update_empty(self) -> None:
        raise NotImplementedError

    def _open_fleets(self) -> tuple[Fleet, MultiFleet | None]:
        """The local fleet, and a MultiFleet when several hosts are configured (in a thread:
        reading the hosts reads the docker contexts and settings)."""
        services = host_of(self).services
        try:
            hosts = services.hosts.hosts
        except Exception:  # context: unreadable contexts/settings; `paitui hosts` says why
            hosts = ()
        if not show_host_column(hosts):
            return services.fleet, None
        from paitui.services.fleet.hosts import MultiFleet

        multi = MultiFleet(hosts, services.catalog, services.settings)
        current = next((h.name for h in hosts if h.current), hosts[0].name)
        return multi.fleet(current), multi

    async def _follow_hosts(self, multi: MultiFleet) -> None:
        """Follow every host: a HOST column, each row tagged with its host."""
        self.multi = multi
        self.current_host = next((h.name for h in multi.hosts if h.current), multi.hosts[0].name)
        self.fleet = multi.fleet(self.current_host)
        self._show_host = True
        self._build_columns()
        self._unsubscribe = multi.subscribe(
            lambda name, status: self.post_message(self.StatusChanged(status, name))
        )
        self._unsubscribe_engine = multi.subscribe_hosts(
            lambda state: self.post_message(self.HostChanged(state))
        )
        for name, status in multi.statuses():
            self._upsert(status, name)
        self._update_empty()
        await multi.start()
        for spec in multi.hosts:
            self._host_changed(self.HostChanged(multi.state(spec.name)))

    @on(HostChanged)
    def _host_changed(self, message: HostChanged) -> None:
        state = message.state
        self.host_states[state.name] = state
        for key, name in self.hosts_of.items():
            if name == state.name and key in self.table.rows:
                self._set_cells(key, {"host": host_column_cell(name, state)})
        # A host that is away may have no rows to mark: the banner names it.
        away = [s for s in self.host_states.values() if s.reachable is False]
        banner = self.query_one("#running-engine", Static)
        if away:
            names = ", ".join(f"{s.name} ({s.message or 'no answer'})" for s in away)
            banner.update(f"⚠ unreachable: {names}; its apps read unknown until it is back")
        banner.set_class(bool(away), "shown")
