-- A failed statement leaks none of its arguments into PostgreSQL's log.
--
-- run_statement (V12) executes a prepared statement with its arguments
-- written as literals (`EXECUTE todo_…('ada@example.com', …)`). When that
-- statement failed (a lock timeout, say), PostgreSQL logged a CONTEXT line
-- quoting the whole call, arguments and all: emails, names, password
-- hashes, todo text. The same text reached the client, and under Spin the
-- guest's own log too (a query's error arrives there as a debug string of
-- every field).
--
-- Now an error inside the call is caught and raised again with its
-- SQLSTATE and message alone: no DETAIL (a unique violation's repeats the
-- key's value), and a CONTEXT that names run_statement's RAISE, not the
-- call. A data exception's message (class 22) quotes the value it could not
-- take (`invalid input syntax for type uuid: "…"`), so it is replaced by
-- the SQLSTATE. query_canceled (a statement timeout or a cancel) is not
-- matched by OTHERS, so it is named too.
--
-- The catch costs nothing more: the call already ran in a block with an
-- exception handler (to prepare the statement on its first use), and that
-- block's subtransaction is the cost of any handler. The retry after
-- preparing gets the same handler.
CREATE FUNCTION raise_without_arguments(state text, message text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = state,
        MESSAGE = CASE WHEN left(state, 2) = '22'
                       THEN 'the statement was given a value it cannot take (SQLSTATE ' || state || ')'
                       ELSE message END;
END
$$;

CREATE OR REPLACE FUNCTION run_statement(name text, sql text, args jsonb) RETURNS text
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    call text := statement_call(name, args);
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
    PERFORM prepare_statement(name, sql, args);
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
