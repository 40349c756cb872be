"""Building a build-only image (``LaunchPlan.build``) through the engine, with progress.

The docker SDK's low-level ``api.build(..., decode=True)`` streams the daemon's JSON messages:
``stream`` lines (``Step 2/5 : RUN ...`` and the commands' output), ``aux`` (the image id) and
``error``/``errorDetail`` when a step fails.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from paitui.domain.engine.errors import EngineError, ErrorKind, translate
from paitui.domain.launch.plan import ImageBuild

if TYPE_CHECKING:
    import docker

_STEP = re.compile(r"^Step (\d+)/(\d+) :")


@dataclass(frozen=True)
class BuildProgress:
    """One line of a build: the step it is at (when known) and the daemon's text."""

    image: str
    line: str
    step: int | None = None
    steps: int | None = None
    done: bool = False
    image_id: str | None = None


def source_problem(build: ImageBuild) -> str | None:
    """Why ``build`` cannot start here (no such directory, no Dockerfile in it), or None."""
    context = Path(build.context)
    if not context.is_dir():
        return f"the source directory {context} does not exist or is not a directory"
    if not (context / build.dockerfile).is_file():
        return f"{context} holds no {build.dockerfile}: is it the app's checkout?"
    return None


def build_image(
    client: docker.DockerClient,
    build: ImageBuild,
    tag: str,
    on_progress: Callable[[BuildProgress], None] | None = None,
    cancel: threading.Event | None = None,
    host: str = "",
) -> BuildProgress:
    """Build ``tag`` from ``build`` with ``client`` (a DockerClient) in this thread.

    EngineError (with a fix) for a bad source tree, a failing step or a cancel; the image is
    tagged only when every step succeeded, so a failed build leaves the old image in place.
    """
    problem = source_problem(build)
    if problem is not None:
        raise EngineError(
            ErrorKind.IMAGE_NOT_FOUND,
            problem,
            "pass --source DIR: the directory of the app's checkout that holds its Dockerfile",
        )
    step: int | None = None
    steps: int | None = None
    image_id: str | None = None
    try:
        stream = client.api.build(
            path=build.context,
            dockerfile=build.dockerfile,
            tag=tag,
            rm=True,
            forcerm=True,
            decode=True,
        )
        for msg in stream:
            if cancel is not None and cancel.is_set():
                raise EngineError(ErrorKind.CANCELLED, f"build of {tag} cancelled")
            if "error" in msg or "errorDetail" in msg:
                detail = msg.get("errorDetail") or {}
                text = str(detail.get("message") or msg.get("error")).strip()
                where = f" at step {step}/{steps}" if step else ""
                raise EngineError(
                    ErrorKind.OTHER,
                    f"building {tag} failed{where}: {text}",
                    f"fix the Dockerfile or the checkout in {build.context}, then start again",
                )
            aux = msg.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
            text = str(msg.get("stream") or msg.get("status") or "").rstrip()
            if not text:
                continue
            m = _STEP.match(text)
            if m:
                step, steps = int(m.group(1)), int(m.group(2))
            if on_progress is not None:
                on_progress(BuildProgress(tag, text, step, steps))
    except EngineError:
        raise
    except Exception as exc:
        raise translate(exc, host=host, image=tag) from None
    final = BuildProgress(tag, f"built {tag}", step, steps, True, image_id)
    if on_progress is not None:
        on_progress(final)
    return final
