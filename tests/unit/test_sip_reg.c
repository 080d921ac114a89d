/* tests/unit/test_sip_reg.c - registrar, location service, REGISTER client */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include "unit.h"
#include "sip/sip_int.h"

/*
 * RFC 3261 s.10 both ways.  The registrar is driven from a raw UDP
 * socket (its source in the auth ACL, so the messages stay readable)
 * for the s.10.3 rules: several contacts and q, Contact: * , 423,
 * Call-ID/CSeq ordering, unknown users, expiry and the purge, the
 * SQLite store across a close.  Two user agents on one loop for the
 * client: register, refresh, digest challenge, 403 and the back-off,
 * 423 and Min-Expires, un-REGISTER.  Every test is leak-checked.
 */

#define PORT_A 25710
#define PORT_B 25720
#define PORT_RAW 25730

static int setup(void **state)
{
	assert_int_equal(gw_loop_init(), 0);
	return unit_leak_setup(state);
}

static int teardown(void **state)
{
	int r = unit_leak_teardown(state);

	gw_loop_close();
	return r;
}

static int lookup_users(struct sip_auth_secret *sec, const char *user,
			const char *realm, enum sip_auth_alg alg, void *arg)
{
	(void)realm;
	(void)alg;
	(void)arg;
	if (!strcmp(user, "alice"))
		sec->password = "secret";
	else if (!strcmp(user, "bob"))
		sec->password = "builder";
	else
		return ENOENT;
	return 0;
}

static struct sip_ua *ua_new(unsigned port)
{
	struct sip_listener_conf lc = {0};
	struct sip_ua *ua = NULL;

	assert_int_equal(sip_ua_alloc(&ua, NULL, NULL, NULL), 0);
	lc.addr = "127.0.0.1";
	lc.port = port;
	lc.transport = SIP_UDP;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	lc.transport = SIP_TCP;
	assert_int_equal(sip_ua_listen(ua, &lc), 0);
	return ua;
}

/* A registrar UA: users alice and bob, acl (may be NULL) trusted. */
static struct sip_ua *registrar_new(unsigned port, const char *acl,
				    const struct sip_registrar_conf *rc)
{
	struct sip_ua *ua = ua_new(port);
	struct sip_auth_conf ac = { .realm = "test", .lookuph = lookup_users,
				    .acl = &acl, .n_acl = acl ? 1 : 0 };
	struct sip_registrar_conf def = { .min_expires_s = 1 };

	assert_int_equal(sip_ua_set_auth(ua, &ac), 0);
	assert_int_equal(sip_registrar_open(ua, rc ? rc : &def), 0);
	return ua;
}

/* ---- a raw UDP client ------------------------------------------------ */

struct raw {
	int fd;
	char buf[8192];
	size_t len;
	unsigned seq;
};

static void raw_readable(int flags, void *arg)
{
	struct raw *r = arg;
	ssize_t n;

	(void)flags;
	n = recv(r->fd, r->buf, sizeof(r->buf) - 1, 0);
	if (n > 0) {
		r->len = (size_t)n;
		r->buf[n] = '\0';
		/* A provisional would not come for REGISTER; stop. */
		gw_loop_stop();
	}
}

