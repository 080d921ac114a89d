/* tests/integration/mgtextgen.c - H.248 text as our encoder writes it */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "mg.h"

/*
 * Writes the messages the MG and the MGC sides of megaco/ send, each in
 * both styles and in every protocol version it exists in, for a peer's
 * decoder to read (test_mg_erlang.py):
 *
 *   mgtextgen DIR     DIR/<name>.v<N>.<compact|pretty>.txt, and one line
 *                     "<name> <N> <style> <file>" per file on stdout
 *
 * Some are built node by node with the builder calls the MG model and
 * the virtual MG use (ServiceChange, Notify, AuditCapabilities replies),
 * the rest are written as text in the shapes model.c, vmg.c, tsx.c and
 * client.c produce, and decoded first.  Either way what goes out is the
 * encoder's output from a tree.  Exits 1 when a message cannot be built
 * or encoded.
 */

struct gen {
	const char *name;
	unsigned min_version;	/* exists from this version on */
	const char *text;	/* the body after the header, or NULL */
	struct mg_msg *(*build)(unsigned version);
};

#define MID_MG	"[127.0.0.1]:2946"
#define MID_MGC	"[127.0.0.1]:2944"

/* vmg.c: the registration, Reason a quoted string */
static struct mg_msg *build_register(unsigned version)
{
	struct mg_msg *msg = NULL;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *sv, *r;

	if (mg_msg_alloc(&msg, version, MID_MG))
		return NULL;
	t = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 1);
	a = mg_trans_add_action(msg, t, MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_SERVICECHANGE, "ROOT");
	sv = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_SERVICES, NULL);
	mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
				     MG_TOK_METHOD, NULL), MG_TOK_RESTART,
		    NULL);
	r = mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
					 MG_TOK_REASON, NULL), 0, "x");
	if (!mg_item_set(msg, mg_item_add(msg, sv ? &sv->kids : NULL,
					  MG_TOK_VERSION, NULL), 0, "%u",
			 version) || !r) {
		gw_mem_deref(msg);
		return NULL;
	}
	r->val->s = mg_msg_strdup(msg, "901 Cold Boot");
	r->val->quoted = true;
	return msg;
}

/* model.c: a Notify of an observed event with its timestamp */
static struct mg_msg *build_notify(unsigned version)
{
	struct mg_msg *msg = NULL;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *oe, *e;

	if (mg_msg_alloc(&msg, version, MID_MG))
		return NULL;
	t = mg_msg_add_trans(msg, MG_TRANS_REQUEST, 7);
	a = mg_trans_add_action(msg, t, 17);
	c = mg_action_add_cmd(msg, a, MG_CMD_NOTIFY, "tdm/1/5");
	oe = mg_item_set(msg, mg_item_add(msg, c ? &c->desc : NULL,
					  MG_TOK_OBSERVEDEVENTS, NULL),
			 0, "%u", 3u);
	e = mg_item_add(msg, oe ? &oe->kids : NULL, MG_TOK_NONE, "dd/ce");
	if (e)
		e->stamp = mg_msg_strdup(msg, "20240101T10203040");
	mg_item_set(msg, mg_item_add(msg, e ? &e->kids : NULL, MG_TOK_NONE,
				     "ds"), 0, "%s", "4321");
	if (!mg_item_set(msg, mg_item_add(msg, e ? &e->kids : NULL,
					  MG_TOK_NONE, "Meth"), 0, "%s",
			 "UM")) {
		gw_mem_deref(msg);
		return NULL;
	}
	return msg;
}

/* model.c: AuditCapabilities of a TDM termination, Events = 0 { .. } */
static struct mg_msg *build_audit_caps(unsigned version)
{
	static const char *const ev[] = { "dd/d0", "dd/d1", "dd/ds",
		"dd/do", "dd/ce", "g/sc", "tonedet/std", "dd/std", "ct/cmp",
		NULL };
	static const char *const sg[] = { "cg/dt", "cg/rt", "cg/bt",
		"dg/d0", "dg/ds", "dg/do", "tonegen/pt", "ct/ct", NULL };
	struct mg_msg *msg = NULL;
	struct mg_trans *t;
	struct mg_action *a;
	struct mg_cmd *c;
	struct mg_item *md, *ts, *st, *lc, *e, *s;
	unsigned i;

