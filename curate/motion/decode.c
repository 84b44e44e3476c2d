// Sampling decoder for motion vectors: C side of decode.go.
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>
#include "decode.h"

struct motion_decoder {
	AVFormatContext *fmt;
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	int stream;
	int flushed; // the NULL packet has been sent
	int64_t decoded;
	int rotated; // the stream carries a display matrix
};

void motion_close(motion_decoder *d) {
	if (!d)
		return;
	av_frame_free(&d->frame);
	av_packet_free(&d->pkt);
	avcodec_free_context(&d->dec);
	avformat_close_input(&d->fmt);
	av_free(d);
}

static int first_video_stream(const AVFormatContext *fmt) {
	for (unsigned i = 0; i < fmt->nb_streams; i++)
		if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO)
			return (int)i;
	return AVERROR_STREAM_NOT_FOUND;
}

static int open_decoder(motion_decoder *d, int export_mvs, const char **op) {
	AVStream *st = d->fmt->streams[d->stream];
	const AVCodec *codec = avcodec_find_decoder(st->codecpar->codec_id);
	AVDictionary *opts = NULL;
	int ret;

	*op = "find decoder";
	if (!codec)
		return AVERROR_DECODER_NOT_FOUND;
	*op = "open decoder";
	d->dec = avcodec_alloc_context3(codec);
	if (!d->dec)
		return AVERROR(ENOMEM);
	ret = avcodec_parameters_to_context(d->dec, st->codecpar);
	if (ret < 0)
		return ret;
	d->dec->pkt_timebase = st->time_base;
	d->dec->thread_count = 1;
	if (export_mvs && (ret = av_dict_set(&opts, "flags2", "+export_mvs", 0)) < 0)
		return ret;
	ret = avcodec_open2(d->dec, codec, &opts);
	av_dict_free(&opts);
	return ret;
}

int motion_open(const char *path, int export_mvs, motion_decoder **out,
		motion_stream *info, const char **op) {
	motion_decoder *d = av_mallocz(sizeof(*d));
	AVStream *st;
	int ret;

	*out = NULL;
	*op = "open";
	if (!d)
		return AVERROR(ENOMEM);
	if ((ret = avformat_open_input(&d->fmt, path, NULL, NULL)) < 0)
		goto fail;
	*op = "find stream info";
	if ((ret = avformat_find_stream_info(d->fmt, NULL)) < 0)
		goto fail;
	*op = "find video stream";
	if ((ret = first_video_stream(d->fmt)) < 0)
		goto fail;
	d->stream = ret;
	if ((ret = open_decoder(d, export_mvs, op)) < 0)
		goto fail;
	*op = "allocate";
	d->pkt = av_packet_alloc();
	d->frame = av_frame_alloc();
	if (!d->pkt || !d->frame) {
		ret = AVERROR(ENOMEM);
		goto fail;
	}

	st = d->fmt->streams[d->stream];
#if LIBAVFORMAT_VERSION_MAJOR >= 61
	d->rotated = av_packet_side_data_get(st->codecpar->coded_side_data,
		st->codecpar->nb_coded_side_data, AV_PKT_DATA_DISPLAYMATRIX) != NULL;
#else
	d->rotated = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL) != NULL;
#endif
	info->avg_num = st->avg_frame_rate.num;
	info->avg_den = st->avg_frame_rate.den;
	info->r_num = st->r_frame_rate.num;
	info->r_den = st->r_frame_rate.den;
	info->has_duration = st->duration != AV_NOPTS_VALUE;
	info->duration = st->duration;
	info->tb_num = st->time_base.num;
	info->tb_den = st->time_base.den;
	info->has_container_duration = d->fmt->duration != AV_NOPTS_VALUE;
	info->container_duration = d->fmt->duration;
	*out = d;
	return 0;

fail:
	motion_close(d);
	return ret;
}

// feed sends the next packet of the stream, or the flush packet at the end.
static int feed(motion_decoder *d, const char **op) {
	int ret;
	for (;;) {
		*op = "read";
		ret = av_read_frame(d->fmt, d->pkt);
		if (ret == AVERROR_EOF) {
			*op = "decode";
			d->flushed = 1;
			ret = avcodec_send_packet(d->dec, NULL);
			return ret == AVERROR_EOF ? 0 : ret;
		}
		if (ret < 0)
			return ret;
		if (d->pkt->stream_index != d->stream) {
			av_packet_unref(d->pkt);
			continue;
		}
		*op = "decode";
		ret = avcodec_send_packet(d->dec, d->pkt);
		av_packet_unref(d->pkt);
		return ret;
	}
}

int motion_next(motion_decoder *d, int64_t step, motion_frame *out, const char **op) {
	int ret;

	av_frame_unref(d->frame);
	for (;;) {
		*op = "decode";
		ret = avcodec_receive_frame(d->dec, d->frame);
		if (ret == AVERROR_EOF)
			return 0;
		if (ret == AVERROR(EAGAIN)) {
			if (d->flushed)
				return 0;
			if ((ret = feed(d, op)) < 0)
				return ret;
			continue;
		}
		if (ret < 0)
			return ret;
		if (d->decoded++ % step == 0)
			break;
		av_frame_unref(d->frame);
	}

	AVFrameSideData *sd = av_frame_get_side_data(d->frame, AV_FRAME_DATA_MOTION_VECTORS);
	out->index = d->decoded - 1;
	out->width = d->frame->width;
	out->height = d->frame->height;
	out->has_mvs = sd != NULL;
	out->nb_mvs = sd ? (int)(sd->size / sizeof(AVMotionVector)) : 0;
	out->mvs = sd ? (const AVMotionVector *)sd->data : NULL;
	for (int i = 0; i < 3; i++) {
		out->data[i] = d->frame->data[i];
		out->linesize[i] = d->frame->linesize[i];
	}
	enum AVColorSpace cs = d->frame->colorspace;
	out->bt709 = cs == AVCOL_SPC_BT709;
	out->plain = d->frame->format == AV_PIX_FMT_YUV420P &&
		d->frame->color_range != AVCOL_RANGE_JPEG &&
		(cs == AVCOL_SPC_UNSPECIFIED || cs == AVCOL_SPC_BT470BG || cs == AVCOL_SPC_SMPTE170M || cs == AVCOL_SPC_BT709) &&
		!d->rotated && !av_frame_get_side_data(d->frame, AV_FRAME_DATA_DISPLAYMATRIX);
	return 1;
}

int64_t motion_decoded(const motion_decoder *d) {
	return d->decoded;
}

void motion_strerror(int err, char *buf, int size) {
	av_strerror(err, buf, (size_t)size);
}
