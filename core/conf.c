/* core/conf.c - INI configuration on inih, driven by schema tables */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "core.h"

/*
 * How the file is read.  inih calls its handler with a section and a
 * key, but (as Debian builds it) with no line number, never for a
 * section header, and it reports only the first syntax error.  So every
 * line goes through our reader first: it counts lines, opens and closes
 * sections itself (their header lines, empty sections), and replaces any
 * line it finds malformed with an empty one after reporting it.  What
 * reaches inih is then only comments, headers and "key = value" lines,
 * which it splits for us: it strips whitespace and inline comments (a
 * ';' after whitespace: "a = b ;c" is "b", "a = b;c" is "b;c").
 *
 * The reader also strips leading whitespace from every line.  inih
 * would take an indented line as a continuation of the previous value
 * (INI_ALLOW_MULTILINE); here an indented line is an ordinary line, so
 * a value never spans lines.
 */

#define MAX_MSGS 20	/* error lines before "...and more" */

/* One instance of a section: [sip], or [span 1] of a .multi section. */
struct conf_inst {
	struct conf_inst *next;
	const struct gw_conf_section *sec;	/* borrowed: the schema */
	char *label;			/* NULL unless .multi */
	void *data;			/* the struct the keys fill */
	unsigned line;			/* header line; 0 if not in the file */
	bool bad;			/* a key failed: skip the check hook */
	unsigned key_line[];		/* per key: line set; 0 = default */
};

struct gw_conf {
	char *path;
	struct conf_inst *insts;
	struct conf_inst **tail;
};

/* Lines of messages in a caller's buffer, truncated safely. */
struct msgs {
	char *buf;
	size_t len;
	size_t off;
	unsigned n;
};

/* State of one load: inih calls back into it through reader and handler. */
struct loader {
	const char *name;		/* the path, for messages */
	struct gw_conf *conf;
	const struct gw_conf_section *schema;
	FILE *f;			/* the source: a file, */
	const char *s;			/* or text in memory */
	unsigned line;
	bool eof;
	struct conf_inst *cur;		/* the section being read */
	bool skip;			/* in a rejected section: ignore keys */
	int hard;			/* ENOMEM or I/O errno: stop */
	unsigned nbad;			/* content errors */
	struct msgs err;
};

static void msgs_init(struct msgs *m, char *buf, size_t len)
{
	m->buf = len ? buf : NULL;
	m->len = m->buf ? len : 0;
	m->off = 0;
	m->n = 0;
	if (m->buf)
		m->buf[0] = '\0';
}

static void msgs_vput(struct msgs *m, const char *fmt, va_list ap)
{
	int n;

	if (!m->buf || m->off + 1 >= m->len)
		return;
	n = vsnprintf(m->buf + m->off, m->len - m->off, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n >= m->len - m->off)
		n = (int)(m->len - m->off - 1);
	m->off += (size_t)n;
}

static void msgs_put(struct msgs *m, const char *fmt, ...) GW_PRINTF(2, 3);

static void msgs_put(struct msgs *m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgs_vput(m, fmt, ap);
	va_end(ap);
}

/* Add a line "path:line: message" ("path: message" when line is 0). */
static void msgs_vadd(struct msgs *m, const char *path, unsigned line,
		      const char *fmt, va_list ap)
{
	m->n++;
	if (m->n > MAX_MSGS + 1)
		return;
	if (m->n > 1)
		msgs_put(m, "\n");
	if (m->n > MAX_MSGS) {
		msgs_put(m, "...and more");
		return;
	}
	if (line)
		msgs_put(m, "%s:%u: ", path, line);
	else
		msgs_put(m, "%s: ", path);
	msgs_vput(m, fmt, ap);
}

static void msgs_add(struct msgs *m, const char *path, unsigned line,
		     const char *fmt, ...) GW_PRINTF(4, 5);

static void msgs_add(struct msgs *m, const char *path, unsigned line,
		     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msgs_vadd(m, path, line, fmt, ap);
	va_end(ap);
}

/* A content error: reported, and the load goes on to find the others. */
static void bad(struct loader *ld, unsigned line, const char *fmt, ...)
	GW_PRINTF(3, 4);

