"""Protocol fidelity with psycopg 3 (Debian's python3-psycopg, over libpq) through Postern.

Usage: fidelity_psycopg3.py <port> <user> <password> <ca file> <section>.
Each section prints one JSON object; the node test asserts on it.
"""
import datetime
import decimal
import hashlib
import json
import sys
import threading
import time
import uuid

import psycopg
from psycopg.types.json import Jsonb

PORT, USER, PASSWORD, CA, SECTION = sys.argv[1:6]


def connect(password=PASSWORD, **kwargs):
    return psycopg.connect(host="localhost", port=PORT, user=USER, password=password,
                           dbname="admin/main", sslmode="verify-full", sslrootcert=CA, **kwargs)


def login():
    with connect() as conn:
        answer, user = conn.execute("SELECT 40 + 2, current_user").fetchone()
        ssl = conn.pgconn.ssl_in_use
        major = conn.info.server_version // 10000
        encoding, datestyle = conn.info.parameter_status("client_encoding"), conn.info.parameter_status("DateStyle")
    try:
        connect(password=PASSWORD + "x").close()
        wrong = "connected"
    except psycopg.OperationalError as e:
        wrong = str(e)  # libpq reports a failed login as text only
    return {"answer": answer, "current_user": user, "ssl_in_use": ssl, "server_major": major,
            "parameters": [encoding, datestyle],
            "wrong_password": wrong}


TZ = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
VALUES = {
    "int": (-2147483648, "int"),
    "bigint": (9223372036854775807, "bigint"),
    "numeric": (decimal.Decimal("12345678901234567890.1234567890"), "numeric"),
    "float": (1.5e300, "float8"),
    "text": ('héllo ✓ "quoted" \\ back', "text"),
    "bool": (True, "boolean"),
    "date": (datetime.date(2024, 2, 29), "date"),
    "timestamptz": (datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=TZ), "timestamptz"),
    "interval": (datetime.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7), "interval"),
    "bytea": (bytes(range(256)), "bytea"),
    "uuid": (uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"), "uuid"),
    "jsonb": ({"a": [1, 2.5, None, True], "b": {"c": "é ✓"}}, "jsonb"),
    "int_array": ([1, -2, None, 2147483647], "int[]"),
    "text_array": (["a", "b c", '"q"', "back\\slash", "é ✓", None, "", "NULL"], "text[]"),
    "null": (None, "text"),
}


def adapt(value):
    return Jsonb(value) if isinstance(value, dict) else value


def same(got, value):
    return got == value and type(got) == type(value)


def types():
    """Every value as a parameter and through a table: text, and binary parameters and results."""
    results = {}
    with connect() as conn:
        columns = ", ".join('"%s" %s' % (name, cast) for name, (_, cast) in VALUES.items())
        conn.execute("CREATE TABLE pg3_types (%s)" % columns)
        conn.execute("INSERT INTO pg3_types VALUES (%s)" % ", ".join(["%s"] * len(VALUES)),
                     [adapt(v) for v, _ in VALUES.values()])
        for binary in (False, True):
            cur = conn.cursor(binary=binary)
            row = cur.execute("SELECT * FROM pg3_types").fetchone()
            for (name, (value, cast)), got in zip(VALUES.items(), row):
                # %b sends the parameter in binary, %s lets psycopg choose (text for most types)
                placeholder = "%b" if binary else "%s"
                param = cur.execute("SELECT %s::%s" % (placeholder, cast), [adapt(value)]).fetchone()[0]
                outcome = results.setdefault(name, {})
                outcome["binary" if binary else "text"] = same(param, value) and same(got, value)
        numeric, length, utc = conn.execute(
            "SELECT numeric::text, octet_length(bytea), timestamptz AT TIME ZONE 'UTC' FROM pg3_types").fetchone()
    return {"values": results, "server_view": {"numeric": numeric, "bytea_length": length, "utc": utc.isoformat()}}


