/* sip/sdp.h - SDP offer/answer (RFC 3264): internal to sip/ for now */
#ifndef GW_SIP_SDP_H
#define GW_SIP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A session description as the offer/answer engine sees it: what RFC 3264
 * needs and nothing more.  Bandwidth, key (k=), repeat times and unknown
 * attributes are dropped on parse; everything kept is re-encoded.  All of
 * it is our own types: libosip2's sdp_message_t stays inside sdp.c.
 *
 * Short text fields are fixed arrays (a longer token in a received SDP is
 * EBADMSG); fmtp and crypto values, which may be long, are gw_mem strings.
 */

#define SIP_SDP_TOKEN_MAX 64	/* names, ids, tokens, with the NUL */
#define SIP_SDP_ADDR_MAX 256	/* a host name (253) or an IP literal */
#define SIP_SDP_FMTP_MAX 256	/* fmtp and events copied into a neg */

#define SIP_SDP_PT_DYNAMIC (-1)	/* a codec with no static payload type */

enum sip_sdp_af {
	SIP_SDP_AF_NONE = 0,	/* no c= line */
	SIP_SDP_IP4,
	SIP_SDP_IP6,
};

/* Bit 0: we send; bit 1: we receive (from the describing side's view). */
enum sip_sdp_dir {
	SIP_SDP_INACTIVE = 0,
	SIP_SDP_SENDONLY = 1,
	SIP_SDP_RECVONLY = 2,
	SIP_SDP_SENDRECV = 3,
};

enum sip_sdp_mtype {
	SIP_SDP_AUDIO,
	SIP_SDP_IMAGE,
	SIP_SDP_OTHER,		/* video, application, ...: name in media[] */
};

enum sip_sdp_proto {
	SIP_SDP_RTP_AVP,
	SIP_SDP_RTP_SAVP,
	SIP_SDP_UDPTL,
	SIP_SDP_PROTO_OTHER,	/* as written in proto[] */
};

/* An address on a c= or o= line, as written (IP literal or host name). */
struct sip_sdp_conn {
	enum sip_sdp_af af;
	char addr[SIP_SDP_ADDR_MAX];
};

/* A format on an m= line with its a=rtpmap and a=fmtp. */
struct sip_sdp_fmt {
	char id[SIP_SDP_TOKEN_MAX];	/* as on the m= line: "8", "t38" */
	int pt;				/* RTP payload type, or -1 */
	char name[SIP_SDP_TOKEN_MAX];	/* rtpmap encoding name; "" none */
	unsigned rate;			/* rtpmap clock rate; 0 none */
	unsigned channels;		/* rtpmap channels; 0 not given */
	char *fmtp;			/* a=fmtp parameters, or NULL */
};

enum sip_sdp_t38_rate {
	SIP_SDP_T38_RATE_UNSET = 0,
	SIP_SDP_T38_LOCAL_TCF,
	SIP_SDP_T38_TRANSFERRED_TCF,
};

enum sip_sdp_t38_ec {
	SIP_SDP_T38_EC_UNSET = 0,
	SIP_SDP_T38_EC_NONE,		/* t38UDPNoEC */
	SIP_SDP_T38_EC_FEC,		/* t38UDPFEC */
	SIP_SDP_T38_EC_REDUNDANCY,	/* t38UDPRedundancy */
};

/* T.38 Annex D attributes of an image stream; 0 (or UNSET) is absent. */
struct sip_sdp_t38 {
	unsigned version;		/* T38FaxVersion (absent means 0) */
	unsigned max_bitrate;		/* T38MaxBitRate */
	enum sip_sdp_t38_rate rate_mgmt;	/* T38FaxRateManagement */
	unsigned max_buffer;		/* T38FaxMaxBuffer */
	unsigned max_datagram;		/* T38FaxMaxDatagram */
	enum sip_sdp_t38_ec udp_ec;	/* T38FaxUdpEC */
	bool fill_bit_removal;		/* T38FaxFillBitRemoval */
	bool transcoding_mmr;		/* T38FaxTranscodingMMR */
	bool transcoding_jbig;		/* T38FaxTranscodingJBIG */
};

/* One m= line.  Telephone-event (RFC 4733) is one of its formats, with
 * its events in that format's fmtp: see sip_sdp_tel_event. */
struct sip_sdp_media {
	enum sip_sdp_mtype type;
	char media[SIP_SDP_TOKEN_MAX];	/* "audio", "image", "video", ... */
	uint16_t port;			/* 0: stream refused or removed */
	unsigned nports;		/* m=audio 4000/2: 2; else 0 */
	enum sip_sdp_proto proto;
	char proto_name[SIP_SDP_TOKEN_MAX];	/* "RTP/AVP", "udptl", ... */
	struct sip_sdp_fmt *fmts;	/* in m= line order */
	size_t n_fmts;
	struct sip_sdp_conn conn;	/* media-level c=, af NONE if absent */
	enum sip_sdp_dir dir;		/* resolved: media, session, sendrecv */
	unsigned ptime;			/* a=ptime ms; 0 absent */
	unsigned maxptime;		/* a=maxptime ms; 0 absent */
	char **crypto;			/* a=crypto values, kept for SRTP */
	size_t n_crypto;
	struct sip_sdp_t38 t38;		/* image streams */
};

