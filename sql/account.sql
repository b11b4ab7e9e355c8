-- sql/account.sql: the waitlist, the self-hosted login (scrypt passwords, attempt limits) and exchange
-- keys (ext/sql/73_account.sql, ext/auth.c; docs/account.md). Vix is in sql/vix.sql.
\set VERBOSITY terse
-- err_code(sql): 'ok', or the SQLSTATE with the detail's code and whether its retry_after is sane (the
-- windows run on the clock, so the seconds themselves vary)
CREATE FUNCTION pg_temp.err_code(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text;
    d text;
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, d = PG_EXCEPTION_DETAIL;
    RETURN st || COALESCE(' ' || (d::jsonb ->> 'code'), '')
        || CASE WHEN d::jsonb ? 'retry_after' THEN ' retry_after ' || CASE WHEN (d::jsonb ->> 'retry_after')::int BETWEEN 1 AND 3600 THEN 'ok' ELSE d END ELSE '' END;
END
$$;

-- Waitlist ------------------------------------------------------------------------------------------
SELECT ex7.waitlist_count();
SELECT ex7.waitlist_add('Trader@Example.com', '10.0.0.1');
-- a known address gets the same answer, in any case and with spaces: nothing leaks
SELECT ex7.waitlist_add('  trader@example.COM ', '10.0.0.1') = ex7.waitlist_add('new@example.com', '10.0.0.1') AS same_body;
SELECT email FROM ex7.waitlist ORDER BY email;
SELECT ex7.waitlist_count();
SELECT ex7_test.err($$SELECT ex7.waitlist_add(NULL)$$);
SELECT e, ex7_test.err(format('SELECT ex7.waitlist_add(%L)', e)) AS outcome
  FROM unnest(ARRAY['', 'plain', 'a@b', '@example.com', 'a@@example.com', 'a b@example.com', 'a@-example.com',
                    'a.@example.com', repeat('x', 65) || '@example.com', 'x@' || repeat('y', 250) || '.com',
                    'ok+tag@sub.example.co.uk']) AS e;
-- 20 signups an hour from one address (this one made 4 so far), then 429 with retry_after
SELECT count(*) FILTER (WHERE pg_temp.err_code(format('SELECT ex7.waitlist_add(%L, %L)', 'w' || i || '@example.com', '10.0.0.1')) = 'ok') AS accepted
  FROM generate_series(1, 17) i;
SELECT pg_temp.err_code($$SELECT ex7.waitlist_add('late@example.com', '10.0.0.1')$$);
SELECT pg_temp.err_code($$SELECT ex7.waitlist_add('late@example.com', '10.0.0.2')$$);
-- the window ends an hour after it opened
UPDATE ex7.auth_attempts SET window_start = window_start - interval '61 minutes' WHERE subject = 'waitlist-addr:10.0.0.1';
SELECT pg_temp.err_code($$SELECT ex7.waitlist_add('later@example.com', '10.0.0.1')$$);
SELECT ex7.waitlist_count();

-- Passwords: scrypt (RFC 7914) ----------------------------------------------------------------------
SELECT ex7._password_hash('correct horse battery') ~ '^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$' AS phc_format,
       ex7._password_hash('same') <> ex7._password_hash('same') AS salted;
-- RFC 7914 section 12's test vectors, as stored strings: the parameters are read from the string
SELECT ex7._password_verify('password', '$scrypt$ln=10,r=8,p=16$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA') AS rfc7914_1,
       ex7._password_verify('pleaseletmein', '$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw') AS rfc7914_2,
       ex7._password_verify('pleaseletmeout', '$scrypt$ln=14,r=8,p=1$U29kaXVtQ2hsb3JpZGU$cCO9yzr9c0hGHAbNgf046/2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw') AS wrong;
-- malformed or out-of-bounds strings never verify (and never raise)
SELECT h, ex7._password_verify('password', h) AS verifies
  FROM unnest(ARRAY['', 'plain', '$scrypt$ln=10,r=8,p=16$TmFDbA$', '$scrypt$ln=40,r=8,p=1$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI',
                    '$scrypt$ln=10,r=8,p=16$!!!!$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWI', '$bcrypt$whatever']) AS h;
SELECT ex7_test.err(format('SELECT ex7._password_hash(%L)', repeat('p', 1025)));

-- Sign-up and login -----------------------------------------------------------------------------------
CREATE TEMP TABLE claims AS SELECT ex7.auth_signup('Ann@Example.com', 'hunter2hunter2', '10.1.0.1') AS c;
SELECT c ->> 'email' AS email, c ->> 'role' AS role, u.tier, u.email AS user_email,
       a.password_hash LIKE '$scrypt$ln=15,r=8,p=1$%' AS hashed
  FROM claims JOIN ex7.users u ON u.id = (c ->> 'sub')::uuid JOIN ex7.auth_accounts a ON a.user_id = u.id;
SELECT pg_temp.err_code($$SELECT ex7.auth_signup('ann@example.com', 'another password', '10.1.0.1')$$) AS duplicate;
SELECT ex7_test.err($$SELECT ex7.auth_signup('not-an-email', 'hunter2hunter2')$$);
SELECT ex7_test.err($$SELECT ex7.auth_signup('bob@example.com', 'short')$$);
SELECT ex7_test.err(format('SELECT ex7.auth_signup(%L, %L)', 'bob@example.com', repeat('p', 129)));
SELECT ex7_test.err($$SELECT ex7.auth_signup('bob@example.com', NULL)$$);
-- the password never appears in an error
SELECT ex7_test.err($$SELECT ex7.auth_signup('bob@example.com', 'sEcReT1')$$) LIKE '%sEcReT1%' AS leaked;

SELECT l - 'claims' AS result, l #>> '{claims,email}' AS email,
       (l #>> '{claims,sub}')::uuid = (SELECT user_id FROM ex7.auth_accounts WHERE email = 'ann@example.com') AS right_sub
  FROM ex7.auth_login(' ANN@example.com', 'hunter2hunter2', '10.1.0.2') AS l;
-- a wrong password and an unknown account get the same answer
SELECT ex7.auth_login('ann@example.com', 'hunter3hunter3', '10.1.0.2') AS wrong_password;
SELECT ex7.auth_login('nobody@example.com', 'hunter2hunter2', '10.1.0.2') = ex7.auth_login('ann@example.com', 'nope', '10.1.0.2') AS same_answer;
SELECT ex7.auth_login(NULL, NULL, NULL) ->> 'status' AS null_login;
SELECT subject, count FROM ex7.auth_attempts WHERE subject LIKE 'login%' ORDER BY subject;
-- five failures of an account: the sixth attempt is refused even with the right password, from anywhere
SELECT i, ex7.auth_login('ann@example.com', 'wrong ' || i, '10.1.0.3') ->> 'status' AS status FROM generate_series(1, 3) i;
SELECT l ->> 'status' AS status, (l ->> 'retry_after')::int BETWEEN 1 AND 900 AS retry_after_ok, l -> 'body' AS body
  FROM ex7.auth_login('ann@example.com', 'hunter2hunter2', '10.1.0.4') AS l;
-- the window ends 15 minutes after it opened; a success then clears the account's count
UPDATE ex7.auth_attempts SET window_start = window_start - interval '16 minutes' WHERE subject = 'login:ann@example.com';
SELECT ex7.auth_login('ann@example.com', 'hunter2hunter2', '10.1.0.4') ->> 'status' AS after_window;
SELECT count(*) AS account_counter FROM ex7.auth_attempts WHERE subject = 'login:ann@example.com';
-- twenty failures from one address: every account is refused there, not elsewhere
SELECT ex7.auth_signup('cy@example.com', 'cy-password-1', '10.1.0.1') ->> 'email' AS cy;
SELECT count(*) FILTER (WHERE ex7.auth_login('user' || i || '@example.com', 'guess', '10.9.9.9') ->> 'status' = '401') AS refused_401
  FROM generate_series(1, 20) i;
SELECT ex7.auth_login('cy@example.com', 'cy-password-1', '10.9.9.9') ->> 'status' AS same_address,
       ex7.auth_login('cy@example.com', 'cy-password-1', '10.9.9.8') ->> 'status' AS other_address;
-- ten sign-ups an hour from one address (this one made two)
SELECT count(*) FILTER (WHERE pg_temp.err_code(format('SELECT ex7.auth_signup(%L, %L, %L)', 's' || i || '@example.com', 'password-' || i, '10.1.0.1')) = 'ok') AS accepted
  FROM generate_series(1, 8) i;
SELECT pg_temp.err_code($$SELECT ex7.auth_signup('s9@example.com', 'password-9', '10.1.0.1')$$) AS ninth;

-- Password change and session -------------------------------------------------------------------------
SELECT user_id AS ann FROM ex7.auth_accounts WHERE email = 'ann@example.com' \gset
SELECT ex7.auth_change_password(:'ann', 'not my password', 'brand-new-pass', '10.1.0.5') AS wrong_current;
SELECT r ->> 'status' AS status, r #> '{body,changed}' AS changed
  FROM ex7.auth_change_password(:'ann', 'hunter2hunter2', 'brand-new-pass', '10.1.0.5') AS r;
SELECT ex7.auth_login('ann@example.com', 'hunter2hunter2', '10.1.0.6') ->> 'status' AS old_password,
       ex7.auth_login('ann@example.com', 'brand-new-pass', '10.1.0.6') ->> 'status' AS new_password;
SELECT ex7_test.err(format('SELECT ex7.auth_change_password(%L, %L, %L)', :'ann', 'brand-new-pass', 'short'));
SELECT ex7_test.err(format('SELECT ex7.auth_change_password(%L, NULL, %L)', :'ann', 'long enough'));
SELECT ex7_test.err($$SELECT ex7.auth_change_password('00000000-0000-4000-8000-6d0000000010', 'a', 'bbbbbbbbbb')$$);
SELECT (s -> 'user') - 'id' - 'created_at' AS "user", s -> 'password_login' AS password_login
  FROM ex7.auth_session(:'ann') AS s;
SELECT ex7.auth_session('00000000-0000-4000-8000-6d0000000010') - 'user' AS supabase_user;

-- Exchange keys (ex7d encrypts; these store bytes they cannot read) -----------------------------------
SELECT ex7.ensure_user('00000000-0000-4000-8000-6d0000000011') IS NOT NULL AS u11,
       ex7.ensure_user('00000000-0000-4000-8000-6d0000000012') IS NOT NULL AS u12;
SELECT k - 'created_at' AS created
  FROM ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', '00000000-0000-4000-8000-6d00000000a1',
                               'binance', 'Main account', '****wxyz', false, 'k1',
                               '\x000102030405060708090a0b', '\xdeadbeef', '\x00112233445566778899aabbccddeeff') AS k;
SELECT k - 'created_at' AS created
  FROM ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', '00000000-0000-4000-8000-6d00000000a2',
                               'okx', NULL, '****', true, 'k1',
                               '\x0c0d0e0f1011121314151617', '\xcafe', '\xffeeddccbbaa99887766554433221100') AS k;
