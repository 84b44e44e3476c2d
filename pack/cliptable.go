package pack

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// ClipRow is one row of the clip table (index.parquet): one per passed or
// filtered clip. Nil pointers are nulls.
type ClipRow struct {
	ID, SourceVideo    string
	SpanStart, SpanEnd float64
	// ClipPath is relative to the tree root ("clips/<uuid>.mp4" or
	// "filtered_clips/<uuid>.mp4"), "" if no media was kept.
	ClipPath string
	Filtered bool

	Width, Height        int64
	FrameRate            float64
	NumFrames, NumBytes  int64
	MotionGlobalMean     *float64
	MotionPerPatchMin256 *float64
	AestheticScore       *float64
	Caption              *string

	// Shard is the WebDataset shard holding the clip ("wds/shard-000000.tar");
	// ShardOffset and ShardSize locate the clip's mp4 data inside it.
	Shard       *string
	ShardOffset *int64
	ShardSize   *int64
}

// clipRecord is the Parquet schema: required columns for the plain fields,
// optional ones for the pointers, in ClipRow's order. source_video and
// shard repeat across rows and are dictionary-encoded.
type clipRecord struct {
	ID                   string   `parquet:"id"`
	SourceVideo          string   `parquet:"source_video,dict"`
	SpanStart            float64  `parquet:"span_start"`
	SpanEnd              float64  `parquet:"span_end"`
	ClipPath             string   `parquet:"clip_path"`
	Filtered             bool     `parquet:"filtered"`
	Width                int64    `parquet:"width"`
	Height               int64    `parquet:"height"`
	FrameRate            float64  `parquet:"framerate"`
	NumFrames            int64    `parquet:"num_frames"`
	NumBytes             int64    `parquet:"num_bytes"`
	MotionGlobalMean     *float64 `parquet:"motion_global_mean,optional"`
	MotionPerPatchMin256 *float64 `parquet:"motion_per_patch_min_256,optional"`
	AestheticScore       *float64 `parquet:"aesthetic_score,optional"`
	Caption              *string  `parquet:"caption,optional"`
	Shard                *string  `parquet:"shard,optional,dict"`
	ShardOffset          *int64   `parquet:"shard_offset,optional"`
	ShardSize            *int64   `parquet:"shard_size,optional"`
}

// clipTableRowGroup bounds the rows a row group holds, and with it the
// memory the writer buffers before flushing one.
const clipTableRowGroup = 32768

// clipTableWriterOptions fix the bytes as embeddingWriterOptions do.
var clipTableWriterOptions = []parquet.WriterOption{
	parquet.NewSchema("schema", parquet.SchemaOf(clipRecord{})),
	parquet.CreatedBy("clipfs", "1.0.0", "pack"),
	parquet.DataPageVersion(1),
	parquet.DefaultEncoding(&parquet.Plain),
	parquet.Compression(&parquet.Snappy),
	parquet.PageBufferSize(256 << 10),
	parquet.MaxRowsPerRowGroup(clipTableRowGroup),
}

// ClipTableWriter streams ClipRows into a Parquet file: snappy, one row
// group per 32768 rows, so memory stays flat however many rows are written.
// The same rows always give the same bytes. It is not safe for concurrent
// use.
type ClipTableWriter struct {
	w    *parquet.GenericWriter[clipRecord]
	one  [1]clipRecord
	rows int64
	err  error // sticky: the first error, or errClipTableClosed
}

var errClipTableClosed = errors.New("pack: clip table: writer closed")

// NewClipTableWriter returns a writer of a clip table to w. Close writes the
// footer; w itself is not closed.
func NewClipTableWriter(w io.Writer) *ClipTableWriter {
	return &ClipTableWriter{w: parquet.NewGenericWriter[clipRecord](w, clipTableWriterOptions...)}
}

// Write appends one row. The row's values are copied before Write returns.
func (c *ClipTableWriter) Write(r ClipRow) error {
	if c.err != nil {
		return c.err
	}
	c.one[0] = clipRecord(r)
	_, err := c.w.Write(c.one[:])
	c.one[0] = clipRecord{} // keep no references to the caller's values
	if err != nil {
		c.err = fmt.Errorf("pack: clip table: row %d (clip %s): %w", c.rows, r.ID, err)
		return c.err
	}
	c.rows++
	return nil
}

