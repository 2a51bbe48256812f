# Protocol fidelity with Ruby's pg (Debian's ruby-pg, over libpq) through Postern.
# Usage: fidelity.rb <port> <user> <password> <ca file> <section>.
# Each section prints one JSON object; the node test asserts on it.
require 'bigdecimal'
require 'date'
require 'digest'
require 'json'
require 'pg'

PORT, USER, PASSWORD, CA, SECTION = ARGV

def connect(password = PASSWORD, **extra)
  PG.connect(host: 'localhost', port: PORT, user: USER, password: password, dbname: 'admin/main',
             sslmode: 'verify-full', sslrootcert: CA, **extra)
end

def sqlstate(error)
  error.result&.error_field(PG::PG_DIAG_SQLSTATE)
end

def login
  conn = connect
  answer, user = conn.exec('SELECT 40 + 2, current_user').values.first
  ssl = conn.ssl_in_use?
  conn.close
  wrong = begin
    connect(PASSWORD + 'x').close
    'connected'
  rescue PG::ConnectionBad => e
    e.message
  end
  { answer: answer.to_i, current_user: user, ssl_in_use: ssl, wrong_password: wrong }
end

ALL_BYTES = (0..255).to_a.pack('C*')
VALUES = {
  'int' => [-2_147_483_648, 'int'],
  'bigint' => [9_223_372_036_854_775_807, 'bigint'],
  'numeric' => [BigDecimal('12345678901234567890.1234567890'), 'numeric'],
  'float' => [1.5e300, 'float8'],
  'text' => ['héllo ✓ "quoted" \\ back', 'text'],
  'bool' => [true, 'boolean'],
  'date' => [Date.new(2024, 2, 29), 'date'],
  'timestamptz' => [Time.new(2024, 2, 29, 23, 59, Rational(58_123_456, 1_000_000), '+05:30'), 'timestamptz'],
  'bytea' => [PG::BasicTypeMapForQueries::BinaryData.new(ALL_BYTES), 'bytea'],
  'jsonb' => [{ 'a' => [1, 2.5, nil, true], 'b' => { 'c' => 'é ✓' } }, 'jsonb'],
  'int_array' => [[1, -2, nil, 2_147_483_647], 'int[]'],
  'text_array' => [['a', 'b c', '"q"', 'back\\slash', 'é ✓', nil, '', 'NULL'], 'text[]'],
  'null' => [nil, 'text']
}.freeze
# ruby-pg 1.4 has binary decoders for these only (others warn and stay raw bytes).
BINARY_DECODED = %w[int bigint float text bool timestamptz bytea null].freeze

def equal?(got, value)
  return got.is_a?(String) && got.encoding == Encoding::BINARY && got == value.b if value.is_a?(PG::BasicTypeMapForQueries::BinaryData)

  got == value && got.class == value.class
end

