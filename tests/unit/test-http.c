/*
 * test-http.c - the pure parts of the metrics HTTP server (src/http.c):
 * listen addresses as the grammar reads them, and the verdict on a request
 * head for every way a request can be right, wrong or unfinished.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "http.h"

static int
listen_of(const char *text, struct sockaddr_storage *sa, char *msg)
{
	socklen_t len;

	return http_parse_listen(text, sa, &len, msg, 128);
}

Test(listen, ipv4_ipv6_and_port_zero)
{
	struct sockaddr_storage sa;
	char msg[128], back[64];

	cr_assert(eq(int, listen_of("127.0.0.1:9100", &sa, msg), 0));
	cr_assert(eq(int, sa.ss_family, AF_INET));
	cr_assert(eq(int, ntohs(((struct sockaddr_in *)&sa)->sin_port), 9100));
	http_format_addr((struct sockaddr *)&sa, back, sizeof(back));
	cr_assert(eq(str, back, "127.0.0.1:9100"));

	cr_assert(eq(int, listen_of("0.0.0.0:0", &sa, msg), 0));
	http_format_addr((struct sockaddr *)&sa, back, sizeof(back));
	cr_assert(eq(str, back, "0.0.0.0:0"));

	cr_assert(eq(int, listen_of("[::1]:9100", &sa, msg), 0));
	cr_assert(eq(int, sa.ss_family, AF_INET6));
	http_format_addr((struct sockaddr *)&sa, back, sizeof(back));
	cr_assert(eq(str, back, "[::1]:9100"));

	cr_assert(eq(int, listen_of("[::]:65535", &sa, msg), 0));
	http_format_addr((struct sockaddr *)&sa, back, sizeof(back));
	cr_assert(eq(str, back, "[::]:65535"));
}

Test(listen, refused_with_a_reason)
{
	static const struct {
		const char *text, *why;
	} bad[] = {
		{"localhost:9100", "not a numeric IPv4 address"},
		{"127.0.0.1", "no port"},
		{":9100", "no address"},
		{"127.0.0.1:", "not a number"},
		{"127.0.0.1:65536", "0 to 65535"},
		{"127.0.0.1:-1", "not a number"},
		{"127.0.0.1:+80", "not a number"},
		{"127.0.0.1:80x", "0 to 65535"},
		{"127.0.0.1:000009100", "0 to 65535"},
		{"1.2.3:80", "not a numeric IPv4"},
		{"::1:9100", "[ADDR]:PORT"},
		{"[::1]9100", "[ADDR]:PORT"},
		{"[::1]", "[ADDR]:PORT"},
		{"[]:80", "no address"},
		{"[127.0.0.1]:80", "not a numeric IPv6"},
		{"", "no port"},
	};
	struct sockaddr_storage sa;
	char msg[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert(eq(int, listen_of(bad[i].text, &sa, msg), -1), "accepted '%s'",
			  bad[i].text);
		cr_assert(strstr(msg, bad[i].why) != NULL, "'%s': %s (expected '%s')", bad[i].text,
			  msg, bad[i].why);
	}
}

static enum http_verdict
verdict(const char *head, bool *is_head)
{
	struct http_request req;
	enum http_verdict v = http_parse_request(head, strlen(head), &req);

	if (is_head)
		*is_head = req.head;
	return v;
}

Test(request, the_one_thing_served)
{
	bool head = true;

	cr_assert(eq(int, verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &head), HTTP_OK));
	cr_assert(not(head));
	cr_assert(eq(int, verdict("GET /metrics HTTP/1.0\r\n\r\n", NULL), HTTP_OK));
	cr_assert(eq(int, verdict("GET /metrics?x=1&y HTTP/1.1\r\n\r\n", NULL), HTTP_OK));
	cr_assert(eq(int, verdict("GET /metrics HTTP/1.1\nHost: x\n\n", NULL), HTTP_OK));
	cr_assert(eq(int, verdict("\r\n\r\nGET /metrics HTTP/1.1\r\n\r\n", NULL), HTTP_OK));
	cr_assert(eq(int, verdict("HEAD /metrics HTTP/1.1\r\n\r\n", &head), HTTP_OK));
	cr_assert(head);
}

Test(request, unfinished_heads_wait)
{
	cr_assert(eq(int, verdict("", NULL), HTTP_INCOMPLETE));
	cr_assert(eq(int, verdict("GET /metr", NULL), HTTP_INCOMPLETE));
	cr_assert(eq(int, verdict("GET /metrics HTTP/1.1\r\n", NULL), HTTP_INCOMPLETE));
	cr_assert(eq(int, verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n", NULL), HTTP_INCOMPLETE));
	cr_assert(
		eq(int, verdict("GET /metrics HTTP/1.1\r\nHost: x\r\n\r", NULL), HTTP_INCOMPLETE));
}

Test(request, the_errors)
{
	static const struct {
		const char *head;
		enum http_verdict v;
	} cases[] = {
		{"GET / HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND},
		{"GET /metrics/ HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND},
		{"GET /metricsx HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND},
		{"GET http://h/metrics HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND},
		{"POST / HTTP/1.1\r\n\r\n", HTTP_NOT_FOUND},
		{"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", HTTP_METHOD_NOT_ALLOWED},
		{"get /metrics HTTP/1.1\r\n\r\n", HTTP_METHOD_NOT_ALLOWED},
		{"PUT /metrics HTTP/1.1\r\n\r\n", HTTP_METHOD_NOT_ALLOWED},
		{"GET /metrics HTTP/2.0\r\n\r\n", HTTP_VERSION_NOT_SUPPORTED},
		{"GET /metrics HTTP/0.9\r\n\r\n", HTTP_VERSION_NOT_SUPPORTED},
		{"GET /metrics\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET  /metrics HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /metrics  HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /metrics HTTP/1.1 \r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /metrics HTTP/1.10\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /metrics http/1.1\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /metrics HTTP/1.x\r\n\r\n", HTTP_BAD_REQUEST},
		{"G(T /metrics HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST},
		{" GET /metrics HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST},
		{"GARBAGE\r\n\r\n", HTTP_BAD_REQUEST},
		{"GET /met\x01rics HTTP/1.1\r\n\r\n", HTTP_BAD_REQUEST},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert(eq(int, verdict(cases[i].head, NULL), cases[i].v), "'%s'", cases[i].head);
}

Test(request, bounded_head)
{
	static char big[HTTP_HEAD_MAX + 1];
	struct http_request req;

	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	cr_assert(eq(int, http_parse_request(big, HTTP_HEAD_MAX - 1, &req), HTTP_INCOMPLETE));
	cr_assert(eq(int, http_parse_request(big, HTTP_HEAD_MAX, &req), HTTP_HEAD_TOO_LARGE));
	/* A NUL in the head is a byte like another: no string function
	 * stops at it. */
	cr_assert(eq(int, http_parse_request("GET /metrics HTTP/1.1\r\nX: \0\r\n\r\n", 31, &req),
		     HTTP_OK));
}

Test(request, status_lines)
{
	cr_assert(eq(str, (char *)http_status_line(HTTP_OK), "200 OK"));
	cr_assert(eq(str, (char *)http_status_line(HTTP_NOT_FOUND), "404 Not Found"));
	cr_assert(eq(str, (char *)http_status_line(HTTP_METHOD_NOT_ALLOWED),
		     "405 Method Not Allowed"));
	cr_assert(eq(str, (char *)http_status_line(HTTP_HEAD_TOO_LARGE),
		     "431 Request Header Fields Too Large"));
	cr_assert(eq(str, (char *)http_status_line(HTTP_BAD_REQUEST), "400 Bad Request"));
	cr_assert(eq(str, (char *)http_status_line(HTTP_VERSION_NOT_SUPPORTED),
		     "505 HTTP Version Not Supported"));
}
