/* op_metrics.c — the operator's counters and gauges and their Prometheus
 * text (op_http.h).
 *
 * Every metric is declared once in the table below; a name not in it is
 * refused, so a typo cannot mint a new metric. Series live in a fixed
 * array per metric (at most OP_METRICS_MAX_SERIES label sets), found by a
 * linear scan: the operator has a handful per metric (one per kind), and
 * a scan of a few short strings under one mutex is cheaper than a hash
 * table's memory. The process_* metrics are the names Prometheus' client
 * libraries use, read from /proc when rendered. */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "operator/op_http.h"

#include "banned.h"

struct metric_def {
	const char *name;
	const char *type; /* "counter" or "gauge" */
	const char *help;
};

static const struct metric_def METRICS[] = {
	{ OP_M_RECONCILES, "counter", "Reconciles run, by kind." },
	{ OP_M_RECONCILE_ERRORS, "counter", "Reconciles that failed, by kind." },
	{ OP_M_VAULT_REQUESTS, "counter", "Requests sent to Trove." },
	{ OP_M_VAULT_ERRORS, "counter", "Requests to Trove that failed." },
	{ OP_M_KUBE_REQUESTS, "counter", "Requests the reconcilers sent to the Kubernetes API." },
	{ OP_M_KUBE_ERRORS, "counter", "Requests to the Kubernetes API that failed." },
	{ OP_M_SECRET_WRITES, "counter", "Destination Secrets created or updated." },
	{ OP_M_ROLLOUT_RESTARTS, "counter", "Rollout restarts requested, by target kind." },
	{ OP_M_QUEUE_ADDS, "counter", "Keys put on the work queue." },
	{ OP_M_QUEUE_RETRIES, "counter", "Keys put back on the work queue after a failed reconcile." },
	{ OP_M_QUEUE_DEPTH, "gauge", "Keys due and waiting for a worker." },
	{ OP_M_QUEUE_DELAYED, "gauge", "Keys waiting for their time (requeue or backoff)." },
	{ OP_M_LEADER, "gauge", "1 while this replica holds the leader Lease (or runs without election)." },
	{ OP_M_READY, "gauge", "1 while the informers are synced and the replica leads or stands by." },
};

#define NMETRICS (sizeof(METRICS) / sizeof(METRICS[0]))

struct series {
	char *labels; /* "" for none */
	double v;
};

struct op_metrics {
	pthread_mutex_t mu;
	struct series s[NMETRICS][OP_METRICS_MAX_SERIES];
	size_t n[NMETRICS];
	double start_time; /* unix seconds */
};

struct op_metrics *op_metrics_new(void)
{
	struct op_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if (pthread_mutex_init(&m->mu, NULL) != 0) {
		free(m);
		return NULL;
	}
	m->start_time = (double)clock_realtime_ns() / 1e9;
	return m;
}

