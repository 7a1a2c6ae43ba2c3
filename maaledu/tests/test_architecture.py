"""The layering, checked rather than hoped for (issue #14).

1. The import contracts in pyproject.toml (``[tool.importlinter]``): the apps import one way,
   ``common`` imports no app, and no app imports another app's internals. Run by import-linter.
2. No app writes another app's models: no ``.update()``, ``.create()``, ``.delete()``,
   ``.save()`` (and the bulk and get-or-create variants) on a model of another app, outside
   tests and migrations. An app that needs another app's state changed calls that app's
   services (or sends a signal it listens to). Checked here by reading the source: each call is
   traced back to the model class it writes (``Model.objects...update()``, a queryset held in a
   local name, an instance assigned from ``Model(...)``/``Model.objects.get(...)`` or a parameter
   annotated with the model) and the model's app (a proxy counts as its concrete model's app,
   since the table is the state) is compared with the app of the file.
3. No app uses another app's underscore names (import-linter sees modules, not names).
"""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)

# The apps whose writes are checked: every installed app whose code is in this repository (an
# app added later is covered without editing this file), plus the shared library. maaledu (the
# wiring: settings, URLs, the demo commands) and the fakes are not apps with state of their own.
APPS = (
    *sorted(
        {
            config.name.split(".")[0]
            for config in django_apps.get_app_configs()
            if Path(config.path).is_relative_to(ROOT)
            # a virtualenv kept inside the checkout (.venv, as `make install` makes) is not ours
            and "site-packages" not in Path(config.path).parts
            and config.name.split(".")[0] != "maaledu"
        }
    ),
    "common",
)

WRITE_METHODS = frozenset(
    {
        "update",
        "create",
        "delete",
        "save",
        "bulk_create",
        "bulk_update",
        "get_or_create",
        "update_or_create",
    }
)

# Calls that keep the receiver a queryset, manager or instance of the same model.
CHAIN_METHODS = frozenset(
    {
        "all",
        "filter",
        "exclude",
        "order_by",
        "select_related",
        "prefetch_related",
        "only",
        "defer",
        "using",
        "annotate",
        "alias",
        "distinct",
        "reverse",
        "none",
        "select_for_update",
        "get",
        "first",
        "last",
        "latest",
        "earliest",
        "create",
        "get_or_create",
        "update_or_create",
        "in_bulk",
    }
)
MANAGER_ATTRIBUTES = frozenset({"objects", "_default_manager", "_base_manager"})

# Cross-app writes we accept, keyed (file, enclosing function, model label, method), each with
# the reason. None today: a new one needs a reason a reviewer agrees with, or a service call.
ALLOWED: dict[tuple[str, str, str, str], str] = {}


def _relation_models() -> dict[str, str]:
    """Relation attribute name -> model class name, for the names that mean one model only:
    ``enrollment.course``, ``user.enrollments`` (a related manager), ``grant.reviewed_by``…"""
    found: dict[str, set[str]] = {}
    for model in django_apps.get_models(include_auto_created=False):
        if model.__module__.split(".")[0] not in APPS:
            continue
        for field in model._meta.get_fields():
            related = field.related_model
            if (
                not field.is_relation
                or related is None
                or related.__module__.split(".")[0] not in APPS
            ):
                continue
            name = (
                field.get_accessor_name()
                if field.auto_created and not field.concrete
                else field.name
            )
            if name:
                found.setdefault(name, set()).add(related.__name__)
    return {name: next(iter(models)) for name, models in found.items() if len(models) == 1}


def _model_owner() -> dict[str, str]:
    """Model class name -> app label of the table it writes (a proxy's concrete model's app)."""
    owners: dict[str, str] = {}
    for model in django_apps.get_models(include_auto_created=False):
        concrete = model._meta.concrete_model or model
        if model.__module__.split(".")[0] not in APPS:
            continue  # Django's own (auth.Group, sessions…): not an app of ours
        name = model.__name__
        assert name not in owners or owners[name] == concrete._meta.app_label, (
            f"two models named {name}: the write check resolves models by class name"
        )
        owners[name] = concrete._meta.app_label
    return owners


