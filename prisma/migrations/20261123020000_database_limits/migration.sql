-- Per-database guardrail overrides (statement and idle timeouts, result and connection limits).
ALTER TABLE "database" ADD COLUMN "limits" JSONB;
