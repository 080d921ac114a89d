/* tests/fuzz/fuzz_conf.c - libFuzzer: arbitrary bytes into gw_conf_load_str */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

struct fz_single {
	char *name;
	long long num;
	bool flag;
	int mode;
};

struct fz_multi {
	char *addr;
	long long count;
};

static const char *const modes[] = { "a", "b", "c", NULL };

static const struct gw_conf_key single_keys[] = {
	{ .name = "name", .type = GW_CONF_STR,
	  .off = offsetof(struct fz_single, name), .def = "${FZ_NAME:-x}",
	  .max = 32 },
	{ .name = "num", .type = GW_CONF_INT,
	  .off = offsetof(struct fz_single, num), .def = "7",
	  .min = -5, .max = 0x10000, .flags = GW_CONF_RELOAD },
	{ .name = "flag", .type = GW_CONF_BOOL,
	  .off = offsetof(struct fz_single, flag), .def = "off" },
	{ .name = "mode", .type = GW_CONF_ENUM,
	  .off = offsetof(struct fz_single, mode), .def = "b",
	  .names = modes },
	{ .name = NULL },
};

static const struct gw_conf_key multi_keys[] = {
	{ .name = "addr", .type = GW_CONF_STR,
	  .off = offsetof(struct fz_multi, addr), .flags = GW_CONF_REQUIRED },
	{ .name = "count", .type = GW_CONF_INT,
	  .off = offsetof(struct fz_multi, count), .def = "1" },
	{ .name = NULL },
};

static int multi_check(void *data, const char *label, char *err,
		       size_t errlen)
{
	const struct fz_multi *m = data;

	if (m->count > 100 && !strcmp(label, "small")) {
		snprintf(err, errlen, "too many");
		return EINVAL;
	}
	return 0;
}

static const struct gw_conf_section schema[] = {
	{ .name = "s", .size = sizeof(struct fz_single), .keys = single_keys },
	{ .name = "m", .multi = true, .size = sizeof(struct fz_multi),
	  .keys = multi_keys, .check = multi_check },
	{ .name = NULL },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t live = gw_mem_live();
	struct gw_conf *conf = NULL;
	const char *label;
	char *text, err[512], where[64];
	size_t i;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (!gw_conf_load_str(&conf, "fuzz", text, schema, err, sizeof(err))) {
		for (i = 0; gw_conf_nth(conf, "m", i, &label); i++)
			gw_conf_where(conf, "m", label, "count", where,
				      sizeof(where));
		gw_conf_keep_restart_keys(conf, conf, err, sizeof(err));
		gw_mem_deref(conf);
	}
	free(text);
	if (gw_mem_live() != live)
		abort();	/* a leak */
	return 0;
}
