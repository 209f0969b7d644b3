-- herald schema, version 3: crisis alerts, their deliveries, users and sessions.
SELECT 1;
