/* kube_fake.c — the loopback server of kube_fake.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube_fake.h"
#include "operator/kube.h"

#define MAX_CONNS 256

struct conn {
	struct kube_fake *f;
	int fd, no;
	pthread_t t;
};

struct kube_fake {
	kube_fake_fn fn;
	void *ctx;
	int lfd;
	pthread_t accept_thread;
	pthread_mutex_t mu;
	struct conn conns[MAX_CONNS];
	int n;
	volatile bool stopping;
};

static void send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0 && (w = send(fd, p, n, MSG_NOSIGNAL)) > 0)
		p += w, n -= (size_t)w;
}

void kube_fake_reply(int fd, int status, const char *json)
{
	char head[256];
	size_t n = json ? strlen(json) : 0;

	(void)snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	               status, n);
	send_all(fd, head, strlen(head));
	if (n)
		send_all(fd, json, n);
}

void kube_fake_chunked_head(int fd)
{
	static const char h[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

	send_all(fd, h, sizeof(h) - 1);
}

void kube_fake_chunk(int fd, const char *text)
{
	char size[32];

	(void)snprintf(size, sizeof(size), "%zx\r\n", strlen(text));
	send_all(fd, size, strlen(size));
	send_all(fd, text, strlen(text));
	send_all(fd, "\r\n", 2);
}

void kube_fake_chunk_end(int fd)
{
	send_all(fd, "0\r\n\r\n", 5);
}

/* One request from fd into rq (buffer carried over in *acc). */
static bool read_request(int fd, char *acc, size_t *have, size_t cap, struct kube_fake_req *rq)
{
	char *end, *line, *next, *colon;
	size_t head_len, clen = 0;
	ssize_t got;

	while ((end = memmem(acc, *have, "\r\n\r\n", 4)) == NULL) {
		if (*have >= cap || (got = recv(fd, acc + *have, cap - *have, 0)) <= 0)
			return false;
		*have += (size_t)got;
	}
	head_len = (size_t)(end - acc) + 4;
	*end = '\0';
	memset(rq, 0, sizeof(*rq));
	line = acc;
	next = strstr(line, "\r\n");
	if (next)
		*next = '\0';
	{
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp1 || !sp2)
			return false;
		(void)snprintf(rq->method, sizeof(rq->method), "%.*s", (int)(sp1 - line), line);
		(void)snprintf(rq->path, sizeof(rq->path), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
	}
	for (line = next ? next + 2 : NULL; line && *line; line = next ? next + 2 : NULL) {
		next = strstr(line, "\r\n");
		if (next)
			*next = '\0';
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		colon += 1 + strspn(colon + 1, " ");
		if (!strcasecmp(line, "Authorization"))
			(void)snprintf(rq->auth, sizeof(rq->auth), "%s", colon);
		else if (!strcasecmp(line, "Content-Type"))
			(void)snprintf(rq->ctype, sizeof(rq->ctype), "%s", colon);
		else if (!strcasecmp(line, "Content-Length"))
			clen = (size_t)strtoul(colon, NULL, 10);
	}
	while (*have < head_len + clen) {
		if (*have >= cap || (got = recv(fd, acc + *have, cap - *have, 0)) <= 0)
			return false;
		*have += (size_t)got;
	}
	rq->body = malloc(clen + 1);
	memcpy(rq->body, acc + head_len, clen);
	rq->body[clen] = '\0';
	rq->body_len = clen;
	memmove(acc, acc + head_len + clen, *have - head_len - clen);
	*have -= head_len + clen;
	return true;
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	size_t cap = (size_t)1 << 20, have = 0;
	char *acc = malloc(cap);
	struct kube_fake_req rq;
	int req_no = 0;
	bool keep = true;

	while (keep && !c->f->stopping && read_request(c->fd, acc, &have, cap, &rq)) {
		rq.conn_no = c->no;
		rq.req_no = req_no++;
		keep = c->f->fn(c->f->ctx, c->fd, &rq);
		free(rq.body);
	}
	shutdown(c->fd, SHUT_RDWR);
	free(acc);
	return NULL;
}

static void *accept_main(void *arg)
{
	struct kube_fake *f = arg;
	int fd;

	while (!f->stopping) {
		fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			break;
		pthread_mutex_lock(&f->mu);
		if (f->stopping || f->n >= MAX_CONNS) {
			pthread_mutex_unlock(&f->mu);
			close(fd);
			continue;
		}
		f->conns[f->n].f = f;
		f->conns[f->n].fd = fd;
		f->conns[f->n].no = f->n;
		pthread_create(&f->conns[f->n].t, NULL, conn_main, &f->conns[f->n]);
		f->n++;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

struct kube_fake *kube_fake_start(kube_fake_fn fn, void *ctx, int *port)
{
	struct kube_fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int one = 1;

	f->fn = fn;
	f->ctx = ctx;
	pthread_mutex_init(&f->mu, NULL);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(f->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(f->lfd, 64) != 0)
		abort();
	getsockname(f->lfd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	pthread_create(&f->accept_thread, NULL, accept_main, f);
	return f;
}

bool kube_fake_stopping(struct kube_fake *f)
{
	return f->stopping;
}

int kube_fake_conns(struct kube_fake *f)
{
	int n;

	pthread_mutex_lock(&f->mu);
	n = f->n;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void kube_fake_stop(struct kube_fake *f)
{
	int i;

	pthread_mutex_lock(&f->mu);
	f->stopping = true;
	pthread_mutex_unlock(&f->mu);
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->accept_thread, NULL);
	close(f->lfd);
	for (i = 0; i < f->n; i++)
		shutdown(f->conns[i].fd, SHUT_RDWR);
	for (i = 0; i < f->n; i++) {
		pthread_join(f->conns[i].t, NULL);
		close(f->conns[i].fd);
	}
	pthread_mutex_destroy(&f->mu);
	free(f);
}

struct kube_client *kube_fake_client(int port, const char *token, const char *token_file)
{
	struct kube_config cfg = {0};
	struct kube_client *k = NULL;
	char server[64], *err = NULL;

	(void)snprintf(server, sizeof(server), "http://127.0.0.1:%d/", port);
	cfg.server = server;
	cfg.token = (char *)token;
	cfg.token_file = (char *)token_file;
	if (kube_client_new(&cfg, &k, &err) != 0)
		abort();
	return k;
}
