/* tests/unit/test_gw_cdr.c - the CDR store: stages, reads, export, crashes */
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "gateway/cdr.h"

static char dir[] = "/tmp/test_gw_cdr.XXXXXX";
static char path[256];
static char err[512];

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

/* A fresh database for each test. */
static struct gw_cdr *open_db(const char *name)
{
	struct gw_cdr *cdr = NULL;

	snprintf(path, sizeof(path), "%s/%s.sqlite", dir, name);
	assert_int_equal(gw_loop_init(), 0);
	if (gw_cdr_open(&cdr, path, GW_CDR_SYNC_NORMAL, err, sizeof(err)))
		fail_msg("open: %s", err);
	return cdr;
}

static void close_db(struct gw_cdr *cdr)
{
	gw_mem_deref(cdr);
	gw_loop_close();
}

static void rec_init(struct gw_cdr_rec *r, const char *id, const char *dir_)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	snprintf(r->direction, sizeof(r->direction), "%s", dir_);
	strcpy(r->calling_in, "0301234");
	strcpy(r->called_in, "2000");
	strcpy(r->calling_out, "49301234");
	strcpy(r->called_out, "2000");
	r->span = 1;
	r->ts = 5;
	strcpy(r->sip_call_id, "abc@127.0.0.1");
	strcpy(r->codec, "PCMA");
	strcpy(r->route, "demo");
}

static void flushed(void *arg)
{
	*(bool *)arg = true;
	gw_loop_stop();
}

/* Wait until the writer has committed everything queued so far. */
static void flush(struct gw_cdr *cdr)
{
	bool done = false;

	assert_int_equal(gw_cdr_flush(cdr, flushed, &done), 0);
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	assert_true(done);
}

struct listed {
	int err;
	json_t *rows;
	bool done;
};

static void listed_h(int e, json_t *rows, void *arg)
{
	struct listed *l = arg;

	l->err = e;
	l->rows = rows;
	l->done = true;
	gw_loop_stop();
}

static json_t *list(struct gw_cdr *cdr, unsigned n)
{
	struct listed l = {0};

	assert_int_equal(gw_cdr_list(cdr, n, listed_h, &l), 0);
	assert_int_equal(gw_loop_run_timeout(5000), 0);
	assert_true(l.done);
	assert_int_equal(l.err, 0);
	assert_true(json_is_array(l.rows));
	return l.rows;
}

/* A second connection, as junctionctl or an operator's sqlite3 would. */
static sqlite3 *peek_open(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	return db;
}

static long long peek_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_type(st, 0) == SQLITE_NULL ? -2 :
			sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static const char *row_str(const json_t *row, const char *key)
{
	return json_string_value(json_object_get(row, key));
}

