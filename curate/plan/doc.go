// Package plan is clip planning as NeMo Curator does it, in pure functions:
// fixed-stride spans, shaping detected scenes into clips, grouping clips
// into chunks, the windows of a clip and the frames sampled from one, and
// the uuid5 identities of clips and chunks (docs/formats.md §2, §5, §6).
//
// plan runs no tool and reads no file; it imports no clipfs package.
package plan
