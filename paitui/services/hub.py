"""Talk to the Hugging Face Hub (or a mirror at ``HF_ENDPOINT``): search repos, list a repo's files.

Built on huggingface_hub's ``HfApi``. Every hub error becomes a ``HubError`` with a readable
message (repo not found, gated, offline, unreachable); the token is sent to the hub but never put
into a message, a log line or a repr.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from paitui.domain.models import ModelSearchResult, RepoFile, RepoInfo, check_repo_id

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Search filters the UI and CLI offer, mapped to hub tags.
FORMAT_FILTERS = ("gguf", "diffusers", "safetensors")
SearchSort = Literal["downloads", "likes"]

_TRUE = {"1", "on", "yes", "true"}


class HubError(Exception):
    """A hub request failed; ``str()`` is a one-line message with the fix when there is one."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        #: "not-found", "gated", "offline", "connection", "revision", "entry" or "error".
        self.kind = kind


@dataclass(frozen=True)
class HubConfig:
    """Where the hub is and how to authenticate; built from the environment by ``from_env``."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    offline: bool = False
    timeout: float = 20.0

    def __repr__(self) -> str:  # the token never shows up in a repr, a log or a traceback
        token = "set" if self.token else "none"
        return f"HubConfig(endpoint={self.endpoint!r}, token={token}, offline={self.offline})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubConfig:
        """From ``HF_ENDPOINT``, ``HF_TOKEN`` (else the stored token) and ``HF_HUB_OFFLINE``."""
        env = os.environ if env is None else env
        endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        token = env.get("HF_TOKEN") or None
        if token is None:
            token = _stored_token(env)
        offline = (env.get("HF_HUB_OFFLINE") or "").strip().lower() in _TRUE
        return cls(endpoint=endpoint, token=token, offline=offline)

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for hub requests (empty without a token)."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def resolve_url(self, repo_id: str, revision: str, path: str) -> str:
        """``{endpoint}/{repo}/resolve/{revision}/{path}``: where a file's bytes are."""
        return (
            f"{self.endpoint}/{repo_id}/resolve/{quote(revision, safe='')}/{quote(path, safe='/')}"
        )


