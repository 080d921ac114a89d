/* tests/integration/siptu.c - a test TU on sip/ for SIPp and TLS peers */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "sip.h"
#include "sdp.h"

/*
 * Stands where call control will stand: answers every INVITE with a
 * fixed SDP answer made by sip/sdp.c (PCMA/PCMU, 127.0.0.1:40000), or
 * rejects it, or rings for a while first; as a UAC it places calls.
 * One line per event on stdout, for the tests.
 *
 *   siptu -l udp:127.0.0.1:5070 [-l tcp:...] [-l tls:... -K dir]
 *         [-r 486] [-d ms] [-R]
 *         [-E] [-P] [-A user:password [-M] [-G db|-]] [-C user:password]
 *         [-c sip:uas@127.0.0.1:5080 [-n calls] [-H hold_ms] [-U]]
 *         [-g sip:127.0.0.1:5080 [-x expires]]
 *
 * -R rings (180) first, -E sends 183 with the SDP first (early media),
 * -P does 100rel (RFC 3262), -d delays the answer, -A requires digest
 * authentication (realm "siptu") with that one user (-M: challenge with
 * MD5 alone, as SIPp 3.6 answers only a first challenge in MD5), -C
 * answers 401/407 with those credentials.  -U: a call placed sends an
 * UPDATE with its offer again once answered.
 *
 * -K gives a tls: listener dir/cert.pem and dir/key.pem, and trusts
 * dir/cert.pem as the CA: peers' certificates must chain to it, the
 * server's when siptu calls a sips: URI, a client's when the client
 * presents one (none is required, RFC 3261 s.26.3.1).
 *
 * -G runs the registrar for the -A user, its bindings in the SQLite
 * file db ("-": in memory); at exit siptu prints "bindings N" and
 * one "binding AOR CONTACT" line per binding.  -g registers
 * sip:siptu@HOST (HOST: the registrar URI's) at that registrar, with
 * the -C credentials, for -x seconds (default 3600), printing
 * "reg STATE status=N" on each change; a SIGTERM then un-REGISTERs
 * before siptu leaves.
 */

static unsigned reject_status;
static unsigned answer_delay_ms;
static bool ring;
static bool early_media;
static struct sip_conf conf;
static struct sip_ua *ua;
static const char *call_uri;
static unsigned calls_left, hold_ms = 500, calls_done, calls_failed;
static bool update_answered;				/* -U */
static char auth_user[64], auth_pass[64];	/* -A */
static bool auth_md5;				/* -M */
static const char *registrar_db;		/* -G */
static const char *reg_uri;			/* -g */
static unsigned reg_expires;			/* -x */
static struct sip_reg *reg;
static bool stopping;
static char tls_cert[PATH_MAX], tls_key[PATH_MAX];	/* -K */

static const struct sip_sdp_codec codecs[] = {
	{ "PCMA", 8000, 1, 8, NULL },
	{ "PCMU", 8000, 1, 0, NULL },
};

struct call {
	struct sip_session *sess;
	struct gw_tmr tmr;
	char *answer;		/* our SDP: the answer, or a UAC's offer */
	bool uac;
};

static void caps_fill(struct sip_sdp_caps *caps)
{
	sip_sdp_caps_init(caps);
	caps->codecs = codecs;
	caps->n_codecs = GW_ARRAY_SIZE(codecs);
	caps->tel_event = true;
	caps->tel_event_pt = 101;
	caps->tel_events = "0-15";
	caps->addr4 = "127.0.0.1";
	caps->audio_port = 40000;
}

static void call_destroy(void *data)
{
	struct call *c = data;

	gw_tmr_cancel(&c->tmr);
	gw_mem_deref(c->answer);
}

static void next_call(void);

static void call_event(struct sip_session *sess,
		       const struct sip_session_event *ev, void *arg)
{
	struct call *c = arg;
	static const char *const names[] = {
		"progress", "answered", "modified", "dtmf", "transfer",
		"closed",
	};

	printf("event %s %s status=%u cause=%d media=%s%s\n",
	       sip_session_call_id(sess), names[ev->type], ev->status,
	       ev->reason.q850, ev->media ? ev->media->codec : "-",
	       ev->media && ev->media->hold ? " hold" : "");
	fflush(stdout);
	if (ev->type == SIP_SESS_TRANSFER) {
		/* No call control here: the transfer "succeeds" at once. */
		printf("transfer %s to=%s\n", sip_session_call_id(sess),
		       ev->refer_to);
		fflush(stdout);
		sip_session_refer_notify(sess, 200);
	}
	if (ev->type == SIP_SESS_CLOSED) {
		gw_mem_deref(c);
	}
}

