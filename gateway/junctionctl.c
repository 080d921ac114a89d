/* gateway/junctionctl.c - junctionctl: ask a Junction daemon's status socket */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "core.h"

/*
 * One request, one reply, no loop: build the request from the command
 * line, gw_ctl_call it, and print the reply either as the JSON line
 * (--json, for scripts) or as text for a person.  Commands this program
 * does not know are sent as they are, so that a daemon's new commands
 * work without a new junctionctl.
 */

#define DEFAULT_RUNDIR		"/tmp/junction-demo"
#define DEFAULT_SOCKET_NAME	"junctiond.sock"
#define DEFAULT_TIMEOUT_MS	5000

enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,	/* the daemon answered ok:false */
	EXIT_USAGE = 2,		/* bad usage, or no answer */
};

static const char *prog = "junctionctl";

static void usage(FILE *f)
{
	fprintf(f,
"usage: %s [-s SOCKET] [--json] [-t TIMEOUT_MS] COMMAND [ARGS...]\n"
"\n"
"Ask a Junction daemon (junctiond, junction-mg, pstnsim) through its status\n"
"socket.\n"
"\n"
"  -s, --socket PATH      the socket (default: $JUNCTION_SOCKET, else\n"
"                         ${JUNCTION_RUNDIR:-" DEFAULT_RUNDIR "}/"
DEFAULT_SOCKET_NAME ")\n"
"  -j, --json             print the reply as one JSON line\n"
"  -t, --timeout MS       how long to wait for the reply (default %d)\n"
"  -h, --help             this help\n"
"  -V, --version          the version\n"
"\n"
"Commands (junctiond; junction-mg and pstnsim answer those they know):\n"
"  status                 the daemon and its subsystems\n"
"  spans                  each span: state, D-channel, bearer, alarms\n"
"  channels               each B-channel: state and call\n"
"  calls                  live calls: state, numbers, channel, codec,\n"
"                         duration\n"
"  call hangup ID [cause=N]  clear a call (cause 16 by default)\n"
"  cdr [N] [--csv]        the last N call records (20), as a table or\n"
"                         as CSV (RFC 4180); also cdr limit=N\n"
"  sip                    SIP listeners, sessions, peers, registrations\n"
"                         (ours, and the registrar's bindings)\n"
"  megaco                 H.248: junctiond's association with its MG;\n"
"                         on junction-mg its virtual MGs and contexts\n"
"  subscribe              print events as they happen, one a line, until\n"
"                         interrupted\n"
"  log                    the log levels\n"
"  log [MODULE] LEVEL     set a level (error, warn, info, debug)\n"
"  log SPEC               set levels from a spec: info,sip=debug\n"
"  reload                 re-read the configuration\n"
"  shutdown               stop the daemon\n"
"  help                   the commands the daemon knows\n"
"  raw JSON               send a JSON object as it is\n"
"  COMMAND [KEY=VALUE...] [KEY:=JSON...] [ARG...]\n"
"                         any other command: KEY=VALUE become fields\n"
"                         (integers and true/false typed; KEY:='\"42\"'\n"
"                         for a string), other ARGs go into \"args\"\n"
"\n"
"Exit status: 0 ok, 1 the daemon refused (ok:false), 2 usage or\n"
"connection error.\n", prog, DEFAULT_TIMEOUT_MS);
}

static const char *default_socket(void)
{
	static char buf[PATH_MAX];
	const char *s = getenv("JUNCTION_SOCKET");
	const char *dir;

	if (s && *s)
		return s;
	dir = getenv("JUNCTION_RUNDIR");
	if (!dir || !*dir)
		dir = DEFAULT_RUNDIR;
	snprintf(buf, sizeof(buf), "%s/%s", dir, DEFAULT_SOCKET_NAME);
	return buf;
}

/* "42" -> 42, "true"/"false" -> booleans, anything else a string. */
static json_t *arg_value(const char *s)
{
	char *end;
	long long v;

	if (!strcmp(s, "true"))
		return json_true();
	if (!strcmp(s, "false"))
		return json_false();
	if (*s && *s != '+' && !(s[0] == '0' && s[1]) &&
	    !(s[0] == '-' && s[1] == '0')) {
		errno = 0;
		v = strtoll(s, &end, 10);
		if (!*end && !errno)
			return json_integer(v);
	}
	return json_string(s);
}

static int build_log(int argc, char **argv, json_t *req)
{
	if (argc == 1) {
		/* "info,sip=debug" is a spec; "debug" the default level. */
		if (strpbrk(argv[0], ",="))
			json_object_set_new(req, "levels",
					    json_string(argv[0]));
		else
			json_object_set_new(req, "level",
					    json_string(argv[0]));
	} else if (argc == 2) {
		json_object_set_new(req, "module", json_string(argv[0]));
		json_object_set_new(req, "level", json_string(argv[1]));
	} else if (argc > 2) {
		return EINVAL;
	}
	return 0;
}

