/*
 * bench/rtp_echo.c - the far end of bench_calls.py's calls: every UDP
 * datagram that reaches the port goes back to where it came from.
 *
 *   rtp_echo [-a address] -p port
 *
 * SIPp's -rtp_echo does the same with one recvfrom and one sendto per
 * datagram on a socket with the default receive buffer; at a few hundred
 * calls the gateway's media workers, which send a tick's packets
 * together, overflow it.  Here the buffer is large (SO_RCVBUFFORCE, as
 * root) and datagrams go 64 at a time (recvmmsg, sendmmsg), so that the
 * far end stays out of the figures of the gateway in front of it.
 *
 * Runs until killed; the datagrams it could not take show in the drops
 * column of /proc/net/udp, where bench_calls.py reads them.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH	64
#define DGRAM	2048
#define RCVBUF	(32 << 20)

static int echo_open(const char *addr, unsigned port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	int fd, size = RCVBUF;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "rtp_echo: %s: not an IPv4 address\n", addr);
		return -1;
	}
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("rtp_echo: socket");
		return -1;
	}
	/* Over rmem_max as root; the default otherwise, said once. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		       sizeof(size)) < 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		perror("rtp_echo: SO_RCVBUF");
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "rtp_echo: bind %s:%u: %s\n", addr, port,
			strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static uint8_t buf[BATCH][DGRAM];
	struct sockaddr_storage from[BATCH];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH], oiov[BATCH];
	const char *addr = "127.0.0.1";
	unsigned port = 0;
	int fd, opt, i, n;

	while ((opt = getopt(argc, argv, "a:p:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			port = 0;
			optind = argc;
			break;
		}
	}
	if (!port || port > 65535) {
		fprintf(stderr, "usage: rtp_echo [-a address] -p port\n");
		return 2;
	}
	fd = echo_open(addr, port);
	if (fd < 0)
		return 1;
	for (;;) {
		memset(in, 0, sizeof(in));
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = DGRAM;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
		}
		/* Block for the first, take what else is there. */
		n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("rtp_echo: recvmmsg");
			return 1;
		}
		memset(out, 0, sizeof(out));
		for (i = 0; i < n; i++) {
			oiov[i].iov_base = buf[i];
			oiov[i].iov_len = in[i].msg_len;
			out[i].msg_hdr.msg_name = &from[i];
			out[i].msg_hdr.msg_namelen = in[i].msg_hdr.msg_namelen;
			out[i].msg_hdr.msg_iov = &oiov[i];
			out[i].msg_hdr.msg_iovlen = 1;
		}
		for (i = 0; i < n;) {
			int sent = sendmmsg(fd, out + i, (unsigned)(n - i), 0);

			if (sent < 0) {
				if (errno == EINTR)
					continue;
				i++;	/* a datagram the peer refused: skip */
				continue;
			}
			i += sent;
		}
	}
}
