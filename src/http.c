/*
 * http.c - the status page, its JSON and /metrics, with libevent's evhttp
 *
 * Copyright (C) 2026 The nfqspid authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * [daemon] http = ADDR:PORT turns it on (off by default).  It runs in the
 * main thread, like the control socket, and reaches the tables the same
 * way: through worker_slice(), a slice of at most HTTP_SLICE entries at a
 * time, so a request never holds a worker for long.  /api/connections
 * answers one page (at most HTTP_PAGE_MAX connections) and a cursor for
 * the next, so no request costs more than that.
 *
 * Read-only: GET and HEAD, anything else is 405.  Peers outside
 * [daemon] http_allow (the running configuration's: a reload changes it)
 * get 403.  Requests have HTTP_TIMEOUT seconds and HTTP_MAXHDR bytes of
 * headers and no body.
 *
 *   /                  a page in the spirit of a router's "Status >
 *                      Realtime Data > Connections": src/page.html,
 *                      with /page.css and /page.js, compiled in
 *                      (page.h); nothing is fetched elsewhere
 *   /api/connections   ?limit=N (1-1000, default 500) &cursor=W.C
 *   /api/stats         the counters, as nfqspictl -j status and stats
 *   /metrics           the Prometheus text format
 */
#include "autoconf.h"		/* first: _GNU_SOURCE */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "nfqspid.h"
#include "auth.h"
#include "clock.h"
#include "page.h"

#define HTTP_PAGE_MAX	1000	/* connections per /api/connections */
#define HTTP_PAGE_DEF	500
#define HTTP_SLICE	1024	/* entries per worker_slice() */
#define HTTP_TIMEOUT	10	/* seconds for a request */
#define HTTP_MAXHDR	8192

struct http {
	struct evhttp		*eh;
	struct http_door	*door;
	struct log_rl		 rl_auth;	/* wrong credentials */
	const struct daemon_info *info;
	struct worker		**workers;
	unsigned		 nworkers;
};

/* ---- helpers ------------------------------------------------------ */

