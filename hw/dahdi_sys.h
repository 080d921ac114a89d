/* hw/dahdi_sys.h - the DAHDI driver's system calls, replaceable by tests */
#ifndef GW_DAHDI_SYS_H
#define GW_DAHDI_SYS_H

#include <sys/types.h>

/*
 * hw/dahdi.c reaches /dev/dahdi only through this table, so that a unit
 * test can stand a fake device behind it (there are no DAHDI kernel
 * modules on a build machine).  Each entry behaves as the libc call of
 * the same name: -1 with errno set on failure.
 */
struct tdm_dahdi_sys {
	int (*open)(const char *path, int flags);
	int (*close)(int fd);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*write)(int fd, const void *buf, size_t n);
};

/* Use sys for every later call (borrowed: it must outlive its use);
 * NULL restores the real system calls. */
void tdm_dahdi_set_sys(const struct tdm_dahdi_sys *sys);

#endif
