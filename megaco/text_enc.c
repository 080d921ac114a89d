/* megaco/text_enc.c - H.248.1 Annex B text encoder, compact or pretty */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "mg.h"

/*
 * Output that the Erlang/OTP megaco decoder (4.4, all three versions)
 * accepts: empty Events/Signals/EventBuffer/Statistics/Packages and the
 * like are written bare ("Signals", not "Signals { }", which it
 * rejects); descriptors whose grammar requires braces (Audit, Services,
 * Topology, Embed, SignalList, ContextAttr, ContextAudit) keep "{ }".
 * Local/Remote SDP and DigitMap bodies are written verbatim.
 *
 * The writer keeps counting after the buffer is full, so that a failed
 * call tells mg_text_encode how much to allocate.
 */

struct wr {
	char *buf;
	size_t size, len;
	bool compact;
	unsigned version;
	int depth;
	int audit;		/* inside Audit/ContextAudit: names only */
};

static void put(struct wr *w, const char *s, size_t n)
{
	if (w->len < w->size && n <= w->size - w->len)
		memcpy(w->buf + w->len, s, n);
	else
		w->size = 0;	/* overflowed: count only */
	w->len += n;
}

static void puts_(struct wr *w, const char *s)
{
	put(w, s, strlen(s));
}

static void putc_(struct wr *w, char c)
{
	if (w->len < w->size)
		w->buf[w->len] = c;
	else
		w->size = 0;
	w->len++;
}

static void put_u32(struct wr *w, uint32_t v)
{
	char tmp[12];
	int i = (int)sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(w, tmp + i, sizeof(tmp) - (size_t)i);
}

static void tok(struct wr *w, enum mg_tok t)
{
	/* v2 spells EmergencyOff differently in each draft: compact is
	 * the one every decoder reads */
	if (t == MG_TOK_EMERGENCYOFF && w->version < 3)
		puts_(w, "EGO");
	else
		puts_(w, mg_tok_name(t, w->compact));
}

static void eq(struct wr *w)
{
	if (w->compact)
		putc_(w, '=');
	else
		put(w, " = ", 3);
}

static void open_(struct wr *w)
{
	if (w->compact) {
		putc_(w, '{');
	} else {
		put(w, " {\n", 3);
	}
	w->depth++;
}

static void indent(struct wr *w)
{
	int i;

	if (w->compact)
		return;
	for (i = 0; i < w->depth; i++)
		putc_(w, '\t');
}

static void close_(struct wr *w)
{
	w->depth--;
	if (!w->compact) {
		putc_(w, '\n');
		indent(w);
	}
	putc_(w, '}');
}

static void sep(struct wr *w)
{
	if (w->compact) {
		putc_(w, ',');
	} else {
		put(w, ",\n", 2);
	}
}

static void ctx_id(struct wr *w, uint32_t ctx)
{
	if (ctx == MG_CTX_NULL)
		putc_(w, '-');
	else if (ctx == MG_CTX_CHOOSE)
		putc_(w, '$');
	else if (ctx == MG_CTX_ALL)
		putc_(w, '*');
	else
		put_u32(w, ctx);
}

/* Annex B quotedString, which has no escapes: a byte it cannot hold
 * ('"', controls, non-ASCII) is written as the builders of msg.c
 * replace it, so that a hand-made tree still gives valid text. */
static void quoted(struct wr *w, const char *s)
{
	putc_(w, '"');
	for (; *s; s++) {
		if (*s == '"')
			putc_(w, '\'');
		else if (*s != '\t' && (*s < 0x20 || *s > 0x7e))
			putc_(w, '?');
		else
			putc_(w, *s);
	}
	putc_(w, '"');
}

static void word(struct wr *w, const struct mg_word *v)
{
	if (v->tok) {
		tok(w, v->tok);
	} else if (v->quoted) {
		quoted(w, v->s);
	} else {
		puts_(w, v->s);
	}
}

static bool braces_required(enum mg_tok t)
{
	switch (t) {
	case MG_TOK_AUDIT:
	case MG_TOK_SERVICES:
	case MG_TOK_TOPOLOGY:
	case MG_TOK_EMBED:
	case MG_TOK_SIGNALLIST:
	case MG_TOK_CONTEXTATTR:
	case MG_TOK_CONTEXTAUDIT:
		return true;
	default:
		return false;
	}
}

static void items(struct wr *w, const struct mg_item *it);