static void bad(struct loader *ld, unsigned line, const char *fmt, ...)
{
	va_list ap;

	ld->nbad++;
	va_start(ap, fmt);
	msgs_vadd(&ld->err, ld->name, line, fmt, ap);
	va_end(ap);
}

/* A resource error (ENOMEM, I/O): reported once, and the load stops. */
static void hard(struct loader *ld, int err, const char *what)
{
	if (ld->hard)
		return;
	ld->hard = err;
	msgs_add(&ld->err, ld->name, 0, "%s%s", what, strerror(err));
}

static char *mem_strndup(const char *s, size_t n)
{
	char *p = gw_mem_alloc(n + 1, NULL);

	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

static void *field(void *data, const struct gw_conf_key *k)
{
	return (char *)data + k->off;
}

static size_t nkeys(const struct gw_conf_section *sec)
{
	size_t n = 0;

	while (sec->keys && sec->keys[n].name)
		n++;
	return n;
}

static const struct gw_conf_key *find_key(const struct gw_conf_section *sec,
					  const char *name, size_t *idxp)
{
	size_t i;

	for (i = 0; sec->keys && sec->keys[i].name; i++) {
		if (!strcmp(sec->keys[i].name, name)) {
			*idxp = i;
			return &sec->keys[i];
		}
	}
	return NULL;
}

static struct conf_inst *find_inst(const struct gw_conf *conf,
				   const char *name, const char *label)
{
	struct conf_inst *in;

	for (in = conf->insts; in; in = in->next) {
		if (strcmp(in->sec->name, name))
			continue;
		if (!in->label && !label)
			return in;
		if (in->label && label && !strcmp(in->label, label))
			return in;
	}
	return NULL;
}

/* For messages: "[name label]" is "[%s%s%s]" with these. */
static const char *sp(const struct conf_inst *in)
{
	return in->label ? " " : "";
}

static const char *lbl(const struct conf_inst *in)
{
	return in->label ? in->label : "";
}

static bool is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/*
 * One pass of environment expansion over s: ${NAME}, ${NAME:-default}
 * (the default when NAME is unset or empty, as in sh) and $$ for '$'.
 * With out NULL it measures; otherwise it writes at most cap bytes (the
 * environment may change between the passes).  Errors are reported.
 */
static size_t expand_pass(struct loader *ld, unsigned line,
			  const struct gw_conf_key *k, const char *s,
			  char *out, size_t cap, int *errp)
{
	char name[128];
	const char *end, *after, *val;
	size_t n = 0, nlen, vlen;

	while (*s) {
		if (s[0] != '$' || (s[1] != '$' && s[1] != '{')) {
			if (out && n < cap)
				out[n] = *s;
			n++;
			s++;
			continue;
		}
		if (s[1] == '$') {
			if (out && n < cap)
				out[n] = '$';
			n++;
			s += 2;
			continue;
		}
		end = strchr(s + 2, '}');
		if (!end) {
			bad(ld, line, "%s: unterminated '${'", k->name);
			*errp = EINVAL;
			return 0;
		}
		for (after = s + 2; is_name_char(*after); after++)
			;
		nlen = (size_t)(after - (s + 2));
		if (!nlen || nlen >= sizeof(name) ||
		    isdigit((unsigned char)s[2]) ||
		    (after != end && strncmp(after, ":-", 2))) {
			bad(ld, line, "%s: bad variable reference '%.*s'",
			    k->name, (int)(end + 1 - s), s);
			*errp = EINVAL;
			return 0;
		}
		memcpy(name, s + 2, nlen);
		name[nlen] = '\0';
		val = getenv(name);
		if (after != end && (!val || !*val)) {
			val = after + 2;
			vlen = (size_t)(end - val);
		} else if (!val) {
			bad(ld, line, "%s: ${%s} is not set", k->name, name);
			*errp = EINVAL;
			return 0;
		} else {
			vlen = strlen(val);
		}
		if (out && n < cap)
			memcpy(out + n, val, vlen < cap - n ? vlen : cap - n);
		n += vlen;
		s = end + 1;
	}
	return n;
}

/* s with its environment references expanded, as a new string. */
static int expand(struct loader *ld, unsigned line,
		  const struct gw_conf_key *k, const char *s, char **outp)
{
	int err = 0;
	size_t n;
	char *out;

	n = expand_pass(ld, line, k, s, NULL, 0, &err);
	if (err)
		return err;
	out = gw_mem_alloc(n + 1, NULL);
	if (!out)
		return ENOMEM;
	n = expand_pass(ld, line, k, s, out, n, &err);
	if (err) {
		gw_mem_deref(out);
		return err;
	}
	out[n] = '\0';
	*outp = out;
	return 0;
}

/* Decimal or 0x hex, with an optional sign; no octal, no trailing junk. */
static int parse_int(const char *s, long long *vp)
{
	unsigned long long u;
	bool neg = false;
	int base = 10;
	char *end;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (base == 16 ? !isxdigit((unsigned char)*s) :
	    !isdigit((unsigned char)*s))
		return EINVAL;
	errno = 0;
	u = strtoull(s, &end, base);
	if (*end)
		return EINVAL;
	if (errno == ERANGE ||
	    u > (unsigned long long)LLONG_MAX + (neg ? 1 : 0))
		return ERANGE;
	if (neg)
		*vp = u > (unsigned long long)LLONG_MAX ? LLONG_MIN :
			-(long long)u;
	else
		*vp = (long long)u;
	return 0;
}

static int parse_bool(const char *s, bool *vp)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < GW_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*vp = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*vp = false;
			return 0;
		}
	}
	return EINVAL;
}

