/*
 * slow.c -- the latency-bound provider of make bench and make
 * bench-scale: answers every DELETE with 204 after DELAY_MS milliseconds,
 * anything else with 404; HTTP/1.1 keep-alive, one thread, epoll, so that
 * the provider costs the clients next to no CPU.  Writes its port to
 * PORT_FILE (through a rename).
 *
 *   slow DELAY_MS PORT_FILE [STATS_FILE]
 *
 * With STATS_FILE, every 10 ms while requests are waiting it appends
 *
 *   UNIX_NS IN_FLIGHT PEAK ANSWERED
 *
 * IN_FLIGHT: DELETEs received and not answered yet (what a client keeps
 * in flight, seen from here); PEAK: the most since the previous line;
 * ANSWERED: all answered so far.  UNIX_NS is CLOCK_REALTIME, like
 * `date +%s%N`.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXC 65536

typedef struct conn {
    char buf[8192];
    size_t len;
    long need;                  /* body bytes still to skip */
} conn;

static conn *conns[MAXC];
static struct { int fd; double at; } *queue;   /* FIFO: one delay for all */
static size_t qhead, qtail, qcap;
static FILE *stats;
static long inflight, peak, answered;

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stats, "%lld%09ld %ld %ld %ld\n", (long long)ts.tv_sec, ts.tv_nsec,
            inflight, peak, answered);
    peak = inflight;
}

static void answer(int fd, const char *text)
{
    if (write(fd, text, strlen(text)) < 0)
        close(fd);
}

static void push(int fd, double at)
{
    if (qtail == qcap && qhead > 0) {           /* reuse the answered front */
        memmove(queue, queue + qhead, (qtail - qhead) * sizeof *queue);
        qtail -= qhead;
        qhead = 0;
    }
    if (qtail == qcap) {
        qcap = qcap ? qcap * 2 : 1024;
        if (!(queue = realloc(queue, qcap * sizeof *queue)))
            exit(1);
    }
    queue[qtail].fd = fd;
    queue[qtail].at = at;
    qtail++;
    if (++inflight > peak)
        peak = inflight;
}

/* Requests complete in c->buf: answer or queue them. */
static void requests(int fd, conn *c, double delay)
{
    for (;;) {
        char *end;
        size_t used;
        if (c->need > 0) {
            size_t k = (size_t)c->need < c->len ? (size_t)c->need : c->len;
            memmove(c->buf, c->buf + k, c->len - k);
            c->len -= k;
            c->need -= (long)k;
            if (c->need > 0)
                return;
        }
        c->buf[c->len] = '\0';
        if (!(end = strstr(c->buf, "\r\n\r\n")))
            return;
        used = (size_t)(end + 4 - c->buf);
        {
            char *cl = strcasestr(c->buf, "\r\ncontent-length:");
            if (cl && cl < end)
                c->need = strtol(cl + 17, NULL, 10);
        }
        if (strncmp(c->buf, "DELETE ", 7) == 0)
            push(fd, now() + delay);
        else
            answer(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
}

int main(int argc, char **argv)
{
    double delay = argc > 1 ? atof(argv[1]) / 1000.0 : 0.02;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), ep = epoll_create1(0), one = 1;
    struct epoll_event ev = {.events = EPOLLIN};
    char tmp[4096];
    double next_sample = 0;
    FILE *f;

    /* the backlog is capped by net.core.somaxconn: C clients connect at once */
    if (argc < 3 || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(ls, 65535) != 0 || getsockname(ls, (struct sockaddr *)&a, &alen) != 0) {
        fprintf(stderr, "usage: slow DELAY_MS PORT_FILE [STATS_FILE]\n");
        return 2;
    }
    if (argc > 3) {
        if (!(stats = fopen(argv[3], "a")))
            return 1;
        setvbuf(stats, NULL, _IOLBF, 0);
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    if (!(f = fopen(tmp, "w")))
        return 1;
    fprintf(f, "%d\n", ntohs(a.sin_port));
    fclose(f);
    rename(tmp, argv[2]);
    ev.data.fd = ls;
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        struct epoll_event evs[256];
        int timeout = -1, n;
        double t = now();
        while (qhead < qtail && queue[qhead].at <= t) {
            if (conns[queue[qhead].fd])
                answer(queue[qhead].fd, "HTTP/1.1 204 No Content\r\n\r\n");
            qhead++;
            inflight--;
            answered++;
        }
        if (stats && (peak > 0 || inflight > 0) && t >= next_sample) {
            sample();               /* the last line of a run says 0 */
            next_sample = t + 0.01;
        }
        if (qhead < qtail)
            timeout = (int)((queue[qhead].at - t) * 1000.0) + 1;
        if (stats && (peak > 0 || inflight > 0)) {
            int ms = (int)((next_sample - t) * 1000.0) + 1;
            if (timeout < 0 || ms < timeout)
                timeout = ms;
        }
        n = epoll_wait(ep, evs, 256, timeout);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == ls) {
                int c;
                while ((c = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    if (c >= MAXC || !(conns[c] = calloc(1, sizeof **conns))) {
                        close(c);
                        continue;
                    }
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.data.fd = c;
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
                }
                continue;
            }
            for (;;) {
                conn *c = conns[fd];
                ssize_t r = read(fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
                if (r > 0) {
                    c->len += (size_t)r;
                    requests(fd, c, delay);
                    if (c->len >= sizeof c->buf - 1)
                        c->len = 0;         /* a header too long: dropped */
                    continue;
                }
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    break;
                free(c);
                conns[fd] = NULL;
                close(fd);
                break;
            }
        }
    }
}
