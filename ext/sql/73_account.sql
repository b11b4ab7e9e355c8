/* ext/sql/73_account.sql: the waitlist, the self-hosted login and exchange keys (docs/account.md).
 * Tables in 72_account_schema.sql; password hashing in ext/auth.c; the AES-256-GCM encryption of
 * exchange keys and the signing of login tokens happen in ex7d (http/keys.c, http/auth.c), so neither a
 * master key nor the JWT secret is ever in the database. */

/* ---------------------------------------------------------------------------------------------------
 * Shared helpers: e-mail addresses and attempt counters.
 * ------------------------------------------------------------------------------------------------- */

/*
 * _email_norm: the address lower-cased and trimmed, or X7422 at p_loc. A pragmatic check (one @, a local
 * part of RFC 5322 atext and dots, a domain of LDH labels with a dot), lengths per RFC 5321 4.5.3.1.
 */
CREATE OR REPLACE FUNCTION ex7._email_norm(p_email text, p_loc jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v text := pg_catalog.lower(pg_catalog.btrim(p_email));
BEGIN
    IF p_email IS NULL THEN
        PERFORM ex7._invalid(p_loc, 'field required', 'value_error.missing');
    END IF;
    IF pg_catalog.length(v) > 254 OR pg_catalog.length(pg_catalog.split_part(v, '@', 1)) > 64
       OR v !~ '^[a-z0-9!#$%&''*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&''*+/=?^_`{|}~-]+)*@[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' THEN
        PERFORM ex7._invalid(p_loc, 'value is not a valid email address', 'value_error.email');
    END IF;
    RETURN v;
END
$$;
COMMENT ON FUNCTION ex7._email_norm(text, jsonb) IS
'Returns the e-mail address lower-cased and trimmed; X7422 at p_loc when it is missing or not an address (one @, dot-atoms, a domain with a dot, at most 254 characters).';

/*
 * _attempt_gate: a fixed window per subject, opened by its first attempt. Locks the subject's row until
 * the transaction ends, so concurrent attempts of one subject queue here and each sees the counts of
 * those before it (callers take an account's row before an address's: one lock order).
 */
CREATE OR REPLACE FUNCTION ex7._attempt_gate(p_subject text, p_max integer, p_window interval,
                                             p_now timestamptz DEFAULT pg_catalog.statement_timestamp())
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v ex7.auth_attempts;
    -- a window that started at or before this has ended; computed here because Citus takes only IMMUTABLE
    -- expressions in ON CONFLICT DO UPDATE SET (timestamptz + interval is STABLE;
    -- docs/citus-statements.md)
    v_ended timestamptz := p_now - p_window;
BEGIN
    INSERT INTO ex7.auth_attempts AS a (subject, window_start, count)
    VALUES (pg_catalog.left(p_subject, 300), p_now, 0)
    ON CONFLICT (subject) DO UPDATE
       SET window_start = CASE WHEN a.window_start <= v_ended THEN p_now ELSE a.window_start END,
           count = CASE WHEN a.window_start <= v_ended THEN 0 ELSE a.count END
    RETURNING a.* INTO v;
    IF v.count >= p_max THEN
        RETURN GREATEST(pg_catalog.ceil(EXTRACT(epoch FROM v.window_start + p_window - p_now))::integer, 1);
    END IF;
    RETURN 0;
END
$$;
COMMENT ON FUNCTION ex7._attempt_gate(text, integer, interval, timestamptz) IS
'Returns 0 when subject p_subject has made fewer than p_max counted attempts in its current window of p_window, else the seconds until that window ends. Locks the subject''s counter for the rest of the transaction.';

CREATE OR REPLACE FUNCTION ex7._attempt_count(p_subject text)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    UPDATE ex7.auth_attempts SET count = count + 1 WHERE subject = pg_catalog.left(p_subject, 300);
$$;
COMMENT ON FUNCTION ex7._attempt_count(text) IS
'Returns nothing; counts one attempt of p_subject in its current window (after ex7._attempt_gate).';

/* ---------------------------------------------------------------------------------------------------
 * Waitlist (ex7-api-reference.txt, "Add To Waitlist", "Waitlist Count"). Both public. SECURITY DEFINER:
 * the table is closed to every other role.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7.waitlist_add(p_email text, p_addr text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, ex7
AS $$
DECLARE
    -- signups one client address may make per hour, beyond ex7d's per-address cap on public routes: a
    -- list of addresses is worth spamming, a request count is not
    c_per_hour CONSTANT integer := 20;
    v_email text := ex7._email_norm(p_email, '["body","email"]');
    v_wait integer;
BEGIN
    v_wait := ex7._attempt_gate('waitlist-addr:' || COALESCE(p_addr, 'unknown'), c_per_hour, interval '1 hour');
    IF v_wait > 0 THEN
        PERFORM ex7._raise(429, 'too many waitlist signups from this address, retry later',
                           pg_catalog.jsonb_build_object('code', 'waitlist_rate_limited', 'retry_after', v_wait));
    END IF;
    PERFORM ex7._attempt_count('waitlist-addr:' || COALESCE(p_addr, 'unknown'));
    INSERT INTO ex7.waitlist (email) VALUES (v_email) ON CONFLICT (email) DO NOTHING;
    -- the same answer whether the address was new or known: nothing leaks about who is on the list
    RETURN '{"ok": true, "message": "You are on the waitlist. We will write when there is room."}'::jsonb;
END
$$;
COMMENT ON FUNCTION ex7.waitlist_add(text, text) IS
'Returns {ok: true, message} for a valid address whether or not it was already on the list (the same body either way). X7422 ["body","email"] for a missing or malformed address; X7429 {code: waitlist_rate_limited, retry_after} after 20 signups from client address p_addr in an hour.';

CREATE OR REPLACE FUNCTION ex7.waitlist_count()
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, ex7
AS $$
    SELECT pg_catalog.jsonb_build_object('count', pg_catalog.count(*)) FROM ex7.waitlist;
$$;
COMMENT ON FUNCTION ex7.waitlist_count() IS 'Returns {count}: the number of addresses on the waitlist (public).';

/* ---------------------------------------------------------------------------------------------------
 * Self-hosted login (peer-tradingagents-api.txt, "Authentication"). Passwords: ext/auth.c. ex7d signs
 * the token from the claims these return, with the HS256 secret it verifies tokens with.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._password_hash(p_password text)
RETURNS text
AS 'MODULE_PATHNAME', 'password_hash'
LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._password_hash(text) IS
'Returns the scrypt hash string of p_password ($scrypt$ln=15,r=8,p=1$<salt>$<hash>, a fresh random 16-byte salt). X7422 ["body","password"] over 1024 bytes.';

CREATE OR REPLACE FUNCTION ex7._password_verify(p_password text, p_hash text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'password_verify'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7._password_verify(text, text) IS
'Returns true when p_password matches scrypt hash string p_hash (parameters read from it, within bounds), compared in constant time; false for a mismatch or a malformed string.';

/* _password_check: X7422 at p_loc unless the password is 8 to 128 characters (NIST SP 800-63B 5.1.1.2
 * asks for at least 8 and at least 64 allowed). */
CREATE OR REPLACE FUNCTION ex7._password_check(p_password text, p_loc jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF p_password IS NULL THEN
        PERFORM ex7._invalid(p_loc, 'field required', 'value_error.missing');
    ELSIF pg_catalog.length(p_password) < 8 THEN
        PERFORM ex7._invalid(p_loc, 'ensure this value has at least 8 characters', 'value_error.any_str.min_length');
    ELSIF pg_catalog.length(p_password) > 128 THEN
        PERFORM ex7._invalid(p_loc, 'ensure this value has at most 128 characters', 'value_error.any_str.max_length');
    END IF;
END
$$;
COMMENT ON FUNCTION ex7._password_check(text, jsonb) IS
'Returns nothing when p_password has 8 to 128 characters; X7422 at p_loc otherwise (the message never contains the password).';

CREATE OR REPLACE FUNCTION ex7.auth_signup(p_email text, p_password text, p_addr text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- accounts one client address may open per hour (each costs a scrypt hash and a user row)
    c_per_hour CONSTANT integer := 10;
    v_email text := ex7._email_norm(p_email, '["body","email"]');
    v_subject text := 'signup-addr:' || COALESCE(p_addr, 'unknown');
    v_id uuid := pg_catalog.gen_random_uuid();
    v_wait integer;
BEGIN
    PERFORM ex7._password_check(p_password, '["body","password"]');
    v_wait := ex7._attempt_gate(v_subject, c_per_hour, interval '1 hour');
    IF v_wait > 0 THEN
        PERFORM ex7._raise(429, 'too many sign-ups from this address, retry later',
                           pg_catalog.jsonb_build_object('code', 'signup_rate_limited', 'retry_after', v_wait));
    END IF;
    IF EXISTS (SELECT 1 FROM ex7.auth_accounts WHERE email = v_email) THEN
        PERFORM ex7._raise(409, 'an account with this email already exists',
                           '{"code": "email_taken"}'::jsonb);
    END IF;
    PERFORM ex7.ensure_user(v_id, v_email);
    BEGIN
        INSERT INTO ex7.auth_accounts (user_id, email, password_hash)
        VALUES (v_id, v_email, ex7._password_hash(p_password));
    EXCEPTION WHEN unique_violation THEN
        -- a concurrent sign-up with the same address won
        PERFORM ex7._raise(409, 'an account with this email already exists', '{"code": "email_taken"}'::jsonb);
    END;
    PERFORM ex7._attempt_count(v_subject);
    RETURN pg_catalog.jsonb_build_object('sub', v_id, 'email', v_email, 'role', 'authenticated');
END
$$;
COMMENT ON FUNCTION ex7.auth_signup(text, text, text) IS
'Returns the claims {sub, email, role} of a new self-hosted account (a new user, tier free) for ex7d to sign. X7422 ["body","email"] / ["body","password"] (8 to 128 characters); X7409 {code: email_taken}; X7429 {code: signup_rate_limited, retry_after} after 10 sign-ups from client address p_addr in an hour.';

/*
 * auth_login: failures must be counted even though the login fails, so the answer is a value, never an
 * error that would roll the count back: {status: 200, claims} or {status: 401|429, body, retry_after}.
 * An unknown address costs a scrypt verification too (of a fixed hash), so the time taken does not tell
 * whether an account exists; its failures are counted under its name all the same.
 */
CREATE OR REPLACE FUNCTION ex7.auth_login(p_email text, p_password text, p_addr text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- OWASP Authentication Cheat Sheet, "Account lockout": a few failures per account, more per address
    c_account_max CONSTANT integer := 5;
    c_addr_max CONSTANT integer := 20;
    c_window CONSTANT interval := '15 minutes';
    -- a valid hash of a random string nobody knows: the verification an unknown account costs
    c_dummy CONSTANT text := '$scrypt$ln=15,r=8,p=1$zZihTVpM8yS2YndOtOaorg$N07o9qeRWVAEFCguZ11HnvX3NsW2KF8OKNNa4P1L5a8';
    v_email text := pg_catalog.left(pg_catalog.lower(pg_catalog.btrim(COALESCE(p_email, ''))), 254);
    v_acc ex7.auth_accounts;
    v_wait integer;
    v_ok boolean;
BEGIN
    v_wait := GREATEST(ex7._attempt_gate('login:' || v_email, c_account_max, c_window),
                       ex7._attempt_gate('login-addr:' || COALESCE(p_addr, 'unknown'), c_addr_max, c_window));
    IF v_wait > 0 THEN
        RETURN pg_catalog.jsonb_build_object('status', 429, 'retry_after', v_wait, 'body',
            pg_catalog.jsonb_build_object('detail', 'too many failed logins, retry after Retry-After seconds'));
    END IF;
    SELECT * INTO v_acc FROM ex7.auth_accounts WHERE email = v_email;
    v_ok := ex7._password_verify(COALESCE(p_password, ''), COALESCE(v_acc.password_hash, c_dummy))
            AND v_acc.user_id IS NOT NULL;
    IF NOT v_ok THEN
        PERFORM ex7._attempt_count('login:' || v_email);
        PERFORM ex7._attempt_count('login-addr:' || COALESCE(p_addr, 'unknown'));
        RETURN '{"status": 401, "body": {"detail": "Incorrect email or password"}}'::jsonb;
    END IF;
    -- a success clears the account's failures (not the address's: one good password must not reset a spray)
    DELETE FROM ex7.auth_attempts WHERE subject = 'login:' || v_email;
    RETURN pg_catalog.jsonb_build_object('status', 200, 'claims',
        pg_catalog.jsonb_build_object('sub', v_acc.user_id, 'email', v_acc.email, 'role', 'authenticated'));
END
$$;
COMMENT ON FUNCTION ex7.auth_login(text, text, text) IS
'Returns {status: 200, claims: {sub, email, role}} when p_password is the password of account p_email, else {status: 401, body} (the same for an unknown address and a wrong password) or {status: 429, retry_after, body} after 5 failures of the account or 20 of client address p_addr within 15 minutes. Failures are counted (the answer is a value, not an error).';

CREATE OR REPLACE FUNCTION ex7.auth_change_password(p_user uuid, p_current text, p_new text, p_addr text DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_acc ex7.auth_accounts;
    v_wait integer;
    v_hash text;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    SELECT * INTO v_acc FROM ex7.auth_accounts WHERE user_id = p_user;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'this user has no password login');
    END IF;
    IF p_current IS NULL THEN
        PERFORM ex7._invalid('["body","current_password"]', 'field required', 'value_error.missing');
    END IF;
    PERFORM ex7._password_check(p_new, '["body","new_password"]');
    -- the same counters as the login: a stolen token must not become a password oracle
    v_wait := GREATEST(ex7._attempt_gate('login:' || v_acc.email, 5, interval '15 minutes'),
                       ex7._attempt_gate('login-addr:' || COALESCE(p_addr, 'unknown'), 20, interval '15 minutes'));
    IF v_wait > 0 THEN
        RETURN pg_catalog.jsonb_build_object('status', 429, 'retry_after', v_wait, 'body',
            pg_catalog.jsonb_build_object('detail', 'too many failed password checks, retry after Retry-After seconds'));
    END IF;
    IF NOT ex7._password_verify(p_current, v_acc.password_hash) THEN
        PERFORM ex7._attempt_count('login:' || v_acc.email);
        PERFORM ex7._attempt_count('login-addr:' || COALESCE(p_addr, 'unknown'));
        RETURN '{"status": 422, "body": {"detail": [{"loc": ["body", "current_password"], "msg": "current password is incorrect", "type": "value_error.password"}]}}'::jsonb;
    END IF;
    -- the hash as a value: Citus refuses a VOLATILE function in an UPDATE of one of its tables
    -- (docs/citus-statements.md)
    v_hash := ex7._password_hash(p_new);
    UPDATE ex7.auth_accounts
       SET password_hash = v_hash, password_changed_at = pg_catalog.statement_timestamp()
     WHERE user_id = p_user
    RETURNING * INTO v_acc;
    DELETE FROM ex7.auth_attempts WHERE subject = 'login:' || v_acc.email;
    -- every session ends with the old password: ex7d refuses tokens issued before this second (the
    -- notification tells the fronts); the client logs in again with the new password
    UPDATE ex7.users SET tokens_valid_after = pg_catalog.date_trunc('second', pg_catalog.statement_timestamp())
     WHERE id = p_user;
    PERFORM ex7._user_changed(p_user);
    RETURN pg_catalog.jsonb_build_object('status', 200, 'body',
        pg_catalog.jsonb_build_object('changed', true, 'password_changed_at', v_acc.password_changed_at));
END
$$;
COMMENT ON FUNCTION ex7.auth_change_password(uuid, text, text, text) IS
'Returns {status: 200, body: {changed, password_changed_at}} after replacing the password of p_user''s self-hosted account and ending its sessions (ex7.users.tokens_valid_after: tokens issued before this second are refused), or {status: 422, body} when p_current is wrong (counted like a failed login) or {status: 429, retry_after, body} while the login counters are exhausted. X7404 when the user has no password login; X7422 for a missing current password or a new one outside 8 to 128 characters.';

CREATE OR REPLACE FUNCTION ex7.auth_session(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    u ex7.users;
    a ex7.auth_accounts;
BEGIN
    PERFORM ex7._ensure_user(p_user);
    SELECT * INTO u FROM ex7.users WHERE id = p_user;
    SELECT * INTO a FROM ex7.auth_accounts WHERE user_id = p_user;
    RETURN pg_catalog.jsonb_build_object('user', pg_catalog.jsonb_build_object(
               'id', u.id, 'email', u.email, 'tier', u.tier, 'created_at', u.created_at),
           'password_login', a.user_id IS NOT NULL, 'password_changed_at', a.password_changed_at);
END
$$;
COMMENT ON FUNCTION ex7.auth_session(uuid) IS
'Returns {user: {id, email, tier, created_at}, password_login, password_changed_at}: who the bearer token names (GET /api/auth/session).';

/* ---------------------------------------------------------------------------------------------------
 * Exchange keys (peer-capandex-api.txt, "Exchange Keys"). ex7d encrypts; these store and list.
 * ------------------------------------------------------------------------------------------------- */

CREATE OR REPLACE FUNCTION ex7._exchanges()
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    -- peer-capandex-api.txt ("binance, okx, bybit, mexc, coinbase, kraken") and the futures brokers
    -- ex7's CME signals are traded through
    SELECT ARRAY['binance', 'bybit', 'coinbase', 'kraken', 'mexc', 'okx', 'rithmic', 'tradovate']::text[];
$$;
COMMENT ON FUNCTION ex7._exchanges() IS 'Returns the exchanges an exchange key may name, sorted.';

CREATE OR REPLACE FUNCTION ex7.list_exchange_keys(p_user uuid)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    PERFORM ex7._ensure_user(p_user);
    RETURN pg_catalog.jsonb_build_object('keys', COALESCE((
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', k.id, 'exchange', k.exchange,
                   'label', k.label, 'hint', k.hint, 'has_passphrase', k.has_passphrase,
                   'created_at', k.created_at) ORDER BY k.created_at DESC, k.id DESC)
          FROM ex7.exchange_keys k WHERE k.user_id = p_user), '[]'::jsonb));
END
$$;
COMMENT ON FUNCTION ex7.list_exchange_keys(uuid) IS
'Returns {keys: [{id, exchange, label, hint, has_passphrase, created_at}]}, newest first: p_user''s exchange keys without their secrets (hint is the last four characters of the API key, masked).';

CREATE OR REPLACE FUNCTION ex7.create_exchange_key(p_user uuid, p_id uuid, p_exchange text, p_label text,
                                                   p_hint text, p_has_passphrase boolean, p_kid text,
                                                   p_iv bytea, p_ciphertext bytea, p_tag bytea)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    -- a user's saved connections; more is a mistake or abuse, and the list is not paged
    c_max_keys CONSTANT integer := 20;
    v_created timestamptz;
BEGIN
    PERFORM ex7._lock_user(p_user);
    IF p_exchange IS NULL THEN
        PERFORM ex7._invalid('["body","exchange"]', 'field required', 'value_error.missing');
    END IF;
    IF NOT p_exchange = ANY (ex7._exchanges()) THEN
        PERFORM ex7._invalid('["body","exchange"]',
            'value is not a known exchange; permitted: ' || pg_catalog.array_to_string(ex7._exchanges(), ', '),
            'type_error.enum');
    END IF;
    IF pg_catalog.length(COALESCE(p_label, '')) > 100 THEN
        PERFORM ex7._invalid('["body","label"]', 'ensure this value has at most 100 characters',
                             'value_error.any_str.max_length');
    END IF;
    IF p_exchange = 'okx' AND NOT COALESCE(p_has_passphrase, false) THEN
        -- peer-capandex-api.txt: "passphrase ... (required for OKX)"
        PERFORM ex7._invalid('["body","passphrase"]', 'field required for okx', 'value_error.missing');
    END IF;
    IF (SELECT pg_catalog.count(*) FROM ex7.exchange_keys WHERE user_id = p_user) >= c_max_keys THEN
        PERFORM ex7._raise(409, pg_catalog.format('at most %s exchange keys per user', c_max_keys),
                           pg_catalog.jsonb_build_object('code', 'too_many_exchange_keys', 'limit', c_max_keys));
    END IF;
    INSERT INTO ex7.exchange_keys (id, user_id, exchange, label, hint, has_passphrase, kid, iv, ciphertext, tag)
    VALUES (p_id, p_user, p_exchange, COALESCE(p_label, ''), p_hint, COALESCE(p_has_passphrase, false), p_kid,
            p_iv, p_ciphertext, p_tag)
    RETURNING created_at INTO v_created;    -- not RETURNING *: a bound role may not read the ciphertext back
    RETURN pg_catalog.jsonb_build_object('id', p_id, 'exchange', p_exchange, 'label', COALESCE(p_label, ''),
                                         'hint', p_hint, 'has_passphrase', COALESCE(p_has_passphrase, false),
                                         'created_at', v_created);
END
$$;
COMMENT ON FUNCTION ex7.create_exchange_key(uuid, uuid, text, text, text, boolean, text, bytea, bytea, bytea) IS
'Returns the stored key {id, exchange, label, hint, has_passphrase, created_at} (201 body). p_iv, p_ciphertext and p_tag are ex7d''s AES-256-GCM encryption of {api_key, secret, passphrase} under master key p_kid with AAD "<p_user>|<p_id>|<p_exchange>"; the secrets never reach the database in clear. X7422 for an unknown exchange (["body","exchange"]), a label over 100 characters, okx without a passphrase; X7409 {code: too_many_exchange_keys} at 20 keys.';

CREATE OR REPLACE FUNCTION ex7.delete_exchange_key(p_user uuid, p_id uuid)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    PERFORM ex7._ensure_user(p_user);
    DELETE FROM ex7.exchange_keys WHERE user_id = p_user AND id = p_id;
    IF NOT FOUND THEN
        PERFORM ex7._raise(404, 'exchange key not found');
    END IF;
    RETURN pg_catalog.jsonb_build_object('deleted', true, 'id', p_id);
END
$$;
COMMENT ON FUNCTION ex7.delete_exchange_key(uuid, uuid) IS
'Returns {deleted: true, id} after deleting p_user''s exchange key p_id for good; X7404 when it does not exist or is another user''s.';

/* Service paths of `ex7d rekey` (revoked from ex7_user in 99_grants.sql). */
CREATE OR REPLACE FUNCTION ex7._exchange_keys_to_rekey(p_current_kid text, p_after uuid, p_limit integer)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    -- a plain read over every user (keyset by id); PL/pgSQL because Citus plans no query of a SQL function
    -- that takes parameters and is not routed to one shard (docs/citus-statements.md)
    RETURN (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'id', k.id, 'user_id', k.user_id, 'exchange', k.exchange, 'kid', k.kid,
                       'iv', pg_catalog.encode(k.iv, 'hex'), 'ciphertext', pg_catalog.encode(k.ciphertext, 'hex'),
                       'tag', pg_catalog.encode(k.tag, 'hex')) ORDER BY k.id), '[]'::jsonb)
              FROM (SELECT * FROM ex7.exchange_keys
                     WHERE kid <> p_current_kid AND (p_after IS NULL OR id > p_after)
                     ORDER BY id LIMIT LEAST(GREATEST(p_limit, 1), 1000)) k);