def _stored_token(env: Mapping[str, str]) -> str | None:
    """The token huggingface_hub stored (``$HF_HOME/token``), read without logging it."""
    home = env.get("HF_HOME") or os.path.join(
        env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    path = env.get("HF_TOKEN_PATH") or os.path.join(home, "token")
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
    except OSError:
        return None
    return token or None


class HubService:
    """Search and repo info over huggingface_hub's HfApi, with readable errors."""

    def __init__(self, config: HubConfig | None = None) -> None:
        self.config = config or HubConfig.from_env()

    def _api(self) -> Any:
        from huggingface_hub import HfApi

        # token=False stops HfApi from looking for a token on its own when we have none.
        return HfApi(endpoint=self.config.endpoint, token=self.config.token or False)

    def _check_online(self) -> None:
        if self.config.offline:
            raise HubError(
                "offline: HF_HUB_OFFLINE is set, so paitui does not contact the hub "
                "(unset it to search and download)",
                kind="offline",
            )

    def search(
        self,
        query: str,
        *,
        formats: Sequence[str] = (),
        sort: SearchSort = "downloads",
        limit: int = 50,
    ) -> list[ModelSearchResult]:
        """Repos matching ``query``, filtered by format tags, most downloaded (or liked) first."""
        self._check_online()
        for fmt in formats:
            if fmt not in FORMAT_FILTERS:
                known = ", ".join(FORMAT_FILTERS)
                raise HubError(f"unknown format filter {fmt!r}: use one of {known}")
        api = self._api()
        try:
            found = api.list_models(
                search=query or None,
                filter=list(formats) or None,
                sort=sort,
                limit=limit,
                expand=[
                    "downloads",
                    "likes",
                    "tags",
                    "pipeline_tag",
                    "library_name",
                    "gated",
                    "usedStorage",
                    "lastModified",
                ],
            )
            items = list(found)
        except Exception as exc:
            raise hub_error(exc, what="search the hub") from None
        results = [
            ModelSearchResult(
                repo_id=m.id,
                downloads=int(m.downloads or 0),
                likes=int(m.likes or 0),
                tags=tuple(m.tags or ()),
                pipeline_tag=m.pipeline_tag,
                library=m.library_name,
                gated=bool(m.gated),
                size=getattr(m, "used_storage", None),
                last_modified=m.last_modified.isoformat() if m.last_modified else None,
            )
            for m in items
        ]
        key = (lambda r: r.likes) if sort == "likes" else (lambda r: r.downloads)
        return sorted(results, key=key, reverse=True)

    def repo_info(self, repo_id: str, revision: str | None = None) -> RepoInfo:
        """A repo at ``revision`` (default: main) with every file's size, blob id and LFS sha256."""
        self._check_online()
        try:
            check_repo_id(repo_id)
        except ValueError as exc:
            raise HubError(str(exc), kind="not-found") from None
        api = self._api()
        try:
            info = api.model_info(repo_id, revision=revision, files_metadata=True)
        except Exception as exc:
            what = f"read {repo_id}"
            raise hub_error(exc, what=what, repo_id=repo_id, revision=revision) from None
        files = tuple(
            RepoFile(
                path=s.rfilename,
                size=(s.lfs.size if s.lfs else s.size),
                blob_id=s.blob_id,
                sha256=(s.lfs.sha256 if s.lfs else None),
            )
            for s in (info.siblings or ())
        )
        if not info.sha:
            raise HubError(f"the hub gave no commit for {repo_id}", kind="error")
        return RepoInfo(
            repo_id=info.id,
            commit=info.sha,
            files=files,
            gated=bool(info.gated),
            private=bool(info.private),
            tags=tuple(info.tags or ()),
            downloads=int(info.downloads or 0),
            likes=int(info.likes or 0),
        )


def hub_error(
    exc: BaseException,
    *,
    what: str,
    repo_id: str | None = None,
    revision: str | None = None,
) -> HubError:
    """Turn a huggingface_hub / httpx exception into a readable ``HubError``."""
    import httpx
    from huggingface_hub import errors

    repo = repo_id or "the repo"
    if isinstance(exc, errors.GatedRepoError):
        return HubError(
            f"{repo} is gated: accept its terms on the hub page and set HF_TOKEN "
            "(or run `hf auth login`)",
            kind="gated",
        )
    if isinstance(exc, errors.RepositoryNotFoundError):
        return HubError(
            f"{repo} was not found on the hub (check the name; for a private repo set HF_TOKEN)",
            kind="not-found",
        )
    if isinstance(exc, errors.RevisionNotFoundError):
        return HubError(f"{repo} has no revision {revision or 'main'!r}", kind="revision")
    if isinstance(exc, errors.EntryNotFoundError):
        return HubError(f"{repo}: file not found at that revision", kind="entry")
    if isinstance(exc, errors.OfflineModeIsEnabled):
        return HubError(
            "offline: HF_HUB_OFFLINE is set (unset it to contact the hub)", kind="offline"
        )
    # huggingface_hub 2.x talks through its own copy of httpx ("httpx2"): match by class name.
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, httpx.TimeoutException) or "TimeoutException" in names:
        return HubError(f"cannot {what}: the hub did not answer in time", kind="connection")
    if isinstance(exc, httpx.TransportError | ConnectionError) or "TransportError" in names:
        return HubError(f"cannot {what}: the hub is unreachable ({_short(exc)})", kind="connection")
    if isinstance(exc, errors.HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else "?"
        return HubError(f"cannot {what}: the hub answered HTTP {status}", kind="error")
    return HubError(f"cannot {what}: {_short(exc)}", kind="error")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
