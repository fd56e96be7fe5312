/*
 * genie-node — the thin remote runtime (issue 4; real/PROTOCOL.md).
 *
 * Listens on TCP; each client connection is one session, served by its
 * own thread:
 *
 *   HELLO  (JSON: machine, nodes, seed, scale, warm, trace)  -> HELLO (JSON)
 *   PLAN   (planwire bytes)                                  -> RESULT {"ok"}
 *   RUN                        -> DATA frames as the plan says, then RESULT
 *                                 (JSON: per-task times, node figures)
 *   BYE                                                      -> BYE, close
 *
 * Frames out of order are answered with an ERROR frame and the session
 * goes on; a malformed frame (bad checksum, oversized, truncated) gets an
 * ERROR frame and the connection is closed, since the stream is out of
 * sync.  Either way the node keeps serving its other clients.  A
 * session's memory is freed when it ends or its client disconnects;
 * nothing outlives a restart.  The node runs only ops of the fixed
 * vocabulary named by the plan: it is sent data, never code.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "executor.h"
#include "hello.h"
#include "planrun.h"
#include "planwire.h"
#include "runner.h"

#define MAX_CLIENTS 64
#define DEFAULT_MAX_PAYLOAD ((size_t)2 << 30)

static int verbosity = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...)
{
    if (level > verbosity)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "%02d:%02d:%02d.%03ld genie-node %s: ", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000, level == 0 ? "error" : level == 1 ? "info" : "debug");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&log_lock);
    va_end(ap);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: genie-node [options]\n"
            "\n"
            "The remote runtime: accepts sessions from genie-real over TCP, keeps their\n"
            "weights and KV cache resident as the plan says, runs the plan's compute\n"
            "tasks on an executor and returns results.\n"
            "\n"
            "options:\n"
            "  -b, --bind ADDR       address to listen on (default 127.0.0.1)\n"
            "  -p, --port N          TCP port (default 7070; 0 picks a free one)\n"
            "  -e, --exec NAME       executor: cpu (default) or cuda\n"
            "      --max-payload MB  largest frame accepted (default 2048)\n"
            "      --max-memory MB   tensor bytes all sessions may hold at once; a HELLO whose\n"
            "                        session could hold more than is left is refused\n"
            "                        (default: 3/4 of this machine's memory)\n"
            "      --idle-timeout S  end a session whose client sends nothing, or takes\n"
            "                        nothing of a reply, for S seconds (default 600; 0: never)\n"
            "  -v, --verbose         more logging (repeat for frame-level debug)\n"
            "  -q, --quiet           errors only\n"
            "  -h, --help            this text\n"
            "\n"
            "Prints \"genie-node: listening on ADDR:PORT\" on stdout once ready.  A session's\n"
            "memory is freed when it ends; the allocator keeps up to 32 MiB of it for the\n"
            "next session and gives it back after a second without sessions\n"
            "(GN_MALLOC_DEFAULT=1: glibc's own policy).\n"
            "SIGINT/SIGTERM: stops accepting, ends every session, frees everything, exits 0.\n");
}

/* ========================== sessions ========================== */

typedef struct client {
    int used;
    pthread_t thread;
    int fd;             /* borrowed copy for shutdown(); the conn owns it */
    uint64_t id;
} client;

static client clients[MAX_CLIENTS];
static pthread_mutex_t clients_lock = PTHREAD_MUTEX_INITIALIZER;
static const gn_executor_ops *executor;
static size_t max_payload = DEFAULT_MAX_PAYLOAD;
/* tensor bytes all sessions may hold at once (--max-memory) and what the
 * open sessions have reserved of it (gn_runner_bound_bytes at HELLO) */
static uint64_t max_memory, reserved;
static long idle_timeout_s = 600; /* --idle-timeout: a client silent, or not reading, this long is dropped */
static pthread_mutex_t reserve_lock = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t stopping;
static int wake_pipe[2] = {-1, -1};

typedef struct session {
    uint64_t id;
    gn_conn *conn;
    gn_session *s;
    gn_runner *r;
    gn_plan *plan;
    int32_t machine;
    uint32_t nodes;
    int warm;
    uint64_t seed;
    double scale;
    uint64_t reserved;  /* of max_memory, for this session's runner */
    int drop_more;      /* a run failed inside a DATA payload: its MORE frames are dropped */
    uint64_t drop_request;
    int broken;         /* the stream is out of sync: close */
} session;

