-- An assistant answer that read or changed the todos is written by the
-- statement that did it, before its words exist: it keeps what it asked of
-- the todos library and what that answered (`facts`), and its words and
-- result are rendered from them whenever the conversation is read. Such an
-- answer has no content of its own.
ALTER TABLE chat_messages ADD COLUMN facts jsonb;
ALTER TABLE chat_messages ALTER COLUMN content DROP NOT NULL;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_content_or_facts
    CHECK (content IS NOT NULL OR facts IS NOT NULL);