UPDATE ex7.exchange_keys SET created_at = '2026-03-01 12:00+00' WHERE id = '00000000-0000-4000-8000-6d00000000a1';
UPDATE ex7.exchange_keys SET created_at = '2026-03-02 12:00+00' WHERE id = '00000000-0000-4000-8000-6d00000000a2';
SELECT ex7.list_exchange_keys('00000000-0000-4000-8000-6d0000000011');
SELECT ex7.list_exchange_keys('00000000-0000-4000-8000-6d0000000012');
SELECT ex7_test.err($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', gen_random_uuid(), 'nasdaq', '', '****', false, 'k1', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$);
SELECT ex7_test.err($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', gen_random_uuid(), 'okx', '', '****', false, 'k1', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$);
SELECT ex7_test.err(format($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', gen_random_uuid(), 'kraken', %L, '****', false, 'k1', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$, repeat('l', 101)));
SELECT ex7_test.err($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', gen_random_uuid(), NULL, '', '****', false, 'k1', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$);
-- at most 20 keys per user
SELECT count(*) FILTER (WHERE ex7_test.err(format($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000012', gen_random_uuid(), 'bybit', %L, '****', false, 'k0', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$, 'key ' || i)) = 'ok') AS created
  FROM generate_series(1, 20) i;
SELECT ex7_test.err($$SELECT ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000012', gen_random_uuid(), 'bybit', 'one too many', '****', false, 'k0', '\x000102030405060708090a0b', '\x00', '\x00112233445566778899aabbccddeeff')$$);
-- another user's key is a 404
SELECT ex7_test.err($$SELECT ex7.delete_exchange_key('00000000-0000-4000-8000-6d0000000012', '00000000-0000-4000-8000-6d00000000a1')$$);
-- rotation: the batches of ex7d rekey, keyset by id; a stale old kid changes nothing
SELECT ex7._exchange_key_kids() ->> 'k1' AS under_k1;
SELECT jsonb_path_query_array(ex7._exchange_keys_to_rekey('k2', NULL, 1), '$[*].id') AS batch1,
       jsonb_path_query_array(ex7._exchange_keys_to_rekey('k2', '00000000-0000-4000-8000-6d00000000a1', 1), '$[*].id') AS batch2,
       (ex7._exchange_keys_to_rekey('k2', NULL, 1) -> 0) - 'id' - 'user_id' AS row1;
SELECT ex7._exchange_key_rekey('00000000-0000-4000-8000-6d00000000a1', 'k0', 'k2', '\x0a0a0a0a0a0a0a0a0a0a0a0a', '\xbeef', '\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b') AS stale,
       ex7._exchange_key_rekey('00000000-0000-4000-8000-6d00000000a1', 'k1', 'k2', '\x0a0a0a0a0a0a0a0a0a0a0a0a', '\xbeef', '\x0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b') AS rekeyed;
SELECT kid, iv, ciphertext, tag, rekeyed_at IS NOT NULL AS rekeyed FROM ex7.exchange_keys WHERE id = '00000000-0000-4000-8000-6d00000000a1';
SELECT ex7.delete_exchange_key('00000000-0000-4000-8000-6d0000000011', '00000000-0000-4000-8000-6d00000000a2');
SELECT ex7_test.err($$SELECT ex7.delete_exchange_key('00000000-0000-4000-8000-6d0000000011', '00000000-0000-4000-8000-6d00000000a2')$$);

-- A role bound to a user: its own key rows without the ciphertext; nothing of the login tables --------
CREATE ROLE ex7_acct_role;
SELECT ex7.bind_role('ex7_acct_role', '00000000-0000-4000-8000-6d0000000011');
GRANT USAGE ON SCHEMA ex7_test TO ex7_acct_role;
SET ROLE ex7_acct_role;
SELECT id, exchange, label, hint, kid FROM ex7.exchange_keys;
SELECT ex7_test.err($$SELECT ciphertext FROM ex7.exchange_keys$$);
SELECT ex7_test.err($$SELECT * FROM ex7.exchange_keys$$);
SELECT ex7_test.err($$SELECT password_hash FROM ex7.auth_accounts$$);
SELECT ex7_test.err($$SELECT count(*) FROM ex7.waitlist$$);
SELECT ex7_test.err($$SELECT ex7.auth_login('ann@example.com', 'x', 'y')$$);
SELECT ex7_test.err($$SELECT ex7._password_verify('x', 'y')$$);
SELECT ex7_test.err($$SELECT ex7._exchange_keys_to_rekey('k9', NULL, 10)$$);
SELECT (ex7.list_exchange_keys('00000000-0000-4000-8000-6d0000000011') -> 'keys' -> 0) - 'created_at' AS own_list;
SELECT (ex7.waitlist_count() ->> 'count')::int > 0 AS public_count;
SELECT k ->> 'hint' AS created_by_role
  FROM ex7.create_exchange_key('00000000-0000-4000-8000-6d0000000011', '00000000-0000-4000-8000-6d00000000a3', 'kraken', 'role', '****abcd', false, 'k2',
                               '\x000102030405060708090a0b', '\x01', '\x00112233445566778899aabbccddeeff') AS k;
RESET ROLE;
DELETE FROM ex7.role_bindings WHERE role_name = 'ex7_acct_role';
DROP OWNED BY ex7_acct_role;
DROP ROLE ex7_acct_role;
