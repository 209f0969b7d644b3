-- herald schema, version 4: engagement of published posts.
-- As before: the whole record as JSON (`record`, the serde shape sled stores) beside the
-- columns queries filter and sort on, and a `brand` column.

-- One row per published post (its channel and time, the post's key in `posts`): the
-- counters read from the platform over time, and when they are read next.
CREATE TABLE engagement (
    brand   text        NOT NULL,
    channel text        NOT NULL,
    post_at timestamptz NOT NULL,
    -- NULL: no longer polled.
    next_at timestamptz,
    record  jsonb       NOT NULL,
    PRIMARY KEY (brand, channel, post_at)
);
