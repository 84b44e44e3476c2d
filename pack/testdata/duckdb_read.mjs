// Reads an embedding Parquet file with DuckDB and prints, as one JSON
// object, its column types and rows:
//
//   node duckdb_read.mjs <dir with node_modules/@duckdb/node-api> <in.parquet> [out.parquet]
//   {"types": [{"name": "id", "type": "VARCHAR"}, ...],
//    "rows": [{"id": "...", "embedding": [0.1, ...]}, ...]}
//
// With out.parquet, DuckDB also writes the rows back with its own Parquet
// writer (snappy), so that the Go reader can be tried on a foreign file.
// Used by pack's Go tests (TestEmbeddingParquetDuckDB).
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [toolsDir, file, out] = process.argv.slice(2);
if (!toolsDir || !file) {
  console.error('usage: node duckdb_read.mjs <duckdb tools dir> <in.parquet> [out.parquet]');
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(toolsDir), 'package.json'));
const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
const describe = await conn.runAndReadAll('DESCRIBE SELECT id, embedding FROM read_parquet($1)', [file]);
const types = describe.getRowObjectsJson().map((r) => ({ name: r.column_name, type: r.column_type }));
const select = await conn.runAndReadAll('SELECT id, embedding FROM read_parquet($1)', [file]);
const rows = select.getRowObjectsJson();
if (out) {
  // COPY takes no prepared parameters; quote the paths as SQL literals.
  const lit = (s) => "'" + s.replaceAll("'", "''") + "'";
  await conn.run(`COPY (SELECT id, embedding FROM read_parquet(${lit(file)})) TO ${lit(out)} (FORMAT parquet, COMPRESSION snappy)`);
}
process.stdout.write(JSON.stringify({ types, rows }));
