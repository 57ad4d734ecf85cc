-- The physical limits the request is measured against (schema lim): one
-- statement per transaction that updates a row and inserts an audit row, on
-- one hot row (lim.hot) or on a fresh one of :subjects (lim.cold).  SELECT 1
-- needs no table.
CREATE SCHEMA lim;
CREATE TABLE lim.hot (
    id         int PRIMARY KEY,
    n          bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE lim.hot_audit (
    audit_id   bigserial PRIMARY KEY,
    row_id     int NOT NULL,
    n          bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE lim.cold (
    id         int PRIMARY KEY,
    n          bigint NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE TABLE lim.cold_audit (
    audit_id   bigserial PRIMARY KEY,
    row_id     int NOT NULL,
    n          bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO lim.hot VALUES (1, 0, now());
INSERT INTO lim.cold SELECT i, 0, now() FROM generate_series(1, :subjects) i;
