/*
 * http.c - the pure parts of the metrics HTTP server: listen addresses and
 * request heads (see http.h).
 *
 * The server answers one thing, GET /metrics, so a request is judged from
 * its request line alone; the headers are only bounded and skipped. Being
 * strict costs nothing here: a request line that is not exactly
 * METHOD SP TARGET SP HTTP/DIGIT.DIGIT is a 400.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int
bad_listen(char *msg, size_t msglen, const char *why)
{
	snprintf(msg, msglen, "%s", why);
	return -1;
}

int
http_parse_listen(const char *text, struct sockaddr_storage *sa, socklen_t *len, char *msg,
		  size_t msglen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *port_text, *host_start;
	size_t host_len;
	unsigned long port;
	char *end;

	memset(sa, 0, sizeof(*sa));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return bad_listen(msg, msglen, "an IPv6 address is written [ADDR]:PORT");
		host_start = text + 1;
		host_len = (size_t)(close - host_start);
		port_text = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return bad_listen(msg, msglen, "no port (ADDR:PORT)");
		host_start = text;
		host_len = (size_t)(colon - text);
		port_text = colon + 1;
	}
	if (host_len == 0 || host_len >= sizeof(host))
		return bad_listen(msg, msglen, "no address before the port");
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	if (port_text[0] < '0' || port_text[0] > '9')
		return bad_listen(msg, msglen, "the port is not a number");
	port = strtoul(port_text, &end, 10);
	if (*end != '\0' || port > 65535 || end - port_text > 5)
		return bad_listen(msg, msglen, "the port is not a number from 0 to 65535");
	if (text[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return bad_listen(msg, msglen, "not a numeric IPv6 address");
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)sa;

		if (strchr(host, ':'))
			return bad_listen(msg, msglen, "an IPv6 address is written [ADDR]:PORT");
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return bad_listen(msg, msglen,
					  "not a numeric IPv4 address (host names are not "
					  "resolved)");
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	}
	return 0;
}

void
http_format_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, (unsigned)ntohs(in6->sin6_port));
	} else {
		const struct sockaddr_in *in4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in4->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, (unsigned)ntohs(in4->sin_port));
	}
}

/* The end of the head: the offset just past the empty line, or 0. */
static size_t
head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static bool
is_token_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

enum http_verdict
http_parse_request(const char *buf, size_t len, struct http_request *req)
{
	const char *line_end, *p, *method, *target, *version;
	size_t method_len, target_len, line_len;

	memset(req, 0, sizeof(*req));
	/* Leading empty lines are allowed before the request line (RFC 9112
	 * 2.2); skip them so that the blank-line search starts after them. */
	while (len > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
		buf++;
		len--;
	}
	if (head_end(buf, len) == 0)
		return len >= HTTP_HEAD_MAX ? HTTP_HEAD_TOO_LARGE : HTTP_INCOMPLETE;
	line_end = memchr(buf, '\n', len);
	line_len = (size_t)(line_end - buf);
	if (line_len > 0 && buf[line_len - 1] == '\r')
		line_len--;

	method = buf;
	for (p = buf; p < buf + line_len && is_token_char(*p); p++)
		;
	method_len = (size_t)(p - method);
	if (method_len == 0 || p == buf + line_len || *p != ' ')
		return HTTP_BAD_REQUEST;
	target = ++p;
	for (; p<buf + line_len && * p> ' ' && *p != 0x7f; p++)
		;
	target_len = (size_t)(p - target);
	if (target_len == 0 || p == buf + line_len || *p != ' ')
		return HTTP_BAD_REQUEST;
	version = ++p;
	if ((size_t)(buf + line_len - version) != 8 || memcmp(version, "HTTP/", 5) != 0 ||
	    version[5] < '0' || version[5] > '9' || version[6] != '.' || version[7] < '0' ||
	    version[7] > '9')
		return HTTP_BAD_REQUEST;
	/* 1.0 and 1.1 are answered alike (HTTP/1.1, Connection: close). */
	if (version[5] != '1')
		return HTTP_VERSION_NOT_SUPPORTED;

	/* The path, without a query (Prometheus may add one). */
	for (size_t i = 0; i < target_len; i++)
		if (target[i] == '?') {
			target_len = i;
			break;
		}
	if (target_len != 8 || memcmp(target, "/metrics", 8) != 0)
		return HTTP_NOT_FOUND;
	if (method_len == 3 && memcmp(method, "GET", 3) == 0)
		return HTTP_OK;
	if (method_len == 4 && memcmp(method, "HEAD", 4) == 0) {
		req->head = true;
		return HTTP_OK;
	}
	return HTTP_METHOD_NOT_ALLOWED;
}

const char *
http_status_line(enum http_verdict v)
{
	switch (v) {
	case HTTP_OK:
		return "200 OK";
	case HTTP_NOT_FOUND:
		return "404 Not Found";
	case HTTP_METHOD_NOT_ALLOWED:
		return "405 Method Not Allowed";
	case HTTP_HEAD_TOO_LARGE:
		return "431 Request Header Fields Too Large";
	case HTTP_VERSION_NOT_SUPPORTED:
		return "505 HTTP Version Not Supported";
	case HTTP_INCOMPLETE:
	case HTTP_BAD_REQUEST:
		break;
	}
	return "400 Bad Request";
}
