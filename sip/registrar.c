/* sip/registrar.c - registrar and location service (RFC 3261 s.10.3) */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#define GW_LOG_MOD "sip"
#include "sip_int.h"

/*
 * The location service maps an address-of-record (the user part of the
 * To URI: one AOR per configured user) to its bindings: Contact URI,
 * absolute expiry (wall clock, so it survives a restart), q-value, and
 * the Call-ID and CSeq of the REGISTER that last wrote it (s.10.3 step
 * 7 orders updates by them).
 *
 * The bindings live in memory, where lookups and the registrar's checks
 * read them, and in SQLite, written before the 200 goes out: s.10.3
 * step 7 asks that a REGISTER's changes become visible all together or
 * not at all, with a 500 when the store fails, so the store is written
 * in one transaction first and memory is changed only after its COMMIT.
 * Unlike the CDR writer, this runs on the main loop: the answer depends
 * on the commit.  The database is in WAL mode with synchronous=NORMAL,
 * so a commit appends to the WAL without an fsync (tens of
 * microseconds); a process crash loses no committed binding, a power
 * loss may lose the last ones, and clients register again anyway.
 *
 * Expired bindings are never returned; a timer deletes them from memory
 * and from the store, and every REGISTER first drops those of its AOR.
 */

#define REG_SCHEMA_VERSION	1
#define REG_MAX_OPS		32	/* Contacts in one REGISTER */
#define REG_ONE_HOUR_S		3600	/* s.10.3 step 7: 423 below */

struct binding {
	struct binding *next;
	int64_t id;			/* rowid in the store; 0: none */
	char *aor;
	char *uri;
	unsigned q;			/* x 1000 */
	int64_t expires_ms;		/* wall clock */
	char *call_id;
	uint32_t cseq;
	char *source;
	int64_t updated_ms;		/* wall clock */
};

