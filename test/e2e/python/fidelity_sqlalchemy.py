"""Protocol fidelity with SQLAlchemy (Debian's python3-sqlalchemy) over psycopg2 through Postern.

Usage: fidelity_sqlalchemy.py <port> <user> <password> <ca file> <section>.
Each section prints one JSON object; the node test asserts on it.
"""
import datetime
import decimal
import hashlib
import io
import json
import sys
import threading
import time
import uuid

import sqlalchemy as sa
from sqlalchemy import exc, inspect
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, declarative_base

PORT, USER, PASSWORD, CA, SECTION = sys.argv[1:6]


def engine(password=PASSWORD, **kwargs):
    url = sa.engine.URL.create("postgresql+psycopg2", username=USER, password=password, host="localhost",
                               port=int(PORT), database="admin/main",
                               query={"sslmode": "verify-full", "sslrootcert": CA})
    return sa.create_engine(url, future=True, pool_pre_ping=True, **kwargs)


def login():
    """The dialect's first-connect queries (version, schema, string checks), then the pool's pre-ping."""
    eng = engine()
    with eng.connect() as conn:
        answer = conn.execute(sa.text("SELECT 40 + 2")).scalar_one()
        user = conn.execute(sa.text("SELECT current_user")).scalar_one()
    with eng.connect() as conn:
        again = conn.execute(sa.text("SELECT 6 * 7")).scalar_one()
    try:
        with engine(password=PASSWORD + "x").connect():
            wrong = "connected"
    except exc.OperationalError as e:
        wrong = getattr(e.orig, "pgcode", None) or str(e.orig)
    return {"answer": answer, "again": again, "current_user": user,
            "server_version": list(eng.dialect.server_version_info[:1]),
            "default_schema": eng.dialect.default_schema_name, "pool_connections": eng.pool.checkedin(),
            "wrong_password": wrong}


metadata = sa.MetaData()
TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
typed = sa.Table(
    "sqla_types", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("big", sa.BigInteger, nullable=False),
    sa.Column("amount", sa.Numeric(40, 10)),
    sa.Column("label", sa.String(40), index=True),
    sa.Column("ok", sa.Boolean),
    sa.Column("day", sa.Date),
    sa.Column("at", sa.DateTime(timezone=True)),
    sa.Column("span", sa.Interval),
    sa.Column("raw", sa.LargeBinary),
    sa.Column("ident", postgresql.UUID(as_uuid=True)),
    sa.Column("doc", postgresql.JSONB),
    sa.Column("ints", postgresql.ARRAY(sa.Integer)),
    sa.Column("missing", sa.Text),
)
ROW = {
    "id": 1, "big": 9223372036854775807, "amount": decimal.Decimal("123456789012345678901234567890.1234567890"),
    "label": 'héllo ✓ "quoted"', "ok": True, "day": datetime.date(2024, 2, 29),
    "at": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=TZ),
    "span": datetime.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7),
    "raw": bytes(range(256)), "ident": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "doc": {"a": [1, 2.5, None, True], "b": {"c": "é ✓"}}, "ints": [1, -2, None, 2147483647], "missing": None,
}


def types():
    """Core: create_all, insert, select back equal; literal binds; reflection of what create_all made."""
    eng = engine()
    metadata.create_all(eng)
    with eng.begin() as conn:
        conn.execute(typed.insert(), ROW)
    with eng.connect() as conn:
        row = conn.execute(sa.select(typed)).mappings().one()
        mismatches = [name for name, value in ROW.items() if row[name] != value or type(row[name]) != type(value)]
        bound = {name: conn.execute(sa.select(sa.cast(sa.bindparam("v", value, type_=typed.c[name].type),
                                                      typed.c[name].type))).scalar_one()
                 for name, value in ROW.items()}
        bound_mismatches = [name for name, value in ROW.items() if bound[name] != value]
        server = conn.execute(sa.text("SELECT amount::text, octet_length(raw), at AT TIME ZONE 'UTC' FROM sqla_types")).one()
    inspector = inspect(eng)
    columns = [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns("sqla_types")]
    at_has_timezone = [c["type"].timezone for c in inspector.get_columns("sqla_types") if c["name"] == "at"]
    return {"mismatches": mismatches, "bound_mismatches": bound_mismatches,
            "server_view": [server[0], server[1], server[2].isoformat()],
            "tables": inspector.get_table_names(), "columns": columns, "at_has_timezone": at_has_timezone,
            "primary_key": inspector.get_pk_constraint("sqla_types")["constrained_columns"],
            "indexes": [(i["name"], i["column_names"]) for i in inspector.get_indexes("sqla_types")]}


def prepared():
    """psycopg2 has no protocol-level prepare: PREPARE/EXECUTE in SQL, on one pooled connection."""
    with engine().connect() as conn:
        conn.execute(sa.text("PREPARE sqla_double (int) AS SELECT $1 * 2"))
        doubled = [conn.execute(sa.text("EXECUTE sqla_double (%d)" % n)).scalar_one() for n in (3, 5, 7)]
        statements = conn.execute(sa.text("SELECT name, from_sql FROM pg_prepared_statements")).all()
        conn.execute(sa.text("DEALLOCATE sqla_double"))
    return {"doubled": doubled, "statements": [list(s) for s in statements]}


Base = declarative_base()


class Item(Base):
    __tablename__ = "sqla_items"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(20), nullable=False)