/* "a, b, c" from an ENUM key's names, truncated to fit buf. */
static const char *enum_list(const struct gw_conf_key *k, char *buf,
			     size_t len)
{
	struct msgs m;
	size_t i;

	msgs_init(&m, buf, len);
	for (i = 0; k->names && k->names[i]; i++)
		msgs_put(&m, "%s%s", i ? ", " : "", k->names[i]);
	return buf;
}

/* INT bounds apply unless min and max are both 0 (then any long long). */
static bool has_bounds(const struct gw_conf_key *k)
{
	return k->min || k->max;
}

/*
 * Set key k of inst from the text raw (a file value or a default) given
 * at line.  Returns 0; EINVAL after reporting a bad value; ENOMEM.
 */
static int set_value(struct loader *ld, struct conf_inst *in,
		     const struct gw_conf_key *k, const char *raw,
		     unsigned line)
{
	char *v = NULL, names[256];
	void *p = field(in->data, k);
	long long ll;
	bool b;
	int err, i;

	err = expand(ld, line, k, raw, &v);
	if (err)
		goto out;

	switch (k->type) {
	case GW_CONF_STR:
		if (k->max > 0 && strlen(v) > (unsigned long long)k->max) {
			bad(ld, line, "%s: longer than %lld characters",
			    k->name, k->max);
			err = EINVAL;
			break;
		}
		if (k->min > 0 && strlen(v) < (unsigned long long)k->min) {
			bad(ld, line, k->min == 1 ? "%s: must not be empty" :
			    "%s: shorter than %lld characters", k->name,
			    k->min);
			err = EINVAL;
			break;
		}
		gw_mem_deref(*(char **)p);
		*(char **)p = v;
		v = NULL;
		break;
	case GW_CONF_INT:
		err = parse_int(v, &ll);
		if (err == ERANGE) {
			bad(ld, line, "%s: '%s' is too large", k->name, v);
			err = EINVAL;
		} else if (err) {
			bad(ld, line, "%s: '%s' is not an integer", k->name,
			    v);
		} else if (has_bounds(k) && (ll < k->min || ll > k->max)) {
			bad(ld, line, "%s = %s is out of range %lld..%lld",
			    k->name, v, k->min, k->max);
			err = EINVAL;
		} else {
			*(long long *)p = ll;
		}
		break;
	case GW_CONF_BOOL:
		err = parse_bool(v, &b);
		if (err)
			bad(ld, line, "%s: '%s' is not a boolean (yes/no, "
			    "true/false, on/off, 1/0)", k->name, v);
		else
			*(bool *)p = b;
		break;
	case GW_CONF_ENUM:
		err = EINVAL;
		for (i = 0; k->names && k->names[i]; i++) {
			if (!strcasecmp(v, k->names[i])) {
				*(int *)p = i;
				err = 0;
				break;
			}
		}
		if (err)
			bad(ld, line, "%s: '%s' must be one of %s", k->name,
			    v, enum_list(k, names, sizeof(names)));
		break;
	default:
		bad(ld, line, "%s: unknown type %d in the schema", k->name,
		    (int)k->type);
		err = EINVAL;
		break;
	}
 out:
	if (err == EINVAL)
		in->bad = true;
	gw_mem_deref(v);
	return err;
}

