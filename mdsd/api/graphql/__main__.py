"""``python -m mdsd.api.graphql --print-schema``: the schema in SDL (docs/schema.graphql)."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdsd.api.graphql", description=__doc__)
    parser.add_argument("--print-schema", action="store_true", help="print the SDL to stdout")
    args = parser.parse_args(argv)
    if not args.print_schema:
        parser.print_usage(sys.stderr)
        return 2
    from mdsd.api.graphql import sdl

    sys.stdout.write(sdl())
    return 0


if __name__ == "__main__":
    sys.exit(main())
