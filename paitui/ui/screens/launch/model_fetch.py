"""Getting a model for the launch dialog, off the event loop: Hub search and one download.

Run in the dialog's thread workers; each returns what the dialog shows (offers and a line of
text, or the download's last state), and expected failures (the Hub, the queue) become that
text. Anything else raises, and the worker's failure is shown (``paitui.ui.failures``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from paitui.domain.catalog.schema import App
from paitui.domain.hardware.accel import Accel
from paitui.domain.hardware.report import HardwareReport
from paitui.domain.launch.model_choice import (
    ModelOffer,
    hub_file_offers,
    hub_repo_offers,
    pick_file,
)
from paitui.domain.models.records import Download
from paitui.services.registry import Services
from paitui.ui.screens.launch.request import formats_label

#: Repos of a Hub search whose files are listed (each costs one repo-info request).
SEARCH_REPOS = 5


@dataclass(frozen=True)
class Found:
    """Offers for the picker and the line that says what they are (or why there are none)."""

    offers: list[ModelOffer]
    text: str
    error: bool = False


def find_offers(
    services: Services,
    app: App,
    accel: Accel,
    report: HardwareReport,
    installed: list[tuple[str, str]],
    query: str,
    flt: str | None,
    cancelled: Callable[[], bool],
) -> Found | None:
    """Search, then read the first repos' files (the ones the app reads) for their sizes.

    None when ``cancelled()`` turned true on the way (a newer search replaced this one)."""
    from paitui.services.models.hub import HubError

    try:
        results = services.hub.search(query, formats=[flt] if flt else [], limit=20)
    except HubError as exc:
        return Found([], f"Hub search failed: {exc}", error=True)
    if not results:
        return Found([], f"No Hub repos match {query!r}.")
    if app.needs.hf_repo and not app.needs.model_file:
        offers = hub_repo_offers(accel, report, results[: SEARCH_REPOS * 2])
        return Found(offers, f"{len(offers)} repos from the Hub.")
    infos, failed = [], 0
    for result in results[:SEARCH_REPOS]:
        if cancelled():
            return None
        try:
            infos.append(services.hub.repo_info(result.repo_id))
        except HubError:
            failed += 1
    offers = hub_file_offers(app, accel, report, infos, installed)
    text = f"{len(offers)} files from {len(infos)} Hub repos"
    text += f" ({failed} could not be read)." if failed else "."
    if not offers:
        text = f"The repos matching {query!r} have no {formats_label(app)} files."
    return Found(offers, text)


def fetch_model(
    services: Services, repo: str, pattern: str, progress: Callable[[Download], object]
) -> tuple[Download | None, str | None]:
    """Resolve the file on the Hub, queue it, follow it until it ends.

    Returns the download's last state, or (None, why) when it could not begin."""
    from paitui.services.models.downloads import DownloadError
    from paitui.services.models.hub import HubError

    try:
        info = services.hub.repo_info(repo)
    except HubError as exc:
        return None, f"Could not read {repo} on the Hub: {exc}"
    f = pick_file(pattern, info.files)
    if f is None:
        return None, f"{repo} has no file {pattern} on the Hub."
    manager = services.downloads
    download_id = f"{info.repo_id}/{f.path}"

    def follow(d: Download) -> None:
        if d.id == download_id:
            progress(d)

    manager.add_listener(follow)
    try:
        try:
            queued = manager.enqueue(info.repo_id, info.commit, [f])
        except DownloadError as exc:
            return None, str(exc)
        progress(queued[0])
        manager.wait([download_id])
    finally:
        manager.remove_listener(follow)
    return manager.get(download_id), None
