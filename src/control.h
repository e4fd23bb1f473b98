/*
 * control.h - the control socket of SPEC section 6.
 *
 * A Unix stream socket speaking JSON lines. Every connection is non-blocking
 * with bounded buffers; peers are checked with SO_PEERCRED / SO_PEERGROUPS;
 * a bad request gets an error reply and never disturbs the tree.
 */
#ifndef SUPD_CONTROL_H
#define SUPD_CONTROL_H

#include <stddef.h>

#include <systemd/sd-event.h>

struct control;
struct control_config;
struct loop;

/* The socket path: `override` (--socket), else the config's, else
 * /run/supd.sock as root and $XDG_RUNTIME_DIR/supd.sock otherwise. */
const char *control_socket_path(const char *override, const struct control_config *cfg, char *buf,
				size_t len);

/* Listens on path (or uses listen_fd from socket activation when >= 0).
 * Returns 0 or -errno (logged). */
int control_new(struct control **out, struct loop *loop, const struct control_config *cfg,
		const char *path, int listen_fd);
void control_free(struct control *ctl);

#endif
