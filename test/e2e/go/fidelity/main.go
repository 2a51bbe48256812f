// Protocol fidelity with lib/pq (Debian's golang-github-lib-pq-dev) through
// Postern. Usage: fidelity <port> <user> <password> <ca file> <section>.
// Each section prints one JSON object; the node test asserts on it.
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lib/pq"
)

var dsn, wrongPassword, binaryParameters string

// connInfo is the lib/pq connection string (key=value: the database name has a slash).
func connInfo(port, user, password, ca string) string {
	return fmt.Sprintf("host=localhost port=%s user=%s password=%s dbname=admin/main sslmode=verify-full sslrootcert=%s",
		port, user, password, ca)
}

func main() {
	if len(os.Args) != 6 {
		fail(errors.New("usage: fidelity <port> <user> <password> <ca file> <section>"))
	}
	port, user, password, ca, section := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	dsn = connInfo(port, user, password, ca)
	wrongPassword = connInfo(port, user, password+"x", ca)
	// lib/pq then sends Parse, Bind and Execute in one go, parameters in binary where it can.
	binaryParameters = dsn + " binary_parameters=yes"
	sections := map[string]func(*sql.DB) map[string]any{
		"login": login, "types": types, "prepared": prepared, "transaction": transaction,
		"copy": copyIn, "cancel": cancel, "notify": notify, "stream": stream,
	}
	run, ok := sections[section]
	if !ok {
		fail(fmt.Errorf("unknown section %q", section))
	}
	db, err := sql.Open("postgres", dsn)
	check(err)
	defer db.Close()
	out, err := json.Marshal(run(db))
	check(err)
	fmt.Println(string(out))
}

// login: the token as the password over verify-full; a wrong one is 28P01.
func login(db *sql.DB) map[string]any {
	var answer int
	var user string
	check(db.QueryRow("SELECT 40 + 2, current_user").Scan(&answer, &user))
	wrong, err := sql.Open("postgres", wrongPassword)
	check(err)
	defer wrong.Close()
	return map[string]any{"answer": answer, "current_user": user, "wrong_password": sqlstate(wrong.Ping())}
}