static void test_stages_and_dispositions(void **state)
{
	struct gw_cdr *cdr = open_db("stages");
	struct gw_cdr_rec a, b, c, d;
	struct gw_cdr_stats st;
	json_t *rows, *r;

	(void)state;
	rec_init(&a, "call-a", "out");
	a.start_ms = 1700000000000;
	assert_int_equal(gw_cdr_begin(cdr, &a), 0);
	a.answer_ms = 1700000002000;
	assert_int_equal(gw_cdr_answer(cdr, &a), 0);
	a.end_ms = 1700000062500;
	a.q850 = 16;
	a.sip = 200;
	a.dtmf = 3;
	a.loss = 0.5;
	a.jitter_ms = 4.25;
	a.mos = 4.3;
	assert_int_equal(gw_cdr_end(cdr, &a), 0);
	assert_int_equal(a.disposition, GW_CDR_ANSWERED);

	rec_init(&b, "call-b", "in");
	b.start_ms = 1700000001000;
	assert_int_equal(gw_cdr_begin(cdr, &b), 0);
	b.q850 = 17;
	b.sip = 486;
	assert_int_equal(gw_cdr_end(cdr, &b), 0);
	assert_int_equal(b.disposition, GW_CDR_BUSY);
	assert_true(b.end_ms > 0);	/* filled with the time now */

	rec_init(&c, "call-c", "out");
	c.start_ms = 1700000003000;
	assert_int_equal(gw_cdr_begin(cdr, &c), 0);
	c.sip = 487;
	c.q850 = 16;
	assert_int_equal(gw_cdr_end(cdr, &c), 0);
	assert_int_equal(c.disposition, GW_CDR_CANCELLED);

	rec_init(&d, "call-d", "out");
	d.start_ms = 1700000004000;
	assert_int_equal(gw_cdr_begin(cdr, &d), 0);
	d.q850 = 34;
	d.sip = 503;
	assert_int_equal(gw_cdr_end(cdr, &d), 0);
	assert_int_equal(d.disposition, GW_CDR_FAILED);

	rows = list(cdr, 10);
	assert_int_equal(json_array_size(rows), 4);
	r = json_array_get(rows, 0);
	assert_string_equal(row_str(r, "id"), "call-a");
	assert_string_equal(row_str(r, "direction"), "out");
	assert_string_equal(row_str(r, "start"), "2023-11-14T22:13:20.000Z");
	assert_string_equal(row_str(r, "answer"), "2023-11-14T22:13:22.000Z");
	assert_string_equal(row_str(r, "end"), "2023-11-14T22:14:22.500Z");
	assert_string_equal(row_str(r, "disposition"), "ANSWERED");
	assert_int_equal(json_integer_value(json_object_get(r, "q850")), 16);
	assert_int_equal(json_integer_value(json_object_get(r, "sip")), 200);
	assert_true(json_real_value(json_object_get(r, "duration")) == 60.5);
	assert_int_equal(json_integer_value(json_object_get(r, "dtmf")), 3);
	assert_int_equal(json_integer_value(json_object_get(r, "span")), 1);
	assert_int_equal(json_integer_value(json_object_get(r, "ts")), 5);
	assert_string_equal(row_str(r, "calling_in"), "0301234");
	assert_string_equal(row_str(r, "calling_out"), "49301234");
	assert_string_equal(row_str(r, "sip_call_id"), "abc@127.0.0.1");
	assert_string_equal(row_str(r, "codec"), "PCMA");
	assert_true(json_real_value(json_object_get(r, "mos")) == 4.3);
	r = json_array_get(rows, 1);
	assert_string_equal(row_str(r, "id"), "call-b");
	assert_true(json_is_null(json_object_get(r, "answer")));
	assert_string_equal(row_str(r, "disposition"), "BUSY");
	assert_true(json_real_value(json_object_get(r, "duration")) == 0);
	assert_true(json_is_null(json_object_get(r, "mos")));
	assert_string_equal(row_str(json_array_get(rows, 2), "disposition"),
			    "CANCELLED");
	assert_string_equal(row_str(json_array_get(rows, 3), "disposition"),
			    "FAILED");
	json_decref(rows);

	gw_cdr_stats(cdr, &st);
	assert_int_equal(st.queued, 9);
	assert_int_equal(st.committed, 9);
	assert_int_equal(st.failed, 0);
	close_db(cdr);
}

/* An answered call is on disk, readable by another connection, from its
 * answer on; the end updates the same row. */
static void test_answer_committed_before_end(void **state)
{
	struct gw_cdr *cdr = open_db("answer");
	struct gw_cdr_rec a;
	sqlite3 *db;

	(void)state;
	rec_init(&a, "call-1", "in");
	assert_int_equal(gw_cdr_begin(cdr, &a), 0);
	assert_int_equal(gw_cdr_answer(cdr, &a), 0);
	flush(cdr);
	db = peek_open();
	assert_true(peek_int(db, "SELECT answer_ms FROM cdr WHERE "
			     "id='call-1'") > 0);
	assert_int_equal(peek_int(db, "SELECT end_ms FROM cdr WHERE "
				  "id='call-1'"), -2);
	assert_int_equal(gw_cdr_end(cdr, &a), 0);
	flush(cdr);
	assert_int_equal(peek_int(db, "SELECT count(*) FROM cdr"), 1);
	assert_true(peek_int(db, "SELECT end_ms FROM cdr WHERE "
			     "id='call-1'") >= a.answer_ms);
	sqlite3_close(db);
	close_db(cdr);
}