	if (mg_msg_alloc(&msg, version, MID_MG))
		return NULL;
	t = mg_msg_add_trans(msg, MG_TRANS_REPLY, 12);
	a = mg_trans_add_action(msg, t, MG_CTX_NULL);
	c = mg_action_add_cmd(msg, a, MG_CMD_AUDITCAP, "tdm/1/1");
	md = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_MEDIA, NULL);
	ts = mg_item_add(msg, md ? &md->kids : NULL, MG_TOK_TERMSTATE, NULL);
	mg_item_set(msg, mg_item_add(msg, ts ? &ts->kids : NULL,
				     MG_TOK_SERVICESTATES, NULL),
		    MG_TOK_INSERVICE, NULL);
	mg_item_set(msg, mg_item_add(msg, ts ? &ts->kids : NULL,
				     MG_TOK_BUFFER, NULL), MG_TOK_OFF, NULL);
	st = mg_item_set(msg, mg_item_add(msg, md ? &md->kids : NULL,
					  MG_TOK_STREAM, NULL), 0, "1");
	lc = mg_item_add(msg, st ? &st->kids : NULL, MG_TOK_LOCALCONTROL,
			 NULL);
	mg_item_set(msg, mg_item_add(msg, lc ? &lc->kids : NULL, MG_TOK_MODE,
				     NULL), MG_TOK_SENDRECV, NULL);
	mg_item_set(msg, mg_item_add(msg, lc ? &lc->kids : NULL, MG_TOK_NONE,
				     "tdmc/ec"), 0, "%s", "on");
	e = mg_item_set(msg, mg_item_add(msg, c ? &c->desc : NULL,
					 MG_TOK_EVENTS, NULL), 0, "0");
	s = mg_item_add(msg, c ? &c->desc : NULL, MG_TOK_SIGNALS, NULL);
	for (i = 0; e && ev[i]; i++)
		mg_item_add(msg, &e->kids, MG_TOK_NONE, ev[i]);
	for (i = 0; s && sg[i]; i++)
		mg_item_add(msg, &s->kids, MG_TOK_NONE, sg[i]);
	if (!e || !s || !lc) {
		gw_mem_deref(msg);
		return NULL;
	}
	return msg;
}

/* tsx.c: Pending; client.c: the ServiceChange reply with Version */
static struct mg_msg *build_pending(unsigned version)
{
	struct mg_msg *msg = NULL;

	if (mg_msg_alloc(&msg, version, MID_MG))
		return NULL;
	if (!mg_msg_add_trans(msg, MG_TRANS_PENDING, 1001)) {
		gw_mem_deref(msg);
		return NULL;
	}
	return msg;
}