static void session_reset(session *ss)
{
    gn_plan_destroy(ss->plan);
    gn_runner_destroy(ss->r);
    gn_session_destroy(ss->s);
    ss->plan = NULL;
    ss->r = NULL;
    ss->s = NULL;
    pthread_mutex_lock(&reserve_lock);
    reserved -= ss->reserved;
    pthread_mutex_unlock(&reserve_lock);
    ss->reserved = 0;
}

/* Reserves NEED bytes of max_memory for SS; 0, or -1 when they do not fit
 * (*LEFT: what is left). */
static int reserve(session *ss, uint64_t need, uint64_t *left)
{
    pthread_mutex_lock(&reserve_lock);
    *left = max_memory - reserved;
    int ok = need <= *left;
    if (ok) {
        reserved += need;
        ss->reserved = need;
    }
    pthread_mutex_unlock(&reserve_lock);
    return ok ? 0 : -1;
}

static int send_error(session *ss, uint64_t req, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int send_error(session *ss, uint64_t req, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    logf_(0, "session %llu: %s", (unsigned long long)ss->id, msg);
    return gn_conn_send(ss->conn, GN_FRAME_ERROR, ss->id, req, msg, strlen(msg), NULL);
}

static int send_json(session *ss, uint16_t type, uint64_t req, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return send_error(ss, req, "out of memory");
    gn_error err;
    int rc = gn_conn_send(ss->conn, type, ss->id, req, text, strlen(text), &err);
    free(text);
    return rc;
}

static void on_hello(session *ss, const gn_frame *f, const void *payload)
{
    gn_error err;
    gn_hello h;
    if (gn_hello_decode(payload, (size_t)f->length, &h, &err) < 0) {
        send_error(ss, f->request, "%s", err.msg);
        return;
    }
    session_reset(ss);
    uint64_t need = gn_runner_bound_bytes(h.s), left;
    if (reserve(ss, need, &left) < 0) {
        send_error(ss, f->request,
                   "hello: session \"%s\" may hold %.1f MB of tensors, and this node has %.1f MB of its %.1f "
                   "left (--max-memory)",
                   gn_session_name(h.s), need / 1048576.0, left / 1048576.0, max_memory / 1048576.0);
        gn_session_destroy(h.s);
        return;
    }
    ss->s = h.s;
    ss->machine = h.machine;
    ss->nodes = h.nodes;
    ss->warm = h.warm;
    ss->seed = h.seed;
    ss->scale = h.scale;
    ss->r = gn_runner_create_ex(executor, ss->s, ss->seed, (float)ss->scale,
                                GN_RUNNER_PARTIAL | (ss->warm ? 0 : GN_RUNNER_NO_PARAMS), &err);
    if (!ss->r) {
        send_error(ss, f->request, "hello: %s", err.msg);
        session_reset(ss);
        return;
    }
    logf_(1, "session %llu: %s, %u steps, machine %d of %u, weights %s", (unsigned long long)ss->id,
          gn_session_name(ss->s), gn_session_nsteps(ss->s), ss->machine, ss->nodes,
          ss->warm ? "resident (seeded)" : "from the plan");
    send_json(ss, GN_FRAME_HELLO, f->request,
              json_pack("{s:I,s:s,s:i}", "session", (json_int_t)ss->id, "exec", executor->name, "protocol",
                        GN_WIRE_VERSION));
}

static void on_plan(session *ss, const gn_frame *f, const void *payload)
{
    gn_error err;
    if (!ss->s) {
        send_error(ss, f->request, "plan before hello");
        return;
    }
    gn_plan_destroy(ss->plan);
    ss->plan = NULL;
    gn_plan *p;
    if (gn_planwire_decode(payload, (size_t)f->length, &p, &err) < 0 ||
        (gn_planrun_check(p, ss->s, ss->nodes, &err) < 0 && (gn_plan_destroy(p), 1))) {
        send_error(ss, f->request, "%s", err.msg);
        return;
    }
    ss->plan = p;
    /* the first step this node takes part in gets its buffers now, at
     * setup, not inside the first timed task (fresh pages fault) */
    for (uint32_t i = 0; i < gn_plan_ntasks(p); i++) {
        const gn_task *t = gn_plan_task(p, i);
        int32_t dev = t->kind == GN_TASK_TRANSFER && gn_plan_device(p, (uint32_t)t->dst)->machine == ss->machine
                          ? t->dst
                          : t->device;
        if (gn_plan_device(p, (uint32_t)dev)->machine == ss->machine) {
            gn_runner_prepare(ss->r, t->step, &err);
            break;
        }
    }
    logf_(2, "session %llu: plan \"%s\", %u tasks", (unsigned long long)ss->id, gn_plan_strategy(p),
          gn_plan_ntasks(p));
    send_json(ss, GN_FRAME_RESULT, f->request, json_pack("{s:b,s:i}", "ok", 1, "tasks", gn_plan_ntasks(p)));
}

/* VmRSS and VmHWM of this process, kB. */
static void memory_kb(long *rss, long *hwm)
{
    char line[256];
    *rss = *hwm = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "VmRSS:", 6))
            *rss = atol(line + 6);
        else if (!strncmp(line, "VmHWM:", 6))
            *hwm = atol(line + 6);
    }
    if (f)
        fclose(f);
}