def transaction():
    """engine.begin() rolls back on error; a SAVEPOINT (begin_nested) survives its own error; ORM Session."""
    eng = engine()
    Base.metadata.create_all(eng)
    steps = {}
    try:
        with eng.begin() as conn:
            conn.execute(sa.insert(Item.__table__), {"id": 1, "name": "first"})
            try:
                conn.execute(sa.insert(Item.__table__), {"id": 1, "name": "duplicate"})
            except exc.IntegrityError as e:
                steps["duplicate"] = e.orig.pgcode
            conn.execute(sa.text("SELECT 1"))
    except exc.InternalError as e:
        steps["in_failed"] = e.orig.pgcode
    with eng.connect() as conn:
        steps["count_after_rollback"] = conn.execute(sa.text("SELECT count(*) FROM sqla_items")).scalar_one()
    with Session(eng) as session:
        session.add(Item(id=2, name="kept"))
        session.flush()
        try:
            with session.begin_nested():
                session.add(Item(id=2, name="clash"))
                session.flush()
        except exc.IntegrityError as e:
            steps["savepoint"] = e.orig.pgcode
        session.add(Item(id=3, name="after savepoint"))
        session.commit()
        steps["names"] = [i.name for i in session.scalars(sa.select(Item).order_by(Item.id))]
    return steps


def copy():
    """COPY through the DBAPI connection of a pooled connection (copy_expert), both ways."""
    eng = engine()
    with eng.connect() as conn:
        conn.execute(sa.text("CREATE TABLE sqla_copy (id int PRIMARY KEY, label text)"))
        data = "".join("%d\trow %d é ✓\n" % (i, i) for i in range(1, 20001))
        cursor = conn.connection.cursor()
        cursor.copy_expert("COPY sqla_copy FROM STDIN", io.StringIO(data))
        copied_in = cursor.rowcount
        conn.commit()
        out = io.StringIO()
        cursor.copy_expert("COPY (SELECT * FROM sqla_copy ORDER BY id) TO STDOUT", out)
        total = conn.execute(sa.text("SELECT sum(id) FROM sqla_copy")).scalar_one()
    return {"copied_in": copied_in, "sum": int(total), "same": out.getvalue() == data}


def cancel():
    """The DBAPI connection's cancel() from another thread; the pooled connection goes on."""
    eng = engine(pool_size=1, max_overflow=1)
    with eng.connect() as conn, eng.connect() as watcher:
        conn.execute(sa.text("SET application_name TO 'sqla-sleeper'"))
        dbapi = conn.connection.dbapi_connection

        def cancel_when_running():
            for _ in range(400):
                active = watcher.execute(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sqla-sleeper' "
                    "AND state = 'active' AND query = 'SELECT pg_sleep(30)'")).scalar_one()
                watcher.rollback()
                if active == 1:
                    break
                time.sleep(0.05)
            dbapi.cancel()

        canceller = threading.Thread(target=cancel_when_running)
        canceller.start()
        result = {}
        try:
            conn.execute(sa.text("SELECT pg_sleep(30)"))
            result["outcome"] = "finished"
        except exc.DBAPIError as e:
            result.update(outcome=type(e).__name__, sqlstate=e.orig.pgcode,
                          invalidated=e.connection_invalidated)
        canceller.join()
        conn.rollback()
        result["after"] = conn.execute(sa.text("SELECT 6 * 7")).scalar_one()
    return result


def pool_recovery():
    """A pooled session whose backend is terminated: pre-ping reconnects; without it the error is seen as a disconnect."""
    out = {}
    killer = engine()
    for pre_ping in (True, False):
        eng = engine(pool_size=1, max_overflow=0) if pre_ping else sa.create_engine(
            engine().url, future=True, pool_size=1, max_overflow=0)
        with eng.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        with killer.connect() as conn:
            terminated = conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
        outcome = {"terminated": terminated}
        if not pre_ping:
            try:
                with eng.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                outcome["stale"] = "worked"
            except exc.DBAPIError as e:
                # libpq words it "SSL connection has been closed unexpectedly" or "server closed the connection
                # unexpectedly": either way the dialect must recognise a disconnect and invalidate the pool
                outcome["stale"] = {"invalidated": e.connection_invalidated}
        with eng.connect() as conn:
            outcome["after"] = conn.execute(sa.text("SELECT 6 * 7")).scalar_one()
            outcome["new_backend"] = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid
        out["pre_ping" if pre_ping else "no_pre_ping"] = outcome
    return out


def stream():
    """stream_results (a psycopg2 named cursor) and yield_per over 100,000 rows."""
    query = sa.text("SELECT g, md5(g::text) AS h FROM generate_series(1, 100000) AS g ORDER BY g")
    with engine().connect() as conn:
        result = conn.execute(query.execution_options(stream_results=True, max_row_buffer=2000))
        cursors = conn.execute(sa.text("SELECT count(*) FROM pg_cursors")).scalar_one()
        count, in_order, hashes_ok = 0, True, True
        for partition in result.partitions(5000):
            for g, h in partition:
                count += 1
                in_order = in_order and g == count
                hashes_ok = hashes_ok and h == hashlib.md5(str(g).encode()).hexdigest()
        after = conn.execute(sa.text("SELECT 6 * 7")).scalar_one()
    return {"rows": count, "in_order": in_order, "hashes_ok": hashes_ok, "open_cursors_midway": cursors,
            "after": after}


print(json.dumps(globals()[SECTION](), default=str))
