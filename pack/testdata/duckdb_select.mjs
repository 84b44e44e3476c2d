// Reads any Parquet file with DuckDB and prints, as one JSON object, the
// column types and rows of SELECT * (BIGINT values as strings, so that no
// precision is lost in JavaScript numbers):
//
//   node duckdb_select.mjs <dir with node_modules/@duckdb/node-api> <in.parquet>
//   {"types": [{"name": "id", "type": "VARCHAR"}, ...],
//    "rows": [{"id": "...", "width": "1920", "caption": null, ...}, ...]}
//
// Used by pack's Go tests (TestClipTableDuckDB).
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsDir, file] = process.argv.slice(2);
if (!toolsDir || !file) {
  console.error('usage: node duckdb_select.mjs <duckdb tools dir> <in.parquet>');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(toolsDir), 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const describe = await conn.runAndReadAll('DESCRIBE SELECT * FROM read_parquet($1)', [file]);
const types = describe.getRowObjectsJson().map((r) => ({ name: r.column_name, type: r.column_type }));
const select = await conn.runAndReadAll('SELECT * FROM read_parquet($1)', [file]);
const rows = select.getRowObjectsJson();
process.stdout.write(JSON.stringify({ types, rows }));
