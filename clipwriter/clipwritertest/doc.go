// Package clipwritertest holds ClipWriterStage JSON files written by hand
// from the format's key lists, not by our renderer, for the tests of the
// parsers and the importer. It imports pack only.
package clipwritertest
