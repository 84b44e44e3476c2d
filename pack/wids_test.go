package pack

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"testing"
)

func TestWidsIndex(t *testing.T) {
	tests := []struct {
		name   string
		index  string
		shards []WidsShard
		want   string
	}{
		{
			name:  "two shards, one without md5",
			index: "clipfs",
			shards: []WidsShard{
				{URL: "shard-000000.tar", NSamples: 32, FileSize: 1 << 30, MD5: "9e107d9d372bb6826bd81d3542a419d6"},
				{URL: "shard-000001.tar", NSamples: 7, FileSize: 3072},
			},
			want: `{
    "__kind__": "wids-shard-index-v1",
    "wids_version": 1,
    "name": "clipfs",
    "shardlist": [
        {
            "url": "shard-000000.tar",
            "nsamples": 32,
            "filesize": 1073741824,
            "md5sum": "9e107d9d372bb6826bd81d3542a419d6"
        },
        {
            "url": "shard-000001.tar",
            "nsamples": 7,
            "filesize": 3072,
            "md5sum": null
        }
    ]
}`,
		},
		{
			name:  "no shards",
			index: "caf\u00e9 \"set\"",
			want: `{
    "__kind__": "wids-shard-index-v1",
    "wids_version": 1,
    "name": "caf\u00e9 \"set\"",
    "shardlist": []
}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := WidsIndex(tt.index, tt.shards)
			if string(got) != tt.want {
				t.Fatalf("WidsIndex:\n%s\nwant:\n%s", got, tt.want)
			}
			var back struct {
				Kind      string `json:"__kind__"`
				Version   int    `json:"wids_version"`
				Name      string
				Shardlist []struct {
					URL      string
					NSamples int
					FileSize int64
					MD5Sum   *string
				}
			}
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if back.Kind != widsKind || back.Version != 1 || back.Name != tt.index || len(back.Shardlist) != len(tt.shards) {
				t.Fatalf("decoded %+v", back)
			}
			for i, s := range back.Shardlist {
				md5 := ""
				if s.MD5Sum != nil {
					md5 = *s.MD5Sum
				}
				if got := (WidsShard{s.URL, s.NSamples, s.FileSize, md5}); !reflect.DeepEqual(got, tt.shards[i]) {
					t.Errorf("shard %d decodes to %+v, want %+v", i, got, tt.shards[i])
				}
			}
		})
	}
}

// TestWidsIndexPython loads the index with Python's json module and dumps
// it again with indent=4: the same bytes mean the same keys, order and values.
func TestWidsIndexPython(t *testing.T) {
	python, err := exec.LookPath(systemPython)
	if err != nil {
		skipUnlessCI(t, "%s not available: %v", systemPython, err)
	}
	b := WidsIndex("clips", []WidsShard{
		{URL: "wds/shard-000000.tar", NSamples: 1000, FileSize: 5 << 30, MD5: "d41d8cd98f00b204e9800998ecf8427e"},
		{URL: "wds/shard-000001.tar", NSamples: 1, FileSize: 1536},
	})
	const script = `import json, sys
b = sys.stdin.read()
d = json.loads(b)
assert d["__kind__"] == "wids-shard-index-v1" and d["wids_version"] == 1, d
assert [s["nsamples"] for s in d["shardlist"]] == [1000, 1], d
assert d["shardlist"][1]["md5sum"] is None, d
sys.stdout.write(json.dumps(d, indent=4))`
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python json.loads: %v\n%s", err, stderrOf(err))
	}
	if string(out) != string(b) {
		t.Errorf("python re-dumps the index differently:\n%s\nwant:\n%s", out, b)
	}
}