// types: parameters of many types round trip through a SELECT and through a table.
func types(db *sql.DB) map[string]any {
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	instant := time.Date(2024, 2, 29, 23, 59, 58, 123456000, time.FixedZone("", 5*3600+1800))
	check(exec(db, `CREATE TABLE fidelity_types (i int, big bigint, num numeric, txt text, ok boolean,
		day date, at timestamptz, raw bytea, id uuid, doc jsonb, ints int[], texts text[], missing text)`))
	params := []any{int64(-2147483648), int64(9223372036854775807), "12345678901234567890.1234567890",
		"héllo ✓ \"quoted\" \\ back", true, "2024-02-29", instant, allBytes,
		"0f8fad5b-d9cb-469f-a165-70867728950e", `{"a": [1, 2.5, null, true], "b": {"c": "é ✓"}}`,
		pq.Array([]int64{1, -2, 2147483647}), pq.Array([]string{"a", "b c", `"q"`, "é ✓", "", "NULL"}), nil}
	check(exec(db, `INSERT INTO fidelity_types VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, params...))
	binary, err := sql.Open("postgres", binaryParameters)
	check(err)
	defer binary.Close()
	results := map[string]any{}
	for _, source := range []string{"param", "binary_param", "table"} {
		query := `SELECT $1::int, $2::bigint, $3::numeric, $4::text, $5::boolean, $6::date, $7::timestamptz,
			$8::bytea, $9::uuid, $10::jsonb, $11::int[], $12::text[], $13::text`
		args, via := params, db
		switch source {
		case "binary_param":
			via = binary
		case "table":
			query, args = "SELECT * FROM fidelity_types", nil
		}
		var i, big int64
		var num, txt, id, doc string
		var ok bool
		var day, at time.Time
		var raw []byte
		var ints pq.Int64Array
		var texts pq.StringArray
		var missing sql.NullString
		check(via.QueryRow(query, args...).Scan(&i, &big, &num, &txt, &ok, &day, &at, &raw, &id, &doc, &ints, &texts, &missing))
		results[source] = map[string]any{
			"int": i, "bigint": fmt.Sprint(big), "numeric": num, "text": txt, "bool": ok,
			"date": day.Format("2006-01-02"), "timestamptz_equal": at.Equal(instant),
			"bytea_equal": bytes.Equal(raw, allBytes), "uuid": id, "jsonb": doc,
			"int_array": []int64(ints), "text_array": []string(texts), "null": !missing.Valid,
		}
	}
	return results
}

// prepared: one named server-side statement, executed three times on one connection.
func prepared(db *sql.DB) map[string]any {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	check(err)
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, "SELECT $1::int * 2, $2::text")
	check(err)
	var doubled []int
	for _, n := range []int{3, 5, 7} {
		var v int
		var label string
		check(stmt.QueryRow(n, fmt.Sprintf("n=%d", n)).Scan(&v, &label))
		doubled = append(doubled, v)
	}
	var named int
	check(conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements
		WHERE statement = 'SELECT $1::int * 2, $2::text' AND NOT from_sql`).Scan(&named))
	check(stmt.Close())
	var afterClose int
	check(conn.QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements
		WHERE statement = 'SELECT $1::int * 2, $2::text'`).Scan(&afterClose))
	return map[string]any{"doubled": doubled, "server_statements": named, "after_close": afterClose}
}

// transaction: a unique violation aborts the transaction; ROLLBACK keeps nothing.
func transaction(db *sql.DB) map[string]any {
	check(exec(db, "CREATE TABLE fidelity_tx (id int PRIMARY KEY)"))
	tx, err := db.Begin()
	check(err)
	check(txExec(tx, "INSERT INTO fidelity_tx VALUES (1)"))
	duplicate := sqlstate(txExec(tx, "INSERT INTO fidelity_tx VALUES ($1)", 1))
	inFailed := sqlstate(txExec(tx, "SELECT 1"))
	check(tx.Rollback())
	var count int
	check(db.QueryRow("SELECT count(*) FROM fidelity_tx").Scan(&count))
	tx, err = db.Begin()
	check(err)
	check(txExec(tx, "INSERT INTO fidelity_tx VALUES (2)"))
	check(tx.Commit())
	check(db.QueryRow("SELECT count(*) FROM fidelity_tx").Scan(&count))
	return map[string]any{"duplicate": duplicate, "in_failed": inFailed, "count_after_commit": count}
}

// copy: pq.CopyIn streams 50,000 rows with COPY FROM STDIN (lib/pq has no COPY TO).
func copyIn(db *sql.DB) map[string]any {
	check(exec(db, "CREATE TABLE fidelity_copy (id int PRIMARY KEY, label text NOT NULL, note text)"))
	tx, err := db.Begin()
	check(err)
	stmt, err := tx.Prepare(pq.CopyIn("fidelity_copy", "id", "label", "note"))
	check(err)
	for i := 1; i <= 50000; i++ {
		var note any = fmt.Sprintf("tab\there é ✓ %d", i*7)
		if i%10 == 0 {
			note = nil
		}
		_, err = stmt.Exec(i, fmt.Sprintf("label %d", i), note)
		check(err)
	}
	result, err := stmt.Exec()
	check(err)
	copied, err := result.RowsAffected()
	check(err)
	check(stmt.Close())
	check(tx.Commit())
	// A duplicate key fails the whole COPY (the server's error arrives while rows are still sent).
	tx, err = db.Begin()
	check(err)
	stmt, err = tx.Prepare(pq.CopyIn("fidelity_copy", "id", "label"))
	check(err)
	for i := 50001; i <= 60000; i++ {
		id := i
		if i == 50500 {
			id = 1
		}
		if _, err = stmt.Exec(id, "more"); err != nil {
			break
		}
	}
	if err == nil {
		_, err = stmt.Exec()
	}
	failed := sqlstate(err)
	_ = stmt.Close()
	_ = tx.Rollback()
	var count, sum, notes, tabs int64
	check(db.QueryRow(`SELECT count(*), sum(id), count(note), count(*) FILTER (WHERE note LIKE E'tab\there%')
		FROM fidelity_copy`).Scan(&count, &sum, &notes, &tabs))
	return map[string]any{"copied": copied, "count": count, "sum": sum, "notes": notes, "tabs": tabs,
		"failed_copy": failed}
}

// cancel: cancelling the context of a running pg_sleep(30) sends a CancelRequest
// (over TLS: lib/pq negotiates SSL for it as for the session).
func cancel(db *sql.DB) map[string]any {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		// Cancel once the statement is running, so the cancel cannot arrive before it.
		for i := 0; i < 400; i++ {
			var active int
			check(db.QueryRow(`SELECT count(*) FROM pg_stat_activity
				WHERE state = 'active' AND query = 'SELECT pg_sleep(30)'`).Scan(&active))
			if active == 1 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}()
	_, err := db.ExecContext(ctx, "SELECT pg_sleep(30)")
	out := map[string]any{"sqlstate": sqlstate(err), "context_error": ctx.Err() != nil}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		out["message"] = pqErr.Message
	} else if err != nil {
		out["message"] = err.Error()
	}
	// lib/pq closes a connection whose context ended; the pool opens another.
	var after int
	check(db.QueryRow("SELECT 6 * 7").Scan(&after))
	var still int
	check(db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'`).Scan(&still))
	out["after"], out["still_sleeping"] = after, still
	return out
}

