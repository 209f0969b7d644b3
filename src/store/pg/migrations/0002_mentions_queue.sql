-- herald schema, version 2: mentions and the reply queue.
-- As everywhere, `record` is the whole record as JSON (the serde shape sled stores); the other
-- columns are what queries filter and sort on, written from the record by herald.

-- Mentions. Two unique keys de-duplicate them as sled's `mention_ids` and `mention_content`
-- do: the same id, or the same author and text seen through another source.
CREATE TABLE mentions (
    brand       text        NOT NULL,
    id          text        NOT NULL,
    -- When it was posted (`created_at`).
    at          timestamptz NOT NULL,
    -- FNV-1a of the lowercased author and whitespace-normalised lowercased text (as sled's
    -- content key), as a signed 64-bit number.
    content_key bigint      NOT NULL,
    -- Rust's `to_lowercase` of the author and of the text (not PostgreSQL's `lower`, whose
    -- rules depend on the locale): the author and text filters compare these.
    author_lc   text        NOT NULL,
    text_lc     text        NOT NULL,
    -- The platform, ASCII-lowercased.
    platform_lc text        NOT NULL,
    -- `group/rule` of every keyword match, and the groups alone.
    topics      text[]      NOT NULL,
    groups      text[]      NOT NULL,
    sentiment   text        NOT NULL,
    intent      text        NOT NULL,
    record      jsonb       NOT NULL,
    PRIMARY KEY (brand, id),
    UNIQUE (brand, content_key)
);

-- Newest first (and time windows), in sled's key order: time, then the id's bytes.
CREATE INDEX mentions_time ON mentions (brand, at, id COLLATE "C");
-- The author filter, already in time order.
CREATE INDEX mentions_author ON mentions (brand, author_lc, at, id COLLATE "C");
-- The topic filter (`group/rule`, or a whole group).
CREATE INDEX mentions_topics ON mentions USING gin (topics);
CREATE INDEX mentions_groups ON mentions USING gin (groups);

-- Ids of queue items: one sequence for every process on the database.
CREATE SEQUENCE queue_item_ids;

-- The reply queue's items.
CREATE TABLE queue_items (
    brand      text        NOT NULL,
    id         bigint      NOT NULL,
    mention_id text        NOT NULL,
    -- `pending`, `approved`, … (ReplyState::as_str).
    state      text        NOT NULL,
    -- Priority::code: 0 is the most urgent.
    priority   smallint    NOT NULL,
    platform   text        NOT NULL,
    lang       text        NOT NULL,
    created_at timestamptz NOT NULL,
    due_at     timestamptz NOT NULL,
    -- The time of the last audit entry (the creation time without one): when a closed item
    -- closed, for retention.
    changed_at timestamptz NOT NULL,
    record     jsonb       NOT NULL,
    PRIMARY KEY (brand, id)
);

-- The inbox's order: most urgent first, then oldest (created_at, then id, as sled's index).
-- Any filter of states walks this index and drops what does not match.
CREATE INDEX queue_items_order ON queue_items (brand, priority, created_at, id);
-- The inbox's default view (the open states) walks only the open items, so a page costs the
-- same however many answered items the queue keeps.
CREATE INDEX queue_items_open ON queue_items (brand, priority, created_at, id)
    WHERE state IN ('pending', 'approved', 'sending', 'failed');
-- One state (`ids`, the expiry of pending drafts, retention of closed items).
CREATE INDEX queue_items_state ON queue_items (brand, state, priority, created_at, id);

-- Every mention a reply was ever drafted for, and its item: a mention is enqueued once, even
-- after retention deleted its closed item (the row goes when the mention itself is pruned).
CREATE TABLE queue_mentions (
    brand      text   NOT NULL,
    mention_id text   NOT NULL,
    item_id    bigint NOT NULL,
    PRIMARY KEY (brand, mention_id)
);

-- Every (platform, language) an item was ever enqueued with: the inbox's filter choices.
CREATE TABLE queue_dims (
    brand    text NOT NULL,
    platform text NOT NULL,
    lang     text NOT NULL,
    PRIMARY KEY (brand, platform, lang)
);
