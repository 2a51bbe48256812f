import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.Date;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What DBeaver and ordinary JDBC programs do, through Postern with pgJDBC.
 * Args: jdbc url, user, password, sslrootcert, section (metadata, types, batch,
 * cursor, cancel). Prints key=value lines; the test asserts on them.
 */
public class DriverFidelity {
  private static String url;
  private static Properties baseProps;

  public static void main(String[] args) throws Exception {
    url = args[0];
    baseProps = new Properties();
    baseProps.setProperty("user", args[1]);
    baseProps.setProperty("password", args[2]);
    baseProps.setProperty("sslmode", "verify-full");
    baseProps.setProperty("sslrootcert", args[3]);
    switch (args[4]) {
      case "metadata":
        metadata();
        break;
      case "types":
        types();
        break;
      case "batch":
        batch();
        break;
      case "cursor":
        cursor();
        break;
      case "cancel":
        cancel();
        break;
      default:
        throw new IllegalArgumentException("unknown section " + args[4]);
    }
  }

  private static Connection connect(String applicationName) throws SQLException {
    Properties props = new Properties();
    props.putAll(baseProps);
    props.setProperty("ApplicationName", applicationName);
    return DriverManager.getConnection(url, props);
  }

  private static void print(String key, Object value) {
    System.out.println(key + "=" + value);
  }

  /** DBeaver's first steps: product version, catalogs, schemas, tables, columns, keys, indexes. */
  private static void metadata() throws SQLException {
    try (Connection conn = connect("fidelity-metadata")) {
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE IF EXISTS fidelity_meta");
        st.execute(
            "CREATE TABLE fidelity_meta (id int PRIMARY KEY, name varchar(40) NOT NULL,"
                + " created timestamptz DEFAULT now(), score numeric(10,2))");
        st.execute("CREATE INDEX fidelity_meta_name_idx ON fidelity_meta (name)");
      }
      DatabaseMetaData meta = conn.getMetaData();
      print("product", meta.getDatabaseProductName());
      print("version", meta.getDatabaseProductVersion());
      print("major", meta.getDatabaseMajorVersion());
      print("user", meta.getUserName());

      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT current_schema(), current_setting('search_path')")) {
        rs.next();
        print("current_schema", rs.getString(1));
        print("search_path", rs.getString(2));
      }
      // pgJDBC names the catalog after the database the client asked for.
      print("catalog", conn.getCatalog());
      List<String> catalogs = new ArrayList<>();
      try (ResultSet rs = meta.getCatalogs()) {
        while (rs.next()) catalogs.add(rs.getString("TABLE_CAT"));
      }
      print("catalogs", String.join(",", catalogs));

      List<String> schemas = new ArrayList<>();
      try (ResultSet rs = meta.getSchemas()) {
        while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
      }
      print("schemas_include_public", schemas.contains("public"));
      print("schemas_include_pg_catalog", schemas.contains("pg_catalog"));

      List<String> tables = new ArrayList<>();
      try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
        while (rs.next()) tables.add(rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
      }
      print("tables", String.join(",", tables));

      List<String> columns = new ArrayList<>();
      try (ResultSet rs = meta.getColumns(null, "public", "fidelity_meta", "%")) {
        while (rs.next()) {
          columns.add(
              rs.getInt("ORDINAL_POSITION")
                  + ":"
                  + rs.getString("COLUMN_NAME")
                  + ":"
                  + rs.getString("TYPE_NAME")
                  + ":"
                  + rs.getInt("COLUMN_SIZE")
                  + ":"
                  + rs.getString("IS_NULLABLE"));
        }
      }
      print("columns", String.join(",", columns));

