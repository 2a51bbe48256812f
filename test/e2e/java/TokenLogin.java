import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

/** Logs in through Postern with pgJDBC (as DBeaver does) and prints current_user's view. */
public class TokenLogin {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    props.setProperty("sslmode", "verify-full");
    props.setProperty("sslrootcert", args[3]);
    try (Connection conn = DriverManager.getConnection(url, props);
        Statement st = conn.createStatement();
        ResultSet rs = st.executeQuery("SELECT 40 + 2 AS answer")) {
      rs.next();
      System.out.println("answer=" + rs.getInt("answer"));
    } catch (java.sql.SQLException e) {
      System.out.println("sqlstate=" + e.getSQLState());
      System.exit(3);
    }
  }
}
