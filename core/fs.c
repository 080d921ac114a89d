/* core/fs.c - small file-system helpers the programs share */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

/** Create path and its missing parents (mode 0755), like mkdir -p. */
int gw_mkdir_p(const char *path)
{
	char buf[4096], *p;

	if (strlen(path) >= sizeof(buf))
		return ENAMETOOLONG;
	strcpy(buf, path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		return errno;
	return 0;
}
