/* ext/sql/66_backtest_schema.sql: backtests, their trades and equity curves, and the Judge's policy and
 * verdicts (issue 5; docs/backtests.md). DDL: runs once; new in 0.2.0, included whole by
 * ext/upgrade/0.1.0--0.2.0.sql. */

CREATE TABLE ex7.backtests (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    strategy_version    integer NOT NULL,
    instrument          text NOT NULL,
    timeframe           ex7.timeframe NOT NULL,
    range_from          timestamptz NOT NULL,
    range_to            timestamptz NOT NULL,
    params              jsonb NOT NULL DEFAULT '{}',
    purpose             text NOT NULL DEFAULT 'user' CHECK (purpose IN ('user', 'validation')),
    status              text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    bars_total          bigint,
    bars_done           bigint NOT NULL DEFAULT 0,
    result              jsonb,
    error               text,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    FOREIGN KEY (strategy_id, strategy_version) REFERENCES ex7.strategy_versions (strategy_id, version),
    CHECK (range_to > range_from)
);
COMMENT ON TABLE ex7.backtests IS 'A strategy version run over the stored bars of (range_from, range_to]: parameters, status (queued, running, done, failed), progress in bars, the summary (result) and timings. Trades and the equity curve are in backtest_trades and backtest_equity.';
COMMENT ON COLUMN ex7.backtests.purpose IS 'user: POST /api/strategies/{id}/backtest; validation: run by the Judge.';
COMMENT ON COLUMN ex7.backtests.bars_done IS 'Bars of the range processed so far (committed every chunk by a background run).';
-- keyset order of ex7.list_backtests: (created_at DESC, id DESC) per user and strategy
CREATE INDEX backtests_strategy_idx ON ex7.backtests (user_id, strategy_id, created_at DESC, id DESC);
-- background runs still to finish (the per-user cap)
CREATE INDEX backtests_active_idx ON ex7.backtests (user_id) WHERE status IN ('queued', 'running');

CREATE TABLE ex7.backtest_trades (
    backtest_id         uuid NOT NULL,             -- checked per statement (below)
    seq                 integer NOT NULL CHECK (seq >= 1),
    -- the backtest's user, for row security. No key to ex7.users: backtest_id already ties the row to
    -- a backtest of an existing user, and a per-row check of users cost a fifth of storing the rows
    user_id             uuid NOT NULL,
    side                text NOT NULL CHECK (side IN ('long', 'short')),
    quantity            integer NOT NULL CHECK (quantity > 0),
    entry_time          timestamptz NOT NULL,
    entry_price         numeric NOT NULL,
    stop_price          numeric,
    target_price        numeric,
    exit_time           timestamptz NOT NULL,
    exit_price          numeric NOT NULL,
    exit_reason         text NOT NULL CHECK (exit_reason IN ('stop_loss', 'take_profit', 'exit_signal', 'reverse',
                                                             'end_of_range')),
    gross_pnl           numeric NOT NULL,
    slippage_cost       numeric NOT NULL,
    commission          numeric NOT NULL,
    net_pnl             numeric NOT NULL,
    mae                 numeric NOT NULL CHECK (mae >= 0),
    mfe                 numeric NOT NULL CHECK (mfe >= 0),
    PRIMARY KEY (backtest_id, seq)
);
COMMENT ON TABLE ex7.backtest_trades IS 'The closed trades of a backtest in exit order, priced by ex7.compute_pnl (net of slippage and commission). mae / mfe: the largest adverse / favourable excursion while open, gross money, as magnitudes.';

CREATE TABLE ex7.backtest_equity (
    backtest_id         uuid NOT NULL,             -- checked per statement (below)
    seq                 integer NOT NULL CHECK (seq >= 1),
    -- the backtest's user, for row security. No key to ex7.users: backtest_id already ties the row to
    -- a backtest of an existing user, and a per-row check of users cost a fifth of storing the rows
    user_id             uuid NOT NULL,
    ts                  timestamptz NOT NULL,
    equity              numeric NOT NULL,
    PRIMARY KEY (backtest_id, seq)
);
COMMENT ON TABLE ex7.backtest_equity IS 'The equity curve of a backtest: initial capital + realized net P&L + the open position marked gross at the bar''s close, sampled at every trade close and at the last bar of every UTC day, in time order.';

/* The Judge. One policy, the operator's: a criterion left NULL is not checked. Seeded with every
 * criterion NULL, so a fresh install promotes as before until the operator sets the criteria
 * (docs/backtests.md, "The Judge"). */