static void inst_destroy(void *arg)
{
	struct conf_inst *in = arg;
	const struct gw_conf_key *k;

	if (in->data) {
		for (k = in->sec->keys; k && k->name; k++) {
			if (k->type == GW_CONF_STR)
				gw_mem_deref(*(char **)field(in->data, k));
		}
	}
	gw_mem_deref(in->data);
	gw_mem_deref(in->label);
}

/*
 * A new instance of sec, with its defaults, appended to the config.
 * Bad defaults are reported at line (content errors); ENOMEM fails.
 */
static int inst_add(struct loader *ld, const struct gw_conf_section *sec,
		    const char *label, size_t labellen, unsigned line,
		    struct conf_inst **inp)
{
	const struct gw_conf_key *k;
	struct conf_inst *in;
	int err = 0;

	in = gw_mem_zalloc(sizeof(*in) + nkeys(sec) * sizeof(in->key_line[0]),
			   inst_destroy);
	if (!in)
		return ENOMEM;
	in->sec = sec;
	in->line = line;
	in->data = gw_mem_zalloc(sec->size ? sec->size : 1, NULL);
	if (!in->data) {
		err = ENOMEM;
		goto out;
	}
	if (label) {
		in->label = mem_strndup(label, labellen);
		if (!in->label) {
			err = ENOMEM;
			goto out;
		}
	}
	for (k = sec->keys; k && k->name; k++) {
		if (!k->def)
			continue;
		err = set_value(ld, in, k, k->def, line);
		if (err == ENOMEM)
			goto out;
		err = 0;
	}
 out:
	if (err) {
		gw_mem_deref(in);
		return err;
	}
	*ld->conf->tail = in;
	ld->conf->tail = &in->next;
	*inp = in;
	return 0;
}

/* A section instance is complete: required keys, then its check hook. */
static void inst_finish(struct loader *ld, struct conf_inst *in)
{
	const struct gw_conf_section *sec = in->sec;
	char msg[256];
	size_t i;
	int err;

	for (i = 0; sec->keys && sec->keys[i].name; i++) {
		if (!(sec->keys[i].flags & GW_CONF_REQUIRED) ||
		    in->key_line[i])
			continue;
		bad(ld, in->line, "'%s' in [%s%s%s] is required",
		    sec->keys[i].name, sec->name, sp(in), lbl(in));
		in->bad = true;
	}
	if (in->bad || !sec->check)
		return;
	msg[0] = '\0';
	err = sec->check(in->data, in->label, msg, sizeof(msg));
	if (!err)
		return;
	msg[sizeof(msg) - 1] = '\0';
	if (err == ENOMEM) {
		hard(ld, ENOMEM, "");
		return;
	}
	bad(ld, in->line, "[%s%s%s]: %s", sec->name, sp(in), lbl(in),
	    msg[0] ? msg : strerror(err));
}

static void section_end(struct loader *ld)
{
	if (ld->cur)
		inst_finish(ld, ld->cur);
	ld->cur = NULL;
	ld->skip = false;
}

/*
 * inih's find_chars_or_comment as it is built: the first of chars, or an
 * inline comment (';' after whitespace), or the end of s.
 */