/* The request for COMMAND ARGS; a usage error is reported in err. */
static int build_request(int argc, char **argv, json_t **reqp, char *err,
			 size_t errlen)
{
	const char *cmd = argv[0];
	json_t *req = NULL, *args = NULL;
	json_error_t jerr;
	char *text = NULL, *eq;
	size_t len = 0;
	int i, e = 0;

	if (!strcmp(cmd, "raw")) {
		if (argc < 2) {
			snprintf(err, errlen, "raw needs a JSON object");
			return EINVAL;
		}
		for (i = 1; i < argc; i++)
			len += strlen(argv[i]) + 1;
		text = malloc(len);
		if (!text)
			return ENOMEM;
		text[0] = '\0';
		for (i = 1; i < argc; i++) {
			if (i > 1)
				strcat(text, " ");
			strcat(text, argv[i]);
		}
		req = json_loads(text, JSON_DECODE_ANY, &jerr);
		free(text);
		if (!req) {
			snprintf(err, errlen, "raw: invalid JSON at column "
				 "%d: %s", jerr.column, jerr.text);
			return EINVAL;
		}
		if (!json_is_object(req)) {
			json_decref(req);
			snprintf(err, errlen, "raw: not a JSON object");
			return EINVAL;
		}
		*reqp = req;
		return 0;
	}

	req = json_pack("{s:s}", "cmd", cmd);
	if (!req) {
		snprintf(err, errlen, "'%s' is not a command name", cmd);
		return EINVAL;
	}
	if (!strcmp(cmd, "log")) {
		e = build_log(argc - 1, argv + 1, req);
		if (e)
			snprintf(err, errlen, "usage: log [[MODULE] LEVEL]");
		goto out;
	}
	i = 1;
	if (!strcmp(cmd, "call") && argc >= 3 && !strchr(argv[1], '=') &&
	    !strchr(argv[2], '=')) {
		/* call hangup ID [cause=N] */
		json_object_set_new(req, "action", json_string(argv[1]));
		json_object_set_new(req, "call", json_string(argv[2]));
		i = 3;
	} else if (!strcmp(cmd, "cdr") && argc >= 2 && *argv[1] &&
		   strspn(argv[1], "0123456789") == strlen(argv[1])) {
		/* cdr N: the last N records */
		json_object_set_new(req, "limit", arg_value(argv[1]));
		i = 2;
	}
	for (; i < argc; i++) {
		eq = strchr(argv[i], '=');
		if (eq && eq > argv[i] + 1 && eq[-1] == ':') {
			/* KEY:=JSON, for a value typed by hand. */
			json_t *v = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);

			if (!v) {
				snprintf(err, errlen, "%s: invalid JSON: %s",
					 argv[i], jerr.text);
				e = EINVAL;
				goto out;
			}
			eq[-1] = '\0';
			json_object_set_new(req, argv[i], v);
			eq[-1] = ':';
			continue;
		}
		if (eq && eq != argv[i]) {
			*eq = '\0';
			e = json_object_set_new(req, argv[i],
						arg_value(eq + 1));
			*eq = '=';
		} else {
			if (!args) {
				args = json_array();
				json_object_set_new(req, "args", args);
			}
			e = json_array_append_new(args, json_string(argv[i]));
		}
		if (e) {
			/* jansson takes only UTF-8 */
			snprintf(err, errlen, "'%s' is not valid text",
				 argv[i]);
			e = EINVAL;
			goto out;
		}
	}

 out:
	if (e)
		json_decref(req);
	else
		*reqp = req;
	return e;
}

/* ---- text output ---------------------------------------------------- */

/* Display width of UTF-8 text: code points, not bytes. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void put_padded(const char *s, size_t width)
{
	size_t w = text_width(s);

	fputs(s, stdout);
	while (w++ < width)
		putchar(' ');
}

/* A value as text for a person; free() the result. */
static char *value_text(const json_t *v)
{
	char buf[64];
	const json_t *e;
	char *s, *t, *joined;
	size_t i, len;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return strdup(json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return strdup(buf);
	case JSON_REAL:
		snprintf(buf, sizeof(buf), "%g", json_real_value(v));
		return strdup(buf);
	case JSON_TRUE:
		return strdup("yes");
	case JSON_FALSE:
		return strdup("no");
	case JSON_NULL:
		return strdup("-");
	case JSON_ARRAY:
		if (!json_array_size(v))
			return strdup("-");
		joined = strdup("");
		json_array_foreach(v, i, e) {
			if (!joined)
				return NULL;
			t = json_is_object(e) ? json_dumps(e, JSON_COMPACT | JSON_REAL_PRECISION(10)) :
				value_text(e);
			if (!t)
				continue;
			len = strlen(joined) + strlen(t) + 3;
			s = malloc(len);
			if (s)
				snprintf(s, len, "%s%s%s", joined,
					 *joined ? ", " : "", t);
			free(t);
			free(joined);
			joined = s;
		}
		return joined;
	default:
		return json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
	}
}

