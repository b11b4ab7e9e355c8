/* ext/sql/82_paper_schema.sql: the paper account (docs/paper-account.md). DDL only: new in 0.3.0, included
 * whole by ext/upgrade/0.2.0--0.3.0.sql.
 *
 * One account per user and mode, like ex7.risk_limits: no row means the defaults (a starting capital of
 * 10,000.00 and no start time, so every close of the mode counts). The positions, the ledger and the equity
 * are not stored: they are read from ex7.signals (ext/sql/83_paper.sql), whose P&L fields come from
 * ex7.compute_pnl alone. A reset (ex7.reset_paper_account) writes the row: the new starting capital and a new
 * start, after which the ledger and the equity count the closes.
 *
 * Per-user, keyed (user_id, mode) and distributed by user on Citus (docs/scale-out.md).
 */

CREATE TABLE ex7.paper_accounts (
    user_id           uuid NOT NULL REFERENCES ex7.users (id),
    mode              ex7.trade_mode NOT NULL,
    -- the same bounds as a backtest's initial_capital (ext/sql/67_backtest.sql), in cents
    starting_capital  numeric NOT NULL DEFAULT 10000.00
                      CHECK (starting_capital > 0 AND starting_capital < 1e12 AND pg_catalog.scale(starting_capital) <= 2),
    -- the closes at or after this instant are the account's (the ledger, the realized P&L, the equity)
    started_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    resets            integer NOT NULL DEFAULT 1 CHECK (resets >= 1),
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (user_id, mode)
);
SELECT pg_catalog.pg_extension_config_dump('ex7.paper_accounts', '');
COMMENT ON TABLE ex7.paper_accounts IS 'A user''s paper account per mode: starting capital and start time, set by a reset (docs/paper-account.md); no row means 10000.00 from the first close.';
COMMENT ON COLUMN ex7.paper_accounts.started_at IS 'The last reset: the ledger, realized P&L and equity count the closes at or after it.';
COMMENT ON COLUMN ex7.paper_accounts.resets IS 'How many resets the account had (the first one created the row).';

/*
 * The keyset order of the ledger (ex7.list_paper_ledger): a user's closes of one mode by (closed_at, id),
 * newest first. signals_user_mode_closed_idx (10_schema.sql) lacks the id, so a page below a cursor could
 * not be one index range: the planner read every close below it and sorted them (test/pgtap/schema.sql).
 * Partial like it: an open signal is in neither.
 */
CREATE INDEX signals_user_mode_closed_id_idx ON ex7.signals (user_id, mode, closed_at DESC, id DESC)
    WHERE status <> 'open';

/* Row-level security: as in 10_schema.sql, a bound role sees only its user's rows. */
ALTER TABLE ex7.paper_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE ex7.paper_accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY paper_accounts_own ON ex7.paper_accounts USING (user_id = ex7.current_user_id())
    WITH CHECK (user_id = ex7.current_user_id());