struct sip_sdp_origin {
	char username[SIP_SDP_TOKEN_MAX];
	char sess_id[SIP_SDP_TOKEN_MAX];
	uint64_t version;
	struct sip_sdp_conn addr;
};

/* A session description: a gw_mem block, its fields owned by it. */
struct sip_sdp {
	struct sip_sdp_origin origin;
	char *name;			/* s=; NULL is encoded as "-" */
	struct sip_sdp_conn conn;	/* session-level c=, af NONE if none */
	uint64_t t_start, t_stop;	/* the first t= line */
	struct sip_sdp_media *media;
	size_t n_media;
};

/* A codec we support; a caps table of these is our order of preference. */
struct sip_sdp_codec {
	const char *name;	/* encoding name, "PCMA" */
	unsigned rate;		/* RTP clock rate */
	unsigned channels;	/* 0 or 1: mono */
	int pt;			/* static PT (0-95), a preferred dynamic PT
				 * (96-127), or SIP_SDP_PT_DYNAMIC */
	const char *fmtp;	/* our a=fmtp for it, or NULL */
};

/* What the local side can do.  Plain data; every pointer is borrowed. */
struct sip_sdp_caps {
	const struct sip_sdp_codec *codecs;
	size_t n_codecs;
	bool tel_event;		/* RFC 4733 telephone-event */
	int tel_event_pt;	/* its PT in our offers (96-127) */
	const char *tel_events;	/* our a=fmtp events, "0-15"; NULL none */
	unsigned ptime;		/* a=ptime we ask for; 0 says nothing */
	bool t38;		/* answer image/T.38 (UDPTL) streams */
	struct sip_sdp_t38 t38_params;	/* what we answer with */
	const char *username;	/* o= username; NULL is "-" */
	const char *addr4;	/* our media address: IPv4 literal, or NULL */
	const char *addr6;	/* IPv6 literal, or NULL */
	uint16_t audio_port;	/* our RTP port */
	uint16_t image_port;	/* our UDPTL port; 0 refuses T.38 */
};

/* One negotiated stream, from our side's view. */
struct sip_sdp_neg_stream {
	bool active;		/* false: no such stream was agreed */
	unsigned idx;		/* its m= line */
	enum sip_sdp_af af;	/* where we send it */
	char addr[SIP_SDP_ADDR_MAX];
	uint16_t port;
	enum sip_sdp_dir dir;	/* what we do: send and/or receive */
	bool remote_hold;	/* the peer holds us: sendonly, inactive
				 * or c=0.0.0.0 (RFC 3264 s.8.4) */
};

/* The outcome of an offer/answer exchange. */
struct sip_sdp_neg {
	struct sip_sdp_neg_stream audio;
	char codec[SIP_SDP_TOKEN_MAX];	/* encoding name */
	unsigned rate;
	unsigned channels;		/* 1 unless the codec says more */
	unsigned pt_tx;			/* the PT we send with */
	unsigned pt_rx;			/* the PT we receive with */
	char fmtp[SIP_SDP_FMTP_MAX];	/* the peer's fmtp for it, or "" */
	int te_pt_tx;			/* telephone-event PTs; -1 none */
	int te_pt_rx;
	char te_events[SIP_SDP_FMTP_MAX];	/* events we may send */
	unsigned ptime;			/* the peer's, else ours; 0 none */
	struct sip_sdp_neg_stream image;	/* T.38 over UDPTL */
	struct sip_sdp_t38 t38;		/* the agreed parameters */
};

/* Local o= state across one dialog: version bumps only on change. */
struct sip_sdp_session;

int  sip_sdp_parse(struct sip_sdp **sdpp, const char *text, size_t len);
int  sip_sdp_encode(const struct sip_sdp *sdp, char **textp);
int  sip_sdp_dup(struct sip_sdp **dupp, const struct sip_sdp *sdp);
bool sip_sdp_same(const struct sip_sdp *a, const struct sip_sdp *b);
const struct sip_sdp_conn *sip_sdp_media_conn(const struct sip_sdp *sdp,
					      const struct sip_sdp_media *m);
bool sip_sdp_media_held(const struct sip_sdp *sdp,
			const struct sip_sdp_media *m);
const struct sip_sdp_fmt *sip_sdp_tel_event(const struct sip_sdp_media *m,
					    unsigned rate);
const char *sip_sdp_dir_name(enum sip_sdp_dir dir);

void sip_sdp_caps_init(struct sip_sdp_caps *caps);
int  sip_sdp_offer(struct sip_sdp **offerp, const struct sip_sdp_caps *caps);
int  sip_sdp_answer(struct sip_sdp **answerp, const struct sip_sdp *offer,
		    const struct sip_sdp_caps *caps, struct sip_sdp_neg *negp);
int  sip_sdp_process_answer(const struct sip_sdp *offer,
			    const struct sip_sdp *answer,
			    struct sip_sdp_neg *negp);
int  sip_sdp_hold(struct sip_sdp **offerp, const struct sip_sdp *local,
		  enum sip_sdp_dir dir);

int  sip_sdp_session_alloc(struct sip_sdp_session **sessp);
int  sip_sdp_session_stamp(struct sip_sdp_session *sess, struct sip_sdp *sdp);

#endif
