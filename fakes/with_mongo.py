"""Run a command against a fresh MongoDB wire-protocol server: ``python -m fakes.with_mongo CMD…``.

Starts the server of ``fakes/mongo_server.py`` (a real mongod when one is on PATH, else mongoeco
from ``make mongo-deps``) on a free loopback port, runs the command with ``DATABASE_URL``
pointing at its ``maaledu`` database, stops the server, and exits with the command's status.
``make test-mongo`` runs the test suite this way.
"""

import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from fakes.mongo_server import MongoServerUnavailable, start_mongo_server


def database_url(server_uri: str, name: str = "maaledu") -> str:
    parts = urlsplit(server_uri)
    return urlunsplit(parts._replace(path=f"/{name}"))


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        server = start_mongo_server()
    except MongoServerUnavailable as error:
        print(f"with_mongo: {error}", file=sys.stderr)
        return 1
    try:
        env = {**os.environ, "DATABASE_URL": database_url(server.uri)}
        print(f"with_mongo: {server.kind} at {env['DATABASE_URL']}", file=sys.stderr, flush=True)
        return subprocess.call(argv, env=env)
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
