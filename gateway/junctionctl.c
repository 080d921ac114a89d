/* gateway/junctionctl.c - junctionctl: ask a Junction daemon's status socket */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
"Commands:\n"
"  status                 the daemon and its subsystems\n"
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
	for (i = 1; i < argc; i++) {
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

/*
 * The columns an operator wants first for the wide replies; others stay
 * in --json.  A command not listed shows every column.
 */
static const struct view {
	const char *cmd;
	const char *cols[16];
} views[] = {
	{"spans", {"id", "type", "signalling", "state", "dchan", "bearer",
		   "alarms", "channels.in_use", "channels.total",
		   "counters.slips", "counters.bad_frames", "calls", NULL}},
	{"calls", {"id", "state", "direction", "from", "to", "span", "ts",
		   "codec", "behaviour", "cause", NULL}},
};

static const char *const *view_cols;

static void set_view(const char *cmd)
{
	size_t i;

	for (i = 0; i < sizeof(views) / sizeof(views[0]); i++)
		if (!strcmp(views[i].cmd, cmd))
			view_cols = views[i].cols;
}

static bool in_view(const char *col)
{
	const char *const *c;

	if (!view_cols)
		return true;
	for (c = view_cols; *c; c++)
		if (!strcmp(*c, col))
			return true;
	return false;
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

/* An array of objects as columns under an upper-case header. */
static void print_table(const json_t *rows)
{
	json_t *cols = json_array(), *flats = json_array(), *seen;
	const json_t *row, *flat, *col;
	const char *key;
	size_t i, j, ncols, *width;
	json_t *v;
	char *up, *p;

	seen = json_object();
	json_array_foreach(rows, i, row) {
		json_t *f = json_object();

		flatten(f, NULL, row);
		json_object_foreach(f, key, v) {
			if (!in_view(key))
				continue;
			if (!json_object_get(seen, key)) {
				json_object_set_new(seen, key, json_true());
				json_array_append_new(cols, json_string(key));
			}
		}
		json_array_append_new(flats, f);
	}
	if (view_cols) {
		const char *const *vc;

		json_array_clear(cols);
		for (vc = view_cols; *vc; vc++)
			if (json_object_get(seen, *vc))
				json_array_append_new(cols, json_string(*vc));
	}
	ncols = json_array_size(cols);
	width = calloc(ncols ? ncols : 1, sizeof(*width));
	if (!width)
		goto out;
	json_array_foreach(cols, j, col) {
		width[j] = text_width(json_string_value(col));
		json_array_foreach(flats, i, flat) {
			v = json_object_get(flat, json_string_value(col));
			if (v && text_width(json_string_value(v)) > width[j])
				width[j] = text_width(json_string_value(v));
		}
	}
	json_array_foreach(cols, j, col) {
		up = strdup(json_string_value(col));
		for (p = up; p && *p; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		if (j + 1 < ncols)
			put_padded(up ? up : "?", width[j] + 2);
		else
			fputs(up ? up : "?", stdout);
		free(up);
	}
	putchar('\n');
	json_array_foreach(flats, i, flat) {
		json_array_foreach(cols, j, col) {
			v = json_object_get(flat, json_string_value(col));
			key = v ? json_string_value(v) : "-";
			if (j + 1 < ncols)
				put_padded(key, width[j] + 2);
			else
				fputs(key, stdout);
		}
		putchar('\n');
	}
	free(width);
 out:
	json_decref(seen);
	json_decref(cols);
	json_decref(flats);
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
		print_table(v);
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
	bool json_out = false;
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
		else
			argv[e++] = argv[c];
	}
	argc = e;

	e = build_request(argc - optind, argv + optind, &req, err,
			  sizeof(err));
	if (e) {
		fprintf(stderr, "%s: %s\n", prog, e == ENOMEM ?
			"out of memory" : err);
		return EXIT_USAGE;
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

	if (json_out) {
		line = json_dumps(reply, JSON_COMPACT | JSON_REAL_PRECISION(10));
		if (line)
			printf("%s\n", line);
		free(line);
	} else if (json_is_true(ok)) {
		if (!strcmp(argv[optind], "status") &&
		    json_object_get(reply, "program"))
			print_status(reply);
		else {
			set_view(argv[optind]);
			print_generic(reply, NULL);
		}
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