static const struct gen gens[] = {
	/* registration and its replies (s.11.2, 11.3) */
	{ "sc_restart", 1, NULL, build_register },
	{ "sc_restart_text", 1, MID_MG "\nTransaction = 2 { Context = - { "
	  "ServiceChange = ROOT { Services { Method = Restart, Reason = "
	  "\"901 Cold Boot\", ServiceChangeAddress = 2946, Profile = "
	  "junction/1, Version = 3, 20240101T10203040 } } } }", NULL },
	{ "sc_reply_version", 1, MID_MGC "\nReply = 1 { Context = - { "
	  "ServiceChange = ROOT { Services { Version = 2 } } } }", NULL },
	{ "sc_reply_empty", 1, MID_MGC "\nReply = 1 { Context = - { "
	  "ServiceChange = ROOT } }", NULL },
	{ "sc_reply_406", 1, MID_MGC "\nReply = 1 { Context = - { "
	  "ServiceChange = ROOT { Error = 406 { \"Version Not Supported\" "
	  "} } } }", NULL },
	{ "sc_graceful", 1, MID_MG "\nTransaction = 3 { Context = - { "
	  "ServiceChange = ROOT { Services { Method = Graceful, Reason = "
	  "905, Delay = 30 } } } }", NULL },
	{ "sc_span_forced", 1, MID_MG "\nTransaction = 4 { Context = - { "
	  "ServiceChange = tdm/1/* { Services { Method = Forced, Reason = "
	  "\"904 Termination malfunctioning\" } } } }", NULL },
	/* a call (DESIGN.md's SIP -> PSTN flow) */
	{ "add_tdm_rtp", 1, MID_MGC "\nTransaction = 1001 { Context = $ { "
	  "Add = tdm/1/5 { Media { LocalControl { Mode = SendReceive, "
	  "tdmc/ec = on } }, Events = 1 { dd/ce { DigitMap = plan }, "
	  "nt/netfail } }, Add = $ { Media { Stream = 1 { LocalControl { "
	  "Mode = ReceiveOnly, ReservedValue = ON, ReservedGroup = OFF }, "
	  "Local {\r\nv=0\r\nc=IN IP4 $\r\nm=audio $ RTP/AVP 8 101\r\n"
	  "a=rtpmap:101 telephone-event/8000\r\n}, Remote {\r\nv=0\r\n"
	  "o=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\n"
	  "t=0 0\r\nm=audio 49170 RTP/AVP 8\r\n} } } } } }", NULL },
	{ "add_reply_local_sdp", 1, MID_MG "\nReply = 1001 { Context = 17 "
	  "{ Add = tdm/1/5, Add = rtp/33 { Media { Stream = 1 { Local {\n"
	  "v=0\no=- 17 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\n"
	  "t=0 0\nm=audio 30066 RTP/AVP 8\na=ptime:20\n} } } } } }", NULL },
	{ "modify_remote_mode", 1, MID_MGC "\nTransaction = 1002 { "
	  "Context = 17 { Modify = rtp/33 { Media { Stream = 1 { "
	  "LocalControl { Mode = SendReceive }, Remote {\nv=0\n"
	  "c=IN IP4 192.0.2.10\nm=audio 49172 RTP/AVP 8\n} } } } } }",
	  NULL },
	{ "modify_signals_digitmap", 1, MID_MGC "\nTransaction = 1003 { "
	  "Context = 17 { Modify = tdm/1/5 { Events = 3 { dd/ce { "
	  "DigitMap = plan }, g/sc, al/on { KeepActive } }, Signals { "
	  "SignalList = 1 { dg/d4, dg/d3 { SignalType = Brief }, dg/d2 }, "
	  "cg/rt { SignalType = TimeOut, Duration = 400, NotifyCompletion "
	  "= { TimeOut, IntByEvent } } }, DigitMap = plan { (0|00|[1-7]xxx|"
	  "8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.) } } } }", NULL },
	{ "modify_stop_signals", 1, MID_MGC "\nTransaction = 1004 { "
	  "Context = 17 { Modify = tdm/1/5 { Signals, Events = 4 { "
	  "al/on } } } }", NULL },
	{ "modify_reply", 1, MID_MG "\nReply = 1003 { Context = 17 { "
	  "Modify = tdm/1/5 } }", NULL },
	{ "notify", 1, NULL, build_notify },
	{ "notify_text", 1, MID_MG "\nTransaction = 8 { Context = 17 { "
	  "Notify = tdm/1/5 { ObservedEvents = 2 { 20240101T10203041:g/sc "
	  "{ SigID = cg/rt, Meth = TO }, 20240101T10203042:nt/netfail { "
	  "cs = \"rtp timeout\" } } } } }", NULL },
	{ "notify_reply", 1, MID_MGC "\nReply = 7 { Context = 17 { "
	  "Notify = tdm/1/5 } }", NULL },
	{ "subtract", 1, MID_MGC "\nTransaction = 1005 { Context = 17 { "
	  "Subtract = tdm/1/5, Subtract = rtp/33 } }", NULL },
	{ "subtract_reply_statistics", 1, MID_MG "\nReply = 1005 { "
	  "Context = 17 { Subtract = tdm/1/5, Subtract = rtp/33 { "
	  "Statistics { rtp/ps = 1510, rtp/pr = 1498, rtp/pl = 0, "
	  "rtp/jit = 3, rtp/delay = 0, nt/os = 241600, nt/or = 239680, "
	  "nt/dur = 30200 } } } }", NULL },
	/* audits */
	{ "audit_value", 1, MID_MGC "\nTransaction = 11 { Context = - { "
	  "AuditValue = ROOT { Audit { Packages, Media, Statistics } } } }",
	  NULL },
	{ "audit_keepalive", 1, MID_MGC "\nTransaction = 12 { Context = - "
	  "{ AuditValue = ROOT { Audit { } } } }", NULL },
	{ "audit_value_reply", 1, MID_MG "\nReply = 11 { Context = - { "
	  "AuditValue = ROOT { Packages { g-1, root-1, dg-1, dd-1, cg-1, "
	  "nt-1, rtp-1, tdmc-1 }, Media { TerminationState { "
	  "root/maxNumberOfContexts = 1024, "
	  "root/maxTerminationsPerContext = 2, "
	  "root/normalMGExecutionTime = 200 } } } } }", NULL },
	{ "audit_tdm_reply", 1, MID_MG "\nReply = 13 { Context = 17 { "
	  "AuditValue = tdm/1/5 { Media { TerminationState { "
	  "ServiceStates = InService, Buffer = OFF }, Stream = 1 { "
	  "LocalControl { Mode = SendReceive, tdmc/ec = on } } }, "
	  "Events = 3 { dd/ce, g/sc }, Signals { cg/rt }, Statistics { "
	  "nt/dur = 1200 } } } }", NULL },
	{ "audit_caps_reply", 1, NULL, build_audit_caps },
	/* errors at each level, Pending, acknowledgements */
	{ "error_command", 1, MID_MG "\nReply = 20 { Context = - { "
	  "Modify = tdm/9/1 { Error = 430 { \"Unknown TerminationID\" } } "
	  "} }", NULL },
	{ "error_action", 1, MID_MG "\nReply = 21 { Context = 77 { "
	  "Error = 411 { \"The transaction refers to an unknown "
	  "ContextId\" } } }", NULL },
	{ "error_transaction", 1, MID_MG "\nReply = 22 { Error = 400 { "
	  "\"Syntax error in message: unexpected 'Sideways' at 3:12\" } }",
	  NULL },
	{ "error_message", 1, MID_MG "\nError = 406 { \"Version Not "
	  "Supported\" }", NULL },
	{ "error_no_text", 1, MID_MG "\nReply = 23 { Error = 505 { } }", NULL },
	{ "pending", 1, NULL, build_pending },
	{ "reply_imm_ack", 1, MID_MG "\nReply = 1006 { ImmAckRequired, "
	  "Context = 18 { Add = tdm/1/6 } }", NULL },
	{ "response_ack", 1, MID_MGC "\nTransactionResponseAck { 1006, "
	  "1010-1012 }", NULL },
	{ "several", 1, MID_MG "\nReply = 30 { Context = - { Modify = "
	  "tdm/1/1 } } Reply = 31 { Context = - { Modify = tdm/1/2 } } "
	  "Pending = 32 { } TransactionResponseAck { 40-41 }", NULL },
	{ "context_props", 1, MID_MGC "\nTransaction = 33 { Context = 17 { "
	  "Priority = 3, Emergency, Topology { tdm/1/5, rtp/33, oneway }, "
	  "Modify = tdm/1/5 } }", NULL },
	{ "wildcard_optional", 2, MID_MGC "\nTransaction = 34 { Context = "
	  "- { O-W-Modify = tdm/1/* { Events = 5 { al/of } } } }", NULL },
	/* version 2 and 3 constructs */
	{ "v2_inequality", 2, MID_MGC "\nTransaction = 35 { Context = 17 "
	  "{ Modify = tdm/1/5 { Events = 6 { nt/qualert { th != 5 } } } } }",
	  NULL },
	{ "v3_context_attr", 3, MID_MGC "\nTransaction = 36 { Context = 17 "
	  "{ IEPSCall = ON, ContextAttr { nt/jit = 40 }, Modify = tdm/1/5 "
	  "} }", NULL },
	{ "v3_segment_reply", 3, MID_MG "\nReply = 37/1 { Context = 17 { "
	  "Modify = tdm/1/5 } }", NULL },
	{ "v3_segment_end", 3, MID_MG "\nReply = 37/2/END { Context = 18 { "
	  "Modify = tdm/1/6 } } Segment = 38/2", NULL },
};

