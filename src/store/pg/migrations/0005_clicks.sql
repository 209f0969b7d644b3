-- herald schema, version 5: tracked links and the clicks counted through the redirect.
-- Nothing about a visitor is kept: no address, no cookie, no user agent; a click is one added
-- to a counter of its source code and UTC hour.

-- The URL each source code sends its visitors to (written by the schedule when it plans a
-- post whose link goes through the redirect). `record` is sled's JSON shape (`ClickLink`).
CREATE TABLE click_links (
    brand  text  NOT NULL,
    code   text  NOT NULL,
    record jsonb NOT NULL,
    PRIMARY KEY (brand, code)
);

-- Visits per source code and UTC hour: one fixed-size row per code and hour, whatever the
-- traffic, and only for codes that have a link.
CREATE TABLE click_counts (
    brand  text        NOT NULL,
    code   text        NOT NULL,
    hour   timestamptz NOT NULL,
    clicks bigint      NOT NULL,
    PRIMARY KEY (brand, code, hour)
);

-- A week's clicks (the weekly report) read the hours in a range.
CREATE INDEX click_counts_hour ON click_counts (brand, hour);
