/*
 * http.h - the pure parts of supd's small HTTP server (SPEC 7.8): the
 * listen address of `metrics: {listen: ...}` and the head of a request.
 *
 * No sockets and no loop here (metrics_http.c has them), so the grammar can
 * check an address at load and the unit tests can feed requests as bytes.
 */
#ifndef SUPD_HTTP_H
#define SUPD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* "IPV4:PORT" or "[IPV6]:PORT", numeric only (no host names: a name would
 * need a resolver at load, and a fresh root may have no /etc/hosts); PORT
 * in 0..65535, 0 for any free port. Returns 0 with the address in *sa
 * (*len bytes), or -1 with what is wrong in msg. */
int http_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len, char *msg,
		      size_t msglen);

/* An address as http_parse_listen() reads it ("127.0.0.1:9100",
 * "[::1]:9100"). */
void http_format_addr(const struct sockaddr *sa, char *buf, size_t len);

/* The most a request head may take (request line and headers). */
#define HTTP_HEAD_MAX 8192

enum http_verdict {
	HTTP_INCOMPLETE, /* no blank line yet: read more */
	HTTP_OK,         /* GET or HEAD of /metrics */
	HTTP_BAD_REQUEST,
	HTTP_NOT_FOUND,
	HTTP_METHOD_NOT_ALLOWED,
	HTTP_HEAD_TOO_LARGE,
	HTTP_VERSION_NOT_SUPPORTED,
};

struct http_request {
	bool head; /* HEAD: the headers of the reply without its body */
};

/* What the server answers to the len bytes a client sent so far: the
 * request line "METHOD SP TARGET SP HTTP/1.x" and headers up to an empty
 * line (CRLF, or a bare LF as RFC 9112 tolerates). Headers are not
 * interpreted; a body is never read. */
enum http_verdict http_parse_request(const char *buf, size_t len, struct http_request *req);

/* "200 OK", "404 Not Found"... for a verdict other than HTTP_INCOMPLETE. */
const char *http_status_line(enum http_verdict v);

#endif