def prepared():
    """prepare=True parses once into a named server-side statement, then binds it."""
    with connect() as conn:
        doubled = [conn.execute("SELECT %s::int * 2", [n], prepare=True).fetchone()[0] for n in (3, 5, 7)]
        statements = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int * 2' AND NOT from_sql",
            prepare=False).fetchone()[0]
        # the automatic path: psycopg prepares a query once it ran prepare_threshold times
        for n in range(conn.prepare_threshold + 2):
            conn.execute("SELECT %s::text || 'x'", [str(n)])
        automatic = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::text || ''x''' AND NOT from_sql",
            prepare=False).fetchone()[0]
    return {"doubled": doubled, "server_statements": statements, "automatic": automatic}


def transaction():
    """A unique violation aborts the transaction block; it rolls back; a savepoint survives its own error."""
    with connect() as conn:
        conn.autocommit = True
        conn.execute("CREATE TABLE pg3_tx (id int PRIMARY KEY)")
        steps = {}
        try:
            with conn.transaction():
                conn.execute("INSERT INTO pg3_tx VALUES (1)")
                steps["in_transaction"] = conn.info.transaction_status.name
                try:
                    conn.execute("INSERT INTO pg3_tx VALUES (%s)", [1])
                except psycopg.errors.UniqueViolation as e:
                    steps["duplicate"] = e.sqlstate
                    steps["diag"] = [e.diag.severity, e.diag.severity_nonlocalized, e.diag.schema_name,
                                     e.diag.table_name, e.diag.constraint_name, e.diag.message_detail]
                steps["after_error"] = conn.info.transaction_status.name
                conn.execute("SELECT 1")
        except psycopg.errors.InFailedSqlTransaction as e:
            steps["in_failed"] = e.sqlstate
        steps["after_rollback"] = conn.info.transaction_status.name
        steps["count_after_rollback"] = conn.execute("SELECT count(*) FROM pg3_tx").fetchone()[0]
        with conn.transaction():
            conn.execute("INSERT INTO pg3_tx VALUES (2)")
            try:
                with conn.transaction():
                    conn.execute("INSERT INTO pg3_tx VALUES (2)")
            except psycopg.errors.UniqueViolation:
                steps["savepoint_rolled_back"] = True
            conn.execute("INSERT INTO pg3_tx VALUES (3)")
        steps["ids"] = [r[0] for r in conn.execute("SELECT id FROM pg3_tx ORDER BY id")]
    return steps


def copy():
    """COPY FROM STDIN row by row and in binary, COPY TO STDOUT rows and raw bytes."""
    with connect() as conn:
        conn.execute("CREATE TABLE pg3_copy (id int PRIMARY KEY, label text NOT NULL, note text)")
        sent = hashlib.sha256()
        with conn.cursor().copy("COPY pg3_copy (id, label, note) FROM STDIN") as copy:
            for i in range(1, 50001):
                note = None if i % 10 == 0 else "tab\there é ✓ %d" % (i * 7)
                copy.write_row((i, "label %d" % i, note))
                sent.update(("%d\tlabel %d\t%s\n" % (i, i, "\\N" if note is None else note.replace("\t", "\\t"))).encode())
        conn.commit()
        count, total, notes = conn.execute("SELECT count(*), sum(id), count(note) FROM pg3_copy").fetchone()
        received = hashlib.sha256()
        lines = 0
        with conn.cursor().copy("COPY (SELECT id, label, note FROM pg3_copy ORDER BY id) TO STDOUT") as copy:
            for block in copy:
                received.update(block)
                lines += bytes(block).count(b"\n")
        rows = []
        with conn.cursor().copy("COPY (SELECT id, note FROM pg3_copy WHERE id IN (9, 10) ORDER BY id) TO STDOUT") as copy:
            copy.set_types(["int4", "text"])
            rows = list(copy.rows())
        conn.execute("CREATE TABLE pg3_copy_binary (id int, data bytea)")
        with conn.cursor().copy("COPY pg3_copy_binary FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "bytea"])
            for i in range(1000):
                copy.write_row((i, bytes(range(256))))
        conn.commit()
        binary = conn.execute("SELECT count(*), count(*) FILTER (WHERE data = %s) FROM pg3_copy_binary",
                              [bytes(range(256))]).fetchone()
    return {"count": count, "sum": int(total), "notes": notes, "lines": lines,
            "same": received.hexdigest() == sent.hexdigest(), "rows": rows, "binary": list(binary)}


def pipeline():
    """libpq pipeline mode: many statements before one Sync; an error aborts the rest of its batch only."""
    with connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE pg3_pipeline (id int PRIMARY KEY, label text)")
        with conn.pipeline():
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO pg3_pipeline VALUES (%s, %s)", [(i, "row %d" % i) for i in range(1, 1001)])
            results = [conn.execute("SELECT %s::int * 2", [n]) for n in range(5)]
        doubled = [r.fetchone()[0] for r in results]
        outcome = {}
        try:
            with conn.pipeline() as p:
                conn.execute("INSERT INTO pg3_pipeline VALUES (2000, 'kept')")
                p.sync()
                conn.execute("INSERT INTO pg3_pipeline VALUES (1, 'duplicate')")
                conn.execute("INSERT INTO pg3_pipeline VALUES (2001, 'skipped')")
        except psycopg.errors.UniqueViolation as e:
            outcome["duplicate"] = e.sqlstate
        # prepare_threshold=0: every statement is a named one, parsed in the pipeline and bound again
        conn.prepare_threshold = 0
        with conn.pipeline():
            prepared = [conn.execute("SELECT %s::int + 1", [i]) for i in range(50)]
        outcome["prepared"] = sum(r.fetchone()[0] for r in prepared)
        outcome["prepared_statements"] = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement = 'SELECT $1::int + 1'").fetchone()[0]
        count, total = conn.execute("SELECT count(*), sum(id) FROM pg3_pipeline").fetchone()
        outcome.update(doubled=doubled, count=count, sum=int(total),
                       status=conn.info.transaction_status.name)
    return outcome


def cancel():
    """conn.cancel() from another thread while pg_sleep(30) runs."""
    conn = connect(application_name="fidelity-sleeper")
    watcher = connect(autocommit=True)

    def cancel_when_running():
        for _ in range(400):
            active = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fidelity-sleeper' "
                                     "AND state = 'active' AND query = 'SELECT pg_sleep(30)'").fetchone()[0]
            if active == 1:
                break
            time.sleep(0.05)
        conn.cancel()

    canceller = threading.Thread(target=cancel_when_running)
    canceller.start()
    result = {}
    try:
        conn.execute("SELECT pg_sleep(30)")
        result["outcome"] = "finished"
    except psycopg.Error as e:
        result.update(outcome=type(e).__name__, sqlstate=e.sqlstate, message=e.diag.message_primary)
    canceller.join()
    result["status_after_error"] = conn.info.transaction_status.name
    conn.rollback()
    result["after"] = conn.execute("SELECT 6 * 7").fetchone()[0]
    return result


def notify():
    """conn.notifies() yields NOTIFY and pg_notify on the channel listened to."""
    listener = connect(autocommit=True)
    notifier = connect(autocommit=True)
    listener.execute("LISTEN fidelity_events")
    notifier.execute("NOTIFY fidelity_events, 'first'")
    notifier.execute("NOTIFY other_channel, 'ignored'")
    notifier.execute("SELECT pg_notify('fidelity_events', %s)", ["second é ✓"])
    received = []
    for n in listener.notifies():
        received.append({"channel": n.channel, "payload": n.payload})
        if len(received) == 2:
            break
    return {"received": received}


def stream():
    """cursor.stream() (libpq single-row mode) and a named server-side cursor over 50,000 rows."""
    query = "SELECT g, md5(g::text) FROM generate_series(1, %s) AS g ORDER BY g"
    with connect() as conn:
        out = {}
        for kind, cursor in (("stream", conn.cursor()), ("named", conn.cursor(name="fidelity_named"))):
            rows = cursor.stream(query, [50000]) if kind == "stream" else cursor.execute(query, [50000])
            count, in_order, hashes_ok = 0, True, True
            for g, h in rows:
                count += 1
                in_order = in_order and g == count
                hashes_ok = hashes_ok and h == hashlib.md5(str(g).encode()).hexdigest()
            out[kind] = {"rows": count, "in_order": in_order, "hashes_ok": hashes_ok}
            cursor.close()
        out["usable_after"] = conn.execute("SELECT 6 * 7").fetchone()[0]
    return out


print(json.dumps(globals()[SECTION](), default=str))