# BasicTypeMapForQueries encodes parameters, BasicTypeMapForResults decodes text and binary results.
def types
  conn = connect
  registry = PG::BasicTypeRegistry.new.define_default_types
  conn.type_map_for_queries = PG::BasicTypeMapForQueries.new(conn, registry: registry)
  conn.type_map_for_results = PG::BasicTypeMapForResults.new(conn, registry: registry)
  columns = VALUES.map { |name, (_, cast)| %("#{name}" #{cast}) }.join(', ')
  conn.exec("CREATE TABLE rb_types (#{columns})")
  params = VALUES.values.map(&:first)
  conn.exec_params("INSERT INTO rb_types VALUES (#{(1..VALUES.size).map { |i| "$#{i}" }.join(', ')})", params)
  results = {}
  [0, 1].each do |format|
    row = conn.exec_params('SELECT * FROM rb_types', [], format).values.first
    VALUES.each_with_index do |(name, (value, cast)), i|
      next if format == 1 && !BINARY_DECODED.include?(name)

      echoed = conn.exec_params("SELECT $1::#{cast}", [value], format).getvalue(0, 0)
      (results[name] ||= {})[format.zero? ? 'text' : 'binary'] = equal?(echoed, value) && equal?(row[i], value)
    end
  end
  conn.type_map_for_results = PG::TypeMapAllStrings.new
  server = conn.exec("SELECT numeric::text, octet_length(bytea), timestamptz AT TIME ZONE 'UTC' FROM rb_types").values.first
  { values: results, server_view: server }
end

# conn.prepare parses once into a named statement; exec_prepared binds it three times.
def prepared
  conn = connect
  conn.prepare('rb_double', 'SELECT $1::int * 2, $2::text')
  doubled = [3, 5, 7].map { |n| conn.exec_prepared('rb_double', [n, "n=#{n}"]).getvalue(0, 0).to_i }
  statements = conn.exec('SELECT name, statement, from_sql FROM pg_prepared_statements').values
  missing = begin
    conn.exec('DEALLOCATE rb_double')
    conn.exec_prepared('rb_double', [1, 'a'])
    'found'
  rescue PG::InvalidSqlStatementName => e
    sqlstate(e)
  end
  { doubled: doubled, statements: statements, after_deallocate: missing,
    usable: conn.exec('SELECT 6 * 7').getvalue(0, 0).to_i }
end

# conn.transaction rolls back when its block raises.
def transaction
  conn = connect
  conn.exec('CREATE TABLE rb_tx (id int PRIMARY KEY)')
  steps = {}
  begin
    conn.transaction do
      conn.exec('INSERT INTO rb_tx VALUES (1)')
      steps[:in_transaction] = conn.transaction_status == PG::PQTRANS_INTRANS
      begin
        conn.exec_params('INSERT INTO rb_tx VALUES ($1)', [1])
      rescue PG::UniqueViolation => e
        steps[:duplicate] = sqlstate(e)
      end
      steps[:in_error] = conn.transaction_status == PG::PQTRANS_INERROR
      conn.exec('SELECT 1')
    end
  rescue PG::InFailedSqlTransaction => e
    steps[:in_failed] = sqlstate(e)
  end
  steps[:idle_after] = conn.transaction_status == PG::PQTRANS_IDLE
  steps[:count_after_rollback] = conn.exec('SELECT count(*) FROM rb_tx').getvalue(0, 0).to_i
  steps
end

# copy_data both ways, rows encoded and decoded by PG::TextEncoder/Decoder::CopyRow.
def copy
  conn = connect
  conn.exec('CREATE TABLE rb_copy (id int PRIMARY KEY, label text NOT NULL, note text)')
  encoder = PG::TextEncoder::CopyRow.new
  # What COPY TO prints back: PostgreSQL escapes a tab as \t (the encoder sent a backslash and a tab).
  expected = Digest::SHA256.new
  conn.copy_data('COPY rb_copy (id, label, note) FROM STDIN', encoder) do
    (1..50_000).each do |i|
      note = (i % 10).zero? ? nil : "tab\there é ✓ #{i * 7}"
      conn.put_copy_data([i, "label #{i}", note])
      expected << "#{i}\tlabel #{i}\t#{note.nil? ? '\N' : note.gsub("\t", '\t')}\n"
    end
  end
  count, sum, notes = conn.exec('SELECT count(*), sum(id), count(note) FROM rb_copy').values.first.map(&:to_i)
  received = Digest::SHA256.new
  lines = 0
  conn.copy_data('COPY (SELECT * FROM rb_copy ORDER BY id) TO STDOUT') do
    while (chunk = conn.get_copy_data)
      received << chunk
      lines += chunk.count("\n")
    end
  end
  rows = []
  decoder = PG::TextDecoder::CopyRow.new
  conn.copy_data('COPY (SELECT id, note FROM rb_copy WHERE id IN (9, 10) ORDER BY id) TO STDOUT', decoder) do
    while (row = conn.get_copy_data)
      rows << row
    end
  end
  { count: count, sum: sum, notes: notes, lines: lines, same: received.hexdigest == expected.hexdigest, rows: rows }
end

# conn.cancel from another thread while pg_sleep(30) runs.
def cancel
  conn = connect(application_name: 'rb-sleeper')
  watcher = connect
  canceller = Thread.new do
    400.times do
      active = watcher.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rb-sleeper' " \
                            "AND state = 'active' AND query = 'SELECT pg_sleep(30)'").getvalue(0, 0)
      break if active == '1'

      sleep 0.05
    end
    conn.cancel
  end
  result = begin
    conn.exec('SELECT pg_sleep(30)')
    { outcome: 'finished' }
  rescue PG::Error => e
    { outcome: e.class.name, sqlstate: sqlstate(e), message: e.result&.error_field(PG::PG_DIAG_MESSAGE_PRIMARY) }
  end
  result[:cancel_error] = canceller.value
  result[:after] = conn.exec('SELECT 6 * 7').getvalue(0, 0).to_i
  result
end

# wait_for_notify yields NOTIFY and pg_notify on the channel listened to.
def notify
  listener = connect
  notifier = connect
  listener.exec('LISTEN fidelity_events')
  notifier.exec("NOTIFY fidelity_events, 'first'")
  notifier.exec("NOTIFY other_channel, 'ignored'")
  notifier.exec_params("SELECT pg_notify('fidelity_events', $1)", ['second é ✓'])
  received = []
  while received.size < 2
    got = listener.wait_for_notify(15) { |channel, _pid, payload| received << { channel: channel, payload: payload } }
    break unless got
  end
  { received: received }
end

# Single-row mode: send_query_params, set_single_row_mode, stream_each over 100,000 rows.
def stream
  conn = connect
  conn.send_query_params('SELECT g, md5(g::text) FROM generate_series(1, $1::int) AS g ORDER BY g', [100_000])
  conn.set_single_row_mode
  count = 0
  in_order = true
  hashes_ok = true
  conn.get_result.stream_each_row do |g, h|
    count += 1
    in_order &&= g.to_i == count
    hashes_ok &&= h == Digest::MD5.hexdigest(g)
  end
  conn.get_last_result
  { rows: count, in_order: in_order, hashes_ok: hashes_ok, after: conn.exec('SELECT 6 * 7').getvalue(0, 0).to_i }
end

puts JSON.generate(send(SECTION))