/* Is this peer in [daemon] http_allow (the running configuration's)? */
static int
http_addr_ok(void *arg, const struct sockaddr *sa)
{
	struct http			*h = arg;
	const struct sockaddr_in6	*sin6;
	union pkt_addr			 a;
	uint8_t				 family;

	memset(&a, 0, sizeof(a));
	switch (sa->sa_family) {
	case AF_INET:
		family = AF_INET;
		memcpy(a.a8, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			family = AF_INET;
			memcpy(a.a8, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			family = AF_INET6;
			memcpy(a.a8, &sin6->sin6_addr, 16);
		}
		break;
	default:
		return (0);
	}
	return (rule_addrset_match(h->info->cfg->http_allow, family, &a));
}

/* Checked at accept (http_door.c) and again per request: a reload may
   have taken the peer off the list since. */
static int
http_peer_ok(struct http *h, struct evhttp_request *req)
{
	struct evhttp_connection	*conn;
	const struct sockaddr		*sa;

	if ((conn = evhttp_request_get_connection(req)) == NULL ||
	    (sa = evhttp_connection_get_addr(conn)) == NULL)
		return (0);
	return (http_addr_ok(h, sa));
}

static void
http_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	struct evkeyvalq	*hd = evhttp_request_get_output_headers(req);

	evhttp_add_header(hd, "Content-Type", type);
	evhttp_add_header(hd, "Cache-Control", "no-store");
	evhttp_add_header(hd, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(hd, "X-Frame-Options", "DENY");
	evhttp_add_header(hd, "Content-Security-Policy", "default-src 'none'; "
	    "script-src 'self'; style-src 'self'; connect-src 'self'; "
	    "frame-ancestors 'none'");
	/* HEAD: the same headers, no body (evhttp leaves it out) */
	evhttp_send_reply(req, code, reason, body);
}

static void
http_text(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", msg);
	http_reply(req, code, reason, "text/plain; charset=utf-8", b);
	evbuffer_free(b);
}

/* ---- the counters ------------------------------------------------- */

/* 503: worker i failed a question (errno: ETIMEDOUT, or not running) */
static void
http_dead(struct http *h, struct evhttp_request *req, unsigned i)
{
	char	 msg[STATUS_LATE_LEN];

	if (errno == ETIMEDOUT)
		status_late_why(msg, sizeof(msg), h->info, i,
		    worker_idle_ms(h->workers[i], spi_now_ms()) / 1000, 1);
	else
		status_dead_why(msg, sizeof(msg), h->info, i);
	http_text(req, 503, "Service Unavailable", msg);
}

/* A snapshot for /api/stats and /metrics; -1 when it has been answered. */
static int
http_status(struct http *h, struct evhttp_request *req, struct status *st)
{
	if (status_collect(st, h->info, h->workers, h->nworkers) == -1) {
		if (errno == ESRCH)
			http_dead(h, req, st->dead);
		else
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return (-1);
	}
	return (0);
}

static void
http_stats(struct http *h, struct evhttp_request *req)
{
	struct status	 st;
	struct evbuffer	*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (http_status(h, req, &st) == 0) {
		status_api(b, h->info, &st);
		http_reply(req, HTTP_OK, "OK", "application/json", b);
		status_free(&st);
	}
	evbuffer_free(b);
}

/* ---- connections -------------------------------------------------- */

/* what one /api/connections has listed so far */
struct hlist {
	struct evbuffer		*out;
	size_t			 n;
	unsigned		 worker;	/* the one being listed */
};

static void
hlist_visit(struct ct_table *t, struct ct_entry *e, struct ct_view *v,
    void *arg)
{
	struct hlist	*l = arg;
	char		 j[CT_VIEW_BUFLEN], worker[32];
	int		 n;

	snprintf(worker, sizeof(worker), "\"worker\":%u", l->worker);
	n = ct_view_json(v, worker, j, sizeof(j));
	if (n < 0 || (size_t)n >= sizeof(j))
		return;		/* cannot happen: test_ct_view's test_buflen */
	evbuffer_add_printf(l->out, "%s%s", l->n ? ",\n" : "\n", j);
	l->n++;
}

/* /metrics: connections by protocol and state, the whole table */
static void
hconns_visit(struct ct_table *t, struct ct_entry *e, struct ct_view *v,
    void *arg)
{
	status_conns_add(arg, v);
}

/* "W.C": worker W, ct_walk() cursor C */
static int
parse_cursor(const char *v, unsigned *w, uint64_t *c)
{
	char		*end;
	unsigned long	 a;
	unsigned long long b;

	errno = 0;
	a = strtoul(v, &end, 10);
	if (end == v || *end != '.' || errno != 0 || a > 65535)
		return (-1);
	v = end + 1;
	b = strtoull(v, &end, 10);
	if (end == v || *end != '\0' || errno != 0)
		return (-1);
	*w = (unsigned)a;
	*c = b;
	return (0);
}

static void
http_connections(struct http *h, struct evhttp_request *req,
    const char *query)
{
	struct evkeyvalq	 params;
	struct ct_slice		 s;
	struct hlist		 l;
	struct evbuffer		*b;
	const char		*v;
	char			*end;
	unsigned long		 limit = HTTP_PAGE_DEF;
	size_t			 total;
	unsigned		 i;

	memset(&s, 0, sizeof(s));
	memset(&l, 0, sizeof(l));
	TAILQ_INIT(&params);
	if (query != NULL && evhttp_parse_query_str(query, &params) == -1) {
		http_text(req, HTTP_BADREQUEST, "Bad Request",
		    "malformed query");
		return;
	}
	if ((v = evhttp_find_header(&params, "limit")) != NULL) {
		errno = 0;
		limit = strtoul(v, &end, 10);
		if (end == v || *end != '\0' || errno != 0 || limit < 1 ||
		    limit > HTTP_PAGE_MAX) {
			evhttp_clear_headers(&params);
			http_text(req, HTTP_BADREQUEST, "Bad Request",
			    "limit: a number from 1 to 1000");
			return;
		}
	}
	if ((v = evhttp_find_header(&params, "cursor")) != NULL &&
	    parse_cursor(v, &s.wi, &s.cursor) == -1) {
		evhttp_clear_headers(&params);
		http_text(req, HTTP_BADREQUEST, "Bad Request",
		    "cursor: W.C, as the last answer's \"next\"");
		return;
	}
	evhttp_clear_headers(&params);
	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (worker_ct_count_all(h->workers, h->nworkers, &total, &i) == -1)
		goto dead;
	l.out = b;
	s.fn = hlist_visit;
	s.arg = &l;
	s.wait_ms = WORKER_QUERY_MS;
	evbuffer_add_printf(b, "{\"total\":%zu,\"connections\":[", total);
	/* each call lists what is left of limit: limit entries in all */
	while (s.wi < h->nworkers && l.n < limit) {
		l.worker = i = s.wi;
		if (worker_slice(h->workers, h->nworkers, &s,
		    limit - l.n) == -1)
			goto dead;
	}
	evbuffer_add_printf(b, "\n],\"count\":%zu,\"next\":", l.n);
	if (s.wi < h->nworkers)
		evbuffer_add_printf(b, "\"%u.%" PRIu64 "\"}\n", s.wi,
		    s.cursor);
	else
		evbuffer_add_printf(b, "null}\n");
	http_reply(req, HTTP_OK, "OK", "application/json", b);
	evbuffer_free(b);
	return;
 dead:
	evbuffer_free(b);
	http_dead(h, req, i);
}

/* ---- /metrics ----------------------------------------------------- */

static void
http_metrics(struct http *h, struct evhttp_request *req)
{
	struct status_conns	 conns;
	struct status		 st;
	struct ct_slice		 s;
	struct evbuffer		*b;

	if ((b = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	if (http_status(h, req, &st) == -1) {
		evbuffer_free(b);
		return;
	}
	/* the states: the whole table, HTTP_SLICE entries a call; none
	   once a worker is late (status_metrics() prints no sums then) */
	memset(&s, 0, sizeof(s));
	memset(&conns, 0, sizeof(conns));
	s.fn = hconns_visit;
	s.arg = &conns;
	s.wait_ms = WORKER_QUERY_MS;
	while (st.nlate == 0 && s.wi < h->nworkers)
		if (worker_slice(h->workers, h->nworkers, &s,
		    HTTP_SLICE) == -1) {
			if (errno == ETIMEDOUT) {
				status_set_late(&st, s.wi, h->workers[s.wi]);
				break;
			}
			http_dead(h, req, s.wi);
			goto done;
		}
	status_metrics(b, h->info, &st, &conns);
	http_reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; "
	    "charset=utf-8", b);
 done:
	status_free(&st);
	evbuffer_free(b);
}

/* ---- the server --------------------------------------------------- */

/*
 * [daemon] http_auth: basic authentication (auth.c) before anything
 * else is answered.  1 if the request may go on; else 401 (no or wrong
 * credentials) or 503 (too many password hashes this second) was sent.
 */
static int
http_auth_ok(struct http *h, struct evhttp_request *req)
{
	struct auth	*users = h->info->cfg->http_users;
	struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
	const char	*user;
	uint64_t	 held;

	if (users == NULL)
		return (1);
	switch (auth_check(users, evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Authorization"),
	    spi_now_ms(), &user)) {
	case AUTH_OK:
		return (1);
	case AUTH_BUSY:
		evhttp_add_header(hd, "Retry-After", "1");
		http_text(req, 503, "Service Unavailable", "too many "
		    "password checks: try again in a second");
		return (0);
	default:
		if (evhttp_find_header(evhttp_request_get_input_headers(req),
		    "Authorization") != NULL && log_rl(&h->rl_auth, &held)) {
			char		*peer = NULL, more[LOG_RL_MORELEN];
			ev_uint16_t	 port = 0;

			if (evhttp_request_get_connection(req) != NULL)
				evhttp_connection_get_peer(
				    evhttp_request_get_connection(req), &peer,
				    &port);
			log_warnx("http: wrong credentials from %s%s",
			    peer != NULL ? peer : "?",
			    log_rl_more(held, more, sizeof(more)));
		}
		evhttp_add_header(hd, "WWW-Authenticate",
		    "Basic realm=\"nfqspid\", charset=\"UTF-8\"");
		http_text(req, 401, "Unauthorized", "authentication "
		    "required");
		return (0);
	}
}

static void
http_request(struct evhttp_request *req, void *arg)
{
	struct http		*h = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path, *raw;
	const struct page_file	*f;
	struct evbuffer		*b;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);

	http_door_request(h->door, req);
	if (!http_peer_ok(h, req)) {
		http_text(req, 403, "Forbidden", "forbidden: not in "
		    "[daemon] http_allow");
		return;
	}
	if (!http_auth_ok(h, req))
		return;
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		http_text(req, 405, "Method Not Allowed", "read-only: GET "
		    "and HEAD only");
		return;
	}
	if (uri == NULL || (path = evhttp_uri_get_path(uri)) == NULL ||
	    *path == '\0')
		path = "/";
	/* "//metrics" parses as a host and no path, as "/" would: it names
	   none of the pages (raw: it matches none of them below) */
	if ((raw = evhttp_request_get_uri(req)) != NULL &&
	    strncmp(raw, "//", 2) == 0)
		path = raw;
	for (f = page_files; f->path != NULL; f++)
		if (strcmp(path, f->path) == 0)
			break;
	if (f->path != NULL) {
		if ((b = evbuffer_new()) == NULL) {
			evhttp_send_error(req, HTTP_INTERNAL, NULL);
			return;
		}
		evbuffer_add_reference(b, f->data, f->len, NULL, NULL);
		http_reply(req, HTTP_OK, "OK", f->type, b);
		evbuffer_free(b);
	} else if (strcmp(path, "/api/connections") == 0)
		http_connections(h, req, evhttp_uri_get_query(uri));
	else if (strcmp(path, "/api/stats") == 0)
		http_stats(h, req);
	else if (strcmp(path, "/metrics") == 0)
		http_metrics(h, req);
	else
		http_text(req, HTTP_NOTFOUND, "Not Found", "not found: try /, "
		    "/api/connections, /api/stats or /metrics");
}

