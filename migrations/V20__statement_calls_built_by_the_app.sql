-- The EXECUTE that runs a prepared statement, built by the app.
--
-- run_statement (V12, V13) takes a statement's arguments as one jsonb array
-- and builds `EXECUTE name('a', 'b', ...)` from it with statement_call on
-- every request: parsing the jsonb, walking its elements, quoting each and
-- joining them cost about a quarter of PostgreSQL's time for a statement as
-- small as /api/auth/me's (pgbench of that statement, 16 clients: 21,000 a
-- second through run_statement, 29,000-31,000 with the call built by the
-- client). The app now sends the call text itself (todo_core::db::Statement,
-- each text argument an E'' literal with its quotes and backslashes
-- doubled, whatever standard_conforming_strings says), with the number of
-- arguments to prepare the statement with. Everything else is as in V13:
-- the statement is prepared on first use on a connection, at most 200 are
-- held, and an error keeps its SQLSTATE but loses its arguments.
--
-- run_statement stays, for components of the previous release still
-- running while a deployment rolls out, as a wrapper of run_prepared (at
-- the end).

CREATE FUNCTION run_prepared(call text, sql text, name text, arity bigint) RETURNS text
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    answer text;
    held text;
    state text;
    message text;
BEGIN
    BEGIN
        EXECUTE call INTO STRICT answer;
        RETURN answer;
    EXCEPTION
        WHEN invalid_sql_statement_name THEN
            NULL; -- not prepared on this connection yet: below
        WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
            PERFORM raise_without_arguments(state, message);
    END;
    IF (SELECT count(*) FROM pg_prepared_statements p WHERE p.name LIKE 'todo\_%') >= 200 THEN
        FOR held IN SELECT p.name FROM pg_prepared_statements p WHERE p.name LIKE 'todo\_%' LOOP
            EXECUTE format('DEALLOCATE %I', held);
        END LOOP;
    END IF;
    EXECUTE format('PREPARE %I%s AS %s', name,
                   CASE WHEN arity > 0
                        THEN '(' || array_to_string(array_fill('text'::text, ARRAY[arity::int]), ', ') || ')'
                        ELSE '' END,
                   sql);
    BEGIN
        EXECUTE call INTO STRICT answer;
    EXCEPTION
        WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
            PERFORM raise_without_arguments(state, message);
    END;
    RETURN answer;
END
$$;

-- V13's run_statement, through run_prepared: one mechanism, whichever
-- release of the components calls it.
CREATE OR REPLACE FUNCTION run_statement(name text, sql text, args jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN run_prepared(statement_call(name, args), sql, name, jsonb_array_length(args));
END
$$;
