"""Probe benchmark: 200 local HTTP endpoints probed in one round, and a hung endpoint's effect.

The endpoints run in a separate process (200 asyncio servers on 127.0.0.1, answering like
llama.cpp's /health), so the measured process does only what paitui does: probe.

    python bench/probes.py [--endpoints 200] [--rounds 5] [--timeout 3]

Measures:
  1. one round with ``Prober`` (one shared httpx client): all probes gathered at once;
     cold (new connections) and warm (kept-alive connections);
  2. one round through ``ProbeScheduler`` with the fleet's concurrency limit (32): from
     watching all targets to the last result;
  3. the same round with one extra endpoint that accepts and never answers: how long the
     others take, and when the hung one is reported (its timeout).
Target: a round of 200 under 1 s; the hung endpoint does not delay the others.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from paitui.domain.catalog.schema import HealthCheck, HttpExpect
from paitui.domain.fleet.status import ProbeOutcome, ProbeResult
from paitui.services.fleet.probes import Prober, ProbeScheduler, ProbeTarget

CHECK = HealthCheck(path="/health", ready=HttpExpect(status=(200,), json_fields={"status": "ok"}))
BODY = b'{"status":"ok"}'


def _serve(count: int, hung: bool, conn: object) -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    await reader.readuntil(b"\r\n\r\n")
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
                    )
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        async def never(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # read the request and never answer, until the client leaves
            writer.close()

        servers = [
            await asyncio.start_server(handle, "127.0.0.1", 0, backlog=256) for _ in range(count)
        ]
        ports = [s.sockets[0].getsockname()[1] for s in servers]
        if hung:
            h = await asyncio.start_server(never, "127.0.0.1", 0)
            ports.append(h.sockets[0].getsockname()[1])
        conn.send(ports)  # type: ignore[attr-defined]
        await asyncio.Event().wait()

    asyncio.run(main())


def start_servers(count: int, hung: bool) -> tuple[multiprocessing.Process, list[int]]:
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_serve, args=(count, hung, child), daemon=True)
    proc.start()
    ports: list[int] = parent.recv()
    return proc, ports


async def gather_round(prober: Prober, targets: list[ProbeTarget]) -> tuple[float, int]:
    started = time.perf_counter()
    results = await asyncio.gather(*(prober.probe(t) for t in targets))
    elapsed = time.perf_counter() - started
    return elapsed, sum(r.outcome == ProbeOutcome.READY for r in results)


async def scheduler_round(
    targets: list[ProbeTarget], timeout: float, hung_key: str | None = None
) -> dict[str, float]:
    done: dict[str, float] = {}
    all_done = asyncio.Event()
    started = time.perf_counter()

    def on_result(key: str, result: ProbeResult) -> None:
        done.setdefault(key, time.perf_counter() - started)
        if len(done) == len(targets):
            all_done.set()

    sched = ProbeScheduler(
        Prober(timeout), on_result, start_interval=60, ready_interval=60, max_concurrency=32
    )
    runner = asyncio.create_task(sched.run())
    started = time.perf_counter()
    for target in targets:
        sched.watch(target)
    await asyncio.wait_for(all_done.wait(), timeout + 10)
    first = dict(done)
    # A second round on the same client (kept-alive connections), as while apps start.
    done.clear()
    all_done.clear()
    started = time.perf_counter()
    for target in targets:
        sched.probe_soon(target.key)
    await asyncio.wait_for(all_done.wait(), timeout + 10)
    warm = [v for k, v in done.items() if k != hung_key]
    done.clear()
    done.update(first)
    sched.close()
    await runner
    await sched.prober.aclose()
    healthy = [v for k, v in done.items() if k != hung_key]
    out = {
        "others_last": max(healthy),
        "others_median": statistics.median(healthy),
        "warm_last": max(warm),
    }
    if hung_key is not None:
        out["hung"] = done[hung_key]
    return out


async def bench(endpoints: int, rounds: int, timeout: float) -> None:
    proc, ports = start_servers(endpoints, hung=True)
    try:
        healthy = [
            ProbeTarget(f"e{i}", "127.0.0.1", p, CHECK) for i, p in enumerate(ports[:endpoints])
        ]
        hung = ProbeTarget("hung", "127.0.0.1", ports[-1], CHECK)
        print(f"{endpoints} endpoints in a separate process; probe timeout {timeout:g} s")

        cold, warm = [], []
        for _ in range(rounds):
            prober = Prober(timeout)
            t, ok = await gather_round(prober, healthy)
            cold.append(t)
            assert ok == endpoints, ok
            t, ok = await gather_round(prober, healthy)
            warm.append(t)
            assert ok == endpoints, ok
            await prober.aclose()
        print(
            f"1. gather, all at once: cold round median {statistics.median(cold) * 1000:.0f} ms"
            f" (min {min(cold) * 1000:.0f}, max {max(cold) * 1000:.0f});"
            f" warm round median {statistics.median(warm) * 1000:.0f} ms"
            f" (min {min(warm) * 1000:.0f}, max {max(warm) * 1000:.0f})"
        )

        sched = [await scheduler_round(healthy, timeout) for _ in range(rounds)]
        lasts = [r["others_last"] for r in sched]
        warms = [r["warm_last"] for r in sched]
        print(
            f"2. scheduler (32 at once): cold round done in median "
            f"{statistics.median(lasts) * 1000:.0f} ms (max {max(lasts) * 1000:.0f}); "
            f"warm round median {statistics.median(warms) * 1000:.0f} ms "
            f"(max {max(warms) * 1000:.0f})"
        )

        with_hung = [
            await scheduler_round([hung, *healthy], timeout, "hung")
            for _ in range(max(1, rounds // 2))
        ]
        lasts = [r["others_last"] for r in with_hung]
        hung_at = [r["hung"] for r in with_hung]
        print(
            f"3. same with a hung endpoint first in line: the {endpoints} others done in "
            f"median {statistics.median(lasts) * 1000:.0f} ms (max {max(lasts) * 1000:.0f});"
            f" the hung one reported after {statistics.median(hung_at):.2f} s"
        )
    finally:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    asyncio.run(bench(args.endpoints, args.rounds, args.timeout))


if __name__ == "__main__":
    main()
