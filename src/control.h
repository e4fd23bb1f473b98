/*
 * control.h - the control socket of SPEC section 6: the server's face
 * towards the loop.
 *
 * A Unix stream socket speaking JSON lines. The server (control_server.c)
 * accepts and checks peers, connection.c frames their bytes, ops.c serves
 * their requests. The loop hands in what the server needs from it through
 * struct control_host, so that control never includes the loop.
 */
#ifndef SUPD_CONTROL_H
#define SUPD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-event.h>

struct control;
struct control_config;
struct child;
struct core;

struct control_host {
	sd_event *event;
	struct core *core;
	uint64_t (*now_ms)(void *ctx);
	/* Orderly shutdown of the tree (the op `stop`). */
	void (*request_stop)(void *ctx);
	/* Sends sig to the running worker c as a stop signal would go (its
	 * process group, unless kill_group: false). The op `signal`. */
	void (*signal)(void *ctx, struct child *c, int sig);
	/* Reopen the files supd writes (the op `reopen`): 0 or -errno. */
	int (*reopen)(void *ctx);
	void *ctx;
};

/* The socket path: `override` (--socket), else the config's, else
 * /run/supd.sock as root and $XDG_RUNTIME_DIR/supd.sock otherwise. */
const char *control_socket_path(const char *override, const struct control_config *cfg, char *buf,
				size_t len);

/* Listens on path (or uses listen_fd from socket activation when >= 0).
 * Returns 0 or -errno (logged). */
int control_new(struct control **out, const struct control_host *host,
		const struct control_config *cfg, const char *path, int listen_fd);
void control_free(struct control *ctl);

#endif