static void answer_now(void *arg)
{
	struct call *c = arg;

	if (sip_session_answer(c->sess, c->answer))
		fprintf(stderr, "answer failed\n");
}

static void incoming(struct sip_session *sess, const struct sip_incoming *in,
		     void *arg)
{
	struct sip_sdp *offer = NULL, *ans = NULL;
	struct sip_sdp_caps caps;
	struct sip_sdp_neg neg;
	struct call *c;

	(void)arg;
	printf("incoming %s to=%s from=%s source=%s pai=%s privacy=%s%s%s%s "
	       "div=%s/%s/%u\n", in->call_id, in->request_uri_user,
	       in->from.user, in->source,
	       in->pai.asserted ? in->pai.user : "-",
	       in->from.privacy_id ? "id," : "",
	       in->from.privacy_header ? "header," : "",
	       in->from.privacy_user ? "user," : "",
	       in->from.privacy_none ? "none," : "",
	       in->redirect.user[0] ? in->redirect.user : "-",
	       in->redirect.reason[0] ? in->redirect.reason : "-",
	       in->redirect.counter);
	fflush(stdout);
	if (reject_status) {
		struct sip_reason r = { 17, -1 };

		sip_session_reject(sess, reject_status, &r, 0);
		return;
	}
	c = gw_mem_zalloc(sizeof(*c), call_destroy);
	if (!c) {
		sip_session_reject(sess, 500, NULL, 0);
		return;
	}
	gw_tmr_init(&c->tmr);
	c->sess = sess;
	caps_fill(&caps);
	if (in->offer && in->offer->sdp) {
		if (sip_sdp_parse(&offer, in->offer->sdp,
				  strlen(in->offer->sdp)) ||
		    sip_sdp_answer(&ans, offer, &caps, &neg)) {
			gw_mem_deref(offer);
			gw_mem_deref(c);
			sip_session_reject(sess, 488, NULL, 0);
			return;
		}
	} else if (sip_sdp_offer(&ans, &caps)) {
		gw_mem_deref(c);
		sip_session_reject(sess, 500, NULL, 0);
		return;
	}
	sip_sdp_encode(ans, &c->answer);
	gw_mem_deref(offer);
	gw_mem_deref(ans);
	sip_session_set_handler(sess, call_event, c);
	if (early_media)
		sip_session_progress(sess, 183, c->answer);
	else if (ring)
		sip_session_progress(sess, 180, NULL);
	if (answer_delay_ms)
		gw_tmr_start(&c->tmr, answer_delay_ms, answer_now, c);
	else
		answer_now(c);
}

static void hangup_tmr(void *arg)
{
	struct call *c = arg;

	sip_session_hangup(c->sess, 0, NULL);
	calls_done++;
	gw_mem_deref(c);
	next_call();
}

static void uac_event(struct sip_session *sess,
		      const struct sip_session_event *ev, void *arg)
{
	struct call *c = arg;

	printf("event %s %d status=%u\n", sip_session_call_id(sess),
	       (int)ev->type, ev->status);
	fflush(stdout);
	if (ev->type == SIP_SESS_ANSWERED) {
		if (update_answered && sip_session_update(sess, c->answer))
			printf("update refused\n");
		gw_tmr_start(&c->tmr, hold_ms, hangup_tmr, c);
	}
	if (ev->type == SIP_SESS_CLOSED) {
		calls_failed++;
		gw_mem_deref(c);
		next_call();
	}
}

static void next_call_tmr(void *arg)
{
	struct sip_call_params p;
	struct sip_sdp_caps caps;
	struct sip_sdp *offer = NULL;
	char *text = NULL;
	struct call *c;
	int err;

	(void)arg;
	memset(&p, 0, sizeof(p));
	caps_fill(&caps);
	sip_sdp_offer(&offer, &caps);
	sip_sdp_encode(offer, &text);
	gw_mem_deref(offer);
	p.uri = call_uri;
	snprintf(p.from.user, sizeof(p.from.user), "siptu");
	p.sdp = text;
	c = gw_mem_zalloc(sizeof(*c), call_destroy);
	gw_tmr_init(&c->tmr);
	c->uac = true;
	err = sip_session_connect(&c->sess, ua, &p, uac_event, c);
	c->answer = text;		/* our SDP, for -U */
	if (err) {
		fprintf(stderr, "connect: %s\n", strerror(err));
		calls_failed++;
		gw_mem_deref(c);
		gw_loop_stop();
	}
}