// notify: a pq.Listener on its own connection receives NOTIFY and pg_notify.
func notify(db *sql.DB) map[string]any {
	listener := pq.NewListener(dsn, time.Second, 10*time.Second, nil)
	defer listener.Close()
	check(listener.Listen("fidelity_events"))
	check(exec(db, "NOTIFY fidelity_events, 'first'"))
	check(exec(db, "NOTIFY other_channel, 'ignored'"))
	check(exec(db, "SELECT pg_notify('fidelity_events', $1)", "second é ✓"))
	var received []map[string]any
	timeout := time.After(15 * time.Second)
	for len(received) < 2 {
		select {
		case n := <-listener.Notify:
			if n != nil {
				received = append(received, map[string]any{"channel": n.Channel, "payload": n.Extra})
			}
		case <-timeout:
			return map[string]any{"received": received, "timed_out": true}
		}
	}
	return map[string]any{"received": received}
}

// stream: 200,000 rows read one by one with rows.Next (lib/pq reads DataRows as it goes).
func stream(db *sql.DB) map[string]any {
	rows, err := db.Query("SELECT g, md5(g::text) FROM generate_series(1, $1::int) AS g ORDER BY g", 200000)
	check(err)
	defer rows.Close()
	count, inOrder, hashesOK := 0, true, true
	for rows.Next() {
		var g int
		var h string
		check(rows.Scan(&g, &h))
		count++
		inOrder = inOrder && g == count
		sum := md5.Sum([]byte(fmt.Sprint(g)))
		hashesOK = hashesOK && h == hex.EncodeToString(sum[:])
	}
	check(rows.Err())
	return map[string]any{"rows": count, "in_order": inOrder, "hashes_ok": hashesOK}
}

func exec(db *sql.DB, query string, args ...any) error {
	_, err := db.Exec(query, args...)
	return err
}

func txExec(tx *sql.Tx, query string, args ...any) error {
	_, err := tx.Exec(query, args...)
	return err
}

// sqlstate is the SQLSTATE of a PostgreSQL error, "none" for success, or the Go error text.
func sqlstate(err error) string {
	var pqErr *pq.Error
	switch {
	case err == nil:
		return "none"
	case errors.As(err, &pqErr):
		return string(pqErr.Code)
	default:
		return err.Error()
	}
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