struct sip_registrar {
	struct sip_ua *ua;		/* borrowed */
	char *db_path;
	char *domain;
	unsigned min_exp, max_exp, def_exp, max_contacts, purge_s;
	sqlite3 *db;
	sqlite3_stmt *ins, *upd, *del;
	struct binding *bindings;	/* the list's references */
	struct gw_tmr tmr;
	struct {
		uint64_t requests, updated, refused, db_errors;
	} stats;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS location ("
	" id INTEGER PRIMARY KEY,"
	" aor TEXT NOT NULL,"
	" uri TEXT NOT NULL,"
	" q INTEGER NOT NULL,"
	" expires_ms INTEGER NOT NULL,"
	" call_id TEXT NOT NULL,"
	" cseq INTEGER NOT NULL,"
	" source TEXT,"
	" updated_ms INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS location_aor ON location(aor);";

static const char ins_sql[] =
	"INSERT INTO location (aor, uri, q, expires_ms, call_id, cseq,"
	" source, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
static const char upd_sql[] =
	"UPDATE location SET uri=?2, q=?3, expires_ms=?4, call_id=?5,"
	" cseq=?6, source=?7, updated_ms=?8 WHERE id=?1";
static const char del_sql[] = "DELETE FROM location WHERE id=?";

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Bindings in memory                                                 */
/* ------------------------------------------------------------------ */

static void binding_destroy(void *data)
{
	struct binding *b = data;

	gw_mem_deref(b->aor);
	gw_mem_deref(b->uri);
	gw_mem_deref(b->call_id);
	gw_mem_deref(b->source);
}

static struct binding *binding_new(const char *aor, const char *uri,
				   const char *call_id, const char *source)
{
	struct binding *b = gw_mem_zalloc(sizeof(*b), binding_destroy);

	if (!b)
		return NULL;
	b->aor = gw_mem_strdup(aor);
	b->uri = gw_mem_strdup(uri);
	b->call_id = gw_mem_strdup(call_id);
	b->source = gw_mem_strdup(source ? source : "");
	if (!b->aor || !b->uri || !b->call_id || !b->source)
		return gw_mem_deref(b);
	return b;
}

static void binding_unlink(struct sip_registrar *r, struct binding *b)
{
	struct binding **pp;

	for (pp = &r->bindings; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			b->next = NULL;
			gw_mem_deref(b);
			return;
		}
}

static bool live(const struct binding *b, int64_t now)
{
	return b->expires_ms > now;
}

/* ------------------------------------------------------------------ */
/* The store                                                          */
/* ------------------------------------------------------------------ */

static int db_exec(struct sip_registrar *r, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	GW_ERR("location %s: %s: %s", r->db_path, sql,
	       msg ? msg : sqlite3_errmsg(r->db));
	sqlite3_free(msg);
	r->stats.db_errors++;
	return EIO;
}

static int db_step(struct sip_registrar *r, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return 0;
	GW_ERR("location %s: %s", r->db_path, sqlite3_errmsg(r->db));
	r->stats.db_errors++;
	return EIO;
}

/* Write b: insert it (b->id 0, set here) or update its row. */
static int db_put(struct sip_registrar *r, struct binding *b)
{
	sqlite3_stmt *st = b->id ? r->upd : r->ins;
	int i = 1, err;

	if (!r->db)
		return 0;
	sqlite3_clear_bindings(st);
	if (b->id)
		sqlite3_bind_int64(st, i++, b->id);
	else
		sqlite3_bind_text(st, i++, b->aor, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, b->uri, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, (int)b->q);
	sqlite3_bind_int64(st, i++, b->expires_ms);
	sqlite3_bind_text(st, i++, b->call_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, b->cseq);
	sqlite3_bind_text(st, i++, b->source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, i++, b->updated_ms);
	err = db_step(r, st);
	if (!err && !b->id)
		b->id = sqlite3_last_insert_rowid(r->db);
	return err;
}

static int db_del(struct sip_registrar *r, int64_t id)
{
	if (!r->db || !id)
		return 0;
	sqlite3_bind_int64(r->del, 1, id);
	return db_step(r, r->del);
}

/* Drop expired bindings (of aor, or all with NULL) from memory and the
 * store. */
static void purge(struct sip_registrar *r, const char *aor)
{
	struct binding *b, *next;
	int64_t now = wall_ms();
	bool any = false;

	for (b = r->bindings; b; b = b->next)
		if (!live(b, now) && (!aor || !strcmp(b->aor, aor)))
			any = true;
	if (!any)
		return;
	if (r->db && db_exec(r, "BEGIN IMMEDIATE"))
		return;
	for (b = r->bindings; b; b = next) {
		next = b->next;
		if (live(b, now) || (aor && strcmp(b->aor, aor)))
			continue;
		GW_DBG("registrar: %s: %s expired", b->aor, b->uri);
		db_del(r, b->id);
		binding_unlink(r, b);
	}
	if (r->db && db_exec(r, "COMMIT"))
		db_exec(r, "ROLLBACK");
}

static void tmr_purge(void *arg)
{
	struct sip_registrar *r = arg;

	purge(r, NULL);
	gw_tmr_start(&r->tmr, (uint64_t)r->purge_s * 1000, tmr_purge, r);
}

static int db_load(struct sip_registrar *r)
{
	static const char sel[] = "SELECT id, aor, uri, q, expires_ms,"
		" call_id, cseq, source, updated_ms FROM location"
		" ORDER BY id";
	sqlite3_stmt *st = NULL;
	struct binding *b, **tail = &r->bindings;
	int rc, n = 0;

	if (sqlite3_prepare_v2(r->db, sel, -1, &st, NULL) != SQLITE_OK)
		return EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		b = binding_new((const char *)sqlite3_column_text(st, 1),
				(const char *)sqlite3_column_text(st, 2),
				(const char *)sqlite3_column_text(st, 5),
				(const char *)sqlite3_column_text(st, 7));
		if (!b) {
			sqlite3_finalize(st);
			return ENOMEM;
		}
		b->id = sqlite3_column_int64(st, 0);
		b->q = (unsigned)sqlite3_column_int(st, 3);
		b->expires_ms = sqlite3_column_int64(st, 4);
		b->cseq = (uint32_t)sqlite3_column_int64(st, 6);
		b->updated_ms = sqlite3_column_int64(st, 8);
		*tail = b;
		tail = &b->next;
		n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return EIO;
	GW_INFO("registrar: %d binding(s) from %s", n, r->db_path);
	return 0;
}

static int db_open(struct sip_registrar *r)
{
	char sql[64];

	if (sqlite3_open_v2(r->db_path, &r->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		GW_ERR("location %s: %s", r->db_path,
		       r->db ? sqlite3_errmsg(r->db) : "cannot open");
		return EIO;
	}
	sqlite3_busy_timeout(r->db, 1000);
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
		 REG_SCHEMA_VERSION);
	if (db_exec(r, "PRAGMA journal_mode=WAL") ||
	    db_exec(r, "PRAGMA synchronous=NORMAL") ||
	    db_exec(r, schema_sql) || db_exec(r, sql))
		return EIO;
	if (sqlite3_prepare_v2(r->db, ins_sql, -1, &r->ins, NULL) ||
	    sqlite3_prepare_v2(r->db, upd_sql, -1, &r->upd, NULL) ||
	    sqlite3_prepare_v2(r->db, del_sql, -1, &r->del, NULL)) {
		GW_ERR("location %s: %s", r->db_path, sqlite3_errmsg(r->db));
		return EIO;
	}
	return db_load(r);
}

static void registrar_destroy(void *data)
{
	struct sip_registrar *r = data;

	gw_tmr_cancel(&r->tmr);
	while (r->bindings)
		binding_unlink(r, r->bindings);
	sqlite3_finalize(r->ins);
	sqlite3_finalize(r->upd);
	sqlite3_finalize(r->del);
	if (r->db)
		sqlite3_close(r->db);
	gw_mem_deref(r->db_path);
	gw_mem_deref(r->domain);
}

/**
 * Serve REGISTER on ua with the bindings stored at rc->db_path (opened
 * or created; bindings found there are served again).  EIO when the
 * store cannot be opened; a registrar already open is replaced.
 */
int sip_registrar_open(struct sip_ua *ua, const struct sip_registrar_conf *rc)
{
	struct sip_registrar *r;
	int err;

	if (!ua || !rc)
		return EINVAL;
	r = gw_mem_zalloc(sizeof(*r), registrar_destroy);
	if (!r)
		return ENOMEM;
	gw_tmr_init(&r->tmr);
	r->ua = ua;
	r->min_exp = rc->min_expires_s ? rc->min_expires_s : 60;
	r->max_exp = rc->max_expires_s ? rc->max_expires_s : 7200;
	if (r->max_exp < r->min_exp)
		r->max_exp = r->min_exp;
	r->def_exp = rc->default_expires_s ? rc->default_expires_s : 3600;
	if (r->def_exp < r->min_exp)
		r->def_exp = r->min_exp;
	if (r->def_exp > r->max_exp)
		r->def_exp = r->max_exp;
	r->max_contacts = rc->max_contacts ? rc->max_contacts : 10;
	r->purge_s = rc->purge_interval_s ? rc->purge_interval_s : 60;
	r->domain = gw_mem_strdup(rc->domain);
	r->db_path = gw_mem_strdup(rc->db_path ? rc->db_path : ":memory:");
	err = r->db_path ? 0 : ENOMEM;
	if (!err && rc->db_path)
		err = db_open(r);
	if (err) {
		gw_mem_deref(r);
		return err;
	}
	purge(r, NULL);
	gw_tmr_start(&r->tmr, (uint64_t)r->purge_s * 1000, tmr_purge, r);
	gw_mem_deref(ua->registrar);
	ua->registrar = r;
	return 0;
}

/** Stop serving REGISTER (405 again) and close the store. */
void sip_registrar_close(struct sip_ua *ua)
{
	if (ua)
		ua->registrar = gw_mem_deref(ua->registrar);
}

/* ------------------------------------------------------------------ */
/* Lookup                                                             */
/* ------------------------------------------------------------------ */


/**
 * The live bindings of user, best q first; among equal q-values the
 * most recently registered first (the order s.16.6 has a proxy try
 * them).  *listp is a gw_mem array of *np entries; ENOENT: none.
 */
int sip_registrar_lookup(struct sip_ua *ua, const char *user,
			 struct sip_contact **listp, size_t *np)
{
	struct sip_registrar *r = ua ? ua->registrar : NULL;
	const struct binding *b, **sorted;
	struct sip_contact *list;
	int64_t now = wall_ms();
	size_t n = 0, i, j;

	if (!r || !user || !listp || !np)
		return EINVAL;
	for (b = r->bindings; b; b = b->next)
		if (live(b, now) && !strcmp(b->aor, user))
			n++;
	if (!n)
		return ENOENT;
	sorted = gw_mem_zalloc(n * sizeof(*sorted), NULL);
	list = gw_mem_zalloc(n * sizeof(*list), NULL);
	if (!sorted || !list) {
		gw_mem_deref(sorted);
		gw_mem_deref(list);
		return ENOMEM;
	}
	/* Insertion sort: a handful of contacts per AOR. */
	i = 0;
	for (b = r->bindings; b; b = b->next) {
		if (!live(b, now) || strcmp(b->aor, user))
			continue;
		for (j = i; j > 0 && (sorted[j - 1]->q < b->q ||
				      (sorted[j - 1]->q == b->q &&
				       sorted[j - 1]->updated_ms <
				       b->updated_ms)); j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = b;
		i++;
	}
	for (i = 0; i < n; i++) {
		snprintf(list[i].uri, sizeof(list[i].uri), "%s",
			 sorted[i]->uri);
		list[i].q = sorted[i]->q;
		list[i].expires = sorted[i]->expires_ms / 1000;
		snprintf(list[i].source, sizeof(list[i].source), "%s",
			 sorted[i]->source);
	}
	gw_mem_deref(sorted);
	*listp = list;
	*np = n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* REGISTER (s.10.3)                                                  */
/* ------------------------------------------------------------------ */

static bool str_eq(const char *a, const char *b, bool nocase)
{
	if (!a || !*a || !b || !*b)
		return (!a || !*a) && (!b || !*b);
	return nocase ? !strcasecmp(a, b) : !strcmp(a, b);
}

/* s.19.1.4: the parameters of x all match y's, where y has them;
 * transport, user, ttl, method and maddr must be in both or neither. */
static bool params_match(const osip_uri_t *x, const osip_uri_t *y)
{
	static const char *const strict[] = {
		"transport", "user", "ttl", "method", "maddr",
	};
	osip_uri_param_t *p, *o;
	size_t i;
	int pos;

	for (pos = 0; !osip_list_eol(&x->url_params, pos); pos++) {
		p = osip_list_get(&x->url_params, pos);
		o = NULL;
		if (!p || !p->gname)
			continue;
		osip_uri_param_get_byname((osip_list_t *)&y->url_params,
					  p->gname, &o);
		if (o) {
			if (!str_eq(p->gvalue, o->gvalue, true))
				return false;
			continue;
		}
		for (i = 0; i < GW_ARRAY_SIZE(strict); i++)
			if (!strcasecmp(p->gname, strict[i]))
				return false;
	}
	return true;
}

/* Contact URI equality (s.10.3 step 7 by s.19.1.4): scheme, host and
 * parameter values ignore case, user and password do not; a port or a
 * transport given in only one of them does not match. */
static bool uri_eq(const char *a, const char *b)
{
	osip_uri_t *x = NULL, *y = NULL;
	bool eq = false;

	if (!strcmp(a, b))
		return true;
	if (osip_uri_init(&x) < 0 || osip_uri_init(&y) < 0)
		goto out;
	if (osip_uri_parse(x, a) < 0 || osip_uri_parse(y, b) < 0)
		goto out;
	eq = str_eq(x->scheme, y->scheme, true) &&
		str_eq(x->username, y->username, false) &&
		str_eq(x->password, y->password, false) &&
		str_eq(x->host, y->host, true) &&
		str_eq(x->port, y->port, false) &&
		params_match(x, y) && params_match(y, x);
 out:
	if (x)
		osip_uri_free(x);
	if (y)
		osip_uri_free(y);
	return eq;
}

/* delta-seconds (s.20.19, s.20.10): false when malformed; values past
 * 2^32-1 read as 2^32-1 (s.10.2.4's bound). */
static bool parse_delta(const char *s, uint32_t *vp)
{
	uint64_t v = 0;

	while (s && (*s == ' ' || *s == '\t'))
		s++;
	if (!s || *s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++)
		if (v <= 0xffffffffull)
			v = v * 10 + (uint64_t)(*s - '0');
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s)
		return false;
	*vp = v > 0xffffffffull ? 0xffffffffu : (uint32_t)v;
	return true;
}

/* qvalue (s.25.1): "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")], x 1000. */
static bool parse_q(const char *s, unsigned *qp)
{
	unsigned q, scale = 100;

	if (!s || (s[0] != '0' && s[0] != '1'))
		return false;
	q = s[0] == '1' ? 1000 : 0;
	s++;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9' && scale; s++, scale /= 10)
			q += (unsigned)(*s - '0') * scale;
	}
	if (*s || q > 1000)
		return false;
	*qp = q;
	return true;
}

static const char *contact_param(const osip_contact_t *c, const char *name)
{
	osip_generic_param_t *p = NULL;

	if (osip_contact_param_get_byname((osip_contact_t *)c, (char *)name,
					  &p) < 0 || !p)
		return NULL;
	return p->gvalue ? p->gvalue : "";
}

/* What one Contact value does. */
struct op {
	char *uri;			/* gw_mem */
	uint32_t expires;		/* s; 0 removes */
	unsigned q;
	struct binding *old;		/* its binding before the request */
	struct binding *b;		/* the new binding (expires > 0) */
	bool skip;			/* a later value for the same URI */
};

struct reg_req {
	struct sip_registrar *r;
	const osip_message_t *req;
	const char *aor;
	const char *call_id;
	uint32_t cseq;
	char source[96];
	struct op ops[REG_MAX_OPS];
	size_t n;
	bool star;
	unsigned status;		/* a refusal */
	uint32_t min_expires;		/* for a 423 */
};

static void respond(struct sip_tsx *tsx, const osip_message_t *req,
		    unsigned status, uint32_t min_expires)
{
	osip_message_t *resp;
	char buf[16];

	if (status == 423) {
		if (sip_msg_response(&resp, req, 423, tsx->totag))
			return;
		snprintf(buf, sizeof(buf), "%u", min_expires);
		osip_message_set_header(resp, "Min-Expires", buf);
		sip_tsx_respond_msg(tsx, resp);
		return;
	}
	sip_tsx_respond(tsx, req, status);
}

/* s.10.3 step 7: an update from the same Call-ID must carry a higher
 * CSeq than the binding's, or the whole request fails. */
static bool in_order(const struct reg_req *rr, const struct binding *b)
{
	return strcmp(b->call_id, rr->call_id) || rr->cseq > b->cseq;
}

/* Read the Contact values into ops; status set on a refusal. */
static void read_contacts(struct reg_req *rr)
{
	struct sip_registrar *r = rr->r;
	const char *hexp = sip_msg_header(rr->req, "expires"), *v;
	osip_contact_t *c;
	uint32_t exp_hdr = 0;
	bool has_hexp = hexp != NULL;
	int64_t now = wall_ms();
	struct binding *b;
	char *text;
	size_t i, j;
	int pos;

	if (has_hexp && !parse_delta(hexp, &exp_hdr)) {
		rr->status = 400;
		return;
	}
	for (pos = 0;; pos++) {
		struct op *op;

		c = NULL;
		if (osip_message_get_contact(rr->req, pos, &c) < 0 || !c)
			break;
		if (!c->url) {
			/* "*": alone, with Expires: 0 (s.10.3 step 6). */
			if (!c->displayname || strcmp(c->displayname, "*") ||
			    !has_hexp || exp_hdr != 0) {
				rr->status = 400;
				return;
			}
			rr->star = true;
			continue;
		}
		if (rr->n == REG_MAX_OPS) {
			rr->status = 403;
			return;
		}
		op = &rr->ops[rr->n++];
		text = NULL;
		if (osip_uri_to_str(c->url, &text) < 0 || !text) {
			rr->status = 400;
			return;
		}
		op->uri = gw_mem_strdup(text);
		osip_free(text);
		if (!op->uri) {
			rr->status = 500;
			return;
		}
		/* The expiry: the contact's, else Expires, else ours. */
		v = contact_param(c, "expires");
		if (v) {
			if (!parse_delta(v, &op->expires)) {
				rr->status = 400;
				return;
			}
		} else {
			op->expires = has_hexp ? exp_hdr : r->def_exp;
		}
		op->q = 1000;
		v = contact_param(c, "q");
		if (v && !parse_q(v, &op->q)) {
			rr->status = 400;
			return;
		}
		/* 423 only for an interval that is not zero, under an hour
		 * and under our minimum; a longer one is shortened. */
		if (op->expires && op->expires < r->min_exp &&
		    op->expires < REG_ONE_HOUR_S) {
			rr->status = 423;
			rr->min_expires = r->min_exp;
			return;
		}
		if (op->expires && op->expires < r->min_exp)
			op->expires = r->min_exp;
		if (op->expires > r->max_exp)
			op->expires = r->max_exp;
		for (b = r->bindings; b; b = b->next)
			if (live(b, now) && !strcmp(b->aor, rr->aor) &&
			    uri_eq(b->uri, op->uri)) {
				op->old = b;
				break;
			}
		if (op->old && !in_order(rr, op->old)) {
			rr->status = 500;
			return;
		}
		/* The same URI twice: the last value counts. */
		for (j = 0; j + 1 < rr->n; j++)
			if (!rr->ops[j].skip &&
			    uri_eq(rr->ops[j].uri, op->uri))
				rr->ops[j].skip = true;
	}
	if (rr->star && rr->n) {
		rr->status = 400;
		return;
	}
	if (rr->star) {
		for (b = r->bindings; b; b = b->next)
			if (live(b, now) && !strcmp(b->aor, rr->aor) &&
			    !in_order(rr, b)) {
				rr->status = 500;
				return;
			}
		return;
	}
	/* How many the AOR would have. */
	{
		size_t count = 0;

		for (b = r->bindings; b; b = b->next)
			if (live(b, now) && !strcmp(b->aor, rr->aor))
				count++;
		for (i = 0; i < rr->n; i++) {
			if (rr->ops[i].skip)
				continue;
			if (rr->ops[i].old && !rr->ops[i].expires)
				count--;
			if (!rr->ops[i].old && rr->ops[i].expires)
				count++;
		}
		if (count > r->max_contacts)
			rr->status = 403;
	}
}

/* Apply rr to the store (one transaction), then to memory: all or
 * nothing (s.10.3 step 7). */
static int apply(struct reg_req *rr)
{
	struct sip_registrar *r = rr->r;
	int64_t now = wall_ms();
	struct binding *b, *next;
	size_t i;
	int err = 0;

	for (i = 0; i < rr->n; i++) {
		struct op *op = &rr->ops[i];

		if (op->skip || !op->expires)
			continue;
		op->b = binding_new(rr->aor, op->uri, rr->call_id, rr->source);
		if (!op->b)
			return ENOMEM;
		op->b->id = op->old ? op->old->id : 0;
		op->b->q = op->q;
		op->b->cseq = rr->cseq;
		op->b->expires_ms = now + (int64_t)op->expires * 1000;
		op->b->updated_ms = now;
	}
	if (r->db && db_exec(r, "BEGIN IMMEDIATE"))
		return EIO;
	if (rr->star) {
		for (b = r->bindings; b && !err; b = b->next)
			if (!strcmp(b->aor, rr->aor))
				err = db_del(r, b->id);
	}
	for (i = 0; i < rr->n && !err; i++) {
		struct op *op = &rr->ops[i];

		if (op->skip)
			continue;
		if (op->b)
			err = db_put(r, op->b);
		else if (op->old)
			err = db_del(r, op->old->id);
	}
	if (!err && r->db)
		err = db_exec(r, "COMMIT");
	if (err) {
		if (r->db)
			db_exec(r, "ROLLBACK");
		return err;
	}
	/* Committed: now memory. */
	if (rr->star) {
		for (b = r->bindings; b; b = next) {
			next = b->next;
			if (!strcmp(b->aor, rr->aor))
				binding_unlink(r, b);
		}
		GW_INFO("registrar: %s: all bindings removed", rr->aor);
	}
	for (i = 0; i < rr->n; i++) {
		struct op *op = &rr->ops[i];

		if (op->skip)
			continue;
		if (op->old)
			binding_unlink(r, op->old);
		if (op->b) {
			op->b->next = r->bindings;
			r->bindings = op->b;
			op->b = NULL;	/* the list's now */
		}
		GW_INFO("registrar: %s: %s %s (%u s) from %s", rr->aor,
			op->expires ? op->old ? "refreshed" : "added" :
			"removed", op->uri, op->expires, rr->source);
	}
	return 0;
}

/* s.10.3 step 8: 200 with every current binding and its expires. */
static void respond_ok(struct reg_req *rr, struct sip_tsx *tsx)
{
	struct sip_registrar *r = rr->r;
	const struct binding *b;
	osip_message_t *resp;
	int64_t now = wall_ms();
	char buf[400], date[64];
	struct tm tm;
	time_t t = time(NULL);

	if (sip_msg_response(&resp, rr->req, 200, tsx->totag))
		return;
	for (b = r->bindings; b; b = b->next) {
		if (!live(b, now) || strcmp(b->aor, rr->aor))
			continue;
		if (b->q == 1000)
			snprintf(buf, sizeof(buf), "<%s>;expires=%lld", b->uri,
				 (long long)((b->expires_ms - now + 999) /
					     1000));
		else
			snprintf(buf, sizeof(buf),
				 "<%s>;expires=%lld;q=%u.%03u", b->uri,
				 (long long)((b->expires_ms - now + 999) /
					     1000), b->q / 1000, b->q % 1000);
		osip_message_set_contact(resp, buf);
	}
	/* s.20.17: RFC 1123 date in GMT. */
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	osip_message_set_header(resp, "Date", date);
	sip_tsx_respond_msg(tsx, resp);
}

/* Is user one the auth lookup knows? */
static bool user_known(struct sip_ua *ua, const char *user)
{
	struct sip_auth_secret sec;

	if (!ua->auth_lookuph)
		return false;
	memset(&sec, 0, sizeof(sec));
	return ua->auth_lookuph(&sec, user, ua->auth_srv ?
				sip_auth_realm(ua->auth_srv) : "",
				SIP_AUTH_MD5, ua->auth_arg) == 0;
}

void sip_registrar_request(struct sip_ua *ua, struct sip_tsx *tsx,
			   const osip_message_t *req,
			   const struct sip_src *src, const char *auth_user)
{
	struct sip_registrar *r = ua->registrar;
	struct reg_req *rr;
	char pa[80];
	size_t i;
	int err;

	if (!r) {
		sip_tsx_respond(tsx, req, 405);
		return;
	}
	r->stats.requests++;
	rr = gw_mem_zalloc(sizeof(*rr), NULL);
	if (!rr) {
		sip_tsx_respond(tsx, req, 500);
		return;
	}
	rr->r = r;
	rr->req = req;
	rr->call_id = req->call_id->number;
	rr->cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	sip_addr_print(&src->peer, pa, sizeof(pa));
	snprintf(rr->source, sizeof(rr->source), "%s:%s",
		 sip_transport_name(src->tp), pa);
	for (i = 0; rr->source[i] && rr->source[i] != ':'; i++)
		if (rr->source[i] >= 'A' && rr->source[i] <= 'Z')
			rr->source[i] = (char)(rr->source[i] - 'A' + 'a');
	/* Step 5: the AOR is the To URI; it must be a user of ours (in
	 * our domain when one is set). */
	rr->aor = req->to && req->to->url ? req->to->url->username : NULL;
	if (!rr->aor || !*rr->aor ||
	    (r->domain && (!req->to->url->host ||
			   strcasecmp(req->to->url->host, r->domain)))) {
		rr->status = 404;
	} else if (auth_user && *auth_user) {
		/* Step 4: an authenticated user changes its own AOR. */
		if (strcmp(auth_user, rr->aor))
			rr->status = 403;
	} else if (!user_known(ua, rr->aor)) {
		rr->status = 404;
	}
	if (!rr->status)
		purge(r, rr->aor);
	if (!rr->status)
		read_contacts(rr);
	if (!rr->status && (rr->star || rr->n)) {
		err = apply(rr);
		if (err)
			rr->status = 500;
		else
			r->stats.updated++;
	}
	if (rr->status) {
		r->stats.refused++;
		GW_LOG_LIMITED(GW_LOG_INFO, "REGISTER %s from %s: %u",
			       rr->aor ? rr->aor : "?", rr->source,
			       rr->status);
		respond(tsx, req, rr->status, rr->min_expires);
	} else {
		respond_ok(rr, tsx);
	}
	for (i = 0; i < rr->n; i++) {
		gw_mem_deref(rr->ops[i].uri);
		gw_mem_deref(rr->ops[i].b);
	}
	gw_mem_deref(rr);
}

/* ------------------------------------------------------------------ */
/* Status                                                             */
/* ------------------------------------------------------------------ */

/** The registrar's bindings for `junctionctl sip`; null when off. */
json_t *sip_registrar_json(const struct sip_ua *ua)
{
	const struct sip_registrar *r = ua ? ua->registrar : NULL;
	const struct binding *b;
	int64_t now = wall_ms();
	json_t *arr;

	if (!r)
		return json_null();
	arr = json_array();
	for (b = r->bindings; b; b = b->next) {
		if (!live(b, now))
			continue;
		json_array_append_new(arr, json_pack(
			"{s:s,s:s,s:f,s:I,s:I,s:s,s:I,s:s}",
			"aor", b->aor, "contact", b->uri,
			"q", b->q / 1000.0,
			"expires", (json_int_t)(b->expires_ms / 1000),
			"expires_in", (json_int_t)((b->expires_ms - now +
						     999) / 1000),
			"call_id", b->call_id, "cseq", (json_int_t)b->cseq,
			"source", b->source));
	}
	return json_pack("{s:s,s:s?,s:i,s:i,s:i,s:o,s:{s:I,s:I,s:I,s:I}}",
		"db", r->db ? r->db_path : ":memory:",
		"domain", r->domain,
		"min_expires", (int)r->min_exp,
		"max_expires", (int)r->max_exp,
		"max_contacts", (int)r->max_contacts,
		"bindings", arr,
		"stats",
		"requests", (json_int_t)r->stats.requests,
		"updated", (json_int_t)r->stats.updated,
		"refused", (json_int_t)r->stats.refused,
		"db_errors", (json_int_t)r->stats.db_errors);
}
