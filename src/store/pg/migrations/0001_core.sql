-- herald's schema, version 1: the schedule, small state, cursors and leases.
-- Every record table keeps the record as JSON (`record`, the serde shape sled stores) beside
-- the columns queries filter and sort on, and a `brand` column.

CREATE TABLE posts (
    brand        text        NOT NULL,
    channel      text        NOT NULL,
    at           timestamptz NOT NULL,
    state        text        NOT NULL,
    category     text        NOT NULL,
    -- Not before this instant (a backoff); NULL when none.
    next_attempt timestamptz,
    -- The process that claimed it for sending, while it is `sending`.
    claimed_by   text,
    record       jsonb       NOT NULL,
    PRIMARY KEY (brand, channel, at)
);

-- The publisher's question, "what is due?", reads only the posts still to be done.
CREATE INDEX posts_open ON posts (brand, at)
    WHERE state IN ('planned', 'approved', 'sending', 'unconfirmed');

-- Holds and other small named values.
CREATE TABLE meta (
    brand text  NOT NULL,
    key   text  NOT NULL,
    value jsonb NOT NULL,
    PRIMARY KEY (brand, key)
);

-- Each source's cursor (the last id or time it has seen).
CREATE TABLE cursors (
    brand  text NOT NULL,
    source text NOT NULL,
    cursor text NOT NULL,
    PRIMARY KEY (brand, source)
);

-- Work one process does at a time (the planner, a source, a channel's sending): held by
-- `holder` until `expires_at`, renewed while the holder runs.
CREATE TABLE leases (
    brand      text        NOT NULL,
    name       text        NOT NULL,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (brand, name)
);