static void test_wal_schema_and_reopen(void **state)
{
	struct gw_cdr *cdr = open_db("wal");
	struct gw_cdr_rec a;
	json_t *rows;
	sqlite3 *db;

	(void)state;
	rec_init(&a, "call-w", "in");
	assert_int_equal(gw_cdr_begin(cdr, &a), 0);
	close_db(cdr);		/* closing drains the queue */

	db = peek_open();
	assert_int_equal(peek_int(db, "SELECT count(*) FROM cdr"), 1);
	assert_int_equal(peek_int(db, "SELECT count(*) FROM sqlite_master "
				  "WHERE type='index' AND name='cdr_start'"),
			 1);
	assert_int_equal(peek_int(db, "PRAGMA user_version"), 1);
	{
		sqlite3_stmt *st;

		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode",
						    -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(st, 0),
				    "wal");
		sqlite3_finalize(st);
	}
	sqlite3_close(db);

	/* Opening again keeps the rows. */
	cdr = open_db("wal");
	rows = list(cdr, 0);
	assert_int_equal(json_array_size(rows), 0);
	json_decref(rows);
	rows = list(cdr, 5);
	assert_int_equal(json_array_size(rows), 1);
	json_decref(rows);
	close_db(cdr);
}

static void test_last_n(void **state)
{
	struct gw_cdr *cdr = open_db("lastn");
	struct gw_cdr_rec r;
	char id[16];
	json_t *rows;
	unsigned i;

	(void)state;
	/* Started out of order: the last 5 by start time, oldest first. */
	for (i = 0; i < 20; i++) {
		snprintf(id, sizeof(id), "c%02u", i);
		rec_init(&r, id, "in");
		r.start_ms = 1700000000000 + (i % 2 ? 1000 * i : 100000 - i);
		assert_int_equal(gw_cdr_begin(cdr, &r), 0);
		assert_int_equal(gw_cdr_end(cdr, &r), 0);
	}
	rows = list(cdr, 5);
	assert_int_equal(json_array_size(rows), 5);
	assert_string_equal(row_str(json_array_get(rows, 0), "id"), "c08");
	assert_string_equal(row_str(json_array_get(rows, 1), "id"), "c06");
	assert_string_equal(row_str(json_array_get(rows, 4), "id"), "c00");
	json_decref(rows);
	close_db(cdr);
}

static void test_export(void **state)
{
	struct gw_cdr *cdr = open_db("export");
	struct gw_cdr_rec r;
	json_t *rows, *reply;
	char *buf = NULL, *s;
	size_t len = 0;
	FILE *f;

	(void)state;
	rec_init(&r, "x1", "in");
	strcpy(r.sip_call_id, "a,\"b\"@h");
	r.start_ms = 1700000000000;
	r.answer_ms = 1700000001000;
	r.end_ms = 1700000003000;
	r.q850 = 16;
	r.sip = 200;
	assert_int_equal(gw_cdr_begin(cdr, &r), 0);
	assert_int_equal(gw_cdr_end(cdr, &r), 0);
	rows = list(cdr, 10);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(gw_cdr_csv(rows, f), 0);
	fclose(f);
	assert_true(!strncmp(buf, "id,direction,start,answer,end,"
			     "disposition,", 30));
	s = strstr(buf, "\r\nx1,in,2023-11-14T22:13:20.000Z,"
		   "2023-11-14T22:13:21.000Z,2023-11-14T22:13:23.000Z,"
		   "ANSWERED,0301234,2000,49301234,2000,1,5,"
		   "\"a,\"\"b\"\"@h\",PCMA,demo,16,200,2.000,0,");
	if (!s)
		fail_msg("csv: %s", buf);
	free(buf);

	/* The status socket reply: {"cdr":[...]}, DESIGN.md's shape. */
	reply = gw_cdr_reply(rows);
	assert_non_null(reply);
	s = json_dumps(reply, JSON_COMPACT);
	assert_non_null(strstr(s, "\"cdr\":[{"));
	assert_non_null(strstr(s, "\"answer\":\"2023-11-14T22:13:21.000Z\""));
	assert_non_null(strstr(s, "\"disposition\":\"ANSWERED\""));
	assert_non_null(strstr(s, "\"q850\":16"));
	assert_non_null(strstr(s, "\"sip\":200"));
	free(s);
	json_decref(reply);
	close_db(cdr);
}

