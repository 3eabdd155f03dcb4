-- What an assistant answer did (the todos it created, changed, found or
-- deleted, as the reply showed them), so that a reopened conversation shows
-- it again. NULL for the user's messages and for answers saved before.
ALTER TABLE chat_messages ADD COLUMN result jsonb;
