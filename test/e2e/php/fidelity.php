<?php
// Protocol fidelity with PHP's PDO pgsql (Debian's php-pgsql, over libpq) through Postern.
// Usage: php fidelity.php <port> <user> <password> <ca file> <section>.
// Each section prints one JSON object; the node test asserts on it.
declare(strict_types=1);

[, $port, $user, $password, $ca, $section] = $argv;
$conninfo = "host=localhost port=$port dbname=admin/main sslmode=verify-full sslrootcert=$ca";

function connect(?string $password = null): PDO
{
    global $conninfo, $user;
    return new PDO('pgsql:' . str_replace(' ', ';', $conninfo), $user, $password ?? $GLOBALS['password'], [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => false,
    ]);
}

function one(PDO $pdo, string $sql, array $params = []): mixed
{
    $stmt = $pdo->prepare($sql);
    $stmt->execute($params);
    return $stmt->fetchColumn();
}

function section_login(): array
{
    global $password;
    $pdo = connect();
    [$answer, $currentUser] = $pdo->query('SELECT 40 + 2, current_user')->fetch(PDO::FETCH_NUM);
    try {
        connect($password . 'x');
        $wrong = 'connected';
    } catch (PDOException $e) {
        $wrong = $e->getMessage();
    }
    return ['answer' => $answer, 'current_user' => $currentUser, 'wrong_password' => $wrong];
}

/** Bound parameters of each type, through a table and echoed by SELECT $1::type. */
function section_types(): array
{
    $pdo = connect();
    $allBytes = implode('', array_map('chr', range(0, 255)));
    $values = [
        'int' => [-2147483648, 'int', PDO::PARAM_INT],
        'bigint' => [PHP_INT_MAX, 'bigint', PDO::PARAM_INT],
        'numeric' => ['12345678901234567890.1234567890', 'numeric', PDO::PARAM_STR],
        'text' => ['héllo ✓ "quoted" \\ back', 'text', PDO::PARAM_STR],
        'bool' => [true, 'boolean', PDO::PARAM_BOOL],
        'date' => ['2024-02-29', 'date', PDO::PARAM_STR],
        'timestamptz' => ['2024-02-29 23:59:58.123456+05:30', 'timestamptz', PDO::PARAM_STR],
        'bytea' => [$allBytes, 'bytea', PDO::PARAM_LOB],
        'uuid' => ['0f8fad5b-d9cb-469f-a165-70867728950e', 'uuid', PDO::PARAM_STR],
        'jsonb' => ['{"a": [1, 2.5, null, true], "b": {"c": "é ✓"}}', 'jsonb', PDO::PARAM_STR],
        'int_array' => ['{1,-2,NULL,2147483647}', 'int[]', PDO::PARAM_STR],
        'null' => [null, 'text', PDO::PARAM_NULL],
    ];
    $pdo->exec("SET TimeZone TO 'UTC'");
    $columns = implode(', ', array_map(fn ($name, $v) => "\"$name\" $v[1]", array_keys($values), $values));
    $pdo->exec("CREATE TABLE php_types ($columns)");
    $insert = $pdo->prepare('INSERT INTO php_types VALUES (' . implode(', ', array_fill(0, count($values), '?')) . ')');
    $i = 1;
    foreach ($values as [$value, , $type]) {
        $insert->bindValue($i++, $value, $type);
    }
    $insert->execute();
    $row = $pdo->query('SELECT * FROM php_types')->fetch(PDO::FETCH_ASSOC);
    $results = [];
    foreach ($values as $name => [$value, $cast, $type]) {
        $echo = $pdo->prepare("SELECT ?::$cast AS v");
        $echo->bindValue(1, $value, $type);
        $echo->execute();
        $results[$name] = ['param' => readable($echo->fetchColumn()), 'table' => readable($row[$name])];
    }
    $results['bytea'] = array_map(fn ($got) => $got === $allBytes, $results['bytea']);
    // JSON numbers lose int8 precision in JavaScript: the type and the exact digits as text.
    $results['bigint'] = array_map(fn ($got) => get_debug_type($got) . ":$got", $results['bigint']);
    return $results;
}

/** pdo_pgsql gives bytea as a stream. */
function readable(mixed $value): mixed
{
    return is_resource($value) ? stream_get_contents($value) : $value;
}