static const char *find_chars_or_comment(const char *s, const char *chars)
{
	bool was_space = false;

	while (*s && !strchr(chars, *s) && !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* A "[name]" or "[name label]" line: open that section. */
static void section_begin(struct loader *ld, const char *line)
{
	const struct gw_conf_section *sec;
	const char *end, *name, *nend, *label, *lend, *rest;
	struct conf_inst *in;
	size_t nlen;
	int err;

	section_end(ld);
	ld->skip = true;	/* until this header proves good */

	end = find_chars_or_comment(line + 1, "]");
	if (*end != ']') {
		bad(ld, ld->line, "missing ']' in section header");
		return;
	}
	for (rest = end + 1; isspace((unsigned char)*rest); rest++)
		;
	if (*rest && *rest != ';' && *rest != '#') {
		bad(ld, ld->line, "junk after ']'");
		return;
	}
	for (name = line + 1; name < end && isspace((unsigned char)*name);
	     name++)
		;
	for (nend = name; nend < end && !isspace((unsigned char)*nend);
	     nend++)
		;
	for (label = nend; label < end && isspace((unsigned char)*label);
	     label++)
		;
	for (lend = end; lend > label && isspace((unsigned char)lend[-1]);
	     lend--)
		;
	nlen = (size_t)(nend - name);
	if (!nlen) {
		bad(ld, ld->line, "empty section name");
		return;
	}
	for (sec = ld->schema; sec->name; sec++) {
		if (strlen(sec->name) == nlen && !memcmp(sec->name, name, nlen))
			break;
	}
	if (!sec->name) {
		bad(ld, ld->line, "unknown section [%.*s]", (int)nlen, name);
		return;
	}
	if (sec->multi && label == lend) {
		bad(ld, ld->line, "[%s] needs a label, as in [%s 1]",
		    sec->name, sec->name);
		return;
	}
	if (!sec->multi && label != lend) {
		bad(ld, ld->line, "[%s] takes no label", sec->name);
		return;
	}
	for (end = label; end < lend; end++) {
		if (isspace((unsigned char)*end)) {
			bad(ld, ld->line, "[%s %.*s]: a label is one word",
			    sec->name, (int)(lend - label), label);
			return;
		}
	}

	for (in = ld->conf->insts; in; in = in->next) {
		if (in->sec != sec)
			continue;
		if (sec->multi && (strlen(in->label) != (size_t)(lend - label)
				   || memcmp(in->label, label,
					     (size_t)(lend - label))))
			continue;
		if (!in->line)
			break;	/* a single section, not yet seen */
		bad(ld, ld->line, "[%s%s%s] appears twice (first at line %u)",
		    sec->name, sp(in), lbl(in), in->line);
		return;
	}
	if (in) {
		in->line = ld->line;
	} else {
		err = inst_add(ld, sec, label, (size_t)(lend - label),
			       ld->line, &in);
		if (err) {
			hard(ld, err, "");
			return;
		}
	}
	ld->cur = in;
	ld->skip = false;
}

static int src_getc(struct loader *ld)
{
	if (ld->f)
		return getc(ld->f);
	if (!*ld->s)
		return EOF;
	return (unsigned char)*ld->s++;
}

/*
 * inih's reader: one line per call, so that our count is inih's.  A line
 * is at most num - 2 characters, so that there is always room for its
 * '\n' (newer inih discards the rest of a line that fills its buffer).
 */
static char *conf_reader(char *buf, int num, void *arg)
{
	struct loader *ld = arg;
	size_t max = num > 2 ? (size_t)num - 2 : 0, n = 0, skip;
	bool nul = false, toolong = false;
	int c;

	if (ld->hard || ld->eof)
		return NULL;
	if (num < 3) {
		hard(ld, EINVAL, "inih line buffer too small: ");
		return NULL;
	}
	c = src_getc(ld);
	if (c == EOF) {
		if (ld->f && ferror(ld->f)) {
			hard(ld, errno ? errno : EIO, "cannot read: ");
			return NULL;
		}
		ld->eof = true;
		section_end(ld);
		return NULL;
	}
	ld->line++;
	for (; c != EOF && c != '\n'; c = src_getc(ld)) {
		if (c == '\0')
			nul = true;
		else if (n < max)
			buf[n++] = (char)c;
		else
			toolong = true;
	}
	buf[n] = '\0';
	if (ld->f && ferror(ld->f)) {
		hard(ld, errno ? errno : EIO, "cannot read: ");
		return NULL;
	}

	/* inih skips a UTF-8 BOM only on line 1; so do we, before it. */
	skip = 0;
	if (ld->line == 1 && !strncmp(buf, "\xef\xbb\xbf", 3))
		skip = 3;
	while (isspace((unsigned char)buf[skip]))
		skip++;
	memmove(buf, buf + skip, n - skip + 1);
	n -= skip;

	if (nul) {
		bad(ld, ld->line, "NUL byte in line");
		buf[0] = '\0';
	} else if (toolong) {
		bad(ld, ld->line, "line longer than %zu characters", max);
		buf[0] = '\0';
	} else if (buf[0] == '[') {
		section_begin(ld, buf);
		if (ld->skip)
			buf[0] = '\0';
	} else if (buf[0] && buf[0] != ';' && buf[0] != '#' &&
		   !*find_chars_or_comment(buf, "=:")) {
		bad(ld, ld->line, "expected 'key = value'");
		buf[0] = '\0';
	}
	n = strlen(buf);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return buf;
}

/* inih's handler: one "key = value" line, already split and trimmed. */
static int conf_handler(void *arg, const char *section, const char *name,
			const char *value)
{
	struct loader *ld = arg;
	const struct gw_conf_key *k;
	struct conf_inst *in = ld->cur;
	size_t i;
	int err;

	(void)section;	/* ours, from the reader, is not truncated */
	if (ld->hard || ld->skip)
		return 1;
	if (!in) {
		bad(ld, ld->line, "'%s' is outside any section", name);
		return 1;
	}
	k = find_key(in->sec, name, &i);
	if (!k) {
		if (*name)
			bad(ld, ld->line, "unknown key '%s' in [%s%s%s]", name,
			    in->sec->name, sp(in), lbl(in));
		else
			bad(ld, ld->line, "missing key name");
		return 1;
	}
	if (in->key_line[i]) {
		bad(ld, ld->line, "'%s' set twice (first at line %u)", name,
		    in->key_line[i]);
		return 1;
	}
	in->key_line[i] = ld->line;
	err = set_value(ld, in, k, value ? value : "", ld->line);
	if (err == ENOMEM)
		hard(ld, err, "");
	return 1;
}

static void conf_destroy(void *arg)
{
	struct gw_conf *conf = arg;
	struct conf_inst *in, *next;

	for (in = conf->insts; in; in = next) {
		next = in->next;
		gw_mem_deref(in);
	}
	gw_mem_deref(conf->path);
}

static int conf_load(struct gw_conf **confp, const char *name, FILE *f,
		     const char *text, const struct gw_conf_section *schema,
		     char *err, size_t errlen)
{
	const struct gw_conf_section *sec;
	struct loader ld;
	struct conf_inst *in;
	int rc, ret;

	memset(&ld, 0, sizeof(ld));
	msgs_init(&ld.err, err, errlen);
	ld.name = name;
	ld.schema = schema;
	ld.f = f;
	ld.s = text;

	ld.conf = gw_mem_zalloc(sizeof(*ld.conf), conf_destroy);
	if (!ld.conf) {
		hard(&ld, ENOMEM, "");
		goto out;
	}
	ld.conf->tail = &ld.conf->insts;
	ld.conf->path = gw_mem_strdup(name);
	if (!ld.conf->path) {
		hard(&ld, ENOMEM, "");
		goto out;
	}

	/* Single sections exist, with their defaults, even if absent. */
	for (sec = schema; sec->name; sec++) {
		if (sec->multi)
			continue;
		rc = inst_add(&ld, sec, NULL, 0, 0, &in);
		if (rc) {
			hard(&ld, rc, "");
			goto out;
		}
	}

	ret = ini_parse_stream(conf_reader, &ld, conf_handler, &ld);
	if (ld.hard)
		goto out;
	if (ret == -2) {
		hard(&ld, ENOMEM, "");
		goto out;
	}
	/* The reader hides every line it rejects, so this is a safety net
	 * for whatever this inih still refuses. */
	if (ret > 0)
		bad(&ld, (unsigned)ret, "syntax error");
	else if (ret < 0)
		hard(&ld, EIO, "");

	for (in = ld.conf->insts; in && !ld.hard; in = in->next) {
		if (!in->sec->multi && !in->line)
			inst_finish(&ld, in);
	}
 out:
	rc = ld.hard ? ld.hard : ld.nbad ? EINVAL : 0;
	if (rc)
		gw_mem_deref(ld.conf);
	else
		*confp = ld.conf;
	return rc;
}

/**
 * Load the INI file at path as described by schema (a table ending in a
 * {NULL} row).  Returns 0 and the config (a gw_mem block) in *confp;
 * EINVAL if the content is wrong, or the errno of opening or reading
 * it.  Errors go into err as "path:line: reason" lines, at most 20 and
 * then "...and more"; err may be NULL.  Values may refer to the
 * environment as ${NAME} or ${NAME:-default}; $$ is a '$'.
 */
int gw_conf_load(struct gw_conf **confp, const char *path,
		 const struct gw_conf_section *schema, char *err,
		 size_t errlen)
{
	FILE *f;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!confp || !path || !schema)
		return EINVAL;
	f = fopen(path, "r");
	if (!f) {
		struct msgs m;

		rc = errno;
		msgs_init(&m, err, errlen);
		msgs_add(&m, path, 0, "cannot open: %s", strerror(rc));
		return rc;
	}
	rc = conf_load(confp, path, f, NULL, schema, err, errlen);
	fclose(f);
	return rc;
}

/**
 * As gw_conf_load, from the NUL-terminated text, which errors and
 * gw_conf_where call name.
 */
int gw_conf_load_str(struct gw_conf **confp, const char *name,
		     const char *text, const struct gw_conf_section *schema,
		     char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!confp || !text || !schema)
		return EINVAL;
	return conf_load(confp, name ? name : "-", NULL, text, schema, err,
			 errlen);
}