static void raw_open(struct raw *r)
{
	struct sockaddr_in a;
	int one = 1;

	memset(r, 0, sizeof(*r));
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(r->fd >= 0);
	setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(PORT_RAW);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	a.sin_port = htons(PORT_B);
	assert_int_equal(connect(r->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(gw_fd_listen(r->fd, GW_FD_READ, raw_readable, r), 0);
}

static void raw_close(struct raw *r)
{
	gw_fd_close(r->fd);
}

/* Send a REGISTER for user with hdrs (Contact, Expires lines) and
 * return the status of its answer. */
static unsigned raw_register(struct raw *r, const char *user,
			     const char *call_id, unsigned cseq,
			     const char *hdrs)
{
	char msg[2048];
	int i, n;

	r->seq++;
	n = snprintf(msg, sizeof(msg),
		"REGISTER sip:127.0.0.1:%u SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKraw%u;rport\r\n"
		"From: <sip:%s@127.0.0.1>;tag=r%u\r\n"
		"To: <sip:%s@127.0.0.1>\r\n"
		"Call-ID: %s\r\nCSeq: %u REGISTER\r\nMax-Forwards: 70\r\n"
		"%sContent-Length: 0\r\n\r\n", PORT_B, PORT_RAW, r->seq,
		user, r->seq, user, call_id, cseq, hdrs);
	r->len = 0;
	assert_int_equal(send(r->fd, msg, (size_t)n, 0), n);
	for (i = 0; i < 20 && !r->len; i++)
		gw_loop_run_timeout(100);
	assert_true(r->len > 12);
	return (unsigned)atoi(r->buf + 8);
}

static unsigned count(const char *s, const char *what)
{
	unsigned n = 0;

	while ((s = strstr(s, what))) {
		n++;
		s++;
	}
	return n;
}

static size_t lookup_n(struct sip_ua *ua, const char *user,
		       struct sip_contact **listp)
{
	struct sip_contact *list = NULL;
	size_t n = 0;
	int err = sip_registrar_lookup(ua, user, &list, &n);

	if (err == ENOENT)
		return 0;
	assert_int_equal(err, 0);
	if (listp)
		*listp = list;
	else
		gw_mem_deref(list);
	return n;
}

/* ---- the registrar (s.10.3) ----------------------------------------- */

static void test_registrar_contacts(void **state)
{
	struct sip_ua *ua = registrar_new(PORT_B, "127.0.0.1", NULL);
	struct sip_contact *list = NULL;
	struct raw r;
	json_t *j;

	(void)state;
	raw_open(&r);
	/* A query with no binding: 200, no Contact (s.10.3 step 8). */
	assert_int_equal(raw_register(&r, "alice", "c1", 1, ""), 200);
	assert_int_equal(count(r.buf, "Contact"), 0);
	assert_non_null(strstr(r.buf, "Date: "));
	/* Two contacts with q, the Expires header for one of them. */
	assert_int_equal(raw_register(&r, "alice", "c1", 2,
		"Contact: <sip:alice@192.0.2.1:5060>;q=0.5\r\n"
		"Contact: <sip:alice@192.0.2.2:5060>;q=0.9;expires=100\r\n"
		"Expires: 300\r\n"), 200);
	assert_int_equal(count(r.buf, "Contact: "), 2);
	assert_non_null(strstr(r.buf, "expires=300"));
	assert_non_null(strstr(r.buf, "expires=100"));
	/* A third, without q (1.0): first in a lookup. */
	assert_int_equal(raw_register(&r, "alice", "c2", 1,
		"Contact: <sip:alice@192.0.2.3:5070;transport=tcp>\r\n"),
		200);
	assert_int_equal(count(r.buf, "Contact: "), 3);
	assert_int_equal(lookup_n(ua, "alice", &list), 3);
	assert_string_equal(list[0].uri,
			    "sip:alice@192.0.2.3:5070;transport=tcp");
	assert_int_equal(list[0].q, 1000);
	assert_string_equal(list[1].uri, "sip:alice@192.0.2.2:5060");
	assert_int_equal(list[1].q, 900);
	assert_string_equal(list[2].uri, "sip:alice@192.0.2.1:5060");
	assert_int_equal(list[2].q, 500);
	assert_non_null(strstr(list[0].source, "127.0.0.1:25730"));
	gw_mem_deref(list);
	/* The same URI again: one binding, updated; a port given in one
	 * only makes another binding (s.19.1.4). */
	assert_int_equal(raw_register(&r, "alice", "c1", 3,
		"Contact: <sip:alice@192.0.2.1:5060>;q=0.1;expires=50\r\n"),
		200);
	assert_int_equal(lookup_n(ua, "alice", NULL), 3);
	assert_int_equal(raw_register(&r, "alice", "c1", 4,
		"Contact: <sip:alice@192.0.2.1>;expires=50\r\n"), 200);
	assert_int_equal(lookup_n(ua, "alice", NULL), 4);
	/* s.10.3 step 7: a CSeq not above the binding's (3) from the same
	 * Call-ID fails (500) and changes nothing; another Call-ID may. */
	assert_int_equal(raw_register(&r, "alice", "c1", 3,
		"Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n"), 500);
	assert_int_equal(lookup_n(ua, "alice", NULL), 4);
	assert_int_equal(raw_register(&r, "alice", "c9", 1,
		"Contact: <sip:alice@192.0.2.1:5060>;expires=0\r\n"), 200);
	assert_int_equal(lookup_n(ua, "alice", NULL), 3);
	/* 423 with Min-Expires below our minimum (s.10.3 step 7). */
	{
		struct sip_registrar_conf rc = { .min_expires_s = 60 };

		assert_int_equal(sip_registrar_open(ua, &rc), 0);
		assert_int_equal(raw_register(&r, "alice", "c3", 1,
			"Contact: <sip:alice@192.0.2.9>\r\nExpires: 30\r\n"),
			423);
		assert_non_null(strstr(r.buf, "Min-Expires: 60"));
		/* Memory only: the new registrar started empty. */
		assert_int_equal(lookup_n(ua, "alice", NULL), 0);
	}
	/* Malformed: a bad q, a bad Expires, * with others. */
	assert_int_equal(raw_register(&r, "alice", "c4", 1,
		"Contact: <sip:alice@192.0.2.9>;q=2\r\n"), 400);
	assert_int_equal(raw_register(&r, "alice", "c4", 2,
		"Contact: <sip:alice@192.0.2.9>\r\nExpires: soon\r\n"), 400);
	assert_int_equal(raw_register(&r, "alice", "c4", 3,
		"Contact: *\r\nContact: <sip:alice@192.0.2.9>\r\n"
		"Expires: 0\r\n"), 400);
	assert_int_equal(raw_register(&r, "alice", "c4", 4,
		"Contact: *\r\nExpires: 10\r\n"), 400);
	/* An unknown user from a trusted source: 404 (s.10.3 step 5). */
	assert_int_equal(raw_register(&r, "mallory", "c5", 1,
		"Contact: <sip:m@192.0.2.66>\r\n"), 404);
	/* A long interval is shortened to the maximum. */
	assert_int_equal(raw_register(&r, "bob", "c6", 1,
		"Contact: <sip:bob@192.0.2.7>\r\nExpires: 999999\r\n"), 200);
	assert_non_null(strstr(r.buf, "expires=7200"));
	j = sip_ua_json(ua);
	assert_int_equal(json_array_size(json_object_get(json_object_get(
		j, "registrar"), "bindings")), 1);
	json_decref(j);
	raw_close(&r);
	gw_mem_deref(ua);
}

static void test_registrar_star_and_max(void **state)
{
	struct sip_registrar_conf rc = { .min_expires_s = 1,
					 .max_contacts = 2 };
	struct sip_ua *ua = registrar_new(PORT_B, "127.0.0.1", &rc);
	struct raw r;

	(void)state;
	raw_open(&r);
	assert_int_equal(raw_register(&r, "bob", "s1", 1,
		"Contact: <sip:bob@192.0.2.1>, <sip:bob@192.0.2.2>\r\n"), 200);
	assert_int_equal(lookup_n(ua, "bob", NULL), 2);
	/* A third is refused; the request changes nothing. */
	assert_int_equal(raw_register(&r, "bob", "s1", 2,
		"Contact: <sip:bob@192.0.2.3>\r\n"), 403);
	assert_int_equal(lookup_n(ua, "bob", NULL), 2);
	/* Replacing one by another in one request is fine. */
	assert_int_equal(raw_register(&r, "bob", "s1", 3,
		"Contact: <sip:bob@192.0.2.1>;expires=0\r\n"
		"Contact: <sip:bob@192.0.2.3>\r\n"), 200);
	assert_int_equal(lookup_n(ua, "bob", NULL), 2);
	/* Contact: * with a CSeq not above a binding's of the same
	 * Call-ID fails as a whole (s.10.3 step 6/7). */
	assert_int_equal(raw_register(&r, "bob", "s1", 3,
		"Contact: *\r\nExpires: 0\r\n"), 500);
	assert_int_equal(lookup_n(ua, "bob", NULL), 2);
	assert_int_equal(raw_register(&r, "bob", "s1", 4,
		"Contact: *\r\nExpires: 0\r\n"), 200);
	assert_int_equal(count(r.buf, "Contact"), 0);
	assert_int_equal(lookup_n(ua, "bob", NULL), 0);
	raw_close(&r);
	gw_mem_deref(ua);
}

static unsigned db_rows(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned n = 0;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM "
					    "location", -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (unsigned)sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void test_registrar_store(void **state)
{
	char dir[] = "/tmp/test_sip_reg.XXXXXX", path[64], cmd[96];
	struct sip_registrar_conf rc = { .min_expires_s = 1,
					 .purge_interval_s = 1 };
	struct sip_contact *list = NULL;
	struct sip_ua *ua;
	struct raw r;
	json_t *j;
	int i;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/location.sqlite", dir);
	rc.db_path = path;
	ua = registrar_new(PORT_B, "127.0.0.1", &rc);
	raw_open(&r);
	assert_int_equal(raw_register(&r, "alice", "p1", 1,
		"Contact: <sip:alice@192.0.2.1>;q=0.7\r\n"
		"Contact: <sip:alice@192.0.2.2>;expires=1\r\n"
		"Expires: 600\r\n"), 200);
	assert_int_equal(raw_register(&r, "bob", "p2", 1,
		"Contact: <sip:bob@192.0.2.5>\r\n"), 200);
	assert_int_equal(db_rows(path), 3);
	/* Close the store, open it again: the bindings are back. */
	sip_registrar_close(ua);
	assert_int_equal(sip_registrar_lookup(ua, "alice", &list,
					      &(size_t){0}), EINVAL);
	assert_int_equal(raw_register(&r, "alice", "p1", 2, ""), 405);
	assert_int_equal(sip_registrar_open(ua, &rc), 0);
	assert_int_equal(lookup_n(ua, "alice", &list), 2);
	assert_string_equal(list[0].uri, "sip:alice@192.0.2.2");
	assert_int_equal(list[1].q, 700);
	gw_mem_deref(list);
	/* The CSeq came back too: an old one is refused. */
	assert_int_equal(raw_register(&r, "alice", "p1", 1,
		"Contact: <sip:alice@192.0.2.1>\r\n"), 500);
	/* The 1 s binding expires: gone from lookups at once, and from
	 * the store at the next purge. */
	for (i = 0; i < 25 && lookup_n(ua, "alice", NULL) != 1; i++)
		gw_loop_run_timeout(100);
	assert_int_equal(lookup_n(ua, "alice", NULL), 1);
	for (i = 0; i < 25 && db_rows(path) != 2; i++)
		gw_loop_run_timeout(100);
	assert_int_equal(db_rows(path), 2);
	j = sip_registrar_json(ua);
	assert_int_equal(json_array_size(json_object_get(j, "bindings")), 2);
	assert_string_equal(json_string_value(json_object_get(j, "db")),
			    path);
	json_decref(j);
	/* A whole UA restart over the same file. */
	raw_close(&r);
	gw_mem_deref(ua);
	ua = registrar_new(PORT_B, "127.0.0.1", &rc);
	assert_int_equal(lookup_n(ua, "bob", NULL), 1);
	assert_int_equal(lookup_n(ua, "alice", NULL), 1);
	gw_mem_deref(ua);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_registrar_off(void **state)
{
	struct sip_ua *ua = ua_new(PORT_B);
	struct raw r;

	(void)state;
	raw_open(&r);
	assert_int_equal(raw_register(&r, "alice", "o1", 1,
		"Contact: <sip:alice@192.0.2.1>\r\n"), 405);
	assert_int_equal(sip_registrar_lookup(ua, "alice", &(struct
		sip_contact *){NULL}, &(size_t){0}), EINVAL);
	raw_close(&r);
	gw_mem_deref(ua);
}

/* ---- the client (s.10.2) against our registrar ----------------------- */

struct watch {
	unsigned registered, failed, stopped, registering, unregistering;
	unsigned last_status;
	struct sip_reg_info info;
};

static void reg_event(struct sip_reg *reg, const struct sip_reg_info *info,
		      void *arg)
{
	struct watch *w = arg;

	(void)reg;
	w->info = *info;
	switch (info->state) {
	case SIP_REG_REGISTERING: w->registering++; break;
	case SIP_REG_REGISTERED: w->registered++; break;
	case SIP_REG_FAILED: w->failed++; break;
	case SIP_REG_UNREGISTERING: w->unregistering++; break;
	case SIP_REG_STOPPED: w->stopped++; break;
	}
	w->last_status = info->last_status;
	gw_loop_stop();
}

static void run_until(unsigned *counter, unsigned want)
{
	int i;

	for (i = 0; i < 50 && *counter < want; i++)
		gw_loop_run_timeout(200);
	assert_int_equal(*counter, want);
}

static json_t *reg_json0(struct sip_ua *ua)
{
	json_t *j = sip_reg_json(ua);

	assert_int_equal(json_array_size(j), 1);
	json_incref(json_array_get(j, 0));
	{
		json_t *o = json_array_get(j, 0);

		json_decref(j);
		return o;
	}
}

static void test_client_register_refresh_remove(void **state)
{
	struct sip_ua *ua_b = registrar_new(PORT_B, NULL, NULL);
	struct sip_ua *ua_a = ua_new(PORT_A);
	struct sip_reg_conf rc = {
		.name = "test", .registrar = "sip:127.0.0.1:25720",
		.aor = "sip:alice@127.0.0.1", .auth_password = "secret",
		.expires_s = 2,
	};
	struct sip_contact *list = NULL;
	struct sip_reg *reg = NULL;
	struct watch w = {0};
	json_t *o, *b;
	json_int_t cseq1;

	(void)state;
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), 0);
	run_until(&w.registered, 1);
	assert_int_equal(w.last_status, 200);
	assert_true(w.info.expires > 0);
	assert_int_equal(lookup_n(ua_b, "alice", &list), 1);
	assert_string_equal(list[0].uri, "sip:alice@127.0.0.1:25710");
	gw_mem_deref(list);
	o = reg_json0(ua_a);
	assert_string_equal(json_string_value(json_object_get(o, "state")),
			    "registered");
	json_decref(o);
	{
		json_t *j = sip_registrar_json(ua_b);

		b = json_array_get(json_object_get(j, "bindings"), 0);
		cseq1 = json_integer_value(json_object_get(b, "cseq"));
		json_decref(j);
	}
	/* Refreshed half-way through the 2 s: same Call-ID, higher CSeq
	 * (s.10.2.4), the one binding kept. */
	run_until(&w.registered, 2);
	assert_int_equal(w.failed, 0);
	{
		json_t *j = sip_registrar_json(ua_b);

		assert_int_equal(json_array_size(json_object_get(j,
							 "bindings")), 1);
		b = json_array_get(json_object_get(j, "bindings"), 0);
		assert_true(json_integer_value(json_object_get(b, "cseq")) >
			    cseq1);
		json_decref(j);
	}
	/* Un-REGISTER: the binding goes (s.10.2.2). */
	assert_int_equal(sip_reg_remove(reg), 0);
	run_until(&w.stopped, 1);
	assert_int_equal(w.unregistering, 1);
	assert_int_equal(w.last_status, 200);
	assert_int_equal(lookup_n(ua_b, "alice", NULL), 0);
	{
		json_t *j = sip_reg_json(ua_a);

		assert_int_equal(json_array_size(j), 0);
		json_decref(j);
	}
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_client_failures(void **state)
{
	struct sip_ua *ua_b = registrar_new(PORT_B, NULL, NULL);
	struct sip_ua *ua_a = ua_new(PORT_A);
	struct sip_reg_conf rc = {
		.registrar = "sip:127.0.0.1:25720",
		.aor = "sip:alice@127.0.0.1", .auth_password = "wrong",
		.expires_s = 60, .retry_min_s = 1, .retry_max_s = 2,
	};
	struct sip_reg *reg = NULL;
	struct watch w = {0};
	json_t *o;

	(void)state;
	/* A wrong password: 403, FAILED with a retry time; then again
	 * after the back-off (1 s, then 2 s, capped). */
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), 0);
	run_until(&w.failed, 1);
	assert_int_equal(w.last_status, 403);
	assert_true(w.info.retry_at > 0);
	o = reg_json0(ua_a);
	assert_string_equal(json_string_value(json_object_get(o, "state")),
			    "failed");
	assert_int_equal(json_integer_value(json_object_get(o,
							    "last_status")),
			 403);
	assert_true(json_integer_value(json_object_get(o, "retry_in")) <= 1);
	json_decref(o);
	run_until(&w.failed, 2);
	o = reg_json0(ua_a);
	assert_int_equal(json_integer_value(json_object_get(o, "failures")),
			 2);
	assert_true(json_integer_value(json_object_get(o, "retry_in")) == 2);
	json_decref(o);
	/* Nothing bound: removing stops at once. */
	assert_int_equal(sip_reg_remove(reg), 0);
	assert_int_equal(w.stopped, 1);
	assert_int_equal(w.unregistering, 0);

	/* Alice's credentials for bob's AOR: 403 (s.10.3 step 4). */
	memset(&w, 0, sizeof(w));
	rc.aor = "sip:bob@127.0.0.1";
	rc.auth_user = "alice";
	rc.auth_password = "secret";
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), 0);
	run_until(&w.failed, 1);
	assert_int_equal(w.last_status, 403);
	assert_int_equal(lookup_n(ua_b, "bob", NULL), 0);
	assert_int_equal(sip_reg_remove(reg), 0);

	/* No credentials at all: the 401 is the failure. */
	memset(&w, 0, sizeof(w));
	rc.aor = "sip:alice@127.0.0.1";
	rc.auth_user = NULL;
	rc.auth_password = NULL;
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), 0);
	run_until(&w.failed, 1);
	assert_int_equal(w.last_status, 401);
	assert_int_equal(sip_reg_remove(reg), 0);

	/* A host name needs DNS; a bad AOR is refused. */
	rc.registrar = "sip:registrar.example.com";
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w),
			 ENOTSUP);
	rc.registrar = "sip:127.0.0.1:25720";
	rc.aor = "sip:127.0.0.1";
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), EINVAL);
	gw_mem_deref(ua_a);
	gw_mem_deref(ua_b);
}

