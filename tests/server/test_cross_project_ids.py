"""No route reaches another project's object by id: generated from the route table.

Alice owns project ``alice/a`` (its admin) and has no role on ``bob/b``. Every operation in
``/openapi.json`` that names an object is called as alice with bob's object from B:

- **path ids** (``{comment_id}``, ``{webhook_id}``, ``{number}``, ``{token_id}`` …): through
  A's path (``/api/projects/alice/a/…``) when the path has a project, with every id from B and,
  when it takes several, with the leading ones from A and the rest from B (A's webhook with B's
  delivery); with the id alone (``/api/tokens/{id}``, ``/api/observe/alerts/rules/{id}``)
  otherwise;
- **query parameters** naming an object (``?project=``, any UUID such as ``?rule=``);
- **body fields** naming one (``{"project": "bob/b"}`` on tokens, bindings, delegations, rules).

Each call must answer 404, exactly as it answers for an id that does not exist, and change
nothing at all (every table, both repositories' refs). A control call with A's own object of
the same kind must reach it (neither 404 nor 422), which proves the body and query sent are
valid, so the 404 comes from the ownership check and not from the request's shape.

:data:`KINDS` maps each path id (by the segment before it, e.g. ``comments/{comment_id}``) and
:data:`REFS` each query/body name to a factory that makes such an object in a given project. A
new route whose id is in neither (nor in :data:`EXEMPT`, with a reason) fails the test, naming
the factory to add; so does a route needing a body or query value that :data:`BODIES` or
:data:`QUERIES` lack. Routes outside ``/openapi.json`` (git smart HTTP and LFS, the dashboards)
are not covered here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from platform_sdk.config import load_settings
from platform_sdk.core.db import Base
from platform_sdk.projects.issue_schemas import CommentCreate
from platform_sdk.sdk import Platform
from platform_sdk.server.app import create_app
from tests.plugins.platforms import People
from tests.server.crossworld import (
    BODIES,
    EXEMPT,
    KINDS,
    PROJECT_PARAMS,
    PROJECT_ROOT,
    QUERIES,
    REFS,
    Ids,
    Side,
    World,
    make_world,
)

KIT = "tests/server/crossworld.py"
# The path-id check runs on both backends; the reference and token-bound checks, whose lookups
# are the same SQL, on SQLite only, to keep the module near half a minute.
SQLITE = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(platform: Platform, people: People) -> World:
    return make_world(platform, people)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> list[Operation]:
    """The route table of the app (built once: the document takes a second or two)."""
    data = tmp_path_factory.mktemp("routes") / "data"
    return operations(create_app(settings=load_settings(data_dir=data)))


# -- the route table --------------------------------------------------------------------------
@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    ids: tuple[str, ...]  # path parameters other than the project's, left to right
    keys: tuple[str, ...]  # the KINDS key of each
    query: tuple[str, ...]  # query parameters
    required_query: tuple[str, ...]
    needs_body: bool
    refs: tuple[str, ...] = ()  # query parameters naming an object (?project=, ?rule=)
    body_refs: tuple[str, ...] = ()  # body fields naming one ({"project": …})
    streams: bool = False  # Server-Sent Events: only the opening answer is read

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _names_an_object(name: str, schema: dict[str, Any]) -> bool:
    """A parameter or body field that names an object: ``project`` (owner/name or id) or a
    UUID."""
    formats = {schema.get("format"), *(s.get("format") for s in schema.get("anyOf", []))}
    return name == "project" or "uuid" in formats


def _body_fields(spec: dict[str, Any], op: dict[str, Any]) -> dict[str, Any]:
    """The JSON body's properties (``$ref`` resolved, ``X | None`` unwrapped)."""
    content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    for option in [schema, *schema.get("anyOf", [])]:
        if "$ref" in option:
            option = spec["components"]["schemas"][option["$ref"].rsplit("/", 1)[-1]]
        if option.get("properties"):
            return dict(option["properties"])
    return {}


def _streams(op: dict[str, Any]) -> bool:
    content = op.get("responses", {}).get("200", {}).get("content", {})
    return "text/event-stream" in content


