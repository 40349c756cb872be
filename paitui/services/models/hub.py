"""Talk to the Hugging Face Hub (or a mirror at ``HF_ENDPOINT``): search repos, list a repo's files.

Built on huggingface_hub's ``HfApi``. Every hub error becomes a ``HubError`` with a readable
message (repo not found, gated, offline, unreachable); the token is sent to the hub but never put
into a message, a log line or a repr. Rate limits (429) and server errors (5xx) are retried with
backoff, bounded by ``RetryPolicy``. What the hub answers is not trusted: a repo id other than the
one asked for is refused, and file names that are unsafe as paths are left out (``skipped``).
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import quote

if TYPE_CHECKING:
    from huggingface_hub import HfApi

from paitui.domain.models.records import (
    TRANSIENT_STATUS,
    ModelSearchResult,
    RepoFile,
    RepoInfo,
    RetryPolicy,
    UnsafePathError,
    check_repo_id,
    parse_retry_after,
    split_safe_files,
)

T = TypeVar("T")
#: Called with a one-line notice before each retry ("the hub is busy (HTTP 503), retrying in 2s").
RetryNotice = Callable[[str], None]
#: A git commit id as the hub gives it (sha1 today; room for sha256).
_COMMIT = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")

DEFAULT_ENDPOINT = "https://huggingface.co"
#: Search filters the UI and CLI offer, mapped to hub tags.
FORMAT_FILTERS = ("gguf", "diffusers", "safetensors")
SearchSort = Literal["downloads", "likes"]

_TRUE = {"1", "on", "yes", "true"}


class HubError(Exception):
    """A hub request failed; ``str()`` is a one-line message with the fix when there is one."""

    def __init__(self, message: str, *, kind: str = "error") -> None:
        super().__init__(message)
        #: "not-found", "gated", "auth", "busy", "offline", "connection", "revision", "entry",
        #: "mismatch" or "error".
        self.kind = kind


@dataclass(frozen=True)
class HubConfig:
    """Where the hub is and how to authenticate; built from the environment by ``from_env``."""

    endpoint: str = DEFAULT_ENDPOINT
    token: str | None = None
    offline: bool = False
    timeout: float = 20.0
    #: How API calls and downloads retry 429 and 5xx answers.
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __repr__(self) -> str:  # the token never shows up in a repr, a log or a traceback
        token = "set" if self.token else "none"
        return f"HubConfig(endpoint={self.endpoint!r}, token={token}, offline={self.offline})"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HubConfig:
        """From ``HF_ENDPOINT``, ``HF_TOKEN`` (else the stored token) and ``HF_HUB_OFFLINE``.

        ``PAITUI_HUB_RETRY_BASE`` (seconds) sets the first retry wait (tests make it tiny).
        """
        env = os.environ if env is None else env
        endpoint = (env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        token = env.get("HF_TOKEN") or None
        if token is None:
            token = _stored_token(env)
        offline = (env.get("HF_HUB_OFFLINE") or "").strip().lower() in _TRUE
        retry = RetryPolicy()
        base = env.get("PAITUI_HUB_RETRY_BASE")
        if base:
            with contextlib.suppress(ValueError):
                retry = RetryPolicy(base=max(0.0, float(base)))
        return cls(endpoint=endpoint, token=token, offline=offline, retry=retry)

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

    def _retrying(
        self,
        call: Callable[[], T],
        *,
        what: str,
        repo_id: str | None = None,
        revision: str | None = None,
        on_retry: RetryNotice | None = None,
        stop: threading.Event | None = None,
    ) -> T:
        """``call()``, retrying 429 and 5xx answers; other errors become a HubError at once."""
        policy = self.config.retry
        started = time.monotonic()
        failures = 0
        while True:
            try:
                return call()
            except Exception as exc:
                status, retry_after = _transient(exc)
                if status is None:
                    raise self._error(exc, what, repo_id, revision) from None
            failures += 1
            wait = policy.delay(failures, retry_after)
            why = policy.gives_up(failures, time.monotonic() - started, wait, retry_after)
            if why is not None:
                raise HubError(busy_message(status, what=what, why=why), kind="busy") from None
            if on_retry is not None:
                on_retry(
                    f"{_busy_reason(status)}, retrying in {wait:.1f}s "
                    f"(try {failures + 1} of {policy.attempts + 1})"
                )
            if stop is not None:
                if stop.wait(wait):
                    raise HubError(f"cannot {what}: cancelled", kind="error")
            else:
                time.sleep(wait)  # the CLI's main thread: Ctrl-C interrupts it

    def _error(
        self, exc: BaseException, what: str, repo_id: str | None, revision: str | None
    ) -> HubError:
        return hub_error(
            exc,
            what=what,
            repo_id=repo_id,
            revision=revision,
            has_token=bool(self.config.token),
            endpoint=self.config.endpoint,
        )

    def _api(self) -> HfApi:
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
        on_retry: RetryNotice | None = None,
        stop: threading.Event | None = None,
    ) -> list[ModelSearchResult]:
        """Repos matching ``query``, filtered by format tags, most downloaded (or liked) first."""
        self._check_online()
        for fmt in formats:
            if fmt not in FORMAT_FILTERS:
                known = ", ".join(FORMAT_FILTERS)
                raise HubError(f"unknown format filter {fmt!r}: use one of {known}")
        api = self._api()

        def call() -> list[Any]:
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
            return list(found)

        items = self._retrying(call, what="search the hub", on_retry=on_retry, stop=stop)
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

    def repo_info(
        self,
        repo_id: str,
        revision: str | None = None,
        *,
        on_retry: RetryNotice | None = None,
        stop: threading.Event | None = None,
    ) -> RepoInfo:
        """A repo at ``revision`` (default: main) with every file's size, blob id and LFS sha256.

        Refuses an answer about another repo; file names unsafe as paths go to ``skipped``.
        """
        self._check_online()
        try:
            check_repo_id(repo_id)
        except ValueError as exc:
            raise HubError(str(exc), kind="not-found") from None
        api = self._api()
        info = self._retrying(
            lambda: api.model_info(repo_id, revision=revision, files_metadata=True),
            what=f"read {repo_id}",
            repo_id=repo_id,
            revision=revision,
            on_retry=on_retry,
            stop=stop,
        )
        answered = str(info.id or "")
        # The hub matches names case-insensitively; anything else is another repo.
        if answered.lower() != repo_id.lower():
            raise HubError(
                f"asked the hub for {repo_id} and it answered for {answered[:100]!r}: refused "
                "(if the repo was renamed, pull it under its new name)",
                kind="mismatch",
            )
        try:
            check_repo_id(answered)
        except UnsafePathError:
            answered = repo_id
        if not info.sha or not _COMMIT.match(str(info.sha)):
            raise HubError(
                f"the hub gave no valid commit for {repo_id} ({str(info.sha)[:50]!r})",
                kind="error",
            )
        every = tuple(
            RepoFile(
                path=s.rfilename,
                size=_size(s.lfs.size if s.lfs else s.size),
                blob_id=s.blob_id,
                sha256=(s.lfs.sha256 if s.lfs else None),
            )
            for s in (info.siblings or ())
            if isinstance(s.rfilename, str)
        )
        files, skipped = split_safe_files(every)
        return RepoInfo(
            repo_id=answered,
            commit=info.sha,
            files=files,
            skipped=skipped,
            gated=bool(info.gated),
            private=bool(info.private),
            tags=tuple(info.tags or ()),
            downloads=int(info.downloads or 0),
            likes=int(info.likes or 0),
            library_name=info.library_name if isinstance(info.library_name, str) else None,
            pipeline_tag=info.pipeline_tag if isinstance(info.pipeline_tag, str) else None,
        )


def _size(value: object) -> int | None:
    """A file size from the hub, or None when it is not a plain non-negative integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _transient(exc: BaseException) -> tuple[int | None, float | None]:
    """The HTTP status of a retryable hub answer (429, 5xx) and its Retry-After, else None."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if not isinstance(status, int) or status not in TRANSIENT_STATUS:
        return None, None
    headers = getattr(response, "headers", None) or {}
    return status, parse_retry_after(headers.get("retry-after"), time.time())


def _busy_reason(status: int | None) -> str:
    if status == 429:
        return "the hub is rate limiting requests (HTTP 429)"
    return f"the hub is busy or failing (HTTP {status})"


def busy_message(status: int | None, *, what: str, why: str) -> str:
    """The message once retrying a 429/5xx is given up: what happened and what to do."""
    if status == 429:
        return (
            f"cannot {what}: the hub is rate limiting requests (HTTP 429; {why}): wait a few "
            "minutes and try again (a token in HF_TOKEN gets higher limits)"
        )
    return (
        f"cannot {what}: the hub answered HTTP {status} ({why}): it is having trouble, "
        "try again in a few minutes"
    )


def auth_message(
    status: int, repo_id: str, *, has_token: bool, endpoint: str = DEFAULT_ENDPOINT
) -> str:
    """What a 401/403 without an error code means, with the fix (token or gated terms)."""
    page = f"{endpoint.rstrip('/')}/{repo_id}"
    if status == 401:
        if has_token:
            return (
                f"{repo_id}: the hub refused the token (HTTP 401): check HF_TOKEN "
                "(or run `hf auth login` again), and that it can read this repo"
            )
        return (
            f"{repo_id} needs a token (HTTP 401): it is private or gated: set HF_TOKEN "
            f"(or run `hf auth login`); for a gated repo accept its terms on {page}"
        )
    if has_token:
        return (
            f"{repo_id}: access denied (HTTP 403): if it is gated, accept its terms on {page}; "
            "check that the token in HF_TOKEN has read access"
        )
    return (
        f"{repo_id}: access denied (HTTP 403): it may be gated or private: accept its terms on "
        f"{page} and set HF_TOKEN (or run `hf auth login`)"
    )


def hub_error(
    exc: BaseException,
    *,
    what: str,
    repo_id: str | None = None,
    revision: str | None = None,
    has_token: bool = False,
    endpoint: str = DEFAULT_ENDPOINT,
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
        hint = (
            "check the name, and that your token can read it"
            if has_token
            else "check the name; for a private or gated repo set HF_TOKEN"
        )
        return HubError(f"{repo} was not found on the hub ({hint})", kind="not-found")
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
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403) and repo_id:
            message = auth_message(status, repo_id, has_token=has_token, endpoint=endpoint)
            return HubError(message, kind="auth")
        if status in (401, 403):
            hint = "check HF_TOKEN" if has_token else "set HF_TOKEN (or run `hf auth login`)"
            return HubError(f"cannot {what}: the hub answered HTTP {status}: {hint}", kind="auth")
        return HubError(f"cannot {what}: the hub answered HTTP {status or '?'}", kind="error")
    return HubError(f"cannot {what}: {_short(exc)}", kind="error")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