/** The path (or name) the config was loaded from. */
const char *gw_conf_path(const struct gw_conf *conf)
{
	return conf ? conf->path : NULL;
}

/**
 * The struct of section name: label NULL for a single section, the label
 * of the instance for a .multi one.  NULL if there is no such instance.
 */
const void *gw_conf_get(const struct gw_conf *conf, const char *name,
			const char *label)
{
	struct conf_inst *in;

	if (!conf || !name)
		return NULL;
	in = find_inst(conf, name, label);
	return in ? in->data : NULL;
}

/**
 * The idx-th instance of section name, in file order, with its label in
 * *labelp (NULL for a single section) if labelp is set; NULL past the
 * last one.
 */
const void *gw_conf_nth(const struct gw_conf *conf, const char *name,
			size_t idx, const char **labelp)
{
	struct conf_inst *in;

	if (!conf || !name)
		return NULL;
	for (in = conf->insts; in; in = in->next) {
		if (strcmp(in->sec->name, name) || idx--)
			continue;
		if (labelp)
			*labelp = in->label;
		return in->data;
	}
	return NULL;
}

/**
 * Where key of a section instance was set, as "file:line" in buf: the
 * section's header line if key is NULL or took its default, and just
 * "file" for a section absent from the file.  Returns buf, or NULL if
 * there is no such section or key (or no room).
 */
