package pack

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// EmbeddingRow is one row of a per-chunk embedding Parquet file: the clip's
// span uuid and its embedding, widened to float64 as NeMo writes it.
type EmbeddingRow struct {
	ID        string
	Embedding []float64
}

// embeddingRecord is the Parquet schema, with the nullability pyarrow gives
// a pandas DataFrame of str and list[float] columns:
//
//	optional binary id (STRING);
//	optional group embedding (LIST) {
//	  repeated group list { optional double element; }
//	}
//
// Pointers keep "" and 0.0 from being written as nulls; the encoder never
// writes a null.
type embeddingRecord struct {
	ID        *string    `parquet:"id,optional,snappy"`
	Embedding []*float64 `parquet:"embedding,optional,list,snappy" parquet-element:",optional"`
}

// embeddingWriterOptions fix everything that would otherwise depend on the
// parquet-go version: a constant created_by (the default comes from the build
// info), and the choices pyarrow makes that every reader handles: root named
// "schema", data page v1, PLAIN values, snappy.
var embeddingWriterOptions = []parquet.WriterOption{
	parquet.NewSchema("schema", parquet.SchemaOf(embeddingRecord{})),
	parquet.CreatedBy("clipfs", "1.0.0", "pack"),
	parquet.DataPageVersion(1),
	parquet.DefaultEncoding(&parquet.Plain),
	parquet.Compression(&parquet.Snappy),
	parquet.PageBufferSize(1 << 20),
}

// EmbeddingParquet returns a Parquet file with columns id (string) and
// embedding (list<double>, standard 3-level LIST), snappy-compressed, one
// row group, one row per element of rows in order. The same rows always give
// the same bytes: no timestamps, a fixed created_by.
func EmbeddingParquet(rows []EmbeddingRow) ([]byte, error) {
	records := make([]embeddingRecord, len(rows))
	for i := range rows {
		records[i] = toRecord(&rows[i])
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[embeddingRecord](&buf, embeddingWriterOptions...)
	if _, err := w.Write(records); err != nil {
		return nil, fmt.Errorf("pack: embedding parquet: write %d rows: %w", len(rows), err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("pack: embedding parquet: close: %w", err)
	}
	return buf.Bytes(), nil
}

func toRecord(r *EmbeddingRow) embeddingRecord {
	values := append([]float64(nil), r.Embedding...) // one backing array per row
	ptrs := make([]*float64, len(values))
	for j := range values {
		ptrs[j] = &values[j]
	}
	id := r.ID
	return embeddingRecord{ID: &id, Embedding: ptrs}
}

// ErrBadParquet is wrapped by ReadEmbeddingParquet's errors.
var ErrBadParquet = errors.New("not an embedding parquet file")

// ReadEmbeddingParquet reads a file written by EmbeddingParquet (or by NeMo
// through pyarrow: the same column names and types). Null ids read as "",
// null embeddings as nil; a null element is an error.
func ReadEmbeddingParquet(b []byte) (rows []EmbeddingRow, err error) {
	defer func() { // parquet-go may panic on some malformed inputs
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("pack: read embedding parquet: malformed file (%v): %w", p, ErrBadParquet)
		}
	}()
	if err := checkParquetFrame(b); err != nil {
		return nil, err
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("pack: read embedding parquet: %w: %w", err, ErrBadParquet)
	}
	if err := checkEmbeddingSchema(f.Schema()); err != nil {
		return nil, err
	}
	if err := checkParquetPages(f, b, "embedding parquet", ErrBadParquet); err != nil {
		return nil, err
	}
	r := parquet.NewGenericReader[embeddingRecord](f)
	defer r.Close()
	// Batches, not f.NumRows() records at once: the footer may lie.
	batch := make([]embeddingRecord, 64)
	for {
		n, err := r.Read(batch)
		for _, rec := range batch[:n] {
			row, ferr := fromRecord(rec)
			if ferr != nil {
				return nil, fmt.Errorf("pack: read embedding parquet: row %d: %w", len(rows), ferr)
			}
			rows = append(rows, row)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pack: read embedding parquet: row %d: %w: %w", len(rows), err, ErrBadParquet)
		}
	}
	if int64(len(rows)) != f.NumRows() {
		return nil, fmt.Errorf("pack: read embedding parquet: read %d rows, footer says %d: %w", len(rows), f.NumRows(), ErrBadParquet)
	}
	return rows, nil
}

func fromRecord(rec embeddingRecord) (EmbeddingRow, error) {
	var row EmbeddingRow
	if rec.ID != nil {
		row.ID = *rec.ID
	}
	if rec.Embedding != nil {
		row.Embedding = make([]float64, len(rec.Embedding))
	}
	for j, p := range rec.Embedding {
		if p == nil {
			return EmbeddingRow{}, fmt.Errorf("embedding element %d is null: %w", j, ErrBadParquet)
		}
		row.Embedding[j] = *p
	}
	return row, nil
}

// checkEmbeddingSchema requires a string id and a list-of-double embedding
// column, so that a foreign file fails clearly instead of reading as zeros.
func checkEmbeddingSchema(s *parquet.Schema) error {
	id, ok := s.Lookup("id")
	if !ok || id.Node.Type().Kind() != parquet.ByteArray {
		return fmt.Errorf("pack: read embedding parquet: no string column id: %w", ErrBadParquet)
	}
	emb, ok := s.Lookup("embedding", "list", "element")
	if !ok || emb.Node.Type().Kind() != parquet.Double {
		return fmt.Errorf("pack: read embedding parquet: no list<double> column embedding: %w", ErrBadParquet)
	}
	return nil
}
