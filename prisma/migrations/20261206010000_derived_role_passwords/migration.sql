-- Upstream role passwords are derived from a key in the gateway's data directory
-- (HMAC of the role name), never stored: a copy of the control plane logs in to nothing.
-- Provisioning at the next start sets every tenant role's password to its derived value.
ALTER TABLE "database" DROP COLUMN "writer_password", DROP COLUMN "reader_password";