const char *gw_conf_where(const struct gw_conf *conf, const char *name,
			  const char *label, const char *key, char *buf,
			  size_t len)
{
	struct conf_inst *in;
	unsigned line;
	size_t i;

	if (!conf || !name || !buf || !len)
		return NULL;
	in = find_inst(conf, name, label);
	if (!in)
		return NULL;
	line = in->line;
	if (key) {
		if (!find_key(in->sec, key, &i))
			return NULL;
		if (in->key_line[i])
			line = in->key_line[i];
	}
	if (line)
		snprintf(buf, len, "%s:%u", conf->path, line);
	else
		snprintf(buf, len, "%s", conf->path);
	return buf;
}

static bool value_equal(const struct gw_conf_key *k, const void *a,
			const void *b)
{
	const char *sa, *sb;

	switch (k->type) {
	case GW_CONF_STR:
		sa = *(char *const *)a;
		sb = *(char *const *)b;
		return sa == sb || (sa && sb && !strcmp(sa, sb));
	case GW_CONF_INT:
		return *(const long long *)a == *(const long long *)b;
	case GW_CONF_BOOL:
		return *(const bool *)a == *(const bool *)b;
	case GW_CONF_ENUM:
		return *(const int *)a == *(const int *)b;
	}
	return true;
}

/**
 * After a reload: every key without GW_CONF_RELOAD whose value differs
 * between old_conf and new_conf (instances matched by section name and
 * label) gets its old value back in new_conf, with a warning line
 * "file:line: 'key' in [section] changes only on restart; keeping the
 * running value" in warn.  Strings are shared, not copied (they are
 * refcounted and never written), so this cannot fail.  Returns how many
 * keys were kept.
 */
