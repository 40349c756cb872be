"""The command palette (ctrl+p): start, stop and open apps, download a model, switch theme."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from paitui.ui.host import host_of
from paitui.ui.sections import SECTIONS

Command = tuple[str, str, Callable[[], object]]


class PaituiCommands(Provider):
    """Commands built from the catalog, the running apps and the themes."""

    def _commands(self) -> list[Command]:
        app = self.app
        host = host_of(self.screen)
        commands: list[Command] = []
        for s in SECTIONS:
            commands.append((f"Go to {s.title}", f"key {s.key}", partial(app.switch_mode, s.mode)))
        commands.append(
            (
                "Hardware report",
                "GPUs, drivers, permissions and fixes",
                partial(app.switch_mode, "hardware"),
            )
        )
        commands.append(
            ("Download model…", "search the Hugging Face Hub", partial(app.switch_mode, "models"))
        )
        commands.append(
            ("Reload catalog", "read catalog.yml and catalog.d again", host.load_catalog)
        )
        if host.catalog is not None:
            for catalog_app in host.catalog.sorted_apps():
                commands.append(
                    (
                        f"Start {catalog_app.name}",
                        f"launch {catalog_app.id}",
                        partial(host.open_launch, catalog_app.id),
                    )
                )
        for status in host.statuses.values():
            if not status.final:
                name = host.app_name(status.app_id)
                commands.append(
                    (f"Stop {name}", f"stop {status.app_id}", partial(host.stop_app, status.app_id))
                )
                commands.append(
                    (f"Open {name}", "open its link", partial(host.open_app_link, status.app_id))
                )
        for theme in sorted(app.available_themes):
            if theme.startswith("paitui") or theme in host.user_themes:
                commands.append(
                    (
                        f"Switch theme: {theme}",
                        "remembered in config.toml",
                        partial(host.use_theme, theme),
                    )
                )
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
