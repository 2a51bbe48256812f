import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Many pgJDBC clients at once through a transaction-mode database. Args:
 * jdbc url, user, password, sslrootcert. Each client (a thread with its own
 * connection; half with pgJDBC's default prepareThreshold of 5, half with 1)
 * sets its application_name, then runs ROUNDS transactions (autocommit off)
 * with the same PreparedStatements each time, so that pgJDBC switches to
 * named server-side statements: a batch of two inserts tagged with the
 * client and round (several Parse/Bind/Execute before one Sync), a count of
 * its own rows and its setting read back inside the transaction; commit, or
 * every fourth round roll back. Between transactions (autocommit on) a
 * prepared SELECT. At the end the rows are checked by content. Prints one
 * JSON object.
 */
public class TxnHammer {
  static final int CLIENTS = 12;
  static final int ROUNDS = 25;
  static final String DRIVER = "pgjdbc";

  static boolean committed(int round) {
    return round % 4 != 3;
  }

  static class Client extends Thread {
    final int number;
    final Properties props;
    final String url;
    int transactions;
    int statements;
    String error;

    Client(int number, String url, Properties base) {
      this.number = number;
      this.url = url;
      this.props = new Properties();
      props.putAll(base);
      props.setProperty("prepareThreshold", number % 2 == 0 ? "5" : "1");
    }

    @Override
    public void run() {
      try {
        hammer();
      } catch (Exception e) {
        error = "client " + number + ": " + e;
      }
    }

    void hammer() throws SQLException {
      String me = "jdbc-" + number;
      try (Connection conn = DriverManager.getConnection(url, props)) {
        try (Statement st = conn.createStatement()) {
          st.execute("SET application_name = '" + me + "'");
          statements++;
        }
        PreparedStatement insert =
            conn.prepareStatement(
                "INSERT INTO hammer (driver, client, seq) VALUES (?, ?, ?) /* " + DRIVER + " */");
        PreparedStatement count =
            conn.prepareStatement(
                "SELECT count(*)::int, current_setting('application_name') FROM hammer"
                    + " WHERE driver = ? AND client = ?");
        PreparedStatement doubled = conn.prepareStatement("SELECT ?::int * 2");
        int mine = 0;
        for (int round = 0; round < ROUNDS; round++) {
          conn.setAutoCommit(false);
          // Two rows per round (seq 2r and 2r+1), in one batch.
          for (int k = 0; k < 2; k++) {
            insert.setString(1, DRIVER);
            insert.setInt(2, number);
            insert.setInt(3, 2 * round + k);
            insert.addBatch();
          }
          insert.executeBatch();
          statements += 3; // BEGIN and two inserts
          count.setString(1, DRIVER);
          count.setInt(2, number);
          try (ResultSet rs = count.executeQuery()) {
            rs.next();
            int n = rs.getInt(1);
            String app = rs.getString(2);
            statements++;
            if (n != mine + 2 || !app.equals(me)) {
              throw new IllegalStateException(
                  "round " + round + ": saw " + n + " rows as " + app + ", expected "
                      + (mine + 2) + " as " + me);
            }
          }
          if (committed(round)) {
            conn.commit();
            mine += 2;
          } else {
            conn.rollback();
          }
          statements++;
          transactions++;
          conn.setAutoCommit(true);
          doubled.setInt(1, round);
          try (ResultSet rs = doubled.executeQuery()) {
            rs.next();
            statements++;
            if (rs.getInt(1) != 2 * round) {
              throw new IllegalStateException("round " + round + ": doubled " + rs.getInt(1));
            }
          }
        }
      }
    }
  }

  public static void main(String[] args) throws Exception {
    String url = args[0];
    Properties base = new Properties();
    base.setProperty("user", args[1]);
    base.setProperty("password", args[2]);
    base.setProperty("sslmode", "verify-full");
    base.setProperty("sslrootcert", args[3]);
    List<Client> clients = new ArrayList<>();
    for (int n = 0; n < CLIENTS; n++) clients.add(new Client(n, url, base));
    for (Client c : clients) c.start();
    for (Client c : clients) c.join();
    List<String> errors = new ArrayList<>();
    int transactions = 0;
    int statements = 0;
    for (Client c : clients) {
      if (c.error != null && errors.size() < 5) errors.add(c.error);
      transactions += c.transactions;
      statements += c.statements;
    }
    TreeMap<Integer, String> expected = new TreeMap<>();
    for (int n = 0; n < CLIENTS; n++) {
      StringBuilder seqs = new StringBuilder();
      for (int r = 0; r < ROUNDS; r++) {
        if (!committed(r)) continue;
        seqs.append(seqs.length() == 0 ? "" : ",").append(2 * r).append(",").append(2 * r + 1);
      }
      expected.put(n, "{" + seqs + "}");
    }
    TreeMap<Integer, String> found = new TreeMap<>();
    int rows = 0;
    try (Connection conn = DriverManager.getConnection(url, base);
        PreparedStatement st =
            conn.prepareStatement(
                "SELECT client, array_agg(seq ORDER BY seq)::text, count(*)::int FROM hammer"
                    + " WHERE driver = ? GROUP BY client")) {
      st.setString(1, DRIVER);
      try (ResultSet rs = st.executeQuery()) {
        while (rs.next()) {
          found.put(rs.getInt(1), rs.getString(2));
          rows += rs.getInt(3);
        }
      }
    }
    // The insert prepared under a gateway's name on the upstream connection this runs on.
    int upstreamNamed;
    try (Connection conn = DriverManager.getConnection(url, base);
        PreparedStatement st =
            conn.prepareStatement(
                "SELECT count(*)::int FROM pg_prepared_statements"
                    + " WHERE name LIKE 'postern%' AND statement LIKE ?")) {
      st.setString(1, "%/* " + DRIVER + " */%");
      try (ResultSet rs = st.executeQuery()) {
        rs.next();
        upstreamNamed = rs.getInt(1);
      }
    }
    StringBuilder json = new StringBuilder("{\"clients\":" + CLIENTS);
    json.append(",\"transactions\":").append(transactions);
    json.append(",\"statements\":").append(statements);
    json.append(",\"errors\":[");
    for (int i = 0; i < errors.size(); i++) {
      json.append(i == 0 ? "" : ",").append(quote(errors.get(i)));
    }
    json.append("],\"rows_as_committed\":").append(found.equals(expected));
    json.append(",\"rows\":").append(rows);
    json.append(",\"upstream_named_insert\":").append(upstreamNamed).append("}");
    System.out.println(json);
  }

  static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