static struct gw_tmr call_tmr;

static void stop_tmr(void *arg)
{
	(void)arg;
	gw_loop_stop();
}

static void next_call(void)
{
	if (!call_uri)
		return;
	if (!calls_left) {
		printf("calls done=%u failed=%u\n", calls_done, calls_failed);
		fflush(stdout);
		/* Let the last BYE's 200 come back before leaving. */
		gw_tmr_start(&call_tmr, 300, stop_tmr, NULL);
		return;
	}
	calls_left--;
	gw_tmr_start(&call_tmr, 10, next_call_tmr, NULL);
}

static int auth_lookup(struct sip_auth_secret *sec, const char *user,
		       const char *realm, enum sip_auth_alg alg, void *arg)
{
	(void)realm;
	(void)alg;
	(void)arg;
	if (strcmp(user, auth_user))
		return ENOENT;
	sec->password = auth_pass;
	return 0;
}

/* "user:password" into user and pass. */
static int split_cred(const char *arg, char *user, char *pass, size_t size)
{
	const char *colon = strchr(arg, ':');

	if (!colon || (size_t)(colon - arg) >= size ||
	    strlen(colon + 1) >= size)
		return EINVAL;
	snprintf(user, size, "%.*s", (int)(colon - arg), arg);
	snprintf(pass, size, "%s", colon + 1);
	return 0;
}

static void reg_event(struct sip_reg *r, const struct sip_reg_info *info,
		      void *arg)
{
	(void)r;
	(void)arg;
	printf("reg %s status=%u\n", sip_reg_state_name(info->state),
	       info->last_status);
	fflush(stdout);
	if (info->state == SIP_REG_STOPPED) {
		reg = NULL;
		if (stopping)
			gw_loop_stop();
	}
}

static int start_reg(const char *cuser, const char *cpass)
{
	struct sip_reg_conf rc;
	char aor[128];
	const char *host = strchr(reg_uri, ':');

	snprintf(aor, sizeof(aor), "sip:siptu@%.*s", host ?
		 (int)strcspn(host + 1, ":;>") : 0, host ? host + 1 : "");
	memset(&rc, 0, sizeof(rc));
	rc.registrar = reg_uri;
	rc.aor = aor;
	rc.auth_user = cuser[0] ? cuser : NULL;
	rc.auth_password = cpass[0] ? cpass : NULL;
	rc.expires_s = reg_expires;
	rc.retry_min_s = 1;
	rc.retry_max_s = 4;
	return sip_reg_add(&reg, ua, &rc, reg_event, NULL);
}

static void print_bindings(void)
{
	json_t *j = sip_registrar_json(ua), *b;
	size_t i;

	if (!json_is_object(j)) {
		json_decref(j);
		return;
	}
	printf("bindings %zu\n", json_array_size(json_object_get(j,
							     "bindings")));
	json_array_foreach(json_object_get(j, "bindings"), i, b)
		printf("binding %s %s q=%.3f\n",
		       json_string_value(json_object_get(b, "aor")),
		       json_string_value(json_object_get(b, "contact")),
		       json_real_value(json_object_get(b, "q")));
	fflush(stdout);
	json_decref(j);
}

static void on_signal(int sig, void *arg)
{
	(void)sig;
	(void)arg;
	/* Un-REGISTER first, and leave once it is answered. */
	if (reg && !stopping && !sip_reg_remove(reg)) {
		stopping = true;
		return;
	}
	gw_loop_stop();
}

