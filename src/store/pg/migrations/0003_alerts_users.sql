-- herald schema, version 3: crisis alerts, their deliveries, users and sessions.
-- As in version 1: each row keeps the whole record as JSON (`record`, the serde shape sled
-- stores) beside the columns queries filter and sort on, and a `brand` column. Timestamp
-- columns hold microseconds while records hold nanoseconds: queries narrow by the columns and
-- herald decides the exact boundary from the records.

-- One row per alert (an episode of the spike detector), by its id.
CREATE TABLE alerts (
    brand     text        NOT NULL,
    id        text        NOT NULL,
    -- open, acknowledged or resolved.
    state     text        NOT NULL,
    -- warning or crisis: the highest level reached.
    level     text        NOT NULL,
    opened_at timestamptz NOT NULL,
    record    jsonb       NOT NULL,
    PRIMARY KEY (brand, id)
);

-- One message owed to one sink for one level change (`change`, the index into the alert's
-- history) of an alert. No foreign key: as on sled, a delivery is written whatever became of
-- its alert (the worker reports an alert gone as a failed delivery).
CREATE TABLE alert_deliveries (
    brand      text        NOT NULL,
    alert_id   text        NOT NULL,
    change     bigint      NOT NULL,
    sink       text        NOT NULL,
    -- pending, sent or failed.
    state      text        NOT NULL,
    next_at    timestamptz NOT NULL,
    created_at timestamptz NOT NULL,
    record     jsonb       NOT NULL,
    PRIMARY KEY (brand, alert_id, change, sink)
);

-- The delivery worker's questions, "what is due?" and "when is the next one?", read only the
-- pending deliveries.
CREATE INDEX alert_deliveries_pending ON alert_deliveries (brand, next_at)
    WHERE state = 'pending';

-- People who may log in to the web UI, by their name in lower case (looked up
-- case-insensitively; herald lowers it, as on sled).
CREATE TABLE users (
    brand  text  NOT NULL,
    key    text  NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (brand, key)
);

-- Login sessions, by the hash of their id (the store never holds a usable id).
CREATE TABLE sessions (
    brand      text        NOT NULL,
    key        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    record     jsonb       NOT NULL,
    PRIMARY KEY (brand, key)
);
