-- Wire logins read identity data from memory (IdentitySnapshot). Every committed change
-- of what they read notifies the gateway, which reloads before the next login.
-- TG_ARGV names columns whose changes alone do not matter to a login (timestamps
-- written on use), so a token's last_used_at does not reload everything.
CREATE FUNCTION postern_identity_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - TG_ARGV) = (to_jsonb(NEW) - TG_ARGV) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_notify('postern_identity', TG_TABLE_NAME);
  RETURN NULL;
END
$$;

CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "entity"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "password_secret"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('updated_at');
CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "api_token"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('last_used_at');
CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "database"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "grant"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_changed AFTER INSERT OR UPDATE OR DELETE ON "membership"
  FOR EACH ROW EXECUTE FUNCTION postern_identity_changed('created_at');
-- TRUNCATE has no rows: a statement trigger covers it.
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "entity"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "api_token"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "database"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "grant"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "membership"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
CREATE TRIGGER identity_truncated AFTER TRUNCATE ON "password_secret"
  FOR EACH STATEMENT EXECUTE FUNCTION postern_identity_changed('created_at');
