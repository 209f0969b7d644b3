-- herald schema, version 2: mentions and the reply queue (written by the mentions/queue work).
SELECT 1;
