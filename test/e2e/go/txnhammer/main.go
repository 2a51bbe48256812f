// Many lib/pq clients at once through a transaction-mode database.
// Usage: txnhammer <port> <user> <password> <ca file> <hammer|binary>.
//
// A database/sql pool of up to 32 connections: 16 goroutines each hold a
// connection of their own (db.Conn), set its application_name and run
// ROUNDS transactions with statements prepared on that connection (insert
// a row tagged with the client and round, count its own rows and read the
// setting back inside the transaction; commit, every fourth rolled back);
// between transactions each runs a statement prepared once on the pool
// (db.Prepare: database/sql prepares it again on each pool connection it
// meets). lib/pq prepares named statements server-side (Parse, then Bind/
// Execute per use). At the end the rows are checked by content. Prints one
// JSON object.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sync"

	"github.com/lib/pq"
)

const clients = 16
const rounds = 25

// The rows' tag: "lib/pq", or "lib/pq-binary" for the section "binary".
var driver = "lib/pq"

func committed(round int) bool { return round%4 != 3 }

type client struct {
	number       int
	transactions int
	statements   int
	err          error
}

func main() {
	port, user, password, ca, section := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	dsn := fmt.Sprintf("host=localhost port=%s user=%s password=%s dbname=admin/main sslmode=verify-full sslrootcert=%s",
		port, user, password, ca)
	if section == "binary" {
		// lib/pq then sends an unnamed Parse, Bind and Execute in one go, parameters in binary.
		driver = "lib/pq-binary"
		dsn += " binary_parameters=yes"
	}
	db, err := sql.Open("postgres", dsn)
	check(err)
	defer db.Close()
	db.SetMaxOpenConns(2 * clients)
	db.SetMaxIdleConns(2 * clients)
	double, err := db.Prepare("SELECT $1::int * 2")
	check(err)
	defer double.Close()

	all := make([]*client, clients)
	var wg sync.WaitGroup
	for n := range all {
		all[n] = &client{number: n}
		wg.Add(1)
		go func(c *client) {
			defer wg.Done()
			c.err = c.hammer(db, double)
		}(all[n])
	}
	wg.Wait()

	errors := []string{}
	transactions, statements := 0, 0
	for _, c := range all {
		if c.err != nil && len(errors) < 5 {
			errors = append(errors, fmt.Sprintf("client %d: %v", c.number, c.err))
		}
		transactions += c.transactions
		statements += c.statements
	}
	expected := map[int][]int64{}
	for n := 0; n < clients; n++ {
		for r := 0; r < rounds; r++ {
			if committed(r) {
				expected[n] = append(expected[n], int64(r))
			}
		}
	}
	found := map[int][]int64{}
	rows, err := db.Query("SELECT client, array_agg(seq ORDER BY seq) FROM hammer WHERE driver = $1 GROUP BY client", driver)
	check(err)
	total := 0
	for rows.Next() {
		var n int
		var seqs []int64
		check(rows.Scan(&n, pq.Array(&seqs)))
		found[n] = seqs
		total += len(seqs)
	}
	check(rows.Err())
	// The insert prepared under a gateway's name on the upstream connection this runs on.
	var upstreamNamed int
	check(db.QueryRow("SELECT count(*)::int FROM pg_prepared_statements WHERE name LIKE 'postern%' AND statement LIKE $1",
		"%/* "+driver+" */%").Scan(&upstreamNamed))
	out, err := json.Marshal(map[string]any{
		"clients": clients, "transactions": transactions, "statements": statements,
		"errors": errors, "rows_as_committed": reflect.DeepEqual(found, expected), "rows": total,
		"upstream_named_insert": upstreamNamed,
	})
	check(err)
	fmt.Println(string(out))
}

func (c *client) hammer(db *sql.DB, double *sql.Stmt) error {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	me := fmt.Sprintf("go-%d", c.number)
	c.statements++
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET application_name = '%s'", me)); err != nil {
		return err
	}
	insert, err := conn.PrepareContext(ctx, "INSERT INTO hammer (driver, client, seq) VALUES ($1, $2, $3) /* "+driver+" */")
	if err != nil {
		return err
	}
	defer insert.Close()
	count, err := conn.PrepareContext(ctx,
		"SELECT count(*)::int, current_setting('application_name') FROM hammer WHERE driver = $1 AND client = $2")
	if err != nil {
		return err
	}
	defer count.Close()
	mine := 0
	for round := 0; round < rounds; round++ {
		c.statements++
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		c.statements++
		if _, err := tx.StmtContext(ctx, insert).Exec(driver, c.number, round); err != nil {
			return fmt.Errorf("round %d: insert: %w", round, err)
		}
		c.statements++
		var n int
		var app string
		if err := tx.StmtContext(ctx, count).QueryRow(driver, c.number).Scan(&n, &app); err != nil {
			return fmt.Errorf("round %d: count: %w", round, err)
		}
		c.statements++
		if n != mine+1 || app != me {
			tx.Rollback()
			return fmt.Errorf("round %d: saw %d rows as %q, expected %d as %q", round, n, app, mine+1, me)
		}
		if committed(round) {
			err = tx.Commit()
			mine++
		} else {
			err = tx.Rollback()
		}
		c.statements++
		if err != nil {
			return fmt.Errorf("round %d: end: %w", round, err)
		}
		c.transactions++
		var doubled int
		c.statements++
		if err := double.QueryRow(round).Scan(&doubled); err != nil {
			return fmt.Errorf("round %d: double: %w", round, err)
		}
		if doubled != 2*round {
			return fmt.Errorf("round %d: doubled %d", round, doubled)
		}
	}
	return nil
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
