/* ext/sql/35_lifecycle.sql: the strategy lifecycle state machine (ext/lifecycle.c). The transition
 * functions that change rows live with the strategies (ext/sql/30_strategies.sql). */

CREATE OR REPLACE FUNCTION ex7.lifecycle_allowed(p_status text)
RETURNS text[]
AS 'MODULE_PATHNAME', 'lifecycle_allowed'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.lifecycle_allowed(text) IS
'Returns the statuses a strategy in p_status may move to. Raises X7422 for an unknown status.';

CREATE OR REPLACE FUNCTION ex7.lifecycle_target(p_status text, p_action text)
RETURNS text
AS 'MODULE_PATHNAME', 'lifecycle_target'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION ex7.lifecycle_target(text, text) IS
'Returns the status that action p_action (promote, pause, resume, archive, unarchive) leads to from p_status. Raises X7409 with detail {code: invalid_transition, status, action, allowed} when the edge does not exist, X7422 for an unknown status or action.';
