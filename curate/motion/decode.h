// Sampling decoder for motion vectors: C side of decode.go.
#ifndef CLIPFS_MOTION_DECODE_H
#define CLIPFS_MOTION_DECODE_H

#include <stdint.h>
#include <libavutil/motion_vector.h>

typedef struct motion_decoder motion_decoder;

// motion_stream describes the video stream a decoder reads.
typedef struct motion_stream {
	int avg_num, avg_den;      // avg_frame_rate
	int r_num, r_den;          // r_frame_rate
	int has_duration;          // stream duration known
	int64_t duration;          // stream duration in time_base units
	int tb_num, tb_den;        // stream time_base
	int has_container_duration;
	int64_t container_duration; // AVFormatContext.duration, AV_TIME_BASE units
} motion_stream;

// motion_frame is one sampled frame; mvs stays valid until the next call on
// the decoder.
typedef struct motion_frame {
	int64_t index; // position among decoded frames, output order
	int width, height;
	int has_mvs;   // frame carries AV_FRAME_DATA_MOTION_VECTORS
	int nb_mvs;
	const AVMotionVector *mvs;
	// The frame's planes, valid until the next call on the decoder.
	const uint8_t *data[3];
	int linesize[3];
	// plain: yuv420p, limited range, the BT.601 matrix (unspecified,
	// BT.470BG or SMPTE 170M) or BT.709's, and no display matrix on the
	// stream or frame.
	int plain;
	int bt709; // the frame is tagged BT.709

} motion_frame;

// motion_open opens path, picks its first video stream and opens a
// single-threaded decoder, exporting motion vectors when export_mvs is set.
// On failure it returns a negative AVERROR, names the step in *op and leaves
// *out NULL.
int motion_open(const char *path, int export_mvs, motion_decoder **out,
		motion_stream *info, const char **op);

// motion_next decodes up to the next frame whose index is a multiple of step
// and fills *out: 1 = a frame, 0 = end of stream, < 0 = AVERROR (step named
// in *op).
int motion_next(motion_decoder *d, int64_t step, motion_frame *out, const char **op);

// motion_decoded is the number of frames decoded so far.
int64_t motion_decoded(const motion_decoder *d);

// motion_close frees everything motion_open allocated; NULL is fine.
void motion_close(motion_decoder *d);

// motion_strerror writes libav's message for err into buf.
void motion_strerror(int err, char *buf, int size);

#endif