static void test_client_423_tcp_shutdown(void **state)
{
	struct sip_registrar_conf brc = { .min_expires_s = 120 };
	struct sip_ua *ua_b = registrar_new(PORT_B, NULL, &brc);
	struct sip_ua *ua_a = ua_new(PORT_A);
	struct sip_reg_conf rc = {
		.registrar = "sip:127.0.0.1:25720;transport=tcp",
		.aor = "sip:bob@127.0.0.1", .auth_password = "builder",
		.expires_s = 60,
	};
	struct sip_contact *list = NULL;
	struct sip_reg *reg = NULL;
	struct watch w = {0};

	(void)state;
	/* 423 Min-Expires: 120, asked again for 120 (s.10.2.8), over
	 * TCP. */
	assert_int_equal(sip_reg_add(&reg, ua_a, &rc, reg_event, &w), 0);
	run_until(&w.registered, 1);
	assert_int_equal(lookup_n(ua_b, "bob", &list), 1);
	assert_string_equal(list[0].uri,
			    "sip:bob@127.0.0.1:25710;transport=tcp");
	assert_true(list[0].expires - w.info.expires <= 1);
	gw_mem_deref(list);
	{
		json_t *o = reg_json0(ua_a);

		assert_int_equal(json_integer_value(json_object_get(
			o, "expires_in")), 120);
		json_decref(o);
	}
	/* Shutting the UA down un-REGISTERs without waiting. */
	gw_mem_deref(ua_a);
	for (int i = 0; i < 10 && lookup_n(ua_b, "bob", NULL); i++)
		gw_loop_run_timeout(50);
	assert_int_equal(lookup_n(ua_b, "bob", NULL), 0);
	gw_mem_deref(ua_b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registrar_contacts,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registrar_star_and_max,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_registrar_store, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_registrar_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_client_register_refresh_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_failures, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_client_423_tcp_shutdown,
						setup, teardown),
	};

	gw_log_set_levels("warn");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
