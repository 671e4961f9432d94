"""``python -m simulator``: serve a generated reference platform and, optionally, feed a daemon."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time

from simulator.chaos import Chaos
from simulator.emitter import InboxSink, Sink, SocketSink
from simulator.runner import run_simulator
from simulator.world import World


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve the six source systems of the reference ML platform over a "
        "generated organisation, keep changing it, and emit the thin events of every change "
        "into an mds daemon. Every source is served on the same base URL.",
    )
    world = parser.add_argument_group("world")
    world.add_argument(
        "--size", type=int, default=1000, help="about how many entities (default 1000)"
    )
    world.add_argument("--seed", type=int, default=1, help="generation seed; same seed, same world")
    serve = parser.add_argument_group("server")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8700, help="port to listen on; 0 picks a free one"
    )
    events = parser.add_argument_group("events (at most one sink)")
    sink = events.add_mutually_exclusive_group()
    sink.add_argument(
        "--emit-socket", metavar="PATH", help="POST events to the daemon's Unix socket"
    )
    sink.add_argument("--emit-inbox", metavar="DIR", help="drop .jsonl event files into this inbox")
    events.add_argument(
        "--rate", type=float, default=2.0, help="living stream, events per second (0: none)"
    )
    events.add_argument(
        "--no-initial", action="store_true", help="skip the initial event for every entity"
    )
    chaos = parser.add_argument_group("chaos")
    chaos.add_argument(
        "--fail-5xx", type=_share, default=0.0, help="share of API answers that are 503"
    )
    chaos.add_argument(
        "--rate-limit-429", type=_share, default=0.0, help="share of API answers that are 429"
    )
    chaos.add_argument("--retry-after", type=int, default=1, help="Retry-After of a 429, seconds")
    chaos.add_argument("--latency-ms", type=float, default=0.0, help="latency added to API answers")
    chaos.add_argument("--jitter-ms", type=float, default=0.0, help="+/- jitter of that latency")
    chaos.add_argument("--drop", type=_share, default=0.0, help="share of events never sent")
    chaos.add_argument("--duplicate", type=_share, default=0.0, help="share of events sent twice")
    chaos.add_argument("--reorder", type=_share, default=0.0, help="share of events sent late")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log emitter and server activity"
    )
    return parser.parse_args(argv)


def _sink(args: argparse.Namespace) -> Sink | None:
    if args.emit_socket:
        return SocketSink(args.emit_socket)
    if args.emit_inbox:
        return InboxSink(args.emit_inbox)
    return None


async def _serve(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    world = World.generate(args.size, seed=args.seed)
    print(
        f"generated {world.entity_count()} entities (seed {args.seed}) "
        f"in {time.perf_counter() - started:.1f}s",
        file=sys.stderr,
    )
    chaos = Chaos(
        fail_5xx=args.fail_5xx,
        rate_limit_429=args.rate_limit_429,
        retry_after_s=args.retry_after,
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.jitter_ms,
        drop=args.drop,
        duplicate=args.duplicate,
        reorder=args.reorder,
        seed=args.seed,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with run_simulator(
        world,
        host=args.host,
        port=args.port,
        chaos=chaos,
        sink=_sink(args),
        rate=args.rate,
        initial_events=not args.no_initial,
    ) as simulator:
        print(f"serving on {simulator.base_url}; daemon config:", file=sys.stderr)
        for source, url in simulator.source_urls.items():
            print(f'[sources.{source}]\nbase_url = "{url}"\n')
        sys.stdout.flush()
        await stopping.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
