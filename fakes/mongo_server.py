"""A MongoDB wire-protocol server on a free loopback port, for tests and local trials.

A real ``mongod`` on PATH is preferred. Without one (Debian ships no server, and nothing we can
install downloads one) it is mongoeco's wire proxy, which needs Python ≥ 3.13: ``make mongo-deps``
creates ``.venv-mongo`` with that interpreter and mongoeco. Run directly, this module is that
server (it must then run under ``.venv-mongo``'s Python, and prints the URI on its first line)::

    .venv-mongo/bin/python fakes/mongo_server.py

From the project's Python, ``start_mongo_server()`` starts whichever server exists and returns a
handle with its ``uri``; ``MongoServerUnavailable`` says what is missing. Kept free of Django so
the MongoDB backend (issue 16) can start the same server before settings are read.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BASE_DIR = Path(__file__).resolve().parents[1]
MONGO_VENV = BASE_DIR / ".venv-mongo"
START_TIMEOUT_SECONDS = 60


class MongoServerUnavailable(RuntimeError):
    """No MongoDB server can be started here; the message says what to install."""


@dataclass
class MongoServer:
    uri: str
    process: subprocess.Popen
    kind: str  # "mongod" or "mongoeco"
    _tmpdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    _log: IO[str] | None = field(default=None, repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
        if self._log is not None:
            self._log.close()


def mongoeco_python() -> Path | None:
    """``.venv-mongo``'s interpreter when ``make mongo-deps`` has built it."""
    python = MONGO_VENV / "bin" / "python"
    return python if python.exists() else None


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise MongoServerUnavailable(f"mongod exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    process.kill()
    raise MongoServerUnavailable("mongod did not start listening")


def _start_mongod(mongod: str) -> MongoServer:
    tmpdir = tempfile.TemporaryDirectory(prefix="maaledu-mongod-")
    port = _free_port()
    process = subprocess.Popen(
        [mongod, "--dbpath", tmpdir.name, "--bind_ip", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(process, port)
    except MongoServerUnavailable:
        tmpdir.cleanup()
        raise
    return MongoServer(f"mongodb://127.0.0.1:{port}/", process, "mongod", tmpdir)


def _start_mongoeco(python: Path) -> MongoServer:
    # Its output goes to a file, never a pipe nobody reads after start-up: a chatty server (asyncio
    # tracebacks of dropped connections) would otherwise fill the pipe and hang mid-session.
    log = tempfile.TemporaryFile(mode="w+", prefix="maaledu-mongoeco-")  # noqa: SIM115 - stop()
    process = subprocess.Popen(
        [str(python), str(Path(__file__).resolve())],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    # The server prints its URI once it listens; bounded, so a hung start skips, not hangs.
    ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_SECONDS)
    first_line = process.stdout.readline().strip() if ready else ""
    if not first_line.startswith("mongodb://"):
        process.kill()
        process.wait()
        process.stdout.close()
        log.seek(0)
        output = (first_line + "\n" + log.read()).strip() or "no URI printed"
        log.close()
        raise MongoServerUnavailable(f"mongoeco did not start: {output[-2000:]}")
    return MongoServer(first_line, process, "mongoeco", _log=log)


def start_mongo_server() -> MongoServer:
    mongod = shutil.which("mongod")
    if mongod:
        return _start_mongod(mongod)
    python = mongoeco_python()
    if python is None:
        raise MongoServerUnavailable(
            "no MongoDB server: no mongod on PATH and no .venv-mongo "
            "(run `make mongo-deps`; it needs a Python 3.13 interpreter)"
        )
    return _start_mongoeco(python)


# Command names mongod accepts in another spelling and mongoeco knows only in one: pymongo's
# ``server_info()`` (which django-mongodb-backend calls on connect) sends ``buildinfo``.
_COMMAND_ALIASES = {"buildinfo": "buildInfo"}


def _accept_command_aliases() -> None:  # pragma: no cover - runs under .venv-mongo's Python
    from mongoeco.wire import executor

    build = executor.build_request_context

    def build_with_aliases(body, **kwargs):
        name = next(iter(body), None)
        if name in _COMMAND_ALIASES:
            body = {
                _COMMAND_ALIASES[name]: body[name],
                **{k: v for k, v in body.items() if k != name},
            }
        return build(body, **kwargs)

    executor.build_request_context = build_with_aliases


def _index_signature_as_in_mongodb_5() -> None:  # pragma: no cover - under .venv-mongo's Python
    """Since MongoDB 5.0 (SERVER-47657) an index's signature is its key pattern, collation,
    partial filter, uniqueness and sparseness: one key pattern may carry a plain index and a
    unique partial one (allauth's e-mail address has both). mongoeco still refuses a second
    index on a key pattern; its ``create_index`` is recompiled here with the 5.0 comparison."""
    import inspect
    import textwrap

    from mongoeco.engines import memory

    source = textwrap.dedent(inspect.getsource(memory.MemoryEngine.create_index))
    same_pattern = 'if index["key"] == normalized_keys:'
    if source.count(same_pattern) != 1:
        raise RuntimeError("mongoeco's create_index changed: revisit the index-signature patch")
    source = source.replace(
        same_pattern,
        'if index["key"] == normalized_keys and index["unique"] == unique'
        ' and index.get("sparse") == sparse'
        ' and index.get("partial_filter_expression") == partial_filter_expression:',
    ).replace("@override\n", "")
    namespace: dict = {}
    exec(compile(source, memory.__file__, "exec"), memory.__dict__, namespace)  # noqa: S102
    memory.MemoryEngine.create_index = namespace["create_index"]


def _aggregation_not_as_in_mongodb() -> None:  # pragma: no cover - under .venv-mongo's Python
    """``{"$not": [expr]}``, MongoDB's boolean negation in aggregation expressions (every
    version), which django-mongodb-backend emits for ``isnull=False``, negated conditions and
    every filtered ``Count``; mongoeco rejects it as unsupported. Added to its expression
    evaluator with MongoDB's semantics: the negation of the argument's truthiness."""
    from mongoeco.compat import base
    from mongoeco.core.aggregation import runtime

    if "$not" in base.SUPPORTED_AGGREGATION_EXPRESSION_OPERATORS:
        return  # a mongoeco that has it
    base.SUPPORTED_AGGREGATION_EXPRESSION_OPERATORS = (
        base.SUPPORTED_AGGREGATION_EXPRESSION_OPERATORS | {"$not"}
    )
    runtime.CONTROL_OBJECT_EXPRESSION_OPERATORS = runtime.CONTROL_OBJECT_EXPRESSION_OPERATORS | {
        "$not"
    }
    evaluate = runtime.evaluate_control_object_expression

    def evaluate_with_not(operator, document, spec, variables, **kwargs):
        if operator != "$not":
            return evaluate(operator, document, spec, variables, **kwargs)
        # One argument, in a list or alone (MongoDB takes both; the backend sends it alone).
        (argument,) = (
            kwargs["require_expression_args"](operator, spec, 1, 1)
            if isinstance(spec, list)
            else (spec,)
        )
        value = kwargs["evaluate_expression"](document, argument, variables)
        return not kwargs["expression_truthy"](value)

    runtime.evaluate_control_object_expression = evaluate_with_not


async def _serve(port: int) -> None:  # pragma: no cover - runs under .venv-mongo's Python
    import asyncio

    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    _accept_command_aliases()
    _index_signature_as_in_mongodb_5()
    _aggregation_not_as_in_mongodb()
    address = await AsyncMongoEcoProxyServer(host="127.0.0.1", port=port).start()
    print(address.uri, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    import asyncio

    if sys.version_info < (3, 13):
        sys.exit("mongoeco needs Python >= 3.13: run this with .venv-mongo/bin/python")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    os._exit(0)
