package pack

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// parquet-go sizes its buffers from the lengths a file declares before it
// checks them against the data, so a few flipped bits can make it allocate
// gigabytes. ReadEmbeddingParquet runs these checks first; they accept
// everything pyarrow and EmbeddingParquet write.

// maxSnappyRatio bounds uncompressed/compressed page size: one snappy copy
// element of 3 bytes expands to at most 64 bytes.
const maxSnappyRatio = 22

// checkParquetFrame checks the magic numbers, that the footer length fits
// in the file and that the footer declares no container larger than itself.
func checkParquetFrame(b []byte) error {
	const magic = "PAR1"
	if len(b) < 12 || string(b[:4]) != magic || string(b[len(b)-4:]) != magic {
		return fmt.Errorf("pack: read embedding parquet: no PAR1 magic at both ends: %w", ErrBadParquet)
	}
	footer := binary.LittleEndian.Uint32(b[len(b)-8:])
	if uint64(footer) > uint64(len(b)-12) {
		return fmt.Errorf("pack: read embedding parquet: footer length %d exceeds file size %d: %w", footer, len(b), ErrBadParquet)
	}
	if err := checkThriftStruct(b[len(b)-8-int(footer) : len(b)-8]); err != nil {
		return fmt.Errorf("pack: read embedding parquet: footer: %w: %w", err, ErrBadParquet)
	}
	return nil
}

// checkParquetPages walks the page headers of every column chunk and checks
// that each page lies inside its chunk and declares plausible sizes. what
// names the file kind in errors ("embedding parquet"), which wrap sentinel.
func checkParquetPages(f *parquet.File, b []byte, what string, sentinel error) error {
	dataEnd := int64(len(b)) - 8 - int64(binary.LittleEndian.Uint32(b[len(b)-8:]))
	for i, rg := range f.Metadata().RowGroups {
		for j, cc := range rg.Columns {
			m := &cc.MetaData
			start := m.DataPageOffset
			if m.DictionaryPageOffset > 0 && m.DictionaryPageOffset < start {
				start = m.DictionaryPageOffset
			}
			end := start + m.TotalCompressedSize
			if cc.FilePath != "" || start < 4 || m.TotalCompressedSize < 0 || end > dataEnd || end < start {
				return badChunk(what, sentinel, i, j, "column chunk [%d, %d) outside the data", start, end)
			}
			if err := checkChunkPages(b[start:end], m.Codec); err != nil {
				return badChunk(what, sentinel, i, j, "%v", err)
			}
		}
	}
	return nil
}

func badChunk(what string, sentinel error, rowGroup, column int, format string, args ...any) error {
	return fmt.Errorf("pack: read %s: row group %d column %d: %s: %w",
		what, rowGroup, column, fmt.Sprintf(format, args...), sentinel)
}

// checkChunkPages checks the pages that make up one column chunk.
func checkChunkPages(chunk []byte, codec format.CompressionCodec) error {
	var protocol thrift.CompactProtocol
	for pos := 0; pos < len(chunk); {
		// The bytes reader checks lengths against the data; the stream
		// reader would allocate whatever a header declares.
		r := protocol.NewReaderFromBytes(chunk[pos:])
		var h format.PageHeader
		if err := thrift.NewDecoder(r).Decode(&h); err != nil {
			return fmt.Errorf("page header at chunk offset %d: %w", pos, err)
		}
		rest, ok := r.Reader().(*bytes.Reader) // the bytes after the header
		if !ok {
			return fmt.Errorf("page header at chunk offset %d: cannot locate its end", pos)
		}
		pos = len(chunk) - rest.Len()
		compressed, uncompressed := int64(h.CompressedPageSize), int64(h.UncompressedPageSize)
		if compressed < 0 || compressed > int64(len(chunk)-pos) {
			return fmt.Errorf("page of %d bytes at chunk offset %d overruns the chunk", compressed, pos)
		}
		limit := compressed
		if codec != format.Uncompressed {
			limit = maxSnappyRatio*compressed + 64
		}
		if uncompressed < 0 || uncompressed > limit {
			return fmt.Errorf("page claims %d bytes uncompressed from %d", uncompressed, compressed)
		}
		// Every value costs at least one bit of levels or data; allow RLE runs
		// a generous factor.
		if n := pageValues(&h); n < 0 || n > 64*(uncompressed+8) {
			return fmt.Errorf("page claims %d values in %d bytes", n, uncompressed)
		}
		pos += int(compressed)
	}
	return nil
}

func pageValues(h *format.PageHeader) int64 {
	switch {
	case h.DataPageHeader.Valid:
		return int64(h.DataPageHeader.V.NumValues)
	case h.DataPageHeaderV2.Valid:
		return int64(h.DataPageHeaderV2.V.NumValues)
	case h.DictionaryPageHeader.Valid:
		return int64(h.DictionaryPageHeader.V.NumValues)
	}
	return 0
}