/** A native PDO prepare is one named server-side statement, executed three times. */
function section_prepared(): array
{
    $pdo = connect();
    $stmt = $pdo->prepare('SELECT ?::int * 2, ?::text');
    $doubled = [];
    foreach ([3, 5, 7] as $n) {
        $stmt->execute([$n, "n=$n"]);
        $doubled[] = $stmt->fetch(PDO::FETCH_NUM)[0];
    }
    $statements = $pdo->query("SELECT count(*) FROM pg_prepared_statements
        WHERE statement = 'SELECT \$1::int * 2, \$2::text' AND NOT from_sql AND name LIKE 'pdo_stmt_%'")->fetchColumn();
    return ['doubled' => $doubled, 'server_statements' => $statements];
}

function sqlstate(callable $run): string
{
    try {
        $run();
        return 'none';
    } catch (PDOException $e) {
        return (string) $e->getCode();
    }
}

/** beginTransaction, 23505, then 25P02 until rollBack, which keeps nothing. */
function section_transaction(): array
{
    $pdo = connect();
    $pdo->exec('CREATE TABLE php_tx (id int PRIMARY KEY)');
    $pdo->beginTransaction();
    $pdo->exec('INSERT INTO php_tx VALUES (1)');
    $duplicate = sqlstate(fn () => $pdo->prepare('INSERT INTO php_tx VALUES (?)')->execute([1]));
    $inFailed = sqlstate(fn () => $pdo->query('SELECT 1'));
    $pdo->rollBack();
    $count = $pdo->query('SELECT count(*) FROM php_tx')->fetchColumn();
    return ['duplicate' => $duplicate, 'in_failed' => $inFailed, 'in_transaction' => $pdo->inTransaction(),
            'count_after_rollback' => $count];
}

/** pgsqlCopyFromArray and pgsqlCopyToArray. */
function section_copy(): array
{
    $pdo = connect();
    $pdo->exec('CREATE TABLE php_copy (id int PRIMARY KEY, label text NOT NULL, note text)');
    $rows = [];
    for ($i = 1; $i <= 50000; $i++) {
        $note = $i % 10 === 0 ? '\\N' : 'tab\\there é ✓ ' . ($i * 7);
        $rows[] = "$i\tlabel $i\t$note";
    }
    $copiedIn = $pdo->pgsqlCopyFromArray('php_copy', $rows, "\t", '\\\\N', 'id, label, note');
    [$count, $sum, $notes] = $pdo->query('SELECT count(*), sum(id), count(note) FROM php_copy')->fetch(PDO::FETCH_NUM);
    $out = $pdo->pgsqlCopyToArray('php_copy', "\t", '\\\\N', 'id, label, note');
    $same = array_map(fn ($line) => rtrim($line, "\n"), $out) === $rows;
    return ['copied_in' => $copiedIn, 'count' => $count, 'sum' => $sum, 'notes' => $notes,
            'lines' => count($out), 'same' => $same];
}

/**
 * PDO has no cancel: ext-pgsql's pg_cancel_query (PQrequestCancel) on a
 * pg_send_query that is running, watched from a PDO connection. It drains
 * the results itself, so the cancellation shows as the aborted transaction.
 */
function section_cancel(): array
{
    global $conninfo, $user, $password;
    $conn = pg_connect("$conninfo user=$user password=$password application_name=php-sleeper", PGSQL_CONNECT_FORCE_NEW);
    $watcher = connect();
    pg_query($conn, 'BEGIN');
    pg_send_query($conn, 'SELECT pg_sleep(30)');
    for ($i = 0; $i < 400; $i++) {
        $active = $watcher->query("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'php-sleeper'
            AND state = 'active' AND query = 'SELECT pg_sleep(30)'")->fetchColumn();
        if ($active === 1) {
            break;
        }
        usleep(50000);
    }
    $cancelled = pg_cancel_query($conn);
    $status = pg_transaction_status($conn) === PGSQL_TRANSACTION_INERROR ? 'in error' : 'not aborted';
    pg_query($conn, 'ROLLBACK');
    $after = pg_fetch_row(pg_query($conn, 'SELECT 6 * 7'))[0];
    return ['cancelled' => $cancelled, 'transaction' => $status, 'after' => $after];
}

/** pgsqlGetNotify returns NOTIFY and pg_notify on the channel listened to. */
function section_notify(): array
{
    $listener = connect();
    $notifier = connect();
    $listener->exec('LISTEN fidelity_events');
    $notifier->exec("NOTIFY fidelity_events, 'first'");
    $notifier->exec("NOTIFY other_channel, 'ignored'");
    $notifier->prepare("SELECT pg_notify('fidelity_events', ?)")->execute(['second é ✓']);
    $received = [];
    while (count($received) < 2) {
        $n = $listener->pgsqlGetNotify(PDO::FETCH_ASSOC, 15000);
        if ($n === false) {
            break;
        }
        $received[] = ['channel' => $n['message'], 'payload' => $n['payload']];
    }
    return ['received' => $received];
}

/** pdo_pgsql buffers whole results: a large one is read through a cursor, 1,000 rows a FETCH. */
function section_stream(): array
{
    $pdo = connect();
    $pdo->beginTransaction();
    $pdo->exec('DECLARE php_rows NO SCROLL CURSOR FOR
        SELECT g, md5(g::text) FROM generate_series(1, 100000) AS g ORDER BY g');
    $count = 0;
    $inOrder = true;
    $hashesOk = true;
    $fetches = 0;
    $fetch = $pdo->prepare('FETCH 1000 FROM php_rows');
    do {
        $fetch->execute();
        $rows = $fetch->fetchAll(PDO::FETCH_NUM);
        $fetches++;
        foreach ($rows as [$g, $h]) {
            $count++;
            $inOrder = $inOrder && $g === $count;
            $hashesOk = $hashesOk && $h === md5((string) $g);
        }
    } while ($rows);
    $pdo->exec('CLOSE php_rows');
    $pdo->commit();
    return ['rows' => $count, 'in_order' => $inOrder, 'hashes_ok' => $hashesOk, 'fetches' => $fetches];
}

echo json_encode(("section_" . $section)(), JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), "\n";