// Close flushes the last row group and writes the footer. Closing twice is
// an error.
func (c *ClipTableWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	c.err = errClipTableClosed
	if err := c.w.Close(); err != nil {
		return fmt.Errorf("pack: clip table: close after %d rows: %w", c.rows, err)
	}
	return nil
}

// ErrBadClipTable is wrapped by ReadClipTable's errors.
var ErrBadClipTable = errors.New("not a clip table parquet file")

// clipTableColumns are the columns ReadClipTable requires, with their
// physical types: a foreign file missing one fails instead of reading zeros.
var clipTableColumns = []struct {
	name string
	kind parquet.Kind
}{
	{"id", parquet.ByteArray}, {"source_video", parquet.ByteArray},
	{"span_start", parquet.Double}, {"span_end", parquet.Double},
	{"clip_path", parquet.ByteArray}, {"filtered", parquet.Boolean},
	{"width", parquet.Int64}, {"height", parquet.Int64}, {"framerate", parquet.Double},
	{"num_frames", parquet.Int64}, {"num_bytes", parquet.Int64},
	{"motion_global_mean", parquet.Double}, {"motion_per_patch_min_256", parquet.Double},
	{"aesthetic_score", parquet.Double}, {"caption", parquet.ByteArray},
	{"shard", parquet.ByteArray}, {"shard_offset", parquet.Int64}, {"shard_size", parquet.Int64},
}

// ReadClipTable reads a file written by ClipTableWriter (or any Parquet file
// with the same column names and physical types; nulls in the plain columns
// read as zero values). Like ReadEmbeddingParquet it treats b as untrusted.
func ReadClipTable(b []byte) (rows []ClipRow, err error) {
	defer func() { // parquet-go may panic on some malformed inputs
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("pack: read clip table: malformed file (%v): %w", p, ErrBadClipTable)
		}
	}()
	f, err := openClipTable(b)
	if err != nil {
		return nil, err
	}
	r := parquet.NewGenericReader[clipRecord](f)
	defer r.Close()
	batch := make([]clipRecord, 256) // not NumRows at once: the footer may lie
	for {
		clear(batch) // parquet-go may decode into the pointers it finds
		n, err := r.Read(batch)
		for _, rec := range batch[:n] {
			rows = append(rows, ClipRow(rec))
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("pack: read clip table: row %d: %w: %w", len(rows), err, ErrBadClipTable)
		}
	}
	if int64(len(rows)) != f.NumRows() {
		return nil, fmt.Errorf("pack: read clip table: read %d rows, footer says %d: %w", len(rows), f.NumRows(), ErrBadClipTable)
	}
	return rows, nil
}

// openClipTable makes parquet_check.go's checks (frame, footer, pages) with
// clip table errors before parquet-go sizes any buffer from the file, and
// checks the schema.
func openClipTable(b []byte) (*parquet.File, error) {
	const magic = "PAR1"
	if len(b) < 12 || string(b[:4]) != magic || string(b[len(b)-4:]) != magic {
		return nil, fmt.Errorf("pack: read clip table: no PAR1 magic at both ends: %w", ErrBadClipTable)
	}
	footer := binary.LittleEndian.Uint32(b[len(b)-8:])
	if uint64(footer) > uint64(len(b)-12) {
		return nil, fmt.Errorf("pack: read clip table: footer length %d exceeds file size %d: %w", footer, len(b), ErrBadClipTable)
	}
	if err := checkThriftStruct(b[len(b)-8-int(footer) : len(b)-8]); err != nil {
		return nil, fmt.Errorf("pack: read clip table: footer: %w: %w", err, ErrBadClipTable)
	}
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)),
		parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("pack: read clip table: %w: %w", err, ErrBadClipTable)
	}
	for _, col := range clipTableColumns {
		c, ok := f.Schema().Lookup(col.name)
		if !ok || c.Node.Type().Kind() != col.kind {
			return nil, fmt.Errorf("pack: read clip table: no %s column %s: %w", col.kind, col.name, ErrBadClipTable)
		}
	}
	if err := checkParquetPages(f, b, "clip table", ErrBadClipTable); err != nil {
		return nil, err
	}
	return f, nil
}