static void item(struct wr *w, const struct mg_item *it)
{
	static const char *const ops[] = { "", "=", "!=", "<", ">", "#" };
	unsigned i;

	indent(w);
	if (it->stamp) {
		puts_(w, it->stamp);
		putc_(w, ':');
	}
	if (it->tok)
		tok(w, it->tok);
	else
		puts_(w, it->name);
	if (it->op && it->nval) {
		if (it->op == MG_OP_EQ)
			eq(w);
		else
			puts_(w, ops[it->op]);
		if (it->vlist == MG_VL_ONE) {
			word(w, &it->val[0]);
		} else {
			putc_(w, it->vlist == MG_VL_OR ? '{' : '[');
			for (i = 0; i < it->nval; i++) {
				if (i)
					putc_(w, it->vlist == MG_VL_RANGE ?
					      ':' : ',');
				word(w, &it->val[i]);
			}
			putc_(w, it->vlist == MG_VL_OR ? '}' : ']');
		}
	}
	if (it->text) {
		if (!w->compact)
			putc_(w, ' ');
		putc_(w, '{');
		puts_(w, it->text);
		putc_(w, '}');
	} else if (it->kids) {
		bool audit = it->tok == MG_TOK_AUDIT ||
			it->tok == MG_TOK_CONTEXTAUDIT;

		open_(w);
		w->audit += audit;
		items(w, it->kids);
		w->audit -= audit;
		close_(w);
	} else if (braces_required(it->tok) && !w->audit) {
		put(w, w->compact ? "{}" : " { }", w->compact ? 2 : 4);
	}
}

static void items(struct wr *w, const struct mg_item *it)
{
	for (; it; it = it->next) {
		item(w, it);
		if (it->next)
			sep(w);
	}
}

static void error_desc(struct wr *w, const struct mg_err *e)
{
	indent(w);
	tok(w, MG_TOK_ERROR);
	eq(w);
	put_u32(w, e->code);
	puts_(w, w->compact ? "{" : " { ");
	if (e->text)
		quoted(w, e->text);
	puts_(w, w->compact ? "}" : " }");
}

static const enum mg_tok cmd_tok[] = {
	[MG_CMD_ADD] = MG_TOK_ADD, [MG_CMD_MODIFY] = MG_TOK_MODIFY,
	[MG_CMD_SUBTRACT] = MG_TOK_SUBTRACT, [MG_CMD_MOVE] = MG_TOK_MOVE,
	[MG_CMD_AUDITVALUE] = MG_TOK_AUDITVALUE,
	[MG_CMD_AUDITCAP] = MG_TOK_AUDITCAP, [MG_CMD_NOTIFY] = MG_TOK_NOTIFY,
	[MG_CMD_SERVICECHANGE] = MG_TOK_SERVICECHANGE,
};

static void command(struct wr *w, const struct mg_cmd *c)
{
	unsigned i;

	indent(w);
	if (c->optional)
		put(w, "O-", 2);
	if (c->wildcard)
		put(w, "W-", 2);
	tok(w, cmd_tok[c->type]);
	eq(w);
	if (c->ntids) {
		putc_(w, '[');
		for (i = 0; i < c->ntids; i++) {
			if (i)
				putc_(w, ',');
			puts_(w, c->tids[i]);
		}
		putc_(w, ']');
	} else {
		puts_(w, c->tid);
	}
	if (!c->desc && !c->err)
		return;
	open_(w);
	items(w, c->desc);
	if (c->err) {
		if (c->desc)
			sep(w);
		error_desc(w, c->err);
	}
	close_(w);
}

static void action(struct wr *w, const struct mg_action *a)
{
	const struct mg_cmd *c;

	indent(w);
	tok(w, MG_TOK_CTX);
	eq(w);
	ctx_id(w, a->ctx);
	if (!a->props && !a->cmds && !a->err && w->version >= 3)
		return;
	open_(w);
	items(w, a->props);
	for (c = a->cmds; c; c = c->next) {
		if (c != a->cmds || a->props)
			sep(w);
		command(w, c);
	}
	if (a->err) {
		if (a->props || a->cmds)
			sep(w);
		error_desc(w, a->err);
	}
	close_(w);
}

static void trans_id(struct wr *w, const struct mg_trans *t)
{
	put_u32(w, t->id);
	if (t->seg) {
		putc_(w, '/');
		put_u32(w, t->seg_no);
		if (t->seg_end) {
			putc_(w, '/');
			tok(w, MG_TOK_END);
		}
	}
}