      List<String> keys = new ArrayList<>();
      try (ResultSet rs = meta.getPrimaryKeys(null, "public", "fidelity_meta")) {
        while (rs.next()) keys.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("PK_NAME"));
      }
      print("primary_keys", String.join(",", keys));

      List<String> indexes = new ArrayList<>();
      try (ResultSet rs = meta.getIndexInfo(null, "public", "fidelity_meta", false, false)) {
        while (rs.next()) {
          indexes.add(
              rs.getString("INDEX_NAME")
                  + ":"
                  + rs.getString("COLUMN_NAME")
                  + ":"
                  + (rs.getBoolean("NON_UNIQUE") ? "non-unique" : "unique"));
        }
      }
      indexes.sort(null);
      print("indexes", String.join(",", indexes));
    }
  }

  private static final byte[] ALL_BYTES = new byte[256];

  static {
    for (int i = 0; i < 256; i++) ALL_BYTES[i] = (byte) i;
  }

  /** PreparedStatement parameters of every common type, inserted and read back equal. */
  private static void types() throws SQLException {
    try (Connection conn = connect("fidelity-types")) {
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE IF EXISTS fidelity_types");
        st.execute(
            "CREATE TABLE fidelity_types (k int PRIMARY KEY, i int, b bigint, n numeric(30,10),"
                + " v varchar(100), f boolean, d date, ts timestamp, by bytea, u uuid)");
      }
      Object[][] rows = {
        {
          Integer.MIN_VALUE,
          Long.MAX_VALUE,
          new BigDecimal("12345678901234567890.1234567890"),
          "héllo ✓ 'quoted' \\ back",
          true,
          Date.valueOf("2024-02-29"),
          Timestamp.valueOf("2024-02-29 23:59:58.123456"),
          ALL_BYTES,
          UUID.fromString("0f8fad5b-d9cb-469f-a165-70867728950e")
        },
        {
          Integer.MAX_VALUE,
          Long.MIN_VALUE,
          new BigDecimal("-0.0000000001"),
          "",
          false,
          Date.valueOf("1970-01-01"),
          Timestamp.valueOf("1999-12-31 00:00:00"),
          new byte[0],
          UUID.fromString("00000000-0000-0000-0000-000000000000")
        },
        {null, null, null, null, null, null, null, null, null},
      };
      int[] sqlTypes = {
        Types.INTEGER,
        Types.BIGINT,
        Types.NUMERIC,
        Types.VARCHAR,
        Types.BOOLEAN,
        Types.DATE,
        Types.TIMESTAMP,
        Types.BINARY,
        Types.OTHER
      };
      try (PreparedStatement insert =
          conn.prepareStatement("INSERT INTO fidelity_types VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        for (int r = 0; r < rows.length; r++) {
          Object[] row = rows[r];
          insert.setInt(1, r);
          if (row[0] == null) {
            for (int c = 0; c < row.length; c++) insert.setNull(c + 2, sqlTypes[c]);
          } else {
            insert.setInt(2, (Integer) row[0]);
            insert.setLong(3, (Long) row[1]);
            insert.setBigDecimal(4, (BigDecimal) row[2]);
            insert.setString(5, (String) row[3]);
            insert.setBoolean(6, (Boolean) row[4]);
            insert.setDate(7, (Date) row[5]);
            insert.setTimestamp(8, (Timestamp) row[6]);
            insert.setBytes(9, (byte[]) row[7]);
            insert.setObject(10, row[8]);
          }
          insert.executeUpdate();
        }
      }
      // Ten reads of each row: past pgJDBC's prepareThreshold (5), so the later ones use a
      // named server-side statement and binary transfer for some types.
      List<String> mismatches = new ArrayList<>();
      int reads = 0;
      try (PreparedStatement select =
          conn.prepareStatement("SELECT i, b, n, v, f, d, ts, by, u FROM fidelity_types WHERE k = ?")) {
        for (int round = 0; round < 10; round++) {
          for (int r = 0; r < rows.length; r++) {
            select.setInt(1, r);
            try (ResultSet rs = select.executeQuery()) {
              if (!rs.next()) {
                mismatches.add("row " + r + " missing");
                continue;
              }
              Object[] got = {
                rs.getObject(1, Integer.class),
                rs.getObject(2, Long.class),
                rs.getBigDecimal(3),
                rs.getString(4),
                rs.getObject(5, Boolean.class),
                rs.getDate(6),
                rs.getTimestamp(7),
                rs.getBytes(8),
                rs.getObject(9)
              };
              for (int c = 0; c < got.length; c++) {
                Object want = rows[r][c];
                boolean same =
                    want instanceof byte[]
                        ? got[c] instanceof byte[] && Arrays.equals((byte[]) want, (byte[]) got[c])
                        : want instanceof BigDecimal
                            ? got[c] != null && ((BigDecimal) want).compareTo((BigDecimal) got[c]) == 0
                            : want == null ? got[c] == null : want.equals(got[c]);
                if (!same) mismatches.add("round " + round + " row " + r + " col " + (c + 1) + " got " + got[c]);
              }
              reads++;
            }
          }
        }
      }
      print("reads", reads);
      try (Statement st = conn.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT count(*) FROM pg_prepared_statements"
                      + " WHERE statement LIKE 'SELECT i, b, n, v, f, d, ts, by, u FROM fidelity_types%'")) {
        rs.next();
        print("server_prepared", rs.getLong(1));
      }
      print("mismatches", mismatches.isEmpty() ? "none" : String.join("; ", mismatches));
      try (Statement st = conn.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT n::text, octet_length(by), md5(by), u::text FROM fidelity_types WHERE k = 0")) {
        rs.next();
        print("server_numeric", rs.getString(1));
        print("server_bytea_length", rs.getInt(2));
        print("server_bytea_md5", rs.getString(3));
        print("server_uuid", rs.getString(4));
      }
    }
  }

  /** executeBatch of 1,000 inserts (many Parse/Bind/Execute before one Sync). */
  private static void batch() throws SQLException {
    try (Connection conn = connect("fidelity-batch")) {
      try (Statement st = conn.createStatement()) {
        st.execute("DROP TABLE IF EXISTS fidelity_batch");
        st.execute("CREATE TABLE fidelity_batch (id int PRIMARY KEY, label text NOT NULL)");
      }
      int[] counts;
      try (PreparedStatement insert = conn.prepareStatement("INSERT INTO fidelity_batch VALUES (?, ?)")) {
        for (int i = 1; i <= 1000; i++) {
          insert.setInt(1, i);
          insert.setString(2, "row " + i);
          insert.addBatch();
        }
        counts = insert.executeBatch();
      }
      print("batch_results", counts.length);
      print("batch_all_one", Arrays.stream(counts).allMatch(c -> c == 1));
      try (Statement st = conn.createStatement();
          ResultSet rs =
              st.executeQuery(
                  "SELECT count(*), sum(id), count(DISTINCT label) FROM fidelity_batch")) {
        rs.next();
        print("count", rs.getLong(1));
        print("sum", rs.getLong(2));
        print("labels", rs.getLong(3));
      }
      // A batch whose 500th statement fails inside a transaction: BatchUpdateException, and
      // the rollback keeps nothing. (In autocommit mode pgJDBC syncs every few hundred
      // statements, so a prefix would commit there, exactly as against PostgreSQL itself.)
      conn.setAutoCommit(false);
      try (PreparedStatement insert = conn.prepareStatement("INSERT INTO fidelity_batch VALUES (?, ?)")) {
        for (int i = 1; i <= 1000; i++) {
          insert.setInt(1, i == 500 ? 1 : 1000 + i);
          insert.setString(2, "second " + i);
          insert.addBatch();
        }
        insert.executeBatch();
        print("failing_batch", "succeeded");
      } catch (SQLException e) {
        SQLException cause = e.getNextException() != null ? e.getNextException() : e;
        print("failing_batch", e.getClass().getSimpleName() + ":" + cause.getSQLState());
      }
      conn.rollback();
      conn.setAutoCommit(true);
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT count(*) FROM fidelity_batch")) {
        rs.next();
        print("count_after_failure", rs.getLong(1));
      }
    }
  }

  /** setFetchSize inside a transaction: a portal read 100 rows at a time. */
  private static void cursor() throws SQLException {
    try (Connection conn = connect("fidelity-cursor")) {
      conn.setAutoCommit(false);
      long rows = 0;
      boolean inOrder = true;
      long openPortals = -1;
      try (Statement st = conn.createStatement()) {
        st.setFetchSize(100);
        try (ResultSet rs =
            st.executeQuery(
                "SELECT g, repeat('x', 100) FROM generate_series(1, 5000) AS g ORDER BY g")) {
          while (rs.next()) {
            rows++;
            if (rs.getLong(1) != rows || rs.getString(2).length() != 100) inOrder = false;
            if (rows == 2500) {
              // the portal is still open on the server half way through
              try (Statement probe = conn.createStatement();
                  ResultSet p =
                      probe.executeQuery(
                          "SELECT count(*) FROM pg_cursors WHERE statement LIKE 'SELECT g, repeat%'")) {
                p.next();
                openPortals = p.getLong(1);
              }
            }
          }
        }
      }
      conn.commit();
      print("rows", rows);
      print("in_order", inOrder);
      print("open_portals_midway", openPortals);
    }
  }

  /** Statement.cancel() from another thread during pg_sleep(30). */
  private static void cancel() throws Exception {
    try (Connection conn = connect("fidelity-jdbc-sleeper");
        Connection watcher = connect("fidelity-jdbc-watcher")) {
      conn.setAutoCommit(false);
      Statement sleeper = conn.createStatement();
      AtomicReference<Throwable> cancelError = new AtomicReference<>();
      Thread canceller =
          new Thread(
              () -> {
                try (PreparedStatement probe =
                    watcher.prepareStatement(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'fidelity-jdbc-sleeper'"
                            + " AND state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'")) {
                  long deadline = System.currentTimeMillis() + 20_000;
                  while (System.currentTimeMillis() < deadline) {
                    try (ResultSet rs = probe.executeQuery()) {
                      rs.next();
                      if (rs.getLong(1) == 1) break;
                    }
                    Thread.sleep(50);
                  }
                  sleeper.cancel();
                } catch (Throwable t) {
                  cancelError.set(t);
                }
              });
      canceller.start();
      try {
        sleeper.executeQuery("SELECT pg_sleep(30)");
        print("outcome", "finished");
      } catch (SQLException e) {
        print("outcome", "SQLException");
        print("sqlstate", e.getSQLState());
        print("message", e.getMessage().replace('\n', ' '));
      }
      canceller.join();
      print("cancel_error", cancelError.get() == null ? "none" : cancelError.get().toString());
      conn.rollback();
      try (Statement st = conn.createStatement();
          ResultSet rs = st.executeQuery("SELECT 6 * 7")) {
        rs.next();
        print("after", rs.getInt(1));
      }
      conn.commit();
    }
  }
}