def _source_files(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if "tests" in parts or "migrations" in parts or "testing" in parts:
            continue
        yield path


class _WriteFinder(ast.NodeVisitor):
    """Finds the write calls in one module and the model each one writes."""

    def __init__(self, owners: dict[str, str], relations: dict[str, str]):
        self.owners = owners
        self.relations = relations
        self.imported: dict[str, str] = {}  # local name -> model class name
        self.modules: set[str] = set()  # local names bound to a models module
        self.scopes: list[dict[str, str]] = [{}]  # per function: local name -> model class name
        self.functions: list[str] = []
        self.found: list[tuple[int, str, str, str]] = []  # (line, function, model, method)

    # --- names ---------------------------------------------------------------------------
    def visit_ImportFrom(self, node):
        module = node.module or ""
        for alias in node.names:
            local = alias.asname or alias.name
            if alias.name in self.owners and module.split(".")[0] in APPS:
                self.imported[local] = alias.name
            elif alias.name == "models" and module.split(".")[0] in APPS:
                self.modules.add(local)

    def visit_Import(self, node):
        for alias in node.names:
            if alias.name.endswith(".models") and alias.asname:
                self.modules.add(alias.asname)

    def _model_of_name(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return self.imported.get(name) or (name if name in self.owners else None)

    def _model_of(self, node) -> str | None:
        """The model class a receiver expression is rooted in, through queryset calls only."""
        while True:
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr not in CHAIN_METHODS:
                    return None
                node = node.func.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                return (
                    self._model_of_name(node.func.id)
                    if node.func.id in (self.imported.keys() | self.owners.keys())
                    else None
                )
            elif isinstance(node, ast.Attribute):
                if node.attr in MANAGER_ATTRIBUTES:
                    node = node.value
                elif isinstance(node.value, ast.Name) and node.value.id in self.modules:
                    return node.attr if node.attr in self.owners else None
                elif node.attr in self.relations:  # enrollment.course, user.enrollments
                    return self.relations[node.attr]
                else:
                    return None
            elif isinstance(node, ast.Name):
                return self._model_of_name(node.id)
            else:
                return None

    def _annotation_model(self, annotation) -> str | None:
        if isinstance(annotation, ast.Name):
            return self._model_of_name(annotation.id)
        if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
            return self._model_of_name(annotation.value)
        if isinstance(annotation, ast.BinOp):  # Model | None
            return self._annotation_model(annotation.left)
        return None

    # --- scopes --------------------------------------------------------------------------
    def _visit_function(self, node):
        scope = {}
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            if arg.annotation is not None and (model := self._annotation_model(arg.annotation)):
                scope[arg.arg] = model
        self.scopes.append(scope)
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_ClassDef(self, node):
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    def _bind(self, target, value):
        if isinstance(target, ast.Name):
            model = self._model_of(value)
            if model:
                self.scopes[-1][target.id] = model
            else:
                self.scopes[-1].pop(target.id, None)

    def visit_Assign(self, node):
        self.generic_visit(node)
        for target in node.targets:
            self._bind(target, node.value)
            if isinstance(target, ast.Tuple) and target.elts:  # obj, created = get_or_create()
                self._bind(target.elts[0], node.value)

    def visit_AnnAssign(self, node):
        self.generic_visit(node)
        if isinstance(node.target, ast.Name):
            model = self._annotation_model(node.annotation)
            if node.value is not None:
                model = self._model_of(node.value) or model
            if model:
                self.scopes[-1][node.target.id] = model

    def visit_For(self, node):
        if isinstance(node.target, ast.Name) and (model := self._model_of(node.iter)):
            self.scopes[-1][node.target.id] = model
        self.generic_visit(node)

    def visit_With(self, node):
        self.generic_visit(node)

    # --- writes --------------------------------------------------------------------------
    def visit_Call(self, node):
        if isinstance(node.func, ast.Attribute) and node.func.attr in WRITE_METHODS:
            model = self._model_of(node.func.value)
            if model:
                function = ".".join(self.functions) or "<module>"
                self.found.append((node.lineno, function, model, node.func.attr))
        self.generic_visit(node)


def cross_app_writes(
    root: Path = ROOT, apps=(*APPS, "maaledu")
) -> list[tuple[str, str, str, str, int]]:
    """Every write by an app's code to another app's model, as
    (file, function, "app.Model", method, line). The wiring (maaledu: the demo commands) owns
    no model, so every write there would be another app's: it goes through their services."""
    owners, relations = _model_owner(), _relation_models()
    writes = []
    for app in apps:
        for path in _source_files(app) if root == ROOT else sorted((root / app).rglob("*.py")):
            finder = _WriteFinder(owners, relations)
            finder.visit(ast.parse(path.read_text(), filename=str(path)))
            for line, function, model, method in finder.found:
                owner = owners[model]
                if owner != app:
                    relative = str(path.relative_to(root))
                    writes.append((relative, function, f"{owner}.{model}", method, line))
    return writes


def test_import_contracts_hold():
    """import-linter's contracts (pyproject.toml) are kept; its report is the failure message."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports; "
            "sys.exit(lint_imports(no_cache=True, no_logo=True))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_app_has_its_place_in_the_import_contracts():
    """A new app is placed in the layers (and checked) rather than silently left out."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    [layers] = [c for c in config["contracts"] if c["id"] == "layers"]
    layered = {name.strip() for layer in layers["layers"] for name in re.split(r"[|:]", layer)}
    missing = {*APPS, "maaledu"} - layered
    assert not missing, f"place these in the layers contract in pyproject.toml: {missing}"
    assert not {*APPS, "maaledu"} - set(config["root_packages"])


def test_no_app_writes_another_apps_models():
    found = cross_app_writes()
    new = [w for w in found if w[:4] not in ALLOWED]
    assert not new, "an app writes another app's models (call that app's services instead):\n" + (
        "\n".join(
            f"  {f}:{line} in {fn}(): {model}.{method}()" for f, fn, model, method, line in new
        )
    )
    stale = set(ALLOWED) - {w[:4] for w in found}
    assert not stale, f"allowed cross-app writes that no longer exist; delete them: {stale}"


def private_name_uses(root: Path = ROOT, apps=(*APPS, "maaledu")) -> list[str]:
    """Uses of another app's underscore names: ``from enrollments.services import _mark_paid``
    or ``enrollment_services._mark_paid(...)``. (import-linter sees modules, not names.)"""
    found = []
    for app in apps:
        paths = _source_files(app) if root == ROOT else sorted((root / app).rglob("*.py"))
        for path in paths:
            tree = ast.parse(path.read_text(), filename=str(path))
            foreign: set[str] = set()  # local names bound to another app's module or object
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    source = node.module.split(".")[0]
                    if source == app or source not in (*APPS, "maaledu"):
                        continue
                    for alias in node.names:
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            found.append(
                                f"{path.relative_to(root)}:{node.lineno} imports "
                                f"{node.module}.{alias.name}"
                            )
                        foreign.add(alias.asname or alias.name)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        source = alias.name.split(".")[0]
                        if source != app and source in (*APPS, "maaledu"):
                            foreign.add(alias.asname or source)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr.startswith("_")
                    and not node.attr.startswith("__")
                    and isinstance(node.value, ast.Name)
                    and node.value.id in foreign
                ):
                    found.append(
                        f"{path.relative_to(root)}:{node.lineno} uses {node.value.id}.{node.attr}"
                    )
    return found


def test_no_app_uses_another_apps_private_names():
    """An underscore name is its module's own business, whatever module another app may import."""
    found = private_name_uses()
    assert not found, "another app's private names:\n" + "\n".join(found)


def test_the_private_name_check_sees_imports_and_attributes(tmp_path):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "example.py").write_text(
        "from enrollments.services.fulfilment import _mark_paid\n"
        "from enrollments import services as enrollment_services\n"
        "from ops import _own\n"
        "enrollment_services._revoke(1)\n"
        "enrollment_services.refund_enrollment(1)\n"
    )
    assert private_name_uses(root=tmp_path, apps=("ops",)) == [
        "ops/example.py:1 imports enrollments.services.fulfilment._mark_paid",
        "ops/example.py:4 uses enrollment_services._revoke",
    ]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "from enrollments.models import Enrollment\n"
            "def f(pk):\n    Enrollment.objects.filter(pk=pk).update(status='paid')\n",
            [("f", "enrollments.Enrollment", "update")],
        ),
        (
            "from enrollments import models\n"
            "def f(pk):\n    qs = models.Enrollment.objects.filter(pk=pk)\n    qs.delete()\n",
            [("f", "enrollments.Enrollment", "delete")],
        ),
        (
            "from enrollments.models import Enrollment\n"
            "def f(enrollment: Enrollment):\n    enrollment.save(update_fields=['status'])\n",
            [("f", "enrollments.Enrollment", "save")],
        ),
        (
            "from enrollments.models import Enrollment\n"
            "def f(pk, user):\n    e = Enrollment.objects.get(pk=pk)\n    e.course.save()\n"
            "    user.enrollments.update(email='')\n",
            [("f", "courses.Course", "save"), ("f", "enrollments.Enrollment", "update")],
        ),
        (
            "from django.core.cache import cache\n"
            "from enrollments.models import Enrollment\n"
            "def f(pk, data):\n    e = Enrollment.objects.get(pk=pk)\n    e.refresh_from_db()\n"
            "    Enrollment.objects.filter(pk=pk).count()\n    cache.delete('k')\n"
            "    data.update(x=1)\n    e = {}\n    e.update(y=2)\n",
            [],
        ),
        (
            "from affiliates.models import Commission\n"
            "def f():\n    obj, _ = Commission.objects.get_or_create(sale_id=1)\n"
            "    obj.delete()\n",
            [
                ("f", "affiliates.Commission", "get_or_create"),
                ("f", "affiliates.Commission", "delete"),
            ],
        ),
    ],
)
def test_the_write_check_sees_the_usual_shapes(tmp_path, source, expected):
    """The check is only as good as its tracing: these are the shapes it must see (and ignore)."""
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "example.py").write_text(source)
    found = cross_app_writes(root=tmp_path, apps=("ops",))
    assert [(fn, model, method) for _, fn, model, method, _ in found] == expected