static void on_run(session *ss, const gn_frame *f)
{
    gn_error err;
    if (!ss->plan) {
        send_error(ss, f->request, "run before plan");
        return;
    }
    uint32_t n = gn_plan_ntasks(ss->plan);
    gn_task_time *times = calloc(n ? n : 1, sizeof(*times));
    if (!times) {
        send_error(ss, f->request, "out of memory");
        return;
    }
    gn_conn_link cl;
    gn_conn_link_init(&cl, &ss->conn, 1, 0, ss->id);
    int64_t cpu0 = gn_thread_cpu_ns(), t0 = gn_now_ns();
    int rc = gn_planrun(ss->plan, ss->r, ss->machine, &cl.link, NULL, NULL, times, &err);
    int64_t cpu = gn_thread_cpu_ns() - cpu0, wall = gn_now_ns() - t0;
    if (rc < 0) {
        send_error(ss, f->request, "run: %s", err.msg);
        free(times);
        /* the runner's state is mid-plan: a new HELLO starts over.  The
         * stream must be at a frame boundary for that: the rest of a DATA
         * frame the run stopped in is read and dropped, and so are the MORE
         * frames of its payload that the client is still sending */
        gn_error e2;
        if (gn_conn_recv_skip(ss->conn, &ss->drop_request, &e2) < 0) {
            logf_(0, "session %llu: %s; closing", (unsigned long long)ss->id, e2.msg);
            ss->broken = 1;
        }
        ss->drop_more = 1;
        session_reset(ss);
        return;
    }
    /* requests: the transfers this node handled (a DATA frame in or out:
     * receive, checksum, copy into or out of the runner); their CPU time
     * is the node's own work outside the executor */
    json_t *tt = json_array();
    double *req = calloc(n ? n : 1, sizeof(*req)), outside = 0;
    uint32_t nreq = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!times[i].end_ns)
            continue;
        json_array_append_new(tt, json_pack("[i,I,I,I]", i, (json_int_t)times[i].start_ns,
                                            (json_int_t)times[i].end_ns, (json_int_t)times[i].cpu_ns));
        const gn_task *t = gn_plan_task(ss->plan, i);
        if (t->kind == GN_TASK_TRANSFER && req && gn_plan_is_network(ss->plan, t->device, t->dst)) {
            req[nreq++] = (double)times[i].cpu_ns * 1e-9;
            outside += (double)times[i].cpu_ns * 1e-9;
        }
    }
    for (uint32_t i = 1; i < nreq; i++) /* insertion sort: p95 below */
        for (uint32_t k = i; k > 0 && req[k - 1] > req[k]; k--) {
            double x = req[k];
            req[k] = req[k - 1];
            req[k - 1] = x;
        }
    double p95 = nreq ? req[(uint32_t)(0.95 * (nreq - 1) + 0.5)] : 0;
    free(req);
    long rss, hwm;
    memory_kb(&rss, &hwm);
    logf_(1, "session %llu: ran \"%s\" in %.1f ms", (unsigned long long)ss->id, gn_plan_strategy(ss->plan),
          wall / 1e6);
    send_json(ss, GN_FRAME_RESULT, f->request,
              json_pack("{s:o,s:f,s:f,s:f,s:f,s:i,s:i,s:i,s:f}", "times", tt, "wall_s", wall / 1e9, "cpu_s",
                        cpu / 1e9, "cpu_outside_exec_s", outside, "request_cpu_p95_s", p95, "requests", (int)nreq,
                        "rss_kb", (int)rss, "hwm_kb", (int)hwm, "held_bytes", (double)gn_runner_held_bytes(ss->r)));
    free(times);
}