static int add_listener(const char *spec)
{
	struct sip_listener_conf lc;
	char buf[128], *addr, *port;

	memset(&lc, 0, sizeof(lc));
	snprintf(buf, sizeof(buf), "%s", spec);
	if (!strncmp(buf, "udp:", 4))
		lc.transport = SIP_UDP;
	else if (!strncmp(buf, "tcp:", 4))
		lc.transport = SIP_TCP;
	else if (!strncmp(buf, "tls:", 4)) {
		if (!tls_cert[0]) {
			fprintf(stderr, "siptu: %s needs -K dir\n", spec);
			return EINVAL;
		}
		lc.transport = SIP_TLS;
		lc.cert = tls_cert;
		lc.key = tls_key;
		lc.ca = tls_cert;
		lc.verify = true;
	} else
		return EINVAL;
	addr = buf + 4;
	port = strrchr(addr, ':');
	if (!port)
		return EINVAL;
	*port++ = '\0';
	lc.addr = addr;
	lc.port = (unsigned)atoi(port);
	return sip_ua_listen(ua, &lc);
}

int main(int argc, char **argv)
{
	const char *lspecs[8];
	static char cuser[64], cpass[64];
	unsigned nl = 0, i;
	int opt, err;

	while ((opt = getopt(argc, argv,
				   "l:r:d:REPA:MG:C:c:n:H:Ug:x:K:v")) != -1) {
		switch (opt) {
		case 'l':
			if (nl < GW_ARRAY_SIZE(lspecs))
				lspecs[nl++] = optarg;
			break;
		case 'r': reject_status = (unsigned)atoi(optarg); break;
		case 'd': answer_delay_ms = (unsigned)atoi(optarg); break;
		case 'R': ring = true; break;
		case 'E': early_media = true; break;
		case 'P': conf.prack = true; break;
		case 'A':
			if (split_cred(optarg, auth_user, auth_pass,
				       sizeof(auth_user)))
				return 2;
			break;
		case 'M': auth_md5 = true; break;
		case 'G': registrar_db = optarg; break;
		case 'g': reg_uri = optarg; break;
		case 'x': reg_expires = (unsigned)atoi(optarg); break;
		case 'C':
			if (split_cred(optarg, cuser, cpass, sizeof(cuser)))
				return 2;
			conf.auth_user = cuser;
			conf.auth_password = cpass;
			break;
		case 'c': call_uri = optarg; break;
		case 'n': calls_left = (unsigned)atoi(optarg); break;
		case 'H': hold_ms = (unsigned)atoi(optarg); break;
		case 'U': update_answered = true; break;
		case 'K':
			if ((size_t)snprintf(tls_cert, sizeof(tls_cert),
					     "%s/cert.pem", optarg) >=
			    sizeof(tls_cert) ||
			    (size_t)snprintf(tls_key, sizeof(tls_key),
					     "%s/key.pem", optarg) >=
			    sizeof(tls_key))
				return 2;
			break;
		case 'v': gw_log_set_levels("debug"); break;
		default:
			fprintf(stderr, "usage: siptu -l udp:ADDR:PORT ...\n");
			return 2;
		}
	}
	gw_log_open("siptu", true);
	if (gw_loop_init() || gw_loop_signals(on_signal, NULL))
		return 1;
	err = sip_ua_alloc(&ua, &conf, incoming, NULL);
	for (i = 0; !err && i < nl; i++)
		err = add_listener(lspecs[i]);
	if (!err && auth_user[0]) {
		struct sip_auth_conf ac = { .realm = "siptu",
					    .lookuph = auth_lookup };

		if (auth_md5)
			ac.algs = SIP_AUTH_ALG_BIT(SIP_AUTH_MD5);

		err = sip_ua_set_auth(ua, &ac);
	}
	if (!err && registrar_db) {
		struct sip_registrar_conf rc = { .db_path = registrar_db };

		if (!strcmp(registrar_db, "-"))
			rc.db_path = NULL;
		err = sip_registrar_open(ua, &rc);
	}
	if (!err && reg_uri)
		err = start_reg(cuser, cpass);
	if (err) {
		fprintf(stderr, "siptu: %s\n", strerror(err));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	gw_tmr_init(&call_tmr);
	if (call_uri) {
		if (!calls_left)
			calls_left = 1;
		next_call();
	}
	gw_loop_run();
	gw_tmr_cancel(&call_tmr);
	print_bindings();
	ua = gw_mem_deref(ua);
	printf("exit live=%zu\n", gw_mem_live());
	fflush(stdout);
	gw_loop_close();
	gw_log_close();
	return call_uri && calls_failed ? 1 : 0;
}