static struct mg_msg *make(const struct gen *g, unsigned version)
{
	char text[4096];
	struct mg_text_err e;
	struct mg_msg *msg = NULL;

	if (g->build)
		return g->build(version);
	snprintf(text, sizeof(text), "MEGACO/%u %s", version, g->text);
	if (mg_text_decode(&msg, text, strlen(text), &e)) {
		fprintf(stderr, "%s v%u: %s\n", g->name, version, e.text);
		return NULL;
	}
	return msg;
}

int main(int argc, char **argv)
{
	static const char *const style_name[] = { "compact", "pretty" };
	char path[4096];
	unsigned v, st, i;
	FILE *f;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: mgtextgen DIR\n");
		return 2;
	}
	for (i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		for (v = gens[i].min_version; v <= 3; v++) {
			struct mg_msg *msg = make(&gens[i], v);

			if (!msg) {
				rc = 1;
				continue;
			}
			for (st = 0; st < 2; st++) {
				char *s = NULL;

				if (mg_text_encode(&s, msg, st == 0 ?
						   MG_TEXT_COMPACT :
						   MG_TEXT_PRETTY)) {
					fprintf(stderr, "%s v%u: encode\n",
						gens[i].name, v);
					rc = 1;
					continue;
				}
				snprintf(path, sizeof(path), "%s/%s.v%u.%s.txt",
					 argv[1], gens[i].name, v,
					 style_name[st]);
				f = fopen(path, "wb");
				if (!f || fputs(s, f) < 0 || fclose(f)) {
					perror(path);
					rc = 1;
				} else {
					printf("%s %u %s %s\n", gens[i].name,
					       v, style_name[st], path);
				}
				gw_mem_deref(s);
			}
			gw_mem_deref(msg);
		}
	}
	return rc;
}
