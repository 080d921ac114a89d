/* gateway/cdr.c - call detail records in SQLite, written off the main loop */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define GW_LOG_MOD "cdr"
#include "cdr.h"

/*
 * One row per call attempt, keyed by the call's id.  Each stage writes the
 * whole record: begin inserts it (start time, numbers as received),
 * answer updates it with the answer time and is committed at once, end
 * adds the end time, causes, quality and the disposition.  So an answered
 * call is on disk from its answer on, and a crash of junctiond loses at
 * most the stages still queued (microseconds of work), never a call that
 * was committed as answered.
 *
 * SQLite never runs on the main loop (DESIGN.md, "Threads and clocks"):
 * a writer thread owns the connection after gw_cdr_open and takes its
 * work from a queue.  It drains everything queued and commits it as one
 * transaction (a group commit), so a burst of calls costs one commit.
 * Reads for `junctionctl cdr` go through the same queue, see every write
 * queued before them, and post their result back to the asking loop.
 *
 * Durability: the database is in WAL mode.  With synchronous=NORMAL a
 * commit is written to the WAL before COMMIT returns, but not fsync'ed;
 * the WAL is synced at checkpoints.  A process crash (kill -9, abort)
 * loses nothing that was committed: the data is in the kernel's page
 * cache and reaches the file.  Only an OS crash or power loss can take
 * the last commits back, and the database stays consistent even then.
 * That is the failure the issue asks for, so NORMAL is the default;
 * [cdr] synchronous = full adds an fsync per (group) commit for sites
 * that want power-loss durability.
 *
 * Opening (gw_cdr_open) and closing (the destructor waits for the queue
 * to drain) do block: they run at startup and shutdown, not during calls.
 */

#define CDR_SCHEMA_VERSION 1

enum op { OP_BEGIN, OP_ANSWER, OP_END, OP_LIST, OP_FLUSH, OP_STOP };

struct msg {
	struct msg *next;
	enum op op;
	struct gw_cdr_rec rec;		/* OP_BEGIN, OP_ANSWER, OP_END */
	unsigned n;			/* OP_LIST */
	gw_cdr_list_h *lh;		/* OP_LIST */
	gw_post_h *ph;			/* OP_FLUSH */
	void *arg;
	struct gw_loop *loop;		/* where results go */
};

