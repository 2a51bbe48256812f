"""Many psycopg2 or psycopg 3 clients at once through a transaction-mode database.

Usage: txn_hammer.py <port> <user> <password> <ca file> <psycopg2|psycopg3|psycopg3-pipeline>.
Each client (a thread with its own connection) sets its application_name,
then runs ROUNDS explicit transactions: it inserts a row tagged with its id
and round, counts its own rows and reads its setting back inside the
transaction, then commits (or every fourth round rolls back); between
transactions it runs a parameterised statement outside any transaction.
psycopg 3 prepares every statement server-side (prepare_threshold=0), so
its named statements meet many upstream connections; psycopg2 has no
protocol-level prepare and sends its parameters interpolated. With
psycopg3-pipeline BEGIN, the insert and the count of each round go in one
pipeline (prepared statements, Parse/Bind/Execute of all three before one
Sync). At the end
the rows are checked by content. Prints one JSON object.
"""
import contextlib
import json
import sys
import threading

PORT, USER, PASSWORD, CA, DRIVER = sys.argv[1:6]
CLIENTS = 12
ROUNDS = 25
DSN = dict(host="localhost", port=PORT, user=USER, password=PASSWORD, dbname="admin/main",
           sslmode="verify-full", sslrootcert=CA)

if DRIVER in ("psycopg3", "psycopg3-pipeline"):
    import psycopg

    def connect():
        conn = psycopg.connect(**DSN, autocommit=True, prepare_threshold=0)
        return conn

    def run(conn, sql, params=None):
        cur = conn.execute(sql, params)
        # In pipeline mode results arrive only when fetched (which syncs).
        return cur.fetchall() if sql.startswith("SELECT") else None

    def batch(conn):
        # Not around the ROLLBACK: psycopg 3.1 in pipeline mode sends its DEALLOCATE ALL
        # after a statement it prepared meanwhile, then uses that statement (against
        # PostgreSQL itself too: prepared statement "_pg3_7" does not exist).
        return conn.pipeline() if DRIVER == "psycopg3-pipeline" else contextlib.nullcontext()
elif DRIVER == "psycopg2":
    import psycopg2

    def connect():
        conn = psycopg2.connect(**DSN)
        conn.autocommit = True
        return conn

    def run(conn, sql, params=None):
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def batch(conn):
        return contextlib.nullcontext()
else:
    raise SystemExit("unknown driver " + DRIVER)


# The insert prepared under a gateway's name on the upstream connection this runs on:
# the driver's statement was named (server-side prepared).
UPSTREAM_NAMED = ("SELECT count(*)::int FROM pg_prepared_statements "
                  "WHERE name LIKE 'postern%%' AND statement LIKE %s")


def committed(round_):
    return round_ % 4 != 3


class Client(threading.Thread):
    def __init__(self, number):
        super().__init__()
        self.number = number
        self.transactions = 0
        self.statements = 0
        self.error = None

    def statement(self, conn, sql, params=None):
        self.statements += 1
        return run(conn, sql, params)

    def run(self):
        try:
            self.hammer()
        except Exception as e:  # reported in the summary, with the client's number
            self.error = "client %d: %s: %s" % (self.number, type(e).__name__, e)

    def one_round(self, conn, me, round_, mine):
        """One transaction and a statement after it; the client's committed rows after it."""
        with batch(conn):
            self.statement(conn, "BEGIN")
            self.statement(conn, "INSERT INTO hammer (driver, client, seq) VALUES (%s, %s, %s) /* " + DRIVER + " */",
                           (DRIVER, self.number, round_))
            (count, app), = self.statement(
                conn, "SELECT count(*)::int, current_setting('application_name') FROM hammer "
                      "WHERE driver = %s AND client = %s", (DRIVER, self.number))
        if count != mine + 1 or app != me:
            raise AssertionError("round %d: saw %d rows as %r, expected %d as %r"
                                 % (round_, count, app, mine + 1, me))
        if committed(round_):
            self.statement(conn, "COMMIT")
            mine += 1
        else:
            self.statement(conn, "ROLLBACK")
        self.transactions += 1
        (doubled,), = self.statement(conn, "SELECT %s::int * 2", (round_,))
        if doubled != round_ * 2:
            raise AssertionError("round %d: doubled %r" % (round_, doubled))
        return mine

    def hammer(self):
        me = "%s-%d" % (DRIVER, self.number)
        conn = connect()
        try:
            self.statement(conn, "SET application_name = '%s'" % me)
            mine = 0
            for round_ in range(ROUNDS):
                mine = self.one_round(conn, me, round_, mine)
        finally:
            conn.close()


def main():
    clients = [Client(n) for n in range(CLIENTS)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    errors = [c.error for c in clients if c.error]
    expected = {c: [r for r in range(ROUNDS) if committed(r)] for c in range(CLIENTS)}
    conn = connect()
    try:
        rows = run(conn, "SELECT client, array_agg(seq ORDER BY seq) FROM hammer WHERE driver = %s "
                         "GROUP BY client ORDER BY client", (DRIVER,))
        (upstream_named,), = run(conn, UPSTREAM_NAMED, ("%/* " + DRIVER + " */%",))
    finally:
        conn.close()
    found = {client: list(seqs) for client, seqs in rows}
    print(json.dumps({
        "clients": CLIENTS,
        "transactions": sum(c.transactions for c in clients),
        "statements": sum(c.statements for c in clients),
        "errors": errors[:5],
        "rows_as_committed": found == expected,
        "rows": sum(len(s) for s in found.values()),
        "upstream_named_insert": upstream_named,
    }))


main()