CREATE TABLE ex7.validation_policy (
    id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
    window_days         integer NOT NULL DEFAULT 90 CHECK (window_days BETWEEN 1 AND 3660),
    min_trades          integer CHECK (min_trades >= 0),
    max_drawdown        numeric CHECK (max_drawdown >= 0),
    min_profit_factor   numeric CHECK (min_profit_factor >= 0),
    min_net_pnl         numeric,
    min_win_rate        numeric CHECK (min_win_rate BETWEEN 0 AND 1),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.validation_policy IS 'The Judge''s criteria for promoting a strategy to live (one row, the operator''s): a backtest of the current version over the window_days before the newest stored bar must meet every criterion that is not NULL.';
INSERT INTO ex7.validation_policy (id) VALUES (true);
SELECT pg_catalog.pg_extension_config_dump('ex7.validation_policy', '');

CREATE TABLE ex7.strategy_validations (
    id                  uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES ex7.users (id),
    strategy_id         uuid NOT NULL REFERENCES ex7.strategies (id),
    strategy_version    integer NOT NULL,
    backtest_id         uuid NOT NULL REFERENCES ex7.backtests (id),
    passed              boolean NOT NULL,
    criteria            jsonb NOT NULL,
    observed            jsonb NOT NULL,
    failed              jsonb NOT NULL,
    trigger             text NOT NULL CHECK (trigger IN ('promotion', 'request')),
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE ex7.strategy_validations IS 'The Judge''s verdicts: the policy applied, the observed values, the failed criteria, and the backtest they come from.';
CREATE INDEX strategy_validations_strategy_idx ON ex7.strategy_validations (user_id, strategy_id, created_at DESC, id DESC);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['backtests', 'backtest_trades', 'backtest_equity', 'strategy_validations']
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format('ALTER TABLE ex7.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE pg_catalog.format(
            'CREATE POLICY %I ON ex7.%I USING (user_id = (SELECT ex7.current_user_id())) '
            'WITH CHECK (user_id = (SELECT ex7.current_user_id()))', t || '_own', t);
    END LOOP;
END
$$;

/*
 * The backtest_id of trades and curve points is checked once per statement, not once per row: a foreign
 * key's per-row check was half the time of storing them (docs/performance.md, session 5). The backtests a
 * statement's new rows name must exist, and they are locked FOR KEY SHARE as a foreign key's check locks
 * them (a concurrent delete of one waits for the writer, or the writer fails after the delete commits);
 * deleting backtests deletes their trades and curve (what ON DELETE CASCADE did). The check runs as the
 * writing role, so a role bound to a user can name only its own backtests (row security).
 * specs/backtest_rows.spec and sql/backtest.sql test it.
 */
CREATE FUNCTION ex7._backtest_rows_check()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_want bigint;
    v_have bigint;
BEGIN
    SELECT pg_catalog.count(DISTINCT r.backtest_id) INTO v_want FROM new_rows r;
    SELECT pg_catalog.count(*) INTO v_have
      FROM (SELECT b.id FROM ex7.backtests b WHERE b.id IN (SELECT r.backtest_id FROM new_rows r)
               FOR KEY SHARE OF b) x;
    IF v_have < v_want THEN
        RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
            MESSAGE = pg_catalog.format('insert or update on table "%s" names a backtest that does not exist',
                                        TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._backtest_rows_check() IS
'Trigger (per statement, on backtest_trades and backtest_equity): raises foreign_key_violation (23503) when the new rows name a backtest that does not exist (or that the writing role cannot see), and locks the named backtests FOR KEY SHARE.';
CREATE FUNCTION ex7._backtests_deleted()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    DELETE FROM ex7.backtest_trades t WHERE t.backtest_id IN (SELECT o.id FROM old_rows o);
    DELETE FROM ex7.backtest_equity e WHERE e.backtest_id IN (SELECT o.id FROM old_rows o);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ex7._backtests_deleted() IS
'Trigger (per statement, after a delete on backtests): deletes the trades and curve points of the deleted backtests.';
CREATE TRIGGER backtest_trades_insert AFTER INSERT ON ex7.backtest_trades
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_trades_update AFTER UPDATE ON ex7.backtest_trades
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_equity_insert AFTER INSERT ON ex7.backtest_equity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtest_equity_update AFTER UPDATE ON ex7.backtest_equity
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtest_rows_check();
CREATE TRIGGER backtests_deleted AFTER DELETE ON ex7.backtests
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION ex7._backtests_deleted();