struct http *
http_open(struct event_base *base, const struct config *cfg,
    const struct daemon_info *info, struct worker **workers,
    unsigned nworkers, char *err, size_t errlen)
{
	struct http	*h;
	struct evhttp_bound_socket *bound;
	char		 addr[64];
	uint16_t	 port;

	/* "127.0.0.1:8470" or "[::1]:8470", as config.c checked it */
	if (config_split_addrport(cfg->http, addr, sizeof(addr),
	    &port) == -1) {
		snprintf(err, errlen, "http %s: not ADDRESS:PORT", cfg->http);
		return (NULL);
	}
	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->eh = evhttp_new(base)) == NULL) {
		snprintf(err, errlen, "http: out of memory");
		free(h);
		return (NULL);
	}
	h->info = info;
	h->workers = workers;
	h->nworkers = nworkers;
	/* every method reaches us, so that we can answer 405 */
	evhttp_set_allowed_methods(h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_timeout(h->eh, HTTP_TIMEOUT);
	evhttp_set_max_headers_size(h->eh, HTTP_MAXHDR);
	/* a body is never read; a small one still gets its 405 */
	evhttp_set_max_body_size(h->eh, 4096);
	evhttp_set_gencb(h->eh, http_request, h);
	if ((bound = evhttp_bind_socket_with_handle(h->eh, addr, port)) ==
	    NULL) {
		snprintf(err, errlen, "http %s: cannot listen: %s", cfg->http,
		    strerror(errno));
		evhttp_free(h->eh);
		free(h);
		return (NULL);
	}
	if ((h->door = http_door_new(base, h->eh, bound, http_addr_ok, h)) ==
	    NULL) {
		snprintf(err, errlen, "http: %s", strerror(errno));
		evhttp_free(h->eh);
		free(h);
		return (NULL);
	}
	log_info("http: status page on http://%s/", cfg->http);
	return (h);
}

void
http_close(struct http *h)
{
	if (h == NULL)
		return;
	http_door_closing(h->door);
	evhttp_free(h->eh);
	http_door_free(h->door);
	free(h);
}