END
$$;
COMMENT ON FUNCTION ex7._exchange_keys_to_rekey(text, uuid, integer) IS
'Returns [{id, user_id, exchange, kid, iv, ciphertext, tag}] (bytes in hex), at most p_limit (1..1000) exchange keys not under master key p_current_kid with id after p_after, in id order: the next batch of ex7d rekey. Service only.';

CREATE OR REPLACE FUNCTION ex7._exchange_key_rekey(p_id uuid, p_old_kid text, p_kid text, p_iv bytea,
                                                   p_ciphertext bytea, p_tag bytea)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_user uuid;
BEGIN
    -- ex7d rekey names the key by its id: the key's user comes from a plain read, so that the write is a
    -- statement on one user's rows (docs/citus-statements.md)
    SELECT k.user_id INTO v_user FROM ex7.exchange_keys k WHERE k.id = p_id;
    UPDATE ex7.exchange_keys
       SET kid = p_kid, iv = p_iv, ciphertext = p_ciphertext, tag = p_tag,
           rekeyed_at = pg_catalog.statement_timestamp()
     WHERE user_id = v_user AND id = p_id AND kid = p_old_kid;
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION ex7._exchange_key_rekey(uuid, text, text, bytea, bytea, bytea) IS
'Returns true after replacing the ciphertext of exchange key p_id with its re-encryption under master key p_kid, false when the key is gone or no longer under p_old_kid (a concurrent rekey). Service only.';

CREATE OR REPLACE FUNCTION ex7._exchange_key_kids()
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT COALESCE(pg_catalog.jsonb_object_agg(kid, n), '{}'::jsonb)
      FROM (SELECT kid, pg_catalog.count(*) AS n FROM ex7.exchange_keys GROUP BY kid) s;
$$;
COMMENT ON FUNCTION ex7._exchange_key_kids() IS
'Returns {kid: number of exchange keys encrypted under it}: what a master-key rotation still has to re-encrypt. Service only.';
