"""Run a command against a fresh MongoDB wire-protocol server: ``python -m fakes.with_mongo CMD…``.

Starts the server of ``fakes/mongo_server.py`` (a real mongod when one is on PATH, else mongoeco
from ``make mongo-deps``) on a free loopback port, runs the command with ``DATABASE_URL``
pointing at its ``maaledu`` database, stops the server, and exits with the command's status.
``make test-mongo`` runs the test suite this way.

``--optional``: without a server, say so and exit 0 (``make test`` on a machine without Python
3.13), except under CI (``CI`` set), where that is a failure. ``--serve [--port N]``: only run
the server until interrupted (``make mongo-server``). ``--replica-set``: a server that says it
is a replica set's primary, so Django opens MongoDB transactions on it.
"""

import argparse
import os
import subprocess
import sys
import time
from urllib.parse import urlsplit, urlunsplit

from fakes.mongo_server import MongoServerUnavailable, start_mongo_server


def database_url(server_uri: str, name: str = "maaledu") -> str:
    parts = urlsplit(server_uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m fakes.with_mongo", description=__doc__)
    parser.add_argument("--optional", action="store_true")
    parser.add_argument("--serve", action="store_true")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--replica-set", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if not args.serve and not args.command:
        parser.print_usage(sys.stderr)
        return 2
    try:
        server = start_mongo_server(args.port, replica_set=args.replica_set)
    except MongoServerUnavailable as error:
        print(f"with_mongo: {error}", file=sys.stderr)
        if args.optional and not os.environ.get("CI"):
            print("with_mongo: the MongoDB run is skipped", file=sys.stderr)
            return 0
        return 1
    url = database_url(server.uri)
    try:
        if args.serve:
            print(f"MongoDB ({server.kind}) for MaalEdu: DATABASE_URL={url}", flush=True)
            while server.process.poll() is None:
                time.sleep(1)
            return server.process.returncode or 0
        print(f"with_mongo: {server.kind} at {url}", file=sys.stderr, flush=True)
        return subprocess.call(args.command, env={**os.environ, "DATABASE_URL": url})
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