struct gw_cdr {
	sqlite3 *db;			/* the writer's after open */
	sqlite3_stmt *upd, *ins, *sel;
	pthread_t thread;
	bool running;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct msg *head, **tail;	/* under lock */
	struct msg *stop;		/* preallocated: closing cannot fail */
	atomic_uint_fast64_t queued, committed, failed;
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS cdr ("
	" seq INTEGER PRIMARY KEY,"
	" id TEXT NOT NULL UNIQUE,"
	" direction TEXT NOT NULL,"
	" start_ms INTEGER NOT NULL,"
	" answer_ms INTEGER,"
	" end_ms INTEGER,"
	" disposition TEXT,"
	" calling_in TEXT, called_in TEXT,"
	" calling_out TEXT, called_out TEXT,"
	" span INTEGER, ts INTEGER,"
	" sip_call_id TEXT, codec TEXT, route TEXT,"
	" q850 INTEGER, sip INTEGER,"
	" duration_ms INTEGER,"
	" dtmf INTEGER,"
	" loss REAL, jitter_ms REAL, mos REAL);"
	"CREATE INDEX IF NOT EXISTS cdr_start ON cdr(start_ms);";

#define COLS_SET \
	"direction=:direction, start_ms=:start_ms, answer_ms=:answer_ms," \
	" end_ms=:end_ms, disposition=:disposition," \
	" calling_in=:calling_in, called_in=:called_in," \
	" calling_out=:calling_out, called_out=:called_out," \
	" span=:span, ts=:ts, sip_call_id=:sip_call_id, codec=:codec," \
	" route=:route, q850=:q850, sip=:sip, duration_ms=:duration_ms," \
	" dtmf=:dtmf, loss=:loss, jitter_ms=:jitter_ms, mos=:mos"

static const char upd_sql[] = "UPDATE cdr SET " COLS_SET " WHERE id=:id";
static const char ins_sql[] =
	"INSERT INTO cdr (id, direction, start_ms, answer_ms, end_ms,"
	" disposition, calling_in, called_in, calling_out, called_out,"
	" span, ts, sip_call_id, codec, route, q850, sip, duration_ms,"
	" dtmf, loss, jitter_ms, mos) VALUES (:id, :direction, :start_ms,"
	" :answer_ms, :end_ms, :disposition, :calling_in, :called_in,"
	" :calling_out, :called_out, :span, :ts, :sip_call_id, :codec,"
	" :route, :q850, :sip, :duration_ms, :dtmf, :loss, :jitter_ms,"
	" :mos)";
/* The last n rows by start time, oldest of them first. */
static const char sel_sql[] =
	"SELECT * FROM (SELECT id, direction, start_ms, answer_ms, end_ms,"
	" disposition, calling_in, called_in, calling_out, called_out,"
	" span, ts, sip_call_id, codec, route, q850, sip, duration_ms,"
	" dtmf, loss, jitter_ms, mos, seq FROM cdr"
	" ORDER BY start_ms DESC, seq DESC LIMIT ?)"
	" ORDER BY start_ms ASC, seq ASC";

/* The columns of a JSON row and the CSV, in order. */
static const char *const out_cols[] = {
	"id", "direction", "start", "answer", "end", "disposition",
	"calling_in", "called_in", "calling_out", "called_out", "span", "ts",
	"sip_call_id", "codec", "route", "q850", "sip", "duration", "dtmf",
	"loss", "jitter", "mos",
};

static const char *const disp_names[] = {
	NULL, "ANSWERED", "BUSY", "NOANSWER", "FAILED", "CANCELLED",
};

/** "ANSWERED", ...; NULL for GW_CDR_AUTO. */
const char *gw_cdr_disp_name(enum gw_cdr_disp d)
{
	if ((unsigned)d >= GW_ARRAY_SIZE(disp_names))
		return NULL;
	return disp_names[d];
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- The writer thread ---------------------------------------------- */

static void bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (!i)
		return;
	if (v && v[0])
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_int(sqlite3_stmt *st, const char *name, int64_t v,
		     bool zero_null)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (!i)
		return;
	if (zero_null && !v)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_int64(st, i, v);
}

static void bind_real(sqlite3_stmt *st, const char *name, double v,
		      bool zero_null)
{
	int i = sqlite3_bind_parameter_index(st, name);

	if (!i)
		return;
	if (zero_null && v == 0)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_double(st, i, v);
}

static void bind_rec(sqlite3_stmt *st, const struct gw_cdr_rec *r)
{
	int64_t dur = r->answer_ms && r->end_ms ? r->end_ms - r->answer_ms : 0;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bind_text(st, ":id", r->id);
	bind_text(st, ":direction", r->direction);
	bind_int(st, ":start_ms", r->start_ms, false);
	bind_int(st, ":answer_ms", r->answer_ms, true);
	bind_int(st, ":end_ms", r->end_ms, true);
	bind_text(st, ":disposition", gw_cdr_disp_name(r->disposition));
	bind_text(st, ":calling_in", r->calling_in);
	bind_text(st, ":called_in", r->called_in);
	bind_text(st, ":calling_out", r->calling_out);
	bind_text(st, ":called_out", r->called_out);
	bind_int(st, ":span", r->span, true);
	bind_int(st, ":ts", r->ts, true);
	bind_text(st, ":sip_call_id", r->sip_call_id);
	bind_text(st, ":codec", r->codec);
	bind_text(st, ":route", r->route);
	bind_int(st, ":q850", r->q850, true);
	bind_int(st, ":sip", r->sip, true);
	bind_int(st, ":duration_ms", r->end_ms ? (dur > 0 ? dur : 0) : 0,
		 !r->end_ms);
	bind_int(st, ":dtmf", r->dtmf, false);
	bind_real(st, ":loss", r->loss, !r->end_ms);
	bind_real(st, ":jitter_ms", r->jitter_ms, !r->end_ms);
	bind_real(st, ":mos", r->mos, true);
}

/* Write one stage: update the row, or insert it if there is none yet. */
static int save(struct gw_cdr *c, const struct gw_cdr_rec *r)
{
	int rc;

	bind_rec(c->upd, r);
	rc = sqlite3_step(c->upd);
	sqlite3_reset(c->upd);
	if (rc != SQLITE_DONE)
		return rc;
	if (sqlite3_changes(c->db))
		return SQLITE_OK;
	bind_rec(c->ins, r);
	rc = sqlite3_step(c->ins);
	sqlite3_reset(c->ins);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static char *iso_time(char *buf, size_t len, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
	return buf;
}

static json_t *col_json(sqlite3_stmt *st, int i, bool time)
{
	char buf[40];

	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		if (time)
			return json_string(iso_time(buf, sizeof(buf),
					   sqlite3_column_int64(st, i)));
		return json_integer(sqlite3_column_int64(st, i));
	case SQLITE_FLOAT:
		return json_real(sqlite3_column_double(st, i));
	default:
		return json_string((const char *)sqlite3_column_text(st, i));
	}
}

static int list(struct gw_cdr *c, unsigned n, json_t **rowsp)
{
	json_t *rows = json_array(), *row;
	int rc, i;

	if (!rows)
		return ENOMEM;
	sqlite3_reset(c->sel);
	sqlite3_bind_int64(c->sel, 1, n);
	while ((rc = sqlite3_step(c->sel)) == SQLITE_ROW) {
		row = json_object();
		if (!row)
			break;
		for (i = 0; i < (int)GW_ARRAY_SIZE(out_cols); i++) {
			json_t *v;

			if (!strcmp(out_cols[i], "duration")) {
				v = sqlite3_column_type(c->sel, i) ==
					SQLITE_NULL ? json_null() :
					json_real(sqlite3_column_int64(c->sel,
								       i) /
						  1000.0);
			} else {
				v = col_json(c->sel, i, i >= 2 && i <= 4);
			}
			json_object_set_new(row, out_cols[i], v);
		}
		json_array_append_new(rows, row);
	}
	sqlite3_reset(c->sel);
	if (rc != SQLITE_DONE) {
		GW_ERR("reading CDRs: %s", sqlite3_errmsg(c->db));
		json_decref(rows);
		return EIO;
	}
	*rowsp = rows;
	return 0;
}

struct list_done {
	gw_cdr_list_h *h;
	void *arg;
	int err;
	json_t *rows;
};

static void list_done_h(void *arg)
{
	struct list_done *d = arg;

	d->h(d->err, d->rows, d->arg);
	free(d);
}

static bool exec(struct gw_cdr *c, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return true;
	GW_ERR("%s: %s", sql, msg ? msg : sqlite3_errmsg(c->db));
	sqlite3_free(msg);
	return false;
}

/* Commit the open transaction; its stages count as committed or failed. */
static void commit(struct gw_cdr *c, bool *in_txn, uint64_t *pending)
{
	if (!*in_txn)
		return;
	if (exec(c, "COMMIT")) {
		atomic_fetch_add(&c->committed, *pending);
	} else {
		exec(c, "ROLLBACK");
		atomic_fetch_add(&c->failed, *pending);
	}
	*in_txn = false;
	*pending = 0;
}

static void *writer(void *arg)
{
	struct gw_cdr *c = arg;
	struct msg *batch, *m;
	bool in_txn = false, stop = false;
	uint64_t pending = 0;
	int rc;

	while (!stop) {
		pthread_mutex_lock(&c->lock);
		while (!c->head)
			pthread_cond_wait(&c->cond, &c->lock);
		batch = c->head;
		c->head = NULL;
		c->tail = &c->head;
		pthread_mutex_unlock(&c->lock);

		while ((m = batch)) {
			batch = m->next;
			switch (m->op) {
			case OP_BEGIN:
			case OP_ANSWER:
			case OP_END:
				if (!in_txn)
					in_txn = exec(c, "BEGIN IMMEDIATE");
				rc = in_txn ? save(c, &m->rec) : SQLITE_ERROR;
				if (rc == SQLITE_OK) {
					pending++;
				} else {
					GW_ERR("CDR %s: %s", m->rec.id,
					       sqlite3_errmsg(c->db));
					atomic_fetch_add(&c->failed, 1);
				}
				/* An answer is committed on its own: a crash
				 * after this point loses no answered call. */
				if (m->op == OP_ANSWER)
					commit(c, &in_txn, &pending);
				break;
			case OP_LIST: {
				struct list_done *d = malloc(sizeof(*d));

				commit(c, &in_txn, &pending);
				if (!d)
					break;	/* nothing to answer with */
				d->h = m->lh;
				d->arg = m->arg;
				d->rows = NULL;
				d->err = list(c, m->n, &d->rows);
				if (gw_loop_post(m->loop, list_done_h, d)) {
					json_decref(d->rows);
					free(d);
				}
				break;
			}
			case OP_FLUSH:
				commit(c, &in_txn, &pending);
				gw_loop_post(m->loop, m->ph, m->arg);
				break;
			case OP_STOP:
				stop = true;
				break;
			}
			if (m != c->stop)
				free(m);
		}
		commit(c, &in_txn, &pending);
	}
	return NULL;
}

/* ---- The main thread's side ----------------------------------------- */

static void enqueue(struct gw_cdr *c, struct msg *m)
{
	m->next = NULL;
	pthread_mutex_lock(&c->lock);
	*c->tail = m;
	c->tail = &m->next;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void cdr_destroy(void *data)
{
	struct gw_cdr *c = data;

	if (c->running) {
		enqueue(c, c->stop);	/* after everything queued: drains */
		pthread_join(c->thread, NULL);
	}
	free(c->stop);
	sqlite3_finalize(c->upd);
	sqlite3_finalize(c->ins);
	sqlite3_finalize(c->sel);
	if (c->db)
		sqlite3_close(c->db);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
}

/**
 * Open (or create) the CDR database at path in WAL mode and start its
 * writer thread.  Blocks while it opens: call it at startup.  Errors:
 * EIO with "path: reason" in err, or ENOMEM.
 */
int gw_cdr_open(struct gw_cdr **cdrp, const char *path,
		enum gw_cdr_sync sync, char *err, size_t errlen)
{
	struct gw_cdr *c;
	sqlite3_stmt *st = NULL;
	const char *mode = NULL;
	char sql[64];
	int e = 0;

	if (!cdrp || !path)
		return EINVAL;
	c = gw_mem_zalloc(sizeof(*c), cdr_destroy);
	if (!c)
		return ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->tail = &c->head;
	c->stop = calloc(1, sizeof(*c->stop));
	if (!c->stop) {
		e = ENOMEM;
		goto out;
	}
	c->stop->op = OP_STOP;

	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK)
		goto sqlerr;
	sqlite3_busy_timeout(c->db, 5000);
	/* journal_mode answers with the mode in force: a database on a
	 * file system without shared memory may refuse WAL. */
	if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto sqlerr;
	mode = (const char *)sqlite3_column_text(st, 0);
	if (!mode || strcmp(mode, "wal")) {
		snprintf(err, errlen, "%s: cannot use WAL mode (journal mode "
			 "is %s)", path, mode ? mode : "unknown");
		e = EIO;
		goto out;
	}
	snprintf(sql, sizeof(sql), "PRAGMA synchronous=%s",
		 sync == GW_CDR_SYNC_FULL ? "FULL" : "NORMAL");
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK)
		goto sqlerr;
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d",
		 CDR_SCHEMA_VERSION);
	if (sqlite3_exec(c->db, sql, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(c->db, upd_sql, -1, &c->upd, NULL) ||
	    sqlite3_prepare_v2(c->db, ins_sql, -1, &c->ins, NULL) ||
	    sqlite3_prepare_v2(c->db, sel_sql, -1, &c->sel, NULL))
		goto sqlerr;
	e = pthread_create(&c->thread, NULL, writer, c);
	if (e) {
		snprintf(err, errlen, "%s: cannot start the writer thread: "
			 "%s", path, strerror(e));
		goto out;
	}
	c->running = true;
	goto out;

 sqlerr:
	snprintf(err, errlen, "%s: %s", path,
		 c->db ? sqlite3_errmsg(c->db) : "out of memory");
	e = EIO;
 out:
	sqlite3_finalize(st);
	if (e)
		gw_mem_deref(c);
	else
		*cdrp = c;
	return e;
}

static int stage(struct gw_cdr *c, enum op op, const struct gw_cdr_rec *rec)
{
	struct msg *m;

	if (!c || !rec || !rec->id[0])
		return EINVAL;
	m = malloc(sizeof(*m));
	if (!m)
		return ENOMEM;
	memset(m, 0, offsetof(struct msg, rec));
	m->op = op;
	m->rec = *rec;
	m->rec.id[sizeof(m->rec.id) - 1] = '\0';
	atomic_fetch_add(&c->queued, 1);
	enqueue(c, m);
	return 0;
}

/** A call attempt starts: its row appears (start time now if 0). */
int gw_cdr_begin(struct gw_cdr *cdr, struct gw_cdr_rec *rec)
{
	if (!rec)
		return EINVAL;
	if (strcmp(rec->direction, "in") && strcmp(rec->direction, "out"))
		return EINVAL;
	if (!rec->start_ms)
		rec->start_ms = wall_ms();
	return stage(cdr, OP_BEGIN, rec);
}

/** The call is answered (answer time now if 0): committed on its own. */
int gw_cdr_answer(struct gw_cdr *cdr, struct gw_cdr_rec *rec)
{
	if (!rec)
		return EINVAL;
	if (!rec->answer_ms)
		rec->answer_ms = wall_ms();
	return stage(cdr, OP_ANSWER, rec);
}

/*
 * How an attempt ended when the call did not say: answered, else by its
 * cause (Q.850 17 / SIP 486, 600: busy; 18, 19 / 408, 480: no answer;
 * 16 before an answer / 487: the caller gave up), else failed.
 */
static enum gw_cdr_disp derive(const struct gw_cdr_rec *r)
{
	if (r->answer_ms)
		return GW_CDR_ANSWERED;
	if (r->q850 == 17 || r->sip == 486 || r->sip == 600)
		return GW_CDR_BUSY;
	if (r->q850 == 18 || r->q850 == 19 || r->sip == 408 || r->sip == 480)
		return GW_CDR_NOANSWER;
	if (r->q850 == 16 || r->sip == 487)
		return GW_CDR_CANCELLED;
	return GW_CDR_FAILED;
}

/** The call attempt ended (end time now if 0): its final row. */
int gw_cdr_end(struct gw_cdr *cdr, struct gw_cdr_rec *rec)
{
	if (!rec)
		return EINVAL;
	if (!rec->end_ms)
		rec->end_ms = wall_ms();
	if (rec->disposition == GW_CDR_AUTO)
		rec->disposition = derive(rec);
	return stage(cdr, OP_END, rec);
}

/** Read the last n records on the writer thread; h gets them here. */
int gw_cdr_list(struct gw_cdr *cdr, unsigned n, gw_cdr_list_h *h, void *arg)
{
	struct msg *m;

	if (!cdr || !h || !gw_loop_self())
		return EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->op = OP_LIST;
	m->n = n;
	m->lh = h;
	m->arg = arg;
	m->loop = gw_loop_self();
	enqueue(cdr, m);
	return 0;
}

/** h(arg) here once everything queued so far is committed. */
int gw_cdr_flush(struct gw_cdr *cdr, gw_post_h *h, void *arg)
{
	struct msg *m;

	if (!cdr || !h || !gw_loop_self())
		return EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return ENOMEM;
	m->op = OP_FLUSH;
	m->ph = h;
	m->arg = arg;
	m->loop = gw_loop_self();
	enqueue(cdr, m);
	return 0;
}

/** Counters of the store. */
void gw_cdr_stats(const struct gw_cdr *cdr, struct gw_cdr_stats *st)
{
	struct gw_cdr *c = (struct gw_cdr *)cdr;

	st->queued = atomic_load(&c->queued);
	st->committed = atomic_load(&c->committed);
	st->failed = atomic_load(&c->failed);
}

/* ---- Export ----------------------------------------------------------- */

/** {"cdr": rows}, the body of the `cdr` reply; steals rows. */
json_t *gw_cdr_reply(json_t *rows)
{
	json_t *o = json_object();

	if (!o) {
		json_decref(rows);
		return NULL;
	}
	json_object_set_new(o, "cdr", rows ? rows : json_array());
	return o;
}

static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/**
 * rows (gw_cdr_list's array) as CSV (RFC 4180: CRLF line ends, fields
 * with commas, quotes or line breaks quoted): a header line, then a line
 * per row; null is an empty field.  0, or EIO when f fails.
 */
int gw_cdr_csv(const json_t *rows, FILE *f)
{
	const json_t *row, *v;
	size_t i, j;

	if (!json_is_array(rows) || !f)
		return EINVAL;
	for (j = 0; j < GW_ARRAY_SIZE(out_cols); j++)
		fprintf(f, "%s%s", j ? "," : "", out_cols[j]);
	fputs("\r\n", f);
	json_array_foreach(rows, i, row) {
		for (j = 0; j < GW_ARRAY_SIZE(out_cols); j++) {
			if (j)
				fputc(',', f);
			v = json_object_get(row, out_cols[j]);
			if (json_is_string(v))
				csv_field(f, json_string_value(v));
			else if (json_is_integer(v))
				fprintf(f, "%lld",
					(long long)json_integer_value(v));
			else if (json_is_real(v))
				fprintf(f, "%.3f", json_real_value(v));
		}
		fputs("\r\n", f);
	}
	return ferror(f) ? EIO : 0;
}