# The one module allowed to call Django's atomic: it is what the others call instead.
ATOMIC_WRAPPER = Path("common") / "transactions.py"


def direct_atomic_uses(root: Path = ROOT, apps=(*APPS, "maaledu")) -> list[str]:
    """Calls of ``django.db.transaction.atomic`` outside ``common.transactions``, in any
    spelling: ``from django.db.transaction import atomic``, ``transaction.atomic`` after
    ``from django.db import transaction`` (aliases too), ``django.db.transaction.atomic``."""
    found = []
    for app in apps:
        paths = _source_files(app) if root == ROOT else sorted((root / app).rglob("*.py"))
        for path in paths:
            relative = path.relative_to(root)
            if relative == ATOMIC_WRAPPER:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            modules: set[str] = set()  # local names bound to django.db.transaction
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0:
                    for alias in node.names:
                        if node.module == "django.db.transaction" and alias.name == "atomic":
                            found.append(f"{relative}:{node.lineno} imports atomic")
                        elif node.module == "django.db" and alias.name == "transaction":
                            modules.add(alias.asname or alias.name)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name == "django.db.transaction" and alias.asname:
                            modules.add(alias.asname)
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and node.attr == "atomic"):
                    continue
                if (isinstance(node.value, ast.Name) and node.value.id in modules) or (
                    ast.unparse(node.value) == "django.db.transaction"
                ):
                    found.append(f"{relative}:{node.lineno} uses {ast.unparse(node)}")
    return found