static void *serve(void *arg)
{
    client *cl = arg;
    session ss = {0};
    ss.id = cl->id;
    ss.conn = gn_conn_create(cl->fd, max_payload);
    if (!ss.conn) {
        close(cl->fd);
        return NULL;
    }
    logf_(1, "session %llu: connected", (unsigned long long)ss.id);
    for (;;) {
        gn_frame f;
        const void *payload;
        gn_error err;
        int rc = gn_conn_recv(ss.conn, &f, &payload, &err);
        if (rc == 1) {
            logf_(1, "session %llu: client disconnected", (unsigned long long)ss.id);
            break;
        }
        if (rc < 0) {
            if (!stopping) {
                logf_(0, "session %llu: %s; closing", (unsigned long long)ss.id, err.msg);
                gn_conn_send(ss.conn, GN_FRAME_ERROR, ss.id, 0, err.msg, strlen(err.msg), NULL);
            }
            break;
        }
        logf_(2, "session %llu: %s frame, request %llu, %llu bytes", (unsigned long long)ss.id,
              gn_frame_name(f.type), (unsigned long long)f.request, (unsigned long long)f.length);
        if (f.type == GN_FRAME_MORE && ss.drop_more && f.request == ss.drop_request)
            continue; /* the rest of the payload a failed run stopped in */
        ss.drop_more = 0;
        if (f.type == GN_FRAME_HELLO)
            on_hello(&ss, &f, payload);
        else if (f.type == GN_FRAME_PLAN)
            on_plan(&ss, &f, payload);
        else if (f.type == GN_FRAME_RUN) {
            on_run(&ss, &f);
            if (ss.broken)
                break;
        } else if (f.type == GN_FRAME_PING) /* in any state: liveness, and what calibration times */
            gn_conn_send(ss.conn, GN_FRAME_PING, ss.id, f.request, payload, (size_t)f.length, NULL);
        else if (f.type == GN_FRAME_BYE) {
            session_reset(&ss); /* before the reply: its memory is free when the client hears BYE */
            gn_conn_send(ss.conn, GN_FRAME_BYE, ss.id, f.request, NULL, 0, NULL);
            logf_(1, "session %llu: ended", (unsigned long long)ss.id);
            break;
        } else
            send_error(&ss, f.request, "unexpected %s frame", gn_frame_name(f.type));
    }
    session_reset(&ss);
    pthread_mutex_lock(&clients_lock);
    cl->fd = -1; /* before the close: main must not shut down a reused fd */
    pthread_mutex_unlock(&clients_lock);
    gn_conn_destroy(ss.conn);
    pthread_mutex_lock(&clients_lock);
    cl->used = 2; /* finished: main joins it */
    pthread_mutex_unlock(&clients_lock);
    return NULL;
}

/* Joins finished session threads (used == 2); all of them with ALL. */
static void reap(int all)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        pthread_mutex_lock(&clients_lock);
        int used = clients[i].used;
        if (all && used == 1 && clients[i].fd >= 0)
            shutdown(clients[i].fd, SHUT_RDWR);
        pthread_mutex_unlock(&clients_lock);
        if (used == 2 || (all && used)) {
            pthread_join(clients[i].thread, NULL);
            clients[i].used = 0;
        }
    }
}

/* Sessions open (their threads not yet reaped). */
static int open_sessions(void)
{
    int n = 0;
    pthread_mutex_lock(&clients_lock);
    for (int i = 0; i < MAX_CLIENTS; i++)
        n += clients[i].used != 0;
    pthread_mutex_unlock(&clients_lock);
    return n;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (wake_pipe[1] >= 0) {
        char c = 0;
        ssize_t w = write(wake_pipe[1], &c, 1);
        (void)w;
    }
}