/* Flatten obj's members into flat (name -> text): nested objects become
 * "a.b" names. */
static void flatten(json_t *flat, const char *prefix, const json_t *obj)
{
	const char *key;
	json_t *v;
	char name[256];
	char *t;

	json_object_foreach((json_t *)obj, key, v) {
		if (prefix)
			snprintf(name, sizeof(name), "%s.%s", prefix, key);
		else
			snprintf(name, sizeof(name), "%s", key);
		if (json_is_object(v) && json_object_size(v)) {
			flatten(flat, name, v);
			continue;
		}
		t = value_text(v);
		json_object_set_new(flat, name, json_string(t ? t : "?"));
		free(t);
	}
}

/* ---- tables ----------------------------------------------------------- */

enum col_fmt {
	COL_TEXT,	/* the value as text */
	COL_PAIR,	/* key/key2: "1/5", "-" while key is 0 or null */
	COL_DURATION,	/* seconds as M:SS or H:MM:SS */
	COL_TIME,	/* an ISO 8601 UTC time as local "YYYY-MM-DD HH:MM:SS" */
	COL_TERMS,	/* [{"id":..,"mode":..}] as "tdm/1/5(sendrecv) ..." */
};

struct col {
	const char *head;	/* NULL: the key in upper case */
	const char *key;	/* "a.b" reaches into nested objects */
	const char *key2;
	enum col_fmt fmt;
};

#define C(head, key)		{head, key, NULL, COL_TEXT}
#define F(head, key, key2, fmt)	{head, key, key2, fmt}
#define COL_END			{NULL, NULL, NULL, COL_TEXT}

/*
 * The columns an operator wants first for the wide replies, by command
 * and by the name of the array in the reply (NULL: any); the rest stays
 * in --json.  A column no row has is left out, so that one view serves
 * junctiond's "calls" and pstnsim's.  A table without a view shows
 * every column.
 */
static const struct view {
	const char *cmd;
	const char *table;
	struct col cols[16];
} views[] = {
	{"spans", NULL, {C(NULL, "id"), C(NULL, "type"),
		C(NULL, "signalling"),
		C(NULL, "state"), C(NULL, "dchan"), C(NULL, "bearer"),
		C(NULL, "alarms"), C(NULL, "channels.in_use"),
		C(NULL, "channels.total"), C(NULL, "counters.slips"),
		C(NULL, "counters.bad_frames"), C(NULL, "calls"), COL_END}},
	{"calls", NULL, {C("ID", "id"), C("STATE", "state"),
		C("DIR", "direction"), C("FROM", "from"), C("TO", "to"),
		F("SPAN/TS", "span", "ts", COL_PAIR), C("CODEC", "codec"),
		F("DURATION", "duration_s", NULL, COL_DURATION),
		C("BEHAVIOUR", "behaviour"), C("CAUSE", "cause"), COL_END}},
	{"cdr", NULL, {C("ID", "id"), F("START", "start", NULL, COL_TIME),
		C("DIR", "direction"), C("FROM", "calling_in"),
		C("TO", "called_in"), C("ROUTE", "route"),
		F("SPAN/TS", "span", "ts", COL_PAIR), C("CODEC", "codec"),
		C("DISPOSITION", "disposition"), C("Q850", "q850"),
		C("SIP", "sip"), F("DURATION", "duration", NULL, COL_DURATION),
		C("MOS", "mos"), COL_END}},
	{"megaco", "mgs", {C("NAME", "name"), C("STATE", "state"),
		C("MID", "mid"), C("MGC", "mgc"), C("VERSION", "version"),
		C("REGISTRATIONS", "registrations"),
		C("FAILOVERS", "failovers"),
		C("REQUESTS", "requests_received"),
		C("REJECTED", "requests_rejected"), C("SENT", "requests_sent"),
		C("TIMEOUTS", "timeouts"),
		F("REGISTERED", "registered_s", NULL, COL_DURATION), COL_END}},
	{"megaco", "contexts", {C("CONTEXT", "id"), C("MG", "mg"),
		F("TERMINATIONS", "terminations", NULL, COL_TERMS), COL_END}},
	{"sip", "listeners", {C("TRANSPORT", "transport"),
		C("ADDRESS", "addr"), C("PORT", "port"), COL_END}},
	{"sip", "sessions", {C("CALL-ID", "call_id"), C("STATE", "state"),
		C("DIR", "direction"), COL_END}},
	{"sip", "registrations", {C("NAME", "name"), C("AOR", "aor"),
		C("REGISTRAR", "registrar"), C("STATE", "state"),
		C("LAST", "last_status"), C("FAILURES", "failures"),
		F("EXPIRES", "expires_in", NULL, COL_DURATION),
		F("RETRY", "retry_in", NULL, COL_DURATION), COL_END}},
	{"sip", "peers", {C("NAME", "name"), C("URI", "uri"),
		C("TRANSPORT", "transport"), C("STATE", "state"),
		C("FAILURES", "failures"), C("LAST", "last_status"),
		C("RTT_MS", "rtt_ms"), COL_END}},
	{"sip", "bindings", {C("AOR", "aor"), C("CONTACT", "contact"),
		C("Q", "q"), F("EXPIRES", "expires_in", NULL, COL_DURATION),
		C("SOURCE", "source"), COL_END}},
};

