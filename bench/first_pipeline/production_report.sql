-- A MES production_report table like docs shared/design/domain.md describes: 18 columns,
-- three rows per updated_at second, every tenth remark NULL, Chinese text, numeric(12,3).
-- psql -v table=NAME -v rows=N -f production_report.sql
DROP TABLE IF EXISTS :table;
CREATE TABLE :table (
  id bigint PRIMARY KEY, report_no varchar(20) NOT NULL, work_order_no varchar(20), operation_code varchar(10),
  product_code varchar(20), workstation_code varchar(20), workshop_code varchar(10), team_code varchar(20),
  operator_badge varchar(20), shift_code varchar(4), shift_date date, good_qty numeric(12,3),
  scrap_qty_labor numeric(12,3), scrap_qty_mat numeric(12,3), labor_minutes integer, state varchar(10),
  remark varchar(100), updated_at timestamp NOT NULL);
INSERT INTO :table
SELECT i, 'PR' || lpad(i::text, 8, '0'), 'WO' || (i % 997), 'OP' || (i % 40), 'P-' || (i % 3000),
  'MOLD-WS' || (i % 30), 'MOLD', 'MOLD-T' || (i % 8), 'B' || lpad((i % 300)::text, 6, '0'),
  CASE i % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' ELSE 'C' END, date '2025-03-14' + (i / 50000),
  (i % 500000) / 1000.0, (i % 7) / 1000.0, (i % 5) / 1000.0, i % 480, 'ACCEPTED',
  CASE WHEN i % 10 = 0 THEN NULL ELSE '注塑车间 ' || i END,
  timestamp '2025-03-14 08:00:00' + (i / 3) * interval '1 second'
FROM generate_series(1, :rows) i;
-- The cursor index every incremental source needs (see docs/connectors/odbc-source-guide.md).
CREATE INDEX ON :table (updated_at, id);
ANALYZE :table;
