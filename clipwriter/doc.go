// Package clipwriter is the byte-level format of the JSON files NeMo
// Curator's ClipWriterStage writes (docs/formats.md §3): metas/v0/<uuid>.json,
// processed_videos/<rel>.json and processed_clip_chunks/<rel>_<i>.json. The
// renderers (render.go) turn index records into those bytes, with keys in
// the writer's order and floats as Python prints them; the parsers
// (parse.go) read them back, refusing any key the format does not have.
// Each parser is the inverse of its renderer: a record rendered and parsed
// is the same record.
//
// clipwriter imports index and pack only; fs/tree serves its bytes and
// curate/importer and curate/publish use it.
package clipwriter
