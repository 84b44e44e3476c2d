package jobs

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"

	"github.com/nats-io/nats.go"
)

// compressOver is the size above which a result is sent gzipped: a chunk's
// embeddings in JSON are large and compress well, and NATS servers refuse
// messages over their max_payload (1 MiB by default).
const compressOver = 64 << 10

// EncodeResult is res as a message on subject.
func EncodeResult(subject string, res *Result) (*nats.Msg, error) {
	b, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(subject)
	if len(b) > compressOver {
		var buf bytes.Buffer
		z := gzip.NewWriter(&buf)
		z.Write(b)
		if err := z.Close(); err != nil {
			return nil, err
		}
		b = buf.Bytes()
		m.Header.Set("Content-Encoding", "gzip")
	}
	m.Data = b
	return m, nil
}

// DecodeResult reads a result message's body (with its header).
func DecodeResult(h nats.Header, data []byte) (Result, error) {
	var res Result
	if h.Get("Content-Encoding") == "gzip" {
		z, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return res, fmt.Errorf("result: %w", err)
		}
		if data, err = io.ReadAll(io.LimitReader(z, 256<<20)); err != nil {
			return res, fmt.Errorf("result: %w", err)
		}
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("result: %w", err)
	}
	return res, nil
}
