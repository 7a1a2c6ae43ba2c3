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


def _start_mongod(mongod: str, port: int | None) -> MongoServer:
    tmpdir = tempfile.TemporaryDirectory(prefix="maaledu-mongod-")
    port = port or _free_port()
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


def _start_mongoeco(python: Path, port: int | None, replica_set: bool = False) -> MongoServer:
    # Its output goes to a file, never a pipe nobody reads after start-up: a chatty server (asyncio
    # tracebacks of dropped connections) would otherwise fill the pipe and hang mid-session.
    log = tempfile.TemporaryFile(mode="w+", prefix="maaledu-mongoeco-")  # noqa: SIM115 - stop()
    process = subprocess.Popen(
        [str(python), str(Path(__file__).resolve()), str(port or 0)]
        + (["--replica-set"] if replica_set else []),
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


def start_mongo_server(port: int | None = None, *, replica_set: bool = False) -> MongoServer:
    """A server on ``port`` (a free one by default); ``replica_set``: one that says it is a
    replica set's primary, so the Django backend opens transactions on it (mongoeco only)."""
    mongod = shutil.which("mongod")
    if mongod and not replica_set:
        return _start_mongod(mongod, port)
    python = mongoeco_python()
    if python is None:
        raise MongoServerUnavailable(
            "no MongoDB server: no mongod on PATH and no .venv-mongo "
            "(run `make mongo-deps`; it needs a Python 3.13 interpreter)"
        )
    return _start_mongoeco(python, port, replica_set)


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
        if name == "aggregate" and isinstance(body.get("pipeline"), list):
            body = {**body, "pipeline": _dotted_inclusions(body["pipeline"])}
        return build(body, **kwargs)

    executor.build_request_context = build_with_aliases


def _is_inclusion(value) -> bool:
    return isinstance(value, (bool, int)) or (
        isinstance(value, dict)
        and bool(value)
        and not any(str(key).startswith("$") for key in value)
        and all(_is_inclusion(inner) for inner in value.values())
    )


def _flatten_inclusion(prefix: str, value) -> dict:
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict = {}
    for key, inner in value.items():
        flat.update(_flatten_inclusion(f"{prefix}.{key}", inner))
    return flat


def _is_field_tree(value) -> bool:
    """A nested field specification (``{"b": "$c"}``), not an expression (``{"$sum": …}``)."""
    return (
        isinstance(value, dict) and bool(value) and not any(str(k).startswith("$") for k in value)
    )


def _flatten_fields(prefix: str, value) -> dict:
    if not _is_field_tree(value):
        return {prefix: value}
    flat: dict = {}
    for key, inner in value.items():
        flat.update(_flatten_fields(f"{prefix}.{key}", inner))
    return flat


def _dotted_inclusions(pipeline: list) -> list:
    """Nested field specifications spelled as the equivalent dotted paths, which mongoeco reads
    as MongoDB reads the nested form:

    - ``$project`` inclusions (``{"course": {"_id": 1, "title": 1}}``, which
      django-mongodb-backend writes for ``select_related`` columns beside an annotation):
      mongoeco takes the nested form for a computed sub-document of literal 1s;
    - ``$addFields``/``$set`` (``{"content_type": {"app_label": "$…"}}``, written to sort by a
      joined model's fields): MongoDB sets those fields inside the embedded document, mongoeco
      replaced the whole document, so the joined row lost its other fields.

    Nested pipelines (``$lookup``, ``$facet``, ``$unionWith``) are rewritten too."""
    stages = []
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            stages.append(stage)
            continue
        ((operator, spec),) = stage.items()
        if operator == "$project" and isinstance(spec, dict):
            projected: dict = {}
            for key, value in spec.items():
                if isinstance(value, dict) and _is_inclusion(value):
                    projected.update(_flatten_inclusion(key, value))
                else:
                    projected[key] = value
            spec = projected
        elif operator in {"$addFields", "$set"} and isinstance(spec, dict):
            added: dict = {}
            for key, value in spec.items():
                added.update(_flatten_fields(key, value))
            spec = added
        elif operator in {"$lookup", "$unionWith"} and isinstance(spec, dict):
            if isinstance(spec.get("pipeline"), list):
                spec = {**spec, "pipeline": _dotted_inclusions(spec["pipeline"])}
        elif operator == "$facet" and isinstance(spec, dict):
            spec = {name: _dotted_inclusions(inner) for name, inner in spec.items()}
        stages.append({operator: spec})
    return stages


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


def _not_expression() -> None:  # pragma: no cover - runs under .venv-mongo's Python
    """The ``$not`` aggregation expression (``{"$not": [expr]}`` or ``{"$not": expr}``: true when
    ``expr`` is false, null, 0 or missing), which MongoDB has always had and mongoeco lacks. The
    backend writes it for a negated ``Exists`` or ``Q`` inside ``$expr`` (``~Exists(...)``)."""
    from mongoeco.core.aggregation.extensions import register_aggregation_expression_operator

    def evaluate_not(document, spec, variables, dialect, context):
        if isinstance(spec, list):
            (operand,) = context.require_expression_args("$not", spec, 1, 1)
        else:
            operand = spec
        value = context.evaluate_expression(document, operand, variables)
        return not dialect.policy.expression_truthy(value)

    register_aggregation_expression_operator("$not", evaluate_not)


def _abbreviated_start_of_week() -> None:  # pragma: no cover - runs under .venv-mongo's Python
    """``startOfWeek`` of ``$dateTrunc``/``$dateDiff`` as MongoDB reads it: a day's full name or
    its three-letter abbreviation, in any case ("monday", "mon", "Mon"). mongoeco knows only the
    full names; the backend writes ``"mon"`` for ``TruncWeek``."""
    from mongoeco.core.aggregation import date_expressions

    full_names = {
        name[:3]: name
        for name in ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
    }
    truncate = date_expressions._truncate_datetime

    def truncate_with_abbreviations(value, unit, bin_size, start_of_week):
        if isinstance(start_of_week, str):
            start_of_week = full_names.get(start_of_week.lower(), start_of_week)
        return truncate(value, unit, bin_size, start_of_week)

    date_expressions._truncate_datetime = truncate_with_abbreviations


REPLICA_SET_NAME = "maaledu-rs"


def _answer_as_a_replica_set(address: str) -> None:  # pragma: no cover - under .venv-mongo
    """``hello`` names a replica set of one member, so drivers (and django-mongodb-backend)
    use mongoeco's session transactions, as they would on Atlas."""
    from mongoeco.wire import handshake

    build = handshake.WireHandshakeService.build_hello_response

    def build_as_primary(self, **kwargs):
        response = build(self, **kwargs)
        response.update(setName=REPLICA_SET_NAME, hosts=[address], primary=address, me=address)
        response.setdefault("secondary", False)
        return response

    handshake.WireHandshakeService.build_hello_response = build_as_primary


def _write_conflict_as_in_mongodb() -> None:  # pragma: no cover - under .venv-mongo's Python
    """A transaction that lost a write conflict: MongoDB aborts it and answers WriteConflict
    (code 112) with the TransientTransactionError label, which tells the client that running
    the whole transaction again is safe. mongoeco's commit says neither and leaves the session
    in the lost transaction, which the driver's next one on that session (its sessions are
    pooled) then joined. Translated where the wire command ends, as the label must not reach
    mongoeco's own session, which would retry the commit."""
    from mongoeco.errors import OperationFailure
    from mongoeco.wire.sessions import WireSessionStore

    commit = WireSessionStore.commit_transaction

    def commit_as_mongodb(self, body):
        try:
            return commit(self, body)
        except OperationFailure as error:
            if error.code is not None or "Write conflict" not in str(error):
                raise
            session = self._require_session(body)
            if session.transaction_active:
                session.abort_transaction()
            raise OperationFailure(
                str(error), code=112, error_labels=("TransientTransactionError",)
            ) from error

    WireSessionStore.commit_transaction = commit_as_mongodb


async def _serve(port: int, replica_set: bool) -> None:  # pragma: no cover - .venv-mongo's Python
    import asyncio

    from mongoeco.wire.proxy import AsyncMongoEcoProxyServer

    _accept_command_aliases()
    _index_signature_as_in_mongodb_5()
    _not_expression()
    _abbreviated_start_of_week()
    if replica_set:
        port = port or _free_port()
        _answer_as_a_replica_set(f"127.0.0.1:{port}")
        _write_conflict_as_in_mongodb()
    address = await AsyncMongoEcoProxyServer(host="127.0.0.1", port=port).start()
    print(address.uri, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":  # pragma: no cover
    import asyncio

    if sys.version_info < (3, 13):
        sys.exit("mongoeco needs Python >= 3.13: run this with .venv-mongo/bin/python")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0, "--replica-set" in sys.argv)
        )
    os._exit(0)
