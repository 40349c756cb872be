"""The app's top-level sections: mode name, screen class, key and title. Pure constants."""

from __future__ import annotations

from typing import NamedTuple


class Section(NamedTuple):
    """One top-level section, reachable with one key from anywhere."""

    mode: str
    module: str
    cls: str
    key: str
    title: str
    #: One line on what it holds (shown while a section is unavailable).
    promise: str


SECTIONS: tuple[Section, ...] = (
    Section(
        "home",
        "paitui.ui.screens.home",
        "HomeScreen",
        "1",
        "Desktop",
        "tiles of the apps this box can run, running services and notifications.",
    ),
    Section(
        "hardware",
        "paitui.ui.screens.hardware",
        "HardwareScreen",
        "2",
        "Hardware",
        "every GPU, driver, device node and permission, with fixes for what is wrong.",
    ),
    Section(
        "catalog",
        "paitui.ui.screens.catalog",
        "CatalogScreen",
        "3",
        "Catalog",
        "every app with its variants, ports, mounts and software stack.",
    ),
    Section(
        "models",
        "paitui.ui.screens.models",
        "ModelsScreen",
        "4",
        "Models",
        "search the Hugging Face Hub, download into the shared store, and the library.",
    ),
    Section(
        "running",
        "paitui.ui.screens.running",
        "RunningScreen",
        "5",
        "Running",
        "managed containers with live state, links, logs and stats.",
    ),
)

#: Keys the app itself answers on every screen (sections, help, quit): typing into a list to
#: start a search must leave them alone.
APP_KEYS: frozenset[str] = frozenset({"q", "?", *(s.key for s in SECTIONS)})