int main(int argc, char **argv)
{
    gn_executor_blas_env(argv);
    gn_executor_malloc_env();
    static const struct option longopts[] = {
        {"bind", required_argument, NULL, 'b'}, {"port", required_argument, NULL, 'p'},
        {"exec", required_argument, NULL, 'e'}, {"max-payload", required_argument, NULL, 'm'},
        {"max-memory", required_argument, NULL, 'M'}, {"idle-timeout", required_argument, NULL, 'I'},
        {"verbose", no_argument, NULL, 'v'},    {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *bind_addr = "127.0.0.1", *exec_name = "cpu";
    long port = 7070;
    int opt;
    while ((opt = getopt_long(argc, argv, "b:p:e:vqh", longopts, NULL)) != -1) {
        char *end;
        switch (opt) {
        case 'b': bind_addr = optarg; break;
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "genie-node: --port: expected 0..65535, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'e': exec_name = optarg; break;
        case 'm': {
            long mb = strtol(optarg, &end, 10);
            if (*end || mb < 1 || mb > 65536) {
                fprintf(stderr, "genie-node: --max-payload: expected 1..65536 MB, got \"%s\"\n", optarg);
                return 2;
            }
            max_payload = (size_t)mb << 20;
            break;
        }
        case 'M': {
            long long mb = strtoll(optarg, &end, 10);
            if (*end || mb < 1 || mb > (1ll << 40)) {
                fprintf(stderr, "genie-node: --max-memory: expected a size in MB (1 or more), got \"%s\"\n",
                        optarg);
                return 2;
            }
            max_memory = (uint64_t)mb << 20;
            break;
        }
        case 'I':
            idle_timeout_s = strtol(optarg, &end, 10);
            if (*end || idle_timeout_s < 0 || idle_timeout_s > 86400 * 365) {
                fprintf(stderr, "genie-node: --idle-timeout: expected seconds (0 for none), got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'v': verbosity++; break;
        case 'q': verbosity = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "genie-node: unexpected argument \"%s\" (try --help)\n", argv[optind]);
        return 2;
    }
    if (!max_memory) {
        long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
        max_memory = pages > 0 && psize > 0 ? (uint64_t)pages * (uint64_t)psize / 4 * 3 : (uint64_t)1 << 32;
    }
    executor = gn_executor_find(exec_name);
    if (!executor) {
        fprintf(stderr, "genie-node: --exec %s: no such executor in this build (cpu%s)\n", exec_name,
                gn_executor_find("cuda") ? ", cuda" : "");
        return 2;
    }
    if (!strcmp(exec_name, "cuda")) { /* fail now, not at the first session */
        gn_error err;
        void *ex = executor->create(&err);
        if (!ex) {
            fprintf(stderr, "genie-node: --exec cuda: %s\n", err.msg);
            return 1;
        }
        executor->destroy(ex);
    }
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "genie-node: --bind: \"%s\" is not an IPv4 address\n", bind_addr);
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    socklen_t slen = sizeof(sa);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &slen) < 0) {
        fprintf(stderr, "genie-node: cannot listen on %s:%ld: %s\n", bind_addr, port, strerror(errno));
        return 1;
    }
    if (pipe(wake_pipe) < 0) {
        fprintf(stderr, "genie-node: pipe: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction act = {0};
    act.sa_handler = on_signal;
    sigaction(SIGINT, &act, NULL);
    sigaction(SIGTERM, &act, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("genie-node: listening on %s:%u\n", bind_addr, ntohs(sa.sin_port));
    fflush(stdout);
    logf_(1, "executor %s, max payload %zu MB, max memory %llu MB", executor->name, max_payload >> 20,
          (unsigned long long)(max_memory >> 20));

    uint64_t next_id = 1;
    int kept = 0; /* sessions ran since the allocator last gave memory back */
    while (!stopping) {
        struct pollfd pf[2] = {{lfd, POLLIN, 0}, {wake_pipe[0], POLLIN, 0}};
        int ready = poll(pf, 2, 1000);
        if (ready < 0 && errno != EINTR)
            break;
        reap(0);
        if (ready == 0 && kept && open_sessions() == 0) {
            /* a second with no session: the freed tensors' memory the
             * allocator kept for the next session goes back */
            gn_executor_malloc_release();
            kept = 0;
            logf_(2, "idle: freed memory returned");
        }
        if (stopping || !(pf[0].revents & POLLIN))
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (idle_timeout_s > 0) { /* a read or a send that waits this long fails: the session ends */
            struct timeval tv = {idle_timeout_s, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        }
        int slot = -1;
        pthread_mutex_lock(&clients_lock);
        for (int i = 0; i < MAX_CLIENTS && slot < 0; i++)
            if (!clients[i].used)
                slot = i;
        if (slot >= 0) {
            clients[slot].used = 1;
            clients[slot].fd = fd;
            clients[slot].id = next_id++;
        }
        pthread_mutex_unlock(&clients_lock);
        if (slot < 0) {
            static const char busy[] = "node busy: too many sessions";
            gn_conn *c = gn_conn_create(fd, 0);
            if (c)
                gn_conn_send(c, GN_FRAME_ERROR, 0, 0, busy, sizeof(busy) - 1, NULL);
            gn_conn_destroy(c);
            logf_(0, "refused a client: %d sessions open", MAX_CLIENTS);
            continue;
        }
        if (pthread_create(&clients[slot].thread, NULL, serve, &clients[slot]) != 0) {
            close(fd);
            clients[slot].used = 0;
        }
        kept = 1;
    }
    logf_(1, "stopping");
    close(lfd);
    reap(1);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    return 0;
}
