-- sql/compliance.sql: the compliance documents and the 412 gate (docs/billing.md;
-- ex7-api-introduction.txt: "412 Precondition Failed: Compliance gate: user has not yet accepted ToS / Risk /
-- Privacy. Hit /api/billing/compliance/accept first.")
\set u1 '00000000-0000-4000-8000-6c0000000001'
\set u2 '00000000-0000-4000-8000-6c0000000002'
\set nope '00000000-0000-4000-8000-6c00000000ff'
SELECT ex7.ensure_user(:'u1') ->> 'tier' AS u1_tier, ex7.ensure_user(:'u2') ->> 'tier' AS u2_tier;

-- the shipped documents, version 1 each; the disclaimer carries the CFTC 4.41 text and them
SELECT document, version, title FROM ex7._current_documents() ORDER BY document;
SELECT d ->> 'rule' AS rule, pg_catalog.left(d ->> 'text', 60) AS text,
       (SELECT string_agg((x ->> 'document') || ' v' || (x ->> 'version'), ', ') FROM jsonb_array_elements(d -> 'documents') x) AS documents
  FROM ex7.billing_disclaimer() d;

-- a new user has accepted nothing: every gated action is 412 with the missing versions, before any
-- other check (the strategy and signal ids here do not even exist)
SELECT ex7.get_compliance(:'u1') - 'documents' AS status;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'nope')) AS start_runtime;
SELECT ex7_test.err(format('SELECT ex7.close_signal(%L, %L, 1)', :'u1', :'nope')) AS close_signal;
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'u1', :'nope')) AS force_close_all;
SELECT ex7_test.err(format('SELECT * FROM ex7.stream_replay(%L)', :'u1')) AS stream;
SELECT ex7_test.err(format('SELECT ex7.billing_checkout(%L, %L)', :'u1', '{"tier": "operator"}')) AS checkout;
SELECT ex7_test.err('SELECT ex7._require_compliance(NULL)') AS no_user;

-- bad bodies: 422 with the locator, nothing recorded
SELECT ex7_test.err(format('SELECT ex7.accept_compliance(%L, %L)', :'u1', b)) AS bad_body
  FROM unnest(ARRAY['{}', '[]', '{"documents": "tos"}', '{"documents": []}', '{"docs": ["tos"]}', '{"documents": ["tos", "nda"]}',
                    '{"documents": [7]}', '{"documents": [{"document": "tos", "extra": 1}]}',
                    '{"documents": [{"document": "tos", "version": "9"}]}']) AS b;
SELECT count(*) AS recorded FROM ex7.compliance_acceptances WHERE user_id = :'u1';

-- one document: the gate names the other two
SELECT ex7.accept_compliance(:'u1', '{"documents": ["tos"]}', '203.0.113.7') -> 'missing' AS missing;
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'u1', :'nope')) AS still_gated;
-- an empty body accepts every current document; a version may be named; accepting again keeps the first record
SELECT ex7.accept_compliance(:'u1', '{"documents": [{"document": "risk", "version": "1"}]}', '203.0.113.7') -> 'missing' AS missing;
SELECT ex7.accept_compliance(:'u1', NULL, '198.51.100.1') - 'documents' AS status;
SELECT ex7.accept_compliance(:'u1', NULL, '198.51.100.2') - 'documents' AS again;
-- (fixed times for the output; the first address of each record stayed)
UPDATE ex7.compliance_acceptances SET accepted_at = '2026-05-01 12:00+00' WHERE user_id = :'u1';
SELECT document, version, accepted_at, client_addr FROM ex7.compliance_acceptances WHERE user_id = :'u1' ORDER BY document;
SELECT jsonb_path_query_array(ex7.get_compliance(:'u1'), '$.documents[*].accepted_at') AS accepted_at;
-- the gate is open: the next check answers
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'nope')) AS start_runtime;
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'u1', :'nope')) AS force_close_all;
SELECT count(*) AS stream_rows FROM ex7.stream_replay(:'u1');
-- u2 is still gated: acceptances are per user
SELECT ex7_test.err(format('SELECT ex7.force_close_all(%L, %L)', :'u2', :'nope')) AS other_user;

-- a version published for later is not required yet, and cannot be accepted before it is current
INSERT INTO ex7.compliance_documents VALUES ('tos', '3', 'Terms of Service', NULL, '2999-01-01 00:00+00');
SELECT ex7.get_compliance(:'u1') -> 'compliant' AS compliant_before_v3;
SELECT ex7_test.err(format('SELECT ex7.accept_compliance(%L, %L)', :'u1', '{"documents": [{"document": "tos", "version": "3"}]}')) AS future;
-- a new version in effect re-opens the gate until it is accepted; the old one is refused
INSERT INTO ex7.compliance_documents VALUES ('tos', '2', 'Terms of Service', NULL, now() - interval '1 second');
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'nope')) AS reopened;
SELECT ex7_test.err(format('SELECT ex7.accept_compliance(%L, %L)', :'u1', '{"documents": [{"document": "tos", "version": "1"}]}')) AS old_version;
SELECT ex7.accept_compliance(:'u1', '{"documents": [{"document": "tos", "version": "2"}]}') -> 'compliant' AS compliant;
SELECT ex7_test.err(format('SELECT ex7.start_runtime(%L, %L)', :'u1', :'nope')) AS released;
-- an accepted version cannot be deleted (the record of consent stays)
SELECT ex7_test.err($$DELETE FROM ex7.compliance_documents WHERE document = 'tos' AND version = '2'$$) AS delete_accepted;

-- leave the documents as shipped for the other files
DELETE FROM ex7.compliance_acceptances WHERE version IN ('2', '3');
DELETE FROM ex7.compliance_documents WHERE version IN ('2', '3');
SELECT document, version FROM ex7._current_documents() ORDER BY document;