static const char *cur_cmd = "";

static const struct view *find_view(const char *table)
{
	size_t i;

	for (i = 0; i < sizeof(views) / sizeof(views[0]); i++) {
		if (strcmp(views[i].cmd, cur_cmd))
			continue;
		if (!views[i].table || (table && !strcmp(views[i].table,
							  table)))
			return &views[i];
	}
	return NULL;
}

/* obj's member at a dotted path ("channels.in_use"), or NULL. */
static const json_t *get_path(const json_t *obj, const char *path)
{
	char name[128];
	const char *dot;
	size_t n;

	while ((dot = strchr(path, '.'))) {
		n = (size_t)(dot - path);
		if (n >= sizeof(name))
			return NULL;
		memcpy(name, path, n);
		name[n] = '\0';
		obj = json_object_get(obj, name);
		path = dot + 1;
	}
	return json_object_get(obj, path);
}

static char *duration_text(double secs)
{
	long long s = (long long)(secs + 0.5);
	char buf[64];

	if (s < 0)
		s = 0;
	if (s >= 3600)
		snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", s / 3600,
			 s % 3600 / 60, s % 60);
	else
		snprintf(buf, sizeof(buf), "%lld:%02lld", s / 60, s % 60);
	return strdup(buf);
}

static char *time_text(const char *iso)
{
	struct tm tm;
	time_t t;
	char buf[64];
	const char *end;

	memset(&tm, 0, sizeof(tm));
	end = strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return strdup(iso);
	t = timegm(&tm);
	if (!localtime_r(&t, &tm) ||
	    !strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		return strdup(iso);
	return strdup(buf);
}

static char *terms_text(const json_t *a)
{
	const json_t *e;
	char *s = strdup(""), *n;
	size_t i, len;

	json_array_foreach(a, i, e) {
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *mode = json_string_value(json_object_get(e,
								     "mode"));

		if (!s)
			return NULL;
		len = strlen(s) + (id ? strlen(id) : 1) +
			(mode ? strlen(mode) : 0) + 4;
		n = malloc(len);
		if (n)
			snprintf(n, len, "%s%s%s%s%s%s", s, *s ? " " : "",
				 id ? id : "?", mode ? "(" : "",
				 mode ? mode : "", mode ? ")" : "");
		free(s);
		s = n;
	}
	return s && *s ? s : (free(s), strdup("-"));
}

/* A cell of row in column c; free() the result. */
static char *cell_text(const json_t *row, const struct col *c)
{
	const json_t *v = get_path(row, c->key), *v2;
	char buf[96], *a, *b;

	if (!v || json_is_null(v))
		return strdup("-");
	switch (c->fmt) {
	case COL_PAIR:
		if (json_is_integer(v) && !json_integer_value(v))
			return strdup("-");
		v2 = get_path(row, c->key2);
		a = value_text(v);
		b = v2 ? value_text(v2) : strdup("-");
		snprintf(buf, sizeof(buf), "%s/%s", a ? a : "?",
			 b ? b : "?");
		free(a);
		free(b);
		return strdup(buf);
	case COL_DURATION:
		if (json_is_number(v))
			return duration_text(json_number_value(v));
		break;
	case COL_TIME:
		if (json_is_string(v))
			return time_text(json_string_value(v));
		break;
	case COL_TERMS:
		if (json_is_array(v))
			return terms_text(v);
		break;
	case COL_TEXT:
		break;
	}
	return value_text(v);
}

static char *upper(const char *s)
{
	char *up = strdup(s), *p;

	for (p = up; p && *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return up;
}

/* Rows of cells under a header, in columns as wide as their widest. */
static void print_cells(json_t *heads, json_t *cells)
{
	size_t ncols = json_array_size(heads), i, j, *width;
	const json_t *row, *v;

	width = calloc(ncols ? ncols : 1, sizeof(*width));
	if (!width)
		return;
	json_array_foreach(heads, j, v)
		width[j] = text_width(json_string_value(v));
	json_array_foreach(cells, i, row) {
		json_array_foreach(row, j, v) {
			if (text_width(json_string_value(v)) > width[j])
				width[j] = text_width(json_string_value(v));
		}
	}
	for (i = 0; i <= json_array_size(cells); i++) {
		row = i ? json_array_get(cells, i - 1) : heads;
		json_array_foreach(row, j, v) {
			if (j + 1 < ncols)
				put_padded(json_string_value(v), width[j] + 2);
			else
				fputs(json_string_value(v), stdout);
		}
		putchar('\n');
	}
	free(width);
}

/* An array of objects as columns under an upper-case header. */
static void print_table(const json_t *rows, const char *name)
{
	const struct view *vw = find_view(name);
	json_t *heads = json_array(), *cells = json_array(), *seen, *cols;
	const json_t *row, *col;
	const struct col *c;
	const char *key;
	size_t i, j;
	json_t *v;
	char *t;

	if (vw) {
		const struct col *use[16];
		size_t n = 0;

		for (c = vw->cols; c->key; c++) {
			json_array_foreach(rows, i, row) {
				if (get_path(row, c->key)) {
					use[n++] = c;
					break;
				}
			}
		}
		for (j = 0; j < n; j++) {
			t = use[j]->head ? strdup(use[j]->head) :
				upper(use[j]->key);
			json_array_append_new(heads, json_string(t ? t : "?"));
			free(t);
		}
		json_array_foreach(rows, i, row) {
			json_t *r = json_array();

			for (j = 0; j < n; j++) {
				t = cell_text(row, use[j]);
				json_array_append_new(r, json_string(t ? t :
								      "?"));
				free(t);
			}
			json_array_append_new(cells, r);
		}
		print_cells(heads, cells);
		goto out;
	}

	/* No view: every member of every row, nested ones as "a.b". */
	seen = json_object();
	cols = json_array();
	json_array_foreach(rows, i, row) {
		json_t *f = json_object();

		flatten(f, NULL, row);
		json_object_foreach(f, key, v) {
			if (!json_object_get(seen, key)) {
				json_object_set_new(seen, key, json_true());
				json_array_append_new(cols, json_string(key));
			}
		}
		json_array_append_new(cells, f);
	}
	json_array_foreach(cols, j, col) {
		t = upper(json_string_value(col));
		json_array_append_new(heads, json_string(t ? t : "?"));
		free(t);
	}
	json_array_foreach(cells, i, row) {
		json_t *r = json_array();

		json_array_foreach(cols, j, col) {
			v = json_object_get(row, json_string_value(col));
			json_array_append_new(r, json_string(
				v ? json_string_value(v) : "-"));
		}
		json_array_set_new(cells, i, r);
	}
	print_cells(heads, cells);
	json_decref(seen);
	json_decref(cols);
 out:
	json_decref(heads);
	json_decref(cells);
}

static bool is_table(const json_t *v)
{
	const json_t *e;
	size_t i;

	if (!json_is_array(v) || !json_array_size(v))
		return false;
	json_array_foreach(v, i, e) {
		if (!json_is_object(e))
			return false;
	}
	return true;
}

static bool envelope(const char *key)
{
	return !strcmp(key, "ok") || !strcmp(key, "id");
}

/*
 * Any reply: scalars (and nested objects, flattened) as aligned
 * "key: value" lines, then each array of objects as a table.
 */
static void print_generic(const json_t *obj, const char *const *skip)
{
	json_t *flat = json_object();
	const char *key, *const *s;
	size_t n = 0, w = 0, tables = 0;
	json_t *v, *only = NULL;
	bool first = true;
	char *t;

	json_object_foreach((json_t *)obj, key, v) {
		for (s = skip; s && *s && strcmp(*s, key); s++)
			;
		if (envelope(key) || (s && *s))
			continue;
		n++;
		only = v;
	}
	/* One object inside the reply: show its members directly. */
	if (n == 1 && json_is_object(only) && !skip) {
		print_generic(only, NULL);
		json_decref(flat);
		return;
	}

	json_object_foreach((json_t *)obj, key, v) {
		for (s = skip; s && *s && strcmp(*s, key); s++)
			;
		if (envelope(key) || (s && *s))
			continue;
		if (is_table(v)) {
			tables++;
			continue;
		}
		if (json_is_object(v) && json_object_size(v)) {
			json_t *sub = json_object();

			flatten(sub, key, v);
			json_object_update(flat, sub);
			json_decref(sub);
			continue;
		}
		t = value_text(v);
		json_object_set_new(flat, key, json_string(t ? t : "?"));
		free(t);
	}
	json_object_foreach(flat, key, v) {
		if (text_width(key) + 1 > w)
			w = text_width(key) + 1;
	}
	json_object_foreach(flat, key, v) {
		printf("%s:", key);
		put_padded(" ", w - text_width(key));
		printf("%s\n", json_string_value(v));
		first = false;
	}
	json_object_foreach((json_t *)obj, key, v) {
		for (s = skip; s && *s && strcmp(*s, key); s++)
			;
		if (envelope(key) || (s && *s) || !is_table(v))
			continue;
		if (!first)
			putchar('\n');
		if (n > 1)
			printf("%s:\n", key);
		print_table(v, key);
		first = false;
	}
	if (first && !tables && !n)
		printf("ok\n");
	json_decref(flat);
}

static void print_duration(long long s)
{
	if (s >= 86400)
		printf("%lldd %lldh %lldm", s / 86400, s % 86400 / 3600,
		       s % 3600 / 60);
	else if (s >= 3600)
		printf("%lldh %lldm %llds", s / 3600, s % 3600 / 60, s % 60);
	else if (s >= 60)
		printf("%lldm %llds", s / 60, s % 60);
	else
		printf("%llds", s);
}

/* status: who answers, then its subsystems, one line each. */
static void print_status(const json_t *r)
{
	static const char *const skip[] = {
		"program", "version", "pid", "uptime_s", "uptime", "state",
		"subsystems", NULL
	};
	const json_t *subs = json_object_get(r, "subsystems");
	const json_t *up = json_object_get(r, "uptime_s");
	const json_t *started = json_object_get(r, "started");
	const json_t *sub, *v, *state;
	json_t *copy;
	const char *key;
	size_t i, wname = 4, wstate = 5;
	char *t;

	if (!up)
		up = json_object_get(r, "uptime");
	printf("%s", json_string_value(json_object_get(r, "program")) ?
	       json_string_value(json_object_get(r, "program")) : "?");
	if (json_is_string(json_object_get(r, "version")))
		printf(" %s", json_string_value(json_object_get(r,
								"version")));
	if (json_is_integer(json_object_get(r, "pid")))
		printf(", pid %" JSON_INTEGER_FORMAT,
		       json_integer_value(json_object_get(r, "pid")));
	if (json_is_number(up)) {
		printf(", up ");
		print_duration((long long)json_number_value(up));
	}
	if (json_is_string(json_object_get(r, "state")))
		printf(", %s", json_string_value(json_object_get(r,
								"state")));
	putchar('\n');
	copy = json_copy((json_t *)r);
	if (json_is_integer(started) && copy) {
		time_t when = (time_t)json_integer_value(started);
		struct tm tm;
		char buf[64];

		if (localtime_r(&when, &tm) &&
		    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
			json_object_set_new(copy, "started", json_string(buf));
	}
	print_generic(copy ? copy : r, skip);
	json_decref(copy);

	if (!json_is_array(subs) || !json_array_size(subs))
		return;
	json_array_foreach(subs, i, sub) {
		v = json_object_get(sub, "name");
		if (json_is_string(v) && text_width(json_string_value(v)) >
		    wname)
			wname = text_width(json_string_value(v));
		v = json_object_get(sub, "state");
		if (json_is_string(v) && text_width(json_string_value(v)) >
		    wstate)
			wstate = text_width(json_string_value(v));
	}
	putchar('\n');
	put_padded("NAME", wname + 2);
	put_padded("STATE", wstate + 2);
	printf("DETAILS\n");
	json_array_foreach(subs, i, sub) {
		json_t *flat = json_object();
		bool sp = false;

		v = json_object_get(sub, "name");
		put_padded(json_is_string(v) ? json_string_value(v) : "?",
			   wname + 2);
		state = json_object_get(sub, "state");
		if (json_is_object(sub))
			flatten(flat, NULL, sub);
		json_object_del(flat, "name");
		json_object_del(flat, "state");
		if (!json_object_size(flat)) {
			printf("%s\n", json_is_string(state) ?
			       json_string_value(state) : "-");
			json_decref(flat);
			continue;
		}
		put_padded(json_is_string(state) ? json_string_value(state) :
			   "-", wstate + 2);
		json_object_foreach(flat, key, v) {
			t = strchr(json_string_value(v), ' ') ?
				json_dumps(v, JSON_ENCODE_ANY) : NULL;
			printf("%s%s=%s", sp ? " " : "", key,
			       t ? t : json_string_value(v));
			free(t);
			sp = true;
		}
		putchar('\n');
		json_decref(flat);
	}
}

/* sip: the UA's tables; the registrar's bindings become a table of
 * their own ("registrar: off" when it is not enabled). */
static void print_sip(const json_t *reply)
{
	json_t *sip = json_deep_copy(json_object_get(reply, "sip"));
	json_t *reg, *bindings;

	if (!json_is_object(sip)) {
		json_decref(sip);
		print_generic(reply, NULL);
		return;
	}
	reg = json_object_get(sip, "registrar");
	if (json_is_object(reg)) {
		bindings = json_object_get(reg, "bindings");
		json_incref(bindings);
		json_object_del(reg, "bindings");
		json_object_set_new(sip, "bindings", bindings ? bindings :
				    json_array());
	} else {
		json_object_set_new(sip, "registrar", json_string("off"));
	}
	print_generic(sip, NULL);
	json_decref(sip);
}

/* ---- cdr --csv ------------------------------------------------------- */

/* The columns of a CDR row, in the order junctiond keeps them; members
 * a newer junctiond adds follow them. */
static const char *const cdr_cols[] = {
	"id", "direction", "start", "answer", "end", "disposition",
	"calling_in", "called_in", "calling_out", "called_out", "span", "ts",
	"sip_call_id", "codec", "route", "q850", "sip", "duration", "dtmf",
	"loss", "jitter", "mos", NULL,
};

static void csv_field(const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* The rows as CSV (RFC 4180): a header line, a line per row, CRLF line
 * ends, fields with commas, quotes or line breaks quoted, null empty. */
static void print_cdr_csv(const json_t *reply)
{
	const json_t *rows = json_object_get(reply, "cdr"), *row, *v, *col;
	json_t *cols = json_array();
	const char *key;
	size_t i, j;
	char *t;

	for (i = 0; cdr_cols[i]; i++)
		json_array_append_new(cols, json_string(cdr_cols[i]));
	json_array_foreach(rows, i, row) {
		json_object_foreach((json_t *)row, key, v) {
			bool known = false;

			json_array_foreach(cols, j, col)
				known |= !strcmp(json_string_value(col), key);
			if (!known)
				json_array_append_new(cols, json_string(key));
		}
	}
	json_array_foreach(cols, j, col) {
		if (j)
			putchar(',');
		csv_field(json_string_value(col));
	}
	fputs("\r\n", stdout);
	json_array_foreach(rows, i, row) {
		json_array_foreach(cols, j, col) {
			if (j)
				putchar(',');
			v = json_object_get(row, json_string_value(col));
			if (!v || json_is_null(v))
				continue;
			if (json_is_string(v)) {
				csv_field(json_string_value(v));
			} else if (json_is_integer(v)) {
				printf("%" JSON_INTEGER_FORMAT,
				       json_integer_value(v));
			} else if (json_is_real(v)) {
				printf("%.3f", json_real_value(v));
			} else if (json_is_boolean(v)) {
				fputs(json_is_true(v) ? "true" : "false",
				      stdout);
			} else {
				t = json_dumps(v, JSON_COMPACT);
				csv_field(t ? t : "");
				free(t);
			}
		}
		fputs("\r\n", stdout);
	}
	json_decref(cols);
}

/* ---- subscribe ------------------------------------------------------- */

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* One event as a line: the time it arrived, the event, its id and what
 * happened, then its other members as key=value. */
static void print_event(const json_t *ev)
{
	static const char *const lead[] = {"event", "id", "what", NULL};
	const json_t *v, *span = json_object_get(ev, "span");
	const json_t *ts = json_object_get(ev, "ts");
	struct timespec now;
	struct tm tm;
	const char *key;
	char buf[32];
	size_t i;
	char *t;

	clock_gettime(CLOCK_REALTIME, &now);
	if (localtime_r(&now.tv_sec, &tm) &&
	    strftime(buf, sizeof(buf), "%H:%M:%S", &tm))
		printf("%s.%03ld", buf, now.tv_nsec / 1000000);
	for (i = 0; lead[i]; i++) {
		v = json_object_get(ev, lead[i]);
		if (!v)
			continue;
		t = value_text(v);
		printf(" %s", t ? t : "?");
		free(t);
	}
	json_object_foreach((json_t *)ev, key, v) {
		bool skip = false;

		for (i = 0; lead[i]; i++)
			skip |= !strcmp(key, lead[i]);
		if (skip)
			continue;
		if (json_is_integer(span) && json_is_integer(ts) &&
		    (v == span || v == ts)) {
			if (v == span) {
				if (json_integer_value(span))
					printf(" span/ts=%" JSON_INTEGER_FORMAT
					       "/%" JSON_INTEGER_FORMAT,
					       json_integer_value(span),
					       json_integer_value(ts));
			}
			continue;
		}
		t = value_text(v);
		if (t && (strchr(t, ' ') || !*t)) {
			char *q = json_dumps(v, JSON_ENCODE_ANY);

			printf(" %s=%s", key, q ? q : t);
			free(q);
		} else {
			printf(" %s=%s", key, t ? t : "?");
		}
		free(t);
	}
	putchar('\n');
}

/*
 * subscribe: the daemon answers {"ok":true} and then pushes one JSON
 * line per event on the same connection; print each as it comes until
 * SIGINT or SIGTERM (exit 0) or the daemon closes (exit 2).
 */
static int run_subscribe(const char *path, const json_t *req, bool json_out)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char *out = json_dumps(req, JSON_COMPACT), *line = NULL;
	size_t cap = 0, len, off;
	bool acked = false;
	json_t *msg;
	ssize_t n;
	FILE *in;
	int fd;

	if (!out)
		return EXIT_USAGE;
	if (strlen(path) >= sizeof(un.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
		free(out);
		return EXIT_USAGE;
	}
	strcpy(un.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&un, sizeof(un))) {
		fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, path,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		free(out);
		return EXIT_USAGE;
	}
	len = strlen(out);
	out[len++] = '\n';	/* json_dumps' NUL becomes the newline */
	for (off = 0; off < len; off += (size_t)n) {
		n = write(fd, out + off, len - off);
		if (n < 0 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
			free(out);
			close(fd);
			return EXIT_USAGE;
		}
	}
	free(out);
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return EXIT_USAGE;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);	/* no SA_RESTART: getline returns */
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (!interrupted && getline(&line, &cap, in) > 0) {
		msg = json_loads(line, 0, NULL);
		if (!acked) {
			const json_t *ok = json_object_get(msg, "ok");
			const char *e = json_string_value(
				json_object_get(msg, "error"));

			acked = true;
			if (!json_is_true(ok)) {
				fprintf(stderr, "%s: %s\n", prog, e ? e :
					"subscribe refused");
				json_decref(msg);
				free(line);
				fclose(in);
				return EXIT_REFUSED;
			}
			json_decref(msg);
			continue;
		}
		if (json_out || !json_is_object(msg))
			fputs(line, stdout);
		else
			print_event(msg);
		json_decref(msg);
	}
	free(line);
	fclose(in);
	if (interrupted)
		return EXIT_OK;
	fprintf(stderr, "%s: %s closed the connection\n", prog, path);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const char *sock = NULL;
	bool json_out = false, csv_out = false;
	long timeout = DEFAULT_TIMEOUT_MS;
	json_t *req = NULL, *reply = NULL, *ok;
	char err[512] = "", *end, *line;
	int c, e;

	/* "+": options end at COMMAND, whose own ARGS may start with '-'. */
	while ((c = getopt_long(argc, argv, "+s:jt:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			json_out = true;
			break;
		case 't':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (errno || *end || timeout <= 0 ||
			    timeout > INT_MAX) {
				fprintf(stderr, "%s: bad timeout '%s' (ms)\n",
					prog, optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("junctionctl (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!sock)
		sock = default_socket();
	/* "junctionctl status --json" as people type it; no command takes
	 * "--json" as an argument of its own. */
	for (c = e = optind + 1; c < argc; c++) {
		if (!strcmp(argv[c], "--json"))
			json_out = true;
		else if (!strcmp(argv[c], "--csv"))
			csv_out = true;
		else
			argv[e++] = argv[c];
	}
	argc = e;
	cur_cmd = argv[optind];
	if (csv_out && strcmp(cur_cmd, "cdr")) {
		fprintf(stderr, "%s: --csv is for cdr only\n", prog);
		return EXIT_USAGE;
	}

	e = build_request(argc - optind, argv + optind, &req, err,
			  sizeof(err));
	if (e) {
		fprintf(stderr, "%s: %s\n", prog, e == ENOMEM ?
			"out of memory" : err);
		return EXIT_USAGE;
	}
	if (!strcmp(cur_cmd, "subscribe")) {
		e = run_subscribe(sock, req, json_out);
		json_decref(req);
		return e;
	}
	e = gw_ctl_call(sock, req, &reply, (int)timeout, err, sizeof(err));
	json_decref(req);
	if (e) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return EXIT_USAGE;
	}
	ok = json_object_get(reply, "ok");
	if (!json_is_boolean(ok)) {
		line = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(10));
		fprintf(stderr, "%s: bad reply (no \"ok\"): %s\n", prog,
			line ? line : "?");
		free(line);
		json_decref(reply);
		return EXIT_USAGE;
	}

	if (csv_out && json_is_true(ok)) {
		print_cdr_csv(reply);
	} else if (json_out) {
		line = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(10));
		if (line)
			printf("%s\n", line);
		free(line);
	} else if (json_is_true(ok)) {
		if (!strcmp(cur_cmd, "status") &&
		    json_object_get(reply, "program"))
			print_status(reply);
		else if (!strcmp(cur_cmd, "sip"))
			print_sip(reply);
		else
			print_generic(reply, NULL);
	}
	if (!json_is_true(ok)) {
		const char *msg = json_string_value(json_object_get(reply,
								    "error"));

		fprintf(stderr, "%s: %s\n", prog, msg ? msg : "failed");
	}
	e = json_is_true(ok) ? EXIT_OK : EXIT_REFUSED;
	json_decref(reply);
	if (fflush(stdout) || ferror(stdout))
		return EXIT_USAGE;
	return e;
}