static void transaction(struct wr *w, const struct mg_trans *t)
{
	const struct mg_action *a;
	unsigned i;

	switch (t->type) {
	case MG_TRANS_REQUEST:
	case MG_TRANS_REPLY:
		tok(w, t->type == MG_TRANS_REQUEST ? MG_TOK_TRANS :
		    MG_TOK_REPLY);
		eq(w);
		trans_id(w, t);
		open_(w);
		if (t->imm_ack) {
			indent(w);
			tok(w, MG_TOK_IMMACKREQUIRED);
			sep(w);
		}
		if (t->err)
			error_desc(w, t->err);
		for (a = t->actions; a; a = a->next) {
			action(w, a);
			if (a->next)
				sep(w);
		}
		close_(w);
		break;
	case MG_TRANS_PENDING:
		tok(w, MG_TOK_PENDING);
		eq(w);
		put_u32(w, t->id);
		puts_(w, w->compact ? "{}" : " { }");
		break;
	case MG_TRANS_ACK:
		tok(w, MG_TOK_RESPONSEACK);
		puts_(w, w->compact ? "{" : " { ");
		for (i = 0; i < t->nacks; i++) {
			if (i)
				puts_(w, w->compact ? "," : ", ");
			put_u32(w, t->acks[i].first);
			if (t->acks[i].last != t->acks[i].first) {
				putc_(w, '-');
				put_u32(w, t->acks[i].last);
			}
		}
		puts_(w, w->compact ? "}" : " }");
		break;
	case MG_TRANS_SEGREPLY:
		tok(w, MG_TOK_SEGMENT);
		eq(w);
		trans_id(w, t);
		break;
	}
}

/**
 * Encode msg as H.248.1 Annex B text into buf[0..size) (not
 * NUL-terminated); *lenp gets the length.  Returns 0, EINVAL, or
 * EOVERFLOW when size is too small (then *lenp is the size needed).
 */
int mg_text_encode_buf(char *buf, size_t size, size_t *lenp,
		       const struct mg_msg *msg, enum mg_text_style style)
{
	const struct mg_trans *t, *prev = NULL;
	struct wr w = {
		.buf = buf, .size = buf ? size : 0,
		.compact = style == MG_TEXT_COMPACT,
		.version = msg ? msg->version : 0,
	};

	if (!lenp || !msg || !msg->mid || msg->version < 1 ||
	    msg->version > 3 || (!msg->err && !msg->trans))
		return EINVAL;
	puts_(&w, w.compact ? "!/" : "MEGACO/");
	put_u32(&w, msg->version);
	putc_(&w, ' ');
	puts_(&w, msg->mid);
	putc_(&w, '\n');
	if (msg->err)
		error_desc(&w, msg->err);
	/* A Segment reply ends in a word, not '}': the next transaction
	 * needs a separator, or "SM=1/2T=3{..}" reads as segment "2T".
	 * No newline after the last: Erlang's parser takes a trailing SEP
	 * after "Segment = 1/2" for a syntax error. */
	for (t = msg->trans; t; t = t->next) {
		if (t != msg->trans &&
		    (!w.compact || prev->type == MG_TRANS_SEGREPLY))
			putc_(&w, '\n');
		transaction(&w, t);
		prev = t;
	}
	*lenp = w.len;
	return w.size || !w.len ? 0 : EOVERFLOW;
}

/**
 * Encode msg as text into a new refcounted NUL-terminated string in
 * *strp.  Returns 0, EINVAL or ENOMEM.
 */
int mg_text_encode(char **strp, const struct mg_msg *msg,
		   enum mg_text_style style)
{
	char tmp[2048];
	size_t len = 0;
	char *s;
	int err;

	if (!strp)
		return EINVAL;
	/* Sized to fit: a transaction layer keeps replies for LONG-TIMER
	 * (H.248.1 D.1.1), so the slack of a guessed size would stay. */
	err = mg_text_encode_buf(tmp, sizeof(tmp) - 1, &len, msg, style);
	if (err && err != EOVERFLOW)
		return err;
	s = gw_mem_alloc(len + 1, NULL);
	if (!s)
		return ENOMEM;
	if (!err)
		memcpy(s, tmp, len);
	else
		err = mg_text_encode_buf(s, len, &len, msg, style);
	if (err) {
		gw_mem_deref(s);
		return err;
	}
	s[len] = '\0';
	*strp = s;
	return 0;
}
