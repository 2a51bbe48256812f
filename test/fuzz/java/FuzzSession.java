import java.io.StringReader;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import org.postgresql.PGConnection;

/**
 * A small realistic pgJDBC session, recorded as fuzzing seed material
 * (test/fuzz/record.ts): server-prepared statements, a batch, a portal read
 * in fetch-size steps inside a transaction, an error, and COPY FROM STDIN.
 * Plaintext (sslmode=disable) so that the recorder sees the bytes.
 */
public class FuzzSession {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    props.setProperty("sslmode", "disable");
    props.setProperty("gssEncMode", "disable");
    props.setProperty("prepareThreshold", "1");
    try (Connection conn = DriverManager.getConnection(args[0], props)) {
      try (Statement st = conn.createStatement()) {
        st.execute("CREATE TEMP TABLE fuzz_jdbc (id int PRIMARY KEY, name text)");
      }
      try (PreparedStatement ps = conn.prepareStatement("INSERT INTO fuzz_jdbc VALUES (?, ?)")) {
        for (int i = 1; i <= 3; i++) {
          ps.setInt(1, i);
          ps.setString(2, "row " + i);
          ps.addBatch();
        }
        ps.executeBatch();
      }
      conn.setAutoCommit(false);
      try (PreparedStatement ps =
          conn.prepareStatement("SELECT id, name FROM fuzz_jdbc WHERE id > ? ORDER BY id")) {
        ps.setInt(1, 1);
        ps.setFetchSize(1);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rs.getString(2);
          }
        }
      }
      conn.commit();
      conn.setAutoCommit(true);
      try (Statement st = conn.createStatement()) {
        st.executeQuery("SELECT * FROM fuzz_missing_table");
      } catch (SQLException e) {
        System.out.println("error=" + e.getSQLState());
      }
      conn.unwrap(PGConnection.class)
          .getCopyAPI()
          .copyIn("COPY fuzz_jdbc FROM STDIN", new StringReader("10\tten\n11\televen\n"));
      System.out.println("ok");
    }
  }
}
