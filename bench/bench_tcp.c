/*
 * bench_tcp.c — the bare TCP baseline of bench/transport.sh: TOTAL bytes
 * over one loopback TCP connection between two threads, plain send() and
 * recv() of CHUNK-byte pieces between buffers touched beforehand, no
 * framing, no checksum, no copy.  Prints "bare_gbs <GB/s>".
 *
 *   bench_tcp [TOTAL_MB [CHUNK_MB]]      (defaults 1024, 256)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static size_t total, chunk;
static int lfd;
static char *rbuf; /* the receiver's buffer, touched before the clock starts */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *receiver(void *arg)
{
    char *buf = rbuf;
    int fd = accept(lfd, NULL, NULL);
    size_t got = 0;
    while (fd >= 0 && got < total) {
        ssize_t r = recv(fd, buf + (got % chunk), chunk - (got % chunk), 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    char ack = 1;
    if (write(fd, &ack, 1) != 1)
        got = 0;
    close(fd);
    *(size_t *)arg = got;
    return NULL;
}

int main(int argc, char **argv)
{
    total = (size_t)(argc > 1 ? atol(argv[1]) : 1024) << 20;
    chunk = (size_t)(argc > 2 ? atol(argv[2]) : 256) << 20;
    if (!total || !chunk) {
        fprintf(stderr, "usage: bench_tcp [TOTAL_MB [CHUNK_MB]]\n");
        return 2;
    }
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &len) < 0) {
        perror("bench_tcp: listen");
        return 1;
    }
    rbuf = malloc(chunk);
    if (!rbuf) {
        fprintf(stderr, "bench_tcp: out of memory\n");
        return 1;
    }
    memset(rbuf, 0, chunk);
    size_t got = 0;
    pthread_t th;
    pthread_create(&th, NULL, receiver, &got);
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        perror("bench_tcp: connect");
        return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char *buf = malloc(chunk);
    memset(buf, 7, chunk);
    double t0 = now();
    for (size_t sent = 0; sent < total;) {
        ssize_t w = send(fd, buf + (sent % chunk), chunk - (sent % chunk), 0);
        if (w <= 0) {
            perror("bench_tcp: send");
            return 1;
        }
        sent += (size_t)w;
    }
    char ack;
    if (read(fd, &ack, 1) != 1) {
        fprintf(stderr, "bench_tcp: no acknowledgement\n");
        return 1;
    }
    double t = now() - t0;
    pthread_join(th, NULL);
    close(fd);
    close(lfd);
    free(buf);
    free(rbuf);
    if (got != total) {
        fprintf(stderr, "bench_tcp: received %zu of %zu bytes\n", got, total);
        return 1;
    }
    printf("bare_gbs %.3f\n", (double)total / t / 1e9);
    return 0;
}
