-- Every statement of the app runs through run_statement
-- (todo_core::db::Statement::fetch), so that PostgreSQL parses and plans it
-- once per connection instead of once per request.
--
-- Spin's pg4 host prepares every query afresh (tokio-postgres, no statement
-- cache), and parsing and planning the app's statements cost more than
-- running them: for /api/auth/me about nine tenths of the server's time, for
-- a list of 50 about two thirds. Spin keeps its connections in a pool
-- (deadpool-postgres, RecyclingMethod::Clean), whose cleaning between
-- requests leaves prepared statements in place; so does any pooler, and one
-- that moves sessions around (PgBouncer in transaction mode) only makes the
-- first use below happen more often.
--
-- `name` is derived by the caller from the statement's text (`todo_` and a
-- hash), `sql` holds placeholders $1 to $n, each cast in the SQL
-- (`$1::text::uuid`, `$2::int8`), and `args` is a JSON array of n strings or
-- nulls. On its first use in a session the statement is prepared with n text
-- parameters; it is then executed with the arguments as quoted literals
-- (quote_nullable). It must answer exactly one row (INTO STRICT), as every
-- statement built by todo_core::db::Statement does.
--
-- Plans are generic: built once per session, whatever the arguments. Every
-- statement reads one user's rows through an index, and the app's tests
-- check the generic plans (crates/native/tests/todos_store.rs).
--
-- A session keeps at most 200 of these statements: past that, a new one
-- first deallocates the ones it holds (a list's filters and sort orders
-- combine into many statements, each of which holds its plan in memory).
--
-- `prepare_statement` and `statement_call` are the two halves, also used
-- by the tests that EXPLAIN the app's statements (NativeDb::explain), so
-- that those see the statements exactly as the app runs them.

-- Prepares `sql` as `name`, with one text parameter per element of `args`.
CREATE FUNCTION prepare_statement(name text, sql text, args jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('PREPARE %I%s AS %s', name,
                   CASE WHEN jsonb_array_length(args) > 0
                        THEN '(' || array_to_string(array_fill('text'::text, ARRAY[jsonb_array_length(args)]), ', ') || ')'
                        ELSE '' END,
                   sql);
END
$$;

-- `EXECUTE name('arg', ...)`, every argument a quoted literal (or NULL).
CREATE FUNCTION statement_call(name text, args jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('EXECUTE %I', name)
           || coalesce('(' || string_agg(quote_nullable(a), ', ' ORDER BY i) || ')', '')
    FROM jsonb_array_elements_text(args) WITH ORDINALITY AS u(a, i)
$$;

CREATE FUNCTION run_statement(name text, sql text, args jsonb) RETURNS text
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    call text := statement_call(name, args);
    answer text;
    held text;
BEGIN
    BEGIN
        EXECUTE call INTO STRICT answer;
    EXCEPTION WHEN invalid_sql_statement_name THEN
        IF (SELECT count(*) FROM pg_prepared_statements p WHERE p.name LIKE 'todo\_%') >= 200 THEN
            FOR held IN SELECT p.name FROM pg_prepared_statements p WHERE p.name LIKE 'todo\_%' LOOP
                EXECUTE format('DEALLOCATE %I', held);
            END LOOP;
        END IF;
        PERFORM prepare_statement(name, sql, args);
        EXECUTE call INTO STRICT answer;
    END;
    RETURN answer;
END
$$;
