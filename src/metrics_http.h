/*
 * metrics_http.h - `metrics: {listen: ADDR:PORT}`: the metrics over HTTP
 * for Prometheus (SPEC 7.8).
 *
 * Serves GET (and HEAD) /metrics and nothing else, on the loop, without
 * ever blocking it: non-blocking sockets, a deadline per connection, a cap
 * on connections, and descriptors only below the ceiling of fd_reserve.h.
 * It only reads the tree.
 */
#ifndef SUPD_METRICS_HTTP_H
#define SUPD_METRICS_HTTP_H

#include <stdint.h>

#include <systemd/sd-event.h>

struct core;
struct metrics_http;

struct metrics_http_host {
	sd_event *event;
	struct core *core;
	uint64_t (*now_ms)(void *ctx); /* the core's clock */
	void *ctx;
};

/* Connections served at once; more are answered 503 and closed. */
#define METRICS_HTTP_MAX_CONNS 16
/* A connection's whole life: its request read and its reply written. */
#define METRICS_HTTP_TIMEOUT_MS 10000

/* Listens on `listen` (as http_parse_listen() reads it). Returns 0, or
 * -errno after logging why (a bind failure: the address is in use or not
 * local). */
int metrics_http_new(struct metrics_http **out, const struct metrics_http_host *host,
		     const char *listen);
void metrics_http_free(struct metrics_http *srv);

#endif