def test_app_code_opens_transactions_through_common_transactions():
    """Django's ``atomic`` is a silent no-op on MongoDB: app code uses
    ``common.transactions.atomic``, which opens the backend's own transaction there."""
    found = direct_atomic_uses()
    assert not found, "use common.transactions.atomic instead:\n" + "\n".join(found)


def test_the_atomic_check_sees_every_spelling(tmp_path):
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "example.py").write_text(
        "import django.db.transaction\n"
        "import django.db.transaction as tx\n"
        "from django.db import transaction\n"
        "from django.db import transaction as db_transaction\n"
        "from django.db.transaction import atomic\n"
        "from common.transactions import atomic as ours\n"
        "transaction.on_commit(print)\n"
        "with transaction.atomic():\n    pass\n"
        "with db_transaction.atomic():\n    pass\n"
        "with django.db.transaction.atomic():\n    pass\n"
        "with tx.atomic():\n    pass\n"
        "with ours():\n    pass\n"
    )
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "transactions.py").write_text(
        "from django.db import transaction\ntransaction.atomic()\n"
    )
    assert sorted(direct_atomic_uses(root=tmp_path, apps=("ops", "common"))) == [
        "ops/example.py:10 uses db_transaction.atomic",
        "ops/example.py:12 uses django.db.transaction.atomic",
        "ops/example.py:14 uses tx.atomic",
        "ops/example.py:5 imports atomic",
        "ops/example.py:8 uses transaction.atomic",
    ]