void op_metrics_free(struct op_metrics *m)
{
	size_t i, j;

	if (m == NULL)
		return;
	for (i = 0; i < NMETRICS; i++)
		for (j = 0; j < m->n[i]; j++)
			free(m->s[i][j].labels);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static int find_def(const char *name)
{
	size_t i;

	for (i = 0; i < NMETRICS; i++)
		if (strcmp(METRICS[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* The series (name, labels) with m->mu held, made when absent and make. */
static int find_series(struct op_metrics *m, const char *name, const char *labels, bool make,
                       struct series **out)
{
	int d = find_def(name);
	size_t j;

	*out = NULL;
	if (d < 0)
		return TROVE_ERR_NOT_FOUND;
	if (labels == NULL)
		labels = "";
	for (j = 0; j < m->n[d]; j++)
		if (strcmp(m->s[d][j].labels, labels) == 0) {
			*out = &m->s[d][j];
			return 0;
		}
	if (!make)
		return 0;
	if (m->n[d] == OP_METRICS_MAX_SERIES || strlen(labels) > OP_METRICS_MAX_LABELS)
		return TROVE_ERR_TOO_LARGE;
	m->s[d][m->n[d]].labels = xstrdup(labels);
	m->s[d][m->n[d]].v = 0;
	*out = &m->s[d][m->n[d]++];
	return 0;
}

static int update(struct op_metrics *m, const char *name, const char *labels, double v, bool set)
{
	struct series *s;
	int r;

	pthread_mutex_lock(&m->mu);
	r = find_series(m, name, labels, true, &s);
	if (r == 0)
		s->v = set ? v : s->v + v;
	pthread_mutex_unlock(&m->mu);
	return r;
}

int op_metrics_add(struct op_metrics *m, const char *name, const char *labels, double v)
{
	return update(m, name, labels, v, false);
}

int op_metrics_set(struct op_metrics *m, const char *name, const char *labels, double v)
{
	return update(m, name, labels, v, true);
}

double op_metrics_get(struct op_metrics *m, const char *name, const char *labels)
{
	struct series *s;
	double v = 0;

	pthread_mutex_lock(&m->mu);
	if (find_series(m, name, labels, false, &s) == 0 && s)
		v = s->v;
	pthread_mutex_unlock(&m->mu);
	return v;
}

/* ---- process_* ----------------------------------------------------------- */

struct proc_stats {
	double rss, vsize, threads, cpu, open_fds, max_fds;
};

/* Fields of /proc/self/stat after the command name: state is field 3;
 * utime 14, stime 15, num_threads 20, vsize 23, rss 24 (pages). */
static void read_stat(struct proc_stats *p)
{
	char line[1024], *s, *end;
	FILE *f = fopen("/proc/self/stat", "re");
	double ticks = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
	double utime = 0, stime = 0;
	int field;

	if (f == NULL)
		return;
	s = fgets(line, sizeof(line), f);
	fclose(f);
	if (s == NULL || (s = strrchr(line, ')')) == NULL)
		return;
	s++;
	for (field = 3; *s; field++) {
		double v;

		while (*s == ' ')
			s++;
		v = strtod(s, &end);
		if (end == s && field != 3)
			break;
		switch (field) {
		case 14: utime = v; break;
		case 15: stime = v; break;
		case 20: p->threads = v; break;
		case 23: p->vsize = v; break;
		case 24: p->rss = v * page; break;
		default: break;
		}
		while (*s && *s != ' ')
			s++;
		if (field == 24)
			break;
	}
	if (ticks > 0)
		p->cpu = (utime + stime) / ticks;
}

static void read_fds(struct proc_stats *p)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	struct rlimit rl;
	double n = 0;

	if (d) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		p->open_fds = n - 1; /* the directory's own descriptor */
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
}

static int render_one(struct buf *out, const char *name, const char *type, const char *help, double v)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static int render_process(struct op_metrics *m, struct buf *out)
{
	struct proc_stats p;
	int r = 0;

	memset(&p, 0, sizeof(p));
	read_stat(&p);
	read_fds(&p);
	r |= render_one(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
	                p.cpu);
	r |= render_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
	r |= render_one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds);
	r |= render_one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", p.vsize);
	r |= render_one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", p.rss);
	r |= render_one(out, "process_threads", "gauge", "Number of OS threads in the process.", p.threads);
	r |= render_one(out, "process_start_time_seconds", "gauge",
	                "Start time of the process since unix epoch in seconds.", m->start_time);
	return r ? TROVE_ERR_TOO_LARGE : 0;
}

int op_metrics_render(struct op_metrics *m, struct buf *out)
{
	size_t i, j;
	int r = 0;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < NMETRICS && r == 0; i++) {
		r |= buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", METRICS[i].name, METRICS[i].help,
		                METRICS[i].name, METRICS[i].type);
		for (j = 0; j < m->n[i]; j++) {
			const struct series *s = &m->s[i][j];

			if (s->labels[0])
				r |= buf_printf(out, "%s{%s} %.17g\n", METRICS[i].name, s->labels, s->v);
			else
				r |= buf_printf(out, "%s %.17g\n", METRICS[i].name, s->v);
		}
	}
	pthread_mutex_unlock(&m->mu);
	if (r == 0)
		r = render_process(m, out);
	return r ? TROVE_ERR_TOO_LARGE : 0;
}