def operations(app: FastAPI) -> list[Operation]:
    """Every operation of ``/openapi.json`` that names an object in its path, query or body."""
    found = []
    spec = app.openapi()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            params = op.get("parameters", [])
            in_path = [p["name"] for p in params if p["in"] == "path"]
            in_project = path == PROJECT_ROOT or path.startswith(PROJECT_ROOT + "/")
            ids = tuple(n for n in in_path if not (in_project and n in PROJECT_PARAMS))
            query = [p for p in params if p["in"] == "query"]
            in_query = tuple(p["name"] for p in query if _names_an_object(p["name"], p["schema"]))
            fields = _body_fields(spec, op)
            in_body = tuple(n for n, sch in fields.items() if _names_an_object(n, sch))
            if not ids and not in_query and not in_body:
                continue
            keys = tuple(
                re.search(rf"([^/]+)/\{{{n}\}}", path).group(0)  # type: ignore[union-attr]
                for n in ids
            )
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    ids=ids,
                    keys=keys,
                    query=tuple(p["name"] for p in query),
                    required_query=tuple(p["name"] for p in query if p.get("required")),
                    needs_body=bool(op.get("requestBody", {}).get("required")),
                    refs=in_query,
                    body_refs=in_body,
                    streams=_streams(op),
                )
            )
    return found


def by_path_id(ops: list[Operation]) -> list[Operation]:
    """The operations the path-id check calls (an id in the path, nothing exempt)."""
    return [
        o for o in ops if o.ids and o.label not in EXEMPT and not any(k in EXEMPT for k in o.keys)
    ]


def by_query_ref(ops: list[Operation]) -> list[Operation]:
    """The operations the query check calls (``?project=``, ``?rule=`` …)."""
    return [o for o in ops if crossed_query(o)]


def crossed_query(op: Operation) -> list[str]:
    """The query parameters the query check sets to B's object."""
    return [r for r in op.refs if f"{op.label} ?{r}" not in EXEMPT]


def by_body_ref(ops: list[Operation]) -> list[Operation]:
    """The operations the body check calls (``{"project": …}`` …)."""
    return [o for o in ops if crossed_fields(o)]


def crossed_fields(op: Operation) -> list[str]:
    """The body fields the body check sets to B's object."""
    return [r for r in op.body_refs if f"{op.label} .{r}" not in EXEMPT]


def gaps(ops: list[Operation]) -> list[str]:
    """What the registries lack for ``ops``: each line says what to add."""
    out = []
    for op in ops:
        for key in op.keys:
            if key not in KINDS and key not in EXEMPT and op.label not in EXEMPT:
                out.append(
                    f"{op.label}: no factory for {key!r}: add KINDS[{key!r}] = Kind(make, missing) "
                    f"in {KIT}, making such an object in a given project (or EXEMPT[...] with "
                    "the reason it belongs to no project or user)"
                )
        for ref in crossed_query(op) + crossed_fields(op):
            if ref not in REFS:
                out.append(
                    f"{op.label}: no factory for {ref!r}: add REFS[{ref!r}] = Kind(make, missing) "
                    f"in {KIT}"
                )
        if not (by_path_id([op]) or by_query_ref([op]) or by_body_ref([op])):
            continue
        if op.needs_body and op.label not in BODIES:
            out.append(f"{op.label}: needs a body: add BODIES[{op.label!r}] (a valid one)")
        missing_q = [q for q in op.required_query if q not in QUERIES.get(op.label, {})]
        if missing_q:
            out.append(f"{op.label}: add QUERIES[{op.label!r}] with {missing_q}")
    return out


# -- calling and comparing --------------------------------------------------------------------
VOLATILE = {
    ("api_tokens", "last_used_at"),  # alice's token is stamped on each request
}


def snapshot(w: World) -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table (as text) and both repositories' refs."""
    state: dict[str, list[tuple[str, ...]]] = {}
    with w.platform.session() as db:
        for table in Base.metadata.sorted_tables:
            cols = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            rows = db.execute(select(*cols)).all()
            state[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    for side in (w.alice, w.bob):
        state[f"refs of {side.project}"] = _refs(side.bare)
    return state


def _refs(bare: Path) -> list[tuple[str, ...]]:
    """The repository's refs, loose and packed (read as files: no git process per call)."""
    loose = [
        (str(p.relative_to(bare)), p.read_text()) for p in bare.glob("refs/**/*") if p.is_file()
    ]
    packed = bare / "packed-refs"
    return [*sorted(loose), ("packed-refs", packed.read_text() if packed.exists() else "")]


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [name for name in after if before.get(name) != after[name]]


def url(op: Operation, side: Side, ids: Ids) -> str:
    owner, _, name = side.project.partition("/")
    values = {"owner": owner, "name": name, **ids}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], op.path)


@dataclass(frozen=True)
class Answer:
    status: int
    code: str
    message: str = field(compare=False)

    def __str__(self) -> str:
        return f"{self.status} {self.code} {self.message!r}".rstrip()


