import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { python } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

/** Shared by every script: argv is port, password, CA file; `connect()` logs in as admin. */
const PRELUDE = `
import datetime, decimal, hashlib, io, json, select, sys, threading, time, uuid
import psycopg2, psycopg2.errors, psycopg2.extensions, psycopg2.extras
PORT, PASSWORD, CA = sys.argv[1], sys.argv[2], sys.argv[3]
def connect(**kwargs):
    return psycopg2.connect(host="localhost", port=PORT, user="admin", password=PASSWORD,
                            dbname="admin/main", sslmode="verify-full", sslrootcert=CA, **kwargs)
def emit(result):
    print(json.dumps(result, default=str))
`;

/**
 * Protocol fidelity with psycopg2 (Debian's, over libpq 15) through the real
 * gateway: named cursors, COPY, cancel, notifications, notices, types,
 * transaction status and ParameterStatus. Each script prints one JSON line;
 * the assertions are here.
 */
describe('protocol fidelity: psycopg2', () => {
  let postern: PosternProcess;

  before(async () => {
    postern = await PosternProcess.start();
  });
  after(() => postern.dispose());

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async function runPython(body: string): Promise<any> {
    const result = await python(`${PRELUDE}\n${body}`, [
      String(postern.wirePort),
      ADMIN_PASSWORD,
      postern.caFile,
    ]);
    assert.equal(result.code, 0, `python failed:\n${result.stderr}\n${result.stdout}`);
    const lines = result.stdout.trim().split('\n');
    return JSON.parse(lines.at(-1)!);
  }

  test('server-side named cursor: 10,000 rows by itersize and by fetchmany', LIMIT, async () => {
    const out = await runPython(`
conn = connect()
cur = conn.cursor(name="fidelity_named")
cur.itersize = 700
cur.execute("SELECT g, md5(g::text) FROM generate_series(1, 10000) AS g ORDER BY g")
iterated, in_order, hashes_ok = 0, True, True
for g, h in cur:
    iterated += 1
    in_order = in_order and g == iterated
    hashes_ok = hashes_ok and h == hashlib.md5(str(g).encode()).hexdigest()
cur.close()
# the cursor is a real server-side portal: visible in pg_cursors while open
cur = conn.cursor(name="fidelity_many")
cur.execute("SELECT g FROM generate_series(1, 10000) AS g ORDER BY g")
check = conn.cursor()
check.execute("SELECT name FROM pg_cursors")
cursors = [r[0] for r in check.fetchall()]
batches, total, expected = [], 0, 1
while True:
    rows = cur.fetchmany(1000)
    if not rows:
        break
    batches.append(len(rows))
    for (g,) in rows:
        in_order = in_order and g == expected
        expected += 1
    total += len(rows)
cur.close()
conn.commit()
emit({"iterated": iterated, "in_order": in_order, "hashes_ok": hashes_ok,
      "cursors": cursors, "batches": batches, "total": total})
`);
    assert.deepEqual(out, {
      iterated: 10_000,
      in_order: true,
      hashes_ok: true,
      cursors: ['fidelity_many'],
      batches: Array(10).fill(1000),
      total: 10_000,
    });
  });

  test(
    'copy_expert: COPY FROM STDIN of 50,000 rows and COPY TO STDOUT, byte-identical',
    LIMIT,
    async () => {
      const out = await runPython(`
conn = connect()
cur = conn.cursor()
cur.execute("CREATE TABLE fidelity_copy (id int PRIMARY KEY, label text NOT NULL, note text)")
lines = []
for i in range(1, 50001):
    note = "\\\\N" if i % 10 == 0 else "tab\\\\there é ✓ %d" % (i * 7)
    lines.append("%d\\tlabel %d\\t%s\\n" % (i, i, note))
data = "".join(lines)
cur.copy_expert("COPY fidelity_copy (id, label, note) FROM STDIN", io.StringIO(data))
copied_in = cur.rowcount
conn.commit()
cur.execute("SELECT count(*), sum(id), count(note), count(*) FILTER (WHERE note LIKE 'tab\\there%') FROM fidelity_copy")
count, total, notes, tabs = cur.fetchone()
out = io.StringIO()
cur.copy_expert("COPY (SELECT id, label, note FROM fidelity_copy ORDER BY id) TO STDOUT", out)
copied_out = cur.rowcount
exported = out.getvalue()
emit({"copied_in": copied_in, "copied_out": copied_out, "count": count, "sum": int(total),
      "notes": notes, "tabs": tabs, "lines": exported.count("\\n"),
      "same": hashlib.sha256(exported.encode()).hexdigest() == hashlib.sha256(data.encode()).hexdigest()})
`);
      assert.deepEqual(out, {
        copied_in: 50_000,
        copied_out: 50_000,
        count: 50_000,
        sum: (50_000 * 50_001) / 2,
        notes: 45_000,
        tabs: 45_000,
        lines: 50_000,
        same: true,
      });
    },
  );

  test(
    'conn.cancel() from another thread stops pg_sleep(30) with 57014; the connection goes on',
    LIMIT,
    async () => {
      const out = await runPython(`
conn = connect()
watcher = connect(application_name="fidelity-watcher")
watcher.autocommit = True
conn.cursor().execute("SET application_name TO 'fidelity-sleeper'")
def cancel_when_running():
    wcur = watcher.cursor()
    deadline = time.time() + 20
    while time.time() < deadline:
        wcur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fidelity-sleeper' "
                     "AND state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'")
        if wcur.fetchone()[0] == 1:
            break
        time.sleep(0.05)
    conn.cancel()
canceller = threading.Thread(target=cancel_when_running)
canceller.start()
cur = conn.cursor()
result = {}
try:
    cur.execute("SELECT pg_sleep(30)")
    result["outcome"] = "finished"
except psycopg2.Error as e:
    result["outcome"] = type(e).__name__
    result["pgcode"] = e.pgcode
    result["message"] = e.pgerror.strip() if e.pgerror else None
canceller.join()
result["status_after_error"] = conn.get_transaction_status()
conn.rollback()
cur.execute("SELECT 6 * 7")
result["after"] = cur.fetchone()[0]
result["status_after"] = conn.get_transaction_status()
emit(result)
`);
      assert.equal(out.outcome, 'QueryCanceled', JSON.stringify(out));
      assert.equal(out.pgcode, '57014');
      assert.match(out.message, /canceling statement due to user request/);
      assert.equal(out.status_after_error, 3, 'TRANSACTION_STATUS_INERROR');
      assert.equal(out.after, 42);
      assert.equal(out.status_after, 2, 'TRANSACTION_STATUS_INTRANS (psycopg2 opened a new one)');
    },
  );

  test('LISTEN/NOTIFY between two connections with poll() and notifies', LIMIT, async () => {
    const out = await runPython(`
listener = connect()
listener.autocommit = True
notifier = connect()
notifier.autocommit = True
listener.cursor().execute("LISTEN fidelity_events")
ncur = notifier.cursor()
ncur.execute("NOTIFY fidelity_events, 'first'")
ncur.execute("NOTIFY other_channel, 'ignored'")
ncur.execute("SELECT pg_notify('fidelity_events', %s)", ("second é ✓",))
ncur.execute("SELECT pg_backend_pid()")
# The upstream backend's pid, or the gateway's own BackendKeyData pid if it maps them.
notifier_pids = (ncur.fetchone()[0], notifier.get_backend_pid())
received = []
deadline = time.time() + 15
while len(received) < 2 and time.time() < deadline:
    if select.select([listener], [], [], 1) == ([], [], []):
        continue
    listener.poll()
    while listener.notifies:
        n = listener.notifies.pop(0)
        received.append({"channel": n.channel, "payload": n.payload, "from_notifier": n.pid in notifier_pids})
emit({"received": received})
`);
    assert.deepEqual(out.received, [
      { channel: 'fidelity_events', payload: 'first', from_notifier: true },
      { channel: 'fidelity_events', payload: 'second é ✓', from_notifier: true },
    ]);
  });

  test('notices from RAISE in a DO block land in conn.notices', LIMIT, async () => {
    const out = await runPython(`
conn = connect()
conn.autocommit = True
cur = conn.cursor()
cur.execute("""DO $$ BEGIN
  RAISE NOTICE 'hello %', 42;
  RAISE WARNING 'careful: %', 'é ✓';
END $$""")
cur.execute("SELECT 1")
emit({"notices": conn.notices, "status": cur.statusmessage})
`);
    assert.deepEqual(out.notices, ['NOTICE:  hello 42\n', 'WARNING:  careful: é ✓\n']);
    assert.equal(out.status, 'SELECT 1');
  });

  test('executemany inserts every row', LIMIT, async () => {
    const out = await runPython(`
conn = connect()
cur = conn.cursor()
cur.execute("CREATE TABLE fidelity_many (id int PRIMARY KEY, label text)")
cur.executemany("INSERT INTO fidelity_many VALUES (%s, %s)", [(i, "row %d ✓" % i) for i in range(1, 501)])
affected = cur.rowcount
conn.commit()
cur.execute("SELECT count(*), sum(id), min(label), max(id) FROM fidelity_many")
count, total, first, last = cur.fetchone()
emit({"affected": affected, "count": count, "sum": int(total), "first": first, "last": last})
`);
    assert.deepEqual(out, {
      affected: 500,
      count: 500,
      sum: (500 * 501) / 2,
      first: 'row 1 ✓',
      last: 500,
    });
  });

  test('typed values round trip as parameters and through a table', LIMIT, async () => {
    const out = await runPython(`
psycopg2.extras.register_uuid()
conn = connect()
cur = conn.cursor()
tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
values = {
    "numeric": decimal.Decimal("12345678901234567890.1234567890"),
    "negative_numeric": decimal.Decimal("-0.000000000000000000000000000001"),
    "date": datetime.date(2024, 2, 29),
    "timestamptz": datetime.datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=tz),
    "json": {"a": [1, 2.5, None, True], "b": {"c": "é ✓"}},
    "jsonb": {"nested": {"list": ["x", {"y": 1}]}, "n": 12345678901234},
    "int_array": [1, -2, None, 2147483647],
    "text_array": ["a", "b c", '"quoted"', "back\\\\slash", "é ✓", None, "", "NULL"],
    "bytea": bytes(range(256)),
    "uuid": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
    "interval": datetime.timedelta(days=3, hours=4, minutes=5, seconds=6, microseconds=7),
    "true": True,
    "false": False,
    "null": None,
}
casts = {"numeric": "numeric", "negative_numeric": "numeric", "date": "date",
         "timestamptz": "timestamptz", "json": "json", "jsonb": "jsonb", "int_array": "int[]",
         "text_array": "text[]", "bytea": "bytea", "uuid": "uuid", "interval": "interval",
         "true": "boolean", "false": "boolean", "null": "text"}
def adapt(name, value):
    return psycopg2.extras.Json(value) if name in ("json", "jsonb") else value
def normalise(value):
    return bytes(value) if isinstance(value, memoryview) else value
results = {}
for name, value in values.items():
    cur.execute("SELECT %%s::%s" % casts[name], (adapt(name, value),))
    got = normalise(cur.fetchone()[0])
    results[name] = {"param_ok": got == value and type(got) == type(value), "got": repr(got)}
columns = ", ".join('"%s" %s' % (name, cast) for name, cast in casts.items())
cur.execute("CREATE TABLE fidelity_types (%s)" % columns)
cur.execute("INSERT INTO fidelity_types VALUES (%s)" % ", ".join(["%s"] * len(values)),
            [adapt(n, v) for n, v in values.items()])
conn.commit()
cur.execute("SELECT * FROM fidelity_types")
row = cur.fetchone()
for (name, value), got in zip(values.items(), row):
    got = normalise(got)
    results[name]["table_ok"] = got == value and type(got) == type(value)
cur.execute("SELECT numeric::text, octet_length(bytea), md5(bytea), timestamptz AT TIME ZONE 'UTC' FROM fidelity_types")
text, length, digest, utc = cur.fetchone()
results["server_view"] = {"numeric": text, "bytea_length": length,
                          "bytea_md5_ok": digest == hashlib.md5(bytes(range(256))).hexdigest(),
                          "utc": utc.isoformat()}
emit(results)
`);
    const server = out.server_view;
    delete out.server_view;
    for (const [name, outcome] of Object.entries(out) as Array<[string, Record<string, unknown>]>) {
      assert.equal(outcome.param_ok, true, `${name} as a parameter: ${outcome.got}`);
      assert.equal(outcome.table_ok, true, `${name} through a table`);
    }
    assert.equal(Object.keys(out).length, 14);
    assert.deepEqual(server, {
      numeric: '12345678901234567890.1234567890',
      bytea_length: 256,
      bytea_md5_ok: true,
      utc: '2024-02-29T18:29:58.123456',
    });
  });

  test('transaction status: idle, in transaction, in error, idle again', LIMIT, async () => {
    const out = await runPython(`
E = psycopg2.extensions
names = {E.TRANSACTION_STATUS_IDLE: "idle", E.TRANSACTION_STATUS_ACTIVE: "active",
         E.TRANSACTION_STATUS_INTRANS: "intrans", E.TRANSACTION_STATUS_INERROR: "inerror",
         E.TRANSACTION_STATUS_UNKNOWN: "unknown"}
conn = connect()
cur = conn.cursor()
steps = [("connected", names[conn.get_transaction_status()], conn.status == E.STATUS_READY)]
cur.execute("SELECT 1")
steps.append(("after select", names[conn.get_transaction_status()], conn.status == E.STATUS_BEGIN))
error = None
try:
    cur.execute("SELECT 1 / 0")
except psycopg2.Error as e:
    error = e.pgcode
steps.append(("after error", names[conn.get_transaction_status()], conn.status == E.STATUS_BEGIN))
try:
    cur.execute("SELECT 2")
except psycopg2.Error as e:
    steps.append(("in failed transaction", e.pgcode, None))
conn.rollback()
steps.append(("after rollback", names[conn.get_transaction_status()], conn.status == E.STATUS_READY))
conn.autocommit = True
cur.execute("BEGIN")
steps.append(("explicit BEGIN", names[conn.get_transaction_status()], None))
cur.execute("COMMIT")
steps.append(("explicit COMMIT", names[conn.get_transaction_status()], None))
emit({"error": error, "steps": steps})
`);
    assert.equal(out.error, '22012');
    assert.deepEqual(out.steps, [
      ['connected', 'idle', true],
      ['after select', 'intrans', true],
      ['after error', 'inerror', true],
      ['in failed transaction', '25P02', null],
      ['after rollback', 'idle', true],
      ['explicit BEGIN', 'intrans', null],
      ['explicit COMMIT', 'idle', null],
    ]);
  });

  test('a multi-statement simple query returns the last result', LIMIT, async () => {
    const out = await runPython(`
conn = connect()
cur = conn.cursor()
cur.execute("SELECT 1; SELECT 2")
first = cur.fetchall()
cur.execute("CREATE TABLE fidelity_multi (id int); INSERT INTO fidelity_multi VALUES (1), (2), (3); SELECT sum(id) FROM fidelity_multi")
second = cur.fetchall()
try:
    cur.execute("SELECT 1; SELECT 1 / 0; SELECT 3")
    failed = None
except psycopg2.Error as e:
    failed = e.pgcode
conn.rollback()
emit({"first": first, "second": second, "failed": failed})
`);
    assert.deepEqual(out, { first: [[2]], second: [[6]], failed: '22012' });
  });

  test(
    'ParameterStatus after SET TimeZone and SET application_name, and after a rollback',
    LIMIT,
    async () => {
      const out = await runPython(`
conn = connect(application_name="fidelity-startup")
conn.autocommit = True
cur = conn.cursor()
seen = {"startup_app": conn.get_parameter_status("application_name"),
        "server_version": conn.get_parameter_status("server_version"),
        "encoding": conn.get_parameter_status("client_encoding"),
        "integer_datetimes": conn.get_parameter_status("integer_datetimes")}
cur.execute("SET TimeZone TO 'Asia/Kolkata'")
seen["tz"] = conn.get_parameter_status("TimeZone")
cur.execute("SELECT '2024-01-01 00:00:00+00'::timestamptz")
seen["offset"] = cur.fetchone()[0].utcoffset().total_seconds()
cur.execute("SET application_name TO 'fidelity-renamed'")
seen["app"] = conn.get_parameter_status("application_name")
cur.execute("SELECT current_setting('application_name')")
seen["app_server"] = cur.fetchone()[0]
# SET inside a transaction that rolls back: the server reports the old value again
cur.execute("BEGIN")
cur.execute("SET TimeZone TO 'America/New_York'")
seen["tz_in_tx"] = conn.get_parameter_status("TimeZone")
cur.execute("ROLLBACK")
seen["tz_after_rollback"] = conn.get_parameter_status("TimeZone")
emit(seen)
`);
      assert.match(out.server_version, /^15\./);
      assert.deepEqual(
        { ...out, server_version: undefined },
        {
          startup_app: 'fidelity-startup',
          server_version: undefined,
          encoding: 'UTF8',
          integer_datetimes: 'on',
          tz: 'Asia/Kolkata',
          offset: 19_800,
          app: 'fidelity-renamed',
          app_server: 'fidelity-renamed',
          tz_in_tx: 'America/New_York',
          tz_after_rollback: 'Asia/Kolkata',
        },
      );
    },
  );
});
