"""``paitui models fit``: will a model fit on a GPU now? (a local file, or a Hub file not yet
downloaded: its GGUF header is read by Range requests)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register_fit(sub: Any) -> None:
    """Add ``models fit`` to the ``models`` sub-commands."""
    p = sub.add_parser(
        "fit",
        help="estimate the memory a model needs against what is free on a GPU now",
        description="Estimate weights + KV cache + compute for llama.cpp (GGUF: from its header, "
        "read without downloading the file) and compare with the free memory of a GPU. "
        "Never blocks anything: it says what would fit instead.",
    )
    p.add_argument("target", metavar="PATH|REPO:FILE", help="a local file or folder, or a Hub file")
    p.add_argument("--ctx", type=int, default=None, help="context size (default: the model's)")
    p.add_argument("--gpu", default=None, help="GPU PCI slot (default: the one with most free)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_fit)


def cmd_fit(args: argparse.Namespace) -> int:
    """Print the verdict and the offers."""
    from paitui.services.hardware.detect import detect_hardware
    from paitui.services.models.hub import HubConfig, HubError, HubService
    from paitui.services.models.will_fit import ReportGpus, fit_hub_file, fit_local

    argv = ["-c", str(args.ctx)] if args.ctx else None
    source = ReportGpus(detect_hardware())
    local = Path(args.target)
    if local.exists() or ":" not in args.target:
        result = fit_local(local, source, argv=argv, gpu_id=args.gpu)
    else:
        repo, _, path = args.target.partition(":")
        config = HubConfig.from_env()
        try:
            info = HubService(config).repo_info(repo)
        except HubError as err:
            print(f"paitui: {err}", file=sys.stderr)
            return 1
        sizes = {f.path: f.size or 0 for f in info.files}
        if path not in sizes:
            print(
                f"paitui: {repo} has no file {path!r} (paitui models search lists files)",
                file=sys.stderr,
            )
            return 1
        result = fit_hub_file(
            config,
            repo,
            path,
            sizes[path],
            source,
            revision=info.commit,
            argv=argv,
            gpu_id=args.gpu,
            siblings=list(sizes.items()),
        )
    if isinstance(result, str):
        print(f"paitui: cannot say: {result}", file=sys.stderr)
        return 1
    if args.json:
        from paitui.cli.common import print_json

        print_json(
            {
                "fit": result.level.value,
                "text": result.text,
                "need": result.need,
                "free": result.free,
                "offers": list(result.offers),
            }
        )
        return 0
    print(f"{result.level.value}: {result.text}")
    for offer in result.offers:
        print(f"  would fit: {offer}")
    return 0