def request(
    w: World,
    op: Operation,
    side: Side,
    ids: Ids,
    query: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> Answer:
    """``op`` called as ``w.who`` (alice) through ``side``'s project path (``?project=`` too unless
    ``query`` says otherwise; body ``fields`` over BODIES): the status and the error."""
    params = dict(QUERIES.get(op.label, {}))
    if "project" in op.query:
        params["project"] = side.project
    params.update(query or {})
    kwargs: dict[str, Any] = {"params": params, "headers": w.headers}
    if op.label in BODIES:
        kwargs["json"] = {**BODIES[op.label], **(fields or {})}
    target = url(op, side, ids)
    if op.streams:  # a stream never ends by design; its 404 comes before streaming
        with w.client.stream(op.method, target, **kwargs) as response:
            status = response.status_code
            body = response.read() if status != 200 else b""
    else:
        response = w.client.request(op.method, target, **kwargs)
        status, body = response.status_code, response.content
    error: dict[str, Any] = {}
    if body.startswith(b"{"):
        error = response.json().get("error") or {}
    return Answer(status, str(error.get("code", "")), str(error.get("message", "")))


def build(w: World, op: Operation, side: Side, variant: int = 0) -> Ids:
    """One object of each path id's kind in ``side``'s project (its ``variant``-th factory)."""
    ids: Ids = {}
    for name, key in zip(op.ids, op.keys, strict=True):
        factories = KINDS[key].factories
        ids[name] = factories[min(variant, len(factories) - 1)](w, side, ids)
    return ids


def _made_by(op: Operation, variant: int) -> list[str]:
    factories = [KINDS[key].factories for key in op.keys]
    return [f[min(variant, len(f) - 1)].__name__.strip("_") for f in factories]


def variants(op: Operation) -> int:
    return max(len(KINDS[key].factories) for key in op.keys)


def compare(
    w: World,
    op: Operation,
    what: str,
    crossed: tuple[Ids, dict[str, str], dict[str, str]],
    missing: tuple[Ids, dict[str, str], dict[str, str]],
) -> list[str]:
    """With B's object (``crossed``: path ids, query refs) ``op`` must answer 404 exactly as
    with a missing one, and change nothing."""
    before = snapshot(w)
    got = request(w, op, w.alice, *crossed)
    after = snapshot(w)
    absent = request(w, op, w.alice, *missing)
    failures = []
    if got.status != 404 or got != absent:
        failures.append(
            f"{op.label} [{what}] as {w.who} answered {got}; a missing id answers {absent}: "
            "want 404 for both"
        )
    if changed(before, after):
        failures.append(f"{op.label} [{what}] changed {changed(before, after)}")
    return failures


def reaches(op: Operation, control: Answer) -> list[str]:
    """The control call with alice's own object must get past the lookup."""
    if control.status in (404, 422) or control.status >= 500:
        return [
            f"{op.label}: with alice's own object it answered {control}: the request does not "
            "reach the object, so its 404 proves nothing (fix BODIES/QUERIES or the factory)"
        ]
    return []


def check_path_ids(w: World, op: Operation, *, control: bool = True) -> list[str]:
    """B's ids through A's path (or alone): each id position in turn, the ones before it A's."""
    failures = []
    for v in range(variants(op)):  # e.g. an issue comment, then a merge request comment
        mine, theirs = build(w, op, w.alice, v), build(w, op, w.bob, v)
        for k in range(len(op.ids)):  # ids[:k] alice's own, ids[k:] bob's
            crossed = {n: (mine if i < k else theirs)[n] for i, n in enumerate(op.ids)}
            missing = {
                n: (mine[n] if i < k else KINDS[op.keys[i]].missing) for i, n in enumerate(op.ids)
            }
            what = ", ".join(f"{n}={'A' if i < k else 'B'}" for i, n in enumerate(op.ids))
            if variants(op) > 1:
                what += f", {'/'.join(_made_by(op, v))}"
            failures += compare(w, op, what, (crossed, {}, {}), (missing, {}, {}))
        if control:
            failures += reaches(op, request(w, op, w.alice, mine))
    return failures


def check_refs(w: World, op: Operation, where: str, *, control: bool = True) -> list[str]:
    """B's object in each query parameter (``where="query"``) or body field (``"body"``) that
    names one. Path ids are A's under a project path, else B's, so only the reference is
    crossed (``GET /api/secrets/{B's name}?project=bob/b``)."""
    failures = []
    in_project = op.path.startswith(PROJECT_ROOT)
    names = crossed_query(op) if where == "query" else crossed_fields(op)

    def call(ids: Ids, ref: str, value: str) -> tuple[Ids, dict[str, str], dict[str, str]]:
        return (ids, {ref: value}, {}) if where == "query" else (ids, {}, {ref: value})

    for ref in names:
        ids = build(w, op, w.alice if in_project else w.bob)
        theirs = call(ids, ref, REFS[ref].make(w, w.bob, ids))
        label = f"?{ref}=B" if where == "query" else f'{{"{ref}": B}}'
        failures += compare(w, op, label, theirs, call(ids, ref, REFS[ref].missing))
        if not control:
            continue
        mine = build(w, op, w.alice)
        failures += reaches(
            op, request(w, op, w.alice, *call(mine, ref, REFS[ref].make(w, w.alice, mine)))
        )
    return failures


# -- the tests --------------------------------------------------------------------------------
def test_the_route_table_is_found_and_every_id_parameter_has_a_factory(
    table: list[Operation],
) -> None:
    ops = table
    labels = {o.label for o in ops}
    # the two holes the issue found, and one of each family, are in the table
    assert "PATCH /api/projects/{owner}/{name}/comments/{comment_id}" in labels
    assert "PATCH /api/projects/{owner}/{name}/webhooks/{webhook_id}" in labels
    assert "DELETE /api/tokens/{token_id}" in labels
    assert len(by_path_id(ops)) > 50
    assert len(by_query_ref(ops)) > 5
    assert len(by_body_ref(ops)) >= 4
    assert not gaps(ops), "\n".join(gaps(ops))


def test_a_new_route_is_picked_up_and_fails_until_it_has_a_factory(tmp_path: Path) -> None:
    app = create_app(settings=load_settings(data_dir=tmp_path / "data"))
    router = APIRouter()

    @router.get("/api/projects/{owner}/{name}/widgets/{widget_id}")
    def get_widget(owner: str, name: str, widget_id: uuid.UUID) -> None: ...

    @router.post("/api/projects/{owner}/{name}/issues/{number}/labels")
    def label_issue(owner: str, name: str, number: int, body: CommentCreate) -> None: ...

    @router.get("/api/gadgets")
    def list_gadgets(owner: uuid.UUID | None = None) -> None: ...

    app.include_router(router)
    assert gaps(operations(app)) == [
        "GET /api/projects/{owner}/{name}/widgets/{widget_id}: no factory for "
        "'widgets/{widget_id}': add KINDS['widgets/{widget_id}'] = Kind(make, missing) in "
        "tests/server/crossworld.py, making such an object in a given project (or EXEMPT[...] "
        "with the reason it belongs to no project or user)",
        "POST /api/projects/{owner}/{name}/issues/{number}/labels: needs a body: add "
        "BODIES['POST /api/projects/{owner}/{name}/issues/{number}/labels'] (a valid one)",
        "GET /api/gadgets: no factory for 'owner': add REFS['owner'] = Kind(make, missing) in "
        "tests/server/crossworld.py",
    ]


def test_no_route_reaches_another_projects_object_by_id(
    world: World, table: list[Operation]
) -> None:
    ops = table
    failures = [f for op in by_path_id(ops) for f in check_path_ids(world, op)]
    assert not failures, "\n".join(failures)


@SQLITE
def test_no_query_parameter_reaches_another_projects_object(
    world: World, table: list[Operation]
) -> None:
    ops = table
    failures = [f for op in by_query_ref(ops) for f in check_refs(world, op, "query")]
    assert not failures, "\n".join(failures)


@SQLITE
def test_no_body_field_reaches_another_projects_object(
    world: World, table: list[Operation]
) -> None:
    ops = table
    failures = [f for op in by_body_ref(ops) for f in check_refs(world, op, "body")]
    assert not failures, "\n".join(failures)


@SQLITE
def test_a_global_admins_token_bounded_to_a_reaches_nothing_of_b(
    world: World, people: People, table: list[Operation]
) -> None:
    """A token bounded to A reaches only A, even for a global admin: every crossing above, as
    dana (admin everywhere) with such a token. (No control calls: the objects of A are
    alice's, and the requests' shape is proven by the tests above.)"""
    dana = people.user("dana", roles=("admin",))
    raw = people.token(dana, project_id=world.alice.project_id, name="bounded")
    world.headers, world.who = people.auth(raw), "dana (admin, token bounded to alice/a)"
    ops = table
    failures = [f for op in by_path_id(ops) for f in check_path_ids(world, op, control=False)]
    for where, found in (("query", by_query_ref(ops)), ("body", by_body_ref(ops))):
        failures += [f for op in found for f in check_refs(world, op, where, control=False)]
    assert not failures, "\n".join(failures)
