// Package media is the toolkit that runs ffmpeg and ffprobe and reads media
// files: probing a video (ffprobe, or our own MP4's boxes directly),
// transcoding a clip, writing WebP previews, extracting frames for the
// models, and decoding a video once for scene detection with PySceneDetect's
// ContentDetector.
//
// A source video is a Source (source.go): a local file, or an object that
// the tools read over HTTP(S) through a presigned URL, seeking with range
// requests; errors name Source.Name and never show the URL.
//
// A tool's failure is told apart here: a *MediaError is the input's fault
// (a file ffmpeg cannot decode), an *fault.EnvError the machine's (a tool
// killed, a full disk).
//
// media imports no clipfs package but curate/fault: it knows nothing of
// clips, chunks or the index. Spans and windows are curate/plan's, and
// callers pass plain frame numbers.
package media