static void test_bad_input(void **state)
{
	struct gw_cdr *cdr = NULL;
	struct gw_cdr_rec r;

	(void)state;
	assert_int_equal(gw_cdr_open(&cdr, "/nonexistent/dir/cdr.sqlite",
				     GW_CDR_SYNC_FULL, err, sizeof(err)), EIO);
	assert_null(cdr);
	assert_non_null(strstr(err, "/nonexistent/dir/cdr.sqlite"));

	cdr = open_db("bad");
	rec_init(&r, "", "in");
	assert_int_equal(gw_cdr_begin(cdr, &r), EINVAL);
	rec_init(&r, "x", "up");
	assert_int_equal(gw_cdr_begin(cdr, &r), EINVAL);
	assert_int_equal(gw_cdr_list(cdr, 1, NULL, NULL), EINVAL);
	assert_int_equal(gw_cdr_csv(NULL, stdout), EINVAL);
	close_db(cdr);
}

/* ---- kill -9 in the middle of a stream of calls --------------------- */

struct crash {
	struct gw_cdr *cdr;
	int fd;
	uint32_t next;
};

static void crash_batch(void *arg);

/* Every answer queued before this flush is committed: report the count. */
static void crash_flushed(void *arg)
{
	struct crash *c = arg;

	if (write(c->fd, &c->next, sizeof(c->next)) != sizeof(c->next))
		_exit(3);
	crash_batch(c);
}

/* Ten calls: begin and answer each, end every other one, then a flush;
 * the next batch is queued as soon as this one is on disk, so the writer
 * is always busy when the kill comes. */
static void crash_batch(void *arg)
{
	struct crash *c = arg;
	struct gw_cdr_rec r;
	unsigned i;

	for (i = 0; i < 10; i++, c->next++) {
		char id[16];

		snprintf(id, sizeof(id), "k%06u", (unsigned)c->next);
		rec_init(&r, id, c->next % 2 ? "in" : "out");
		if (gw_cdr_begin(c->cdr, &r) || gw_cdr_answer(c->cdr, &r))
			_exit(4);
		if (c->next % 2 && gw_cdr_end(c->cdr, &r))
			_exit(4);
	}
	if (gw_cdr_flush(c->cdr, crash_flushed, c))
		_exit(5);
}

static void crash_child(int fd)
{
	struct crash c = {.fd = fd};

	if (gw_loop_init() ||
	    gw_cdr_open(&c.cdr, path, GW_CDR_SYNC_NORMAL, err, sizeof(err)))
		_exit(2);
	crash_batch(&c);
	gw_loop_run();
	_exit(6);
}

static void test_crash_keeps_answered_calls(void **state)
{
	uint32_t n, confirmed = 0;
	int fds[2], status, i;
	long long rows;
	sqlite3 *db;
	sqlite3_stmt *st;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/crash.sqlite", dir);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		crash_child(fds[1]);
	}
	close(fds[1]);
	alarm(60);	/* a child that hangs must not hang the suite */
	/* Let it commit a few hundred answered calls, then kill it while
	 * the next batch is being written. */
	while (confirmed < 500 &&
	       read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
		confirmed = n;
	assert_true(confirmed >= 500);
	usleep(2000);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Reports written before the kill: their calls were committed. */
	while (read(fds[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
		confirmed = n;
	close(fds[0]);
	alarm(0);

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1,
					    &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT answer_ms FROM cdr "
					    "WHERE id = ?", -1, &st, NULL),
			 SQLITE_OK);
	for (i = 0; i < (int)confirmed; i++) {
		char id[16];

		snprintf(id, sizeof(id), "k%06d", i);
		sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_ROW ||
		    sqlite3_column_type(st, 0) == SQLITE_NULL)
			fail_msg("answered call %s is missing (%u confirmed)",
				 id, (unsigned)confirmed);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	rows = peek_int(db, "SELECT count(*) FROM cdr");
	assert_true(rows >= (long long)confirmed);
	sqlite3_close(db);
	print_message("crash: %u answered calls confirmed before kill -9, "
		      "all present; %lld rows\n", (unsigned)confirmed, rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		UNIT_TEST(test_crash_keeps_answered_calls),
		UNIT_TEST(test_stages_and_dispositions),
		UNIT_TEST(test_answer_committed_before_end),
		UNIT_TEST(test_wal_schema_and_reopen),
		UNIT_TEST(test_last_n),
		UNIT_TEST(test_export),
		UNIT_TEST(test_bad_input),
	};

	return cmocka_run_group_tests_name("gw_cdr", tests, group_setup,
					   group_teardown);
}