unsigned gw_conf_keep_restart_keys(struct gw_conf *new_conf,
				   const struct gw_conf *old_conf, char *warn,
				   size_t warnlen)
{
	const struct gw_conf_key *k, *ok;
	struct conf_inst *in, *old;
	unsigned count = 0, line;
	struct msgs m;
	void *np;
	const void *op;
	size_t i, oi;

	msgs_init(&m, warn, warnlen);
	if (!new_conf || !old_conf)
		return 0;
	for (in = new_conf->insts; in; in = in->next) {
		old = find_inst(old_conf, in->sec->name, in->label);
		if (!old)
			continue;
		for (i = 0; in->sec->keys && in->sec->keys[i].name; i++) {
			k = &in->sec->keys[i];
			if (k->flags & GW_CONF_RELOAD)
				continue;
			ok = find_key(old->sec, k->name, &oi);
			if (!ok || ok->type != k->type)
				continue;
			np = field(in->data, k);
			op = field(old->data, ok);
			if (value_equal(k, np, op))
				continue;
			switch (k->type) {
			case GW_CONF_STR:
				gw_mem_deref(*(char **)np);
				*(char **)np = gw_mem_ref(*(char *const *)op);
				break;
			case GW_CONF_INT:
				*(long long *)np = *(const long long *)op;
				break;
			case GW_CONF_BOOL:
				*(bool *)np = *(const bool *)op;
				break;
			case GW_CONF_ENUM:
				*(int *)np = *(const int *)op;
				break;
			}
			line = in->key_line[i] ? in->key_line[i] : in->line;
			msgs_add(&m, new_conf->path, line, "'%s' in [%s%s%s] "
				 "changes only on restart; keeping the running "
				 "value", k->name, in->sec->name, sp(in),
				 lbl(in));
			count++;
		}
	}
	return count;
}

/* Text as "; " comment lines, one per line of text. */
static void dump_comment(FILE *f, const char *text)
{
	const char *nl;

	while (text && *text) {
		nl = strchr(text, '\n');
		if (!nl)
			nl = text + strlen(text);
		if (nl > text)
			fprintf(f, "; %.*s\n", (int)(nl - text), text);
		else
			fputs(";\n", f);
		text = *nl ? nl + 1 : nl;
	}
}

static void dump_key(FILE *f, const struct gw_conf_key *k)
{
	char names[256];

	fputc('\n', f);
	dump_comment(f, k->help);
	fputs("; ", f);
	switch (k->type) {
	case GW_CONF_STR:
		fputs("string", f);
		if (k->max > 0)
			fprintf(f, ", at most %lld characters", k->max);
		break;
	case GW_CONF_INT:
		fputs("integer", f);
		if (has_bounds(k))
			fprintf(f, " %lld..%lld", k->min, k->max);
		break;
	case GW_CONF_BOOL:
		fputs("yes or no", f);
		break;
	case GW_CONF_ENUM:
		fprintf(f, "one of %s", enum_list(k, names, sizeof(names)));
		break;
	}
	if (k->flags & GW_CONF_REQUIRED)
		fputs("; required", f);
	fputs(k->flags & GW_CONF_RELOAD ? "; reloadable" : "; needs a restart",
	      f);
	if (k->def)
		fprintf(f, "\n;%s = %s\n", k->name, k->def);
	else
		fprintf(f, "\n;%s =\n", k->name);
}

/**
 * Write schema to f as an annotated sample file: every key commented out
 * with its default, type and range, and whether a reload applies it.
 * .multi sections are shown with a commented-out example header, so
 * that the sample loads as it is.
 */
void gw_conf_dump(const struct gw_conf_section *schema, FILE *f)
{
	const struct gw_conf_section *sec;
	const struct gw_conf_key *k;

	for (sec = schema; sec && sec->name; sec++) {
		if (sec != schema)
			fputc('\n', f);
		dump_comment(f, sec->help);
		if (sec->multi)
			fprintf(f, "; one section per instance, "
				"[%s LABEL]:\n;[%s 1]\n", sec->name, sec->name);
		else
			fprintf(f, "[%s]\n", sec->name);
		for (k = sec->keys; k && k->name; k++)
			dump_key(f, k);
	}
}
