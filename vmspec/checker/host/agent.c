/* vmspec host agent: one simulated process of a .vms scenario, run as a real Linux process.
 *
 * vmspec (vmspec/checker/host/) builds this file with the system C compiler on first use and
 * caches the binary by the hash of this source. It speaks a line protocol over the Unix socket
 * given as argv[1]: one command per line, one reply line per command. Every command that touches
 * memory is measured inside the agent, tightly around the work: getrusage(RUSAGE_SELF) right
 * before and right after, so the agent's own bookkeeping (reading the command, parsing, replying)
 * never shows in the fault counts. The agent's own pages are populated and locked before the
 * first command, so its own code and data never fault inside a measured window.
 *
 * Replies: "ok VALUE DMIN DMAJ" (VALUE in hex), "err ERRNO DMIN DMAJ", or, when the work is killed
 * by SIGSEGV or SIGBUS, "sig SIGNO ADDR DMIN DMAJ" written by the signal handler just before the
 * agent dies of that signal (no core file: the agent is made non-dumpable first).
 *
 * Run as "agent --janitor", it is the clean-up process of janitor.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef PR_SET_MM
#define PR_SET_MM 35
#endif
#ifndef PR_SET_MM_MAP
#define PR_SET_MM_MAP 14
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1U
#endif

struct prctl_mm_map_v {
    uint64_t start_code, end_code, start_data, end_data, start_brk, brk, start_stack;
    uint64_t arg_start, arg_end, env_start, env_end;
    uint64_t *auxv;
    uint32_t auxv_size;
    uint32_t exe_fd;
};

#define STACK_LIMIT (8UL << 20)
#define LINE_MAX_LEN 4096
#define PAGE_BATCH 65536

static int chan = -1;                 /* the socket to vmspec */
static char line[LINE_MAX_LEN];       /* the command being read */
static size_t line_len;
static char inbuf[65536];             /* bytes read from the socket, not yet consumed */
static size_t in_start, in_end;
static char reply[256];
static uint64_t pagebuf[PAGE_BATCH];  /* page numbers of a "pages" command */
static struct rusage r_before;        /* the open measurement window, for the signal handler */
static volatile sig_atomic_t in_window;
static char altstack[65536];

/* ------------------------------------------------------------------ small helpers */

static void write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            _exit(3);
        }
        buf += w;
        n -= (size_t)w;
    }
}

static size_t fmt_u64(char *out, uint64_t v, int hex)
{
    char tmp[32];
    size_t n = 0, i;
    const char *digits = "0123456789abcdef";
    unsigned base = hex ? 16 : 10;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Build "WORD A B C D" with A in hex and the rest in decimal (async-signal-safe). */
static size_t fmt_reply(char *out, const char *word, uint64_t a, const uint64_t *rest, int nrest)
{
    size_t n = strlen(word);
    memcpy(out, word, n);
    out[n++] = ' ';
    n += fmt_u64(out + n, a, 1);
    for (int i = 0; i < nrest; i++) {
        out[n++] = ' ';
        n += fmt_u64(out + n, rest[i], 0);
    }
    out[n++] = '\n';
    return n;
}

static void open_window(void)
{
    getrusage(RUSAGE_SELF, &r_before);
    in_window = 1;
}

static void close_window(uint64_t *dmin, uint64_t *dmaj)
{
    struct rusage r_after;
    getrusage(RUSAGE_SELF, &r_after);
    in_window = 0;
    *dmin = (uint64_t)(r_after.ru_minflt - r_before.ru_minflt);
    *dmaj = (uint64_t)(r_after.ru_majflt - r_before.ru_majflt);
}

static void send_ok(uint64_t value, uint64_t dmin, uint64_t dmaj)
{
    uint64_t rest[2] = {dmin, dmaj};
    write_all(chan, reply, fmt_reply(reply, "ok", value, rest, 2));
}

static void send_err(int err, uint64_t dmin, uint64_t dmaj)
{
    uint64_t rest[2] = {dmin, dmaj};
    write_all(chan, reply, fmt_reply(reply, "err", (uint64_t)err, rest, 2));
}

/* A fatal signal during the work: report it with the faults counted so far, then die of it. */
static void on_fatal(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    struct rusage r_after;
    uint64_t rest[3];
    getrusage(RUSAGE_SELF, &r_after);
    rest[0] = (uint64_t)sig;
    rest[1] = in_window ? (uint64_t)(r_after.ru_minflt - r_before.ru_minflt) : 0;
    rest[2] = in_window ? (uint64_t)(r_after.ru_majflt - r_before.ru_majflt) : 0;
    write_all(chan, reply, fmt_reply(reply, "sig", (uint64_t)(uintptr_t)info->si_addr, rest, 3));
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); /* no core file */
    signal(sig, SIG_DFL);               /* the access runs again and the default action kills */
}

/* Read one line from the channel into `line`; return 0 at end of file. */
static int read_line(void)
{
    line_len = 0;
    for (;;) {
        while (in_start < in_end) {
            char c = inbuf[in_start++];
            if (c == '\n') {
                line[line_len] = '\0';
                return 1;
            }
            if (line_len + 1 < sizeof line)
                line[line_len++] = c;
        }
        ssize_t n = read(chan, inbuf, sizeof inbuf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        in_start = 0;
        in_end = (size_t)n;
    }
}

/* Read exactly n bytes of payload after a command line. */
static int read_bytes(char *out, size_t n)
{
    while (n > 0) {
        if (in_start < in_end) {
            size_t k = in_end - in_start < n ? in_end - in_start : n;
            memcpy(out, inbuf + in_start, k);
            in_start += k;
            out += k;
            n -= k;
            continue;
        }
        ssize_t r = read(chan, inbuf, sizeof inbuf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        in_start = 0;
        in_end = (size_t)r;
    }
    return 1;
}

static char *tokens[16];

static int split(char *s)
{
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " ", &save); t && n < 16; t = strtok_r(NULL, " ", &save))
        tokens[n++] = t;
    return n;
}

static uint64_t num(int i)
{
    return strtoull(tokens[i], NULL, 0);
}

/* ------------------------------------------------------------------ setup */

/* The agent's own mappings (recorded by "setup", before any mapping of the scenario exists). */
#define MAX_OWN 256
static uint64_t own_lo[MAX_OWN], own_hi[MAX_OWN];
static char own_w[MAX_OWN];
static int nown;
static char mapsbuf[65536];

/* Read /proc/self/maps into lo/hi/writable arrays without malloc or stdio (either would touch
 * the heap the scenario owns); return the number of mappings. */
static int read_maps(uint64_t *lo, uint64_t *hi, char *w, int max)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t len = 0;
    int n = 0;
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t r = read(fd, mapsbuf + len, sizeof mapsbuf - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    mapsbuf[len] = '\0';
    for (char *p = mapsbuf; *p && n < max;) {
        char *end;
        lo[n] = strtoull(p, &end, 16);
        hi[n] = strtoull(end + 1, &end, 16);
        w[n] = end[2] == 'w';
        n++;
        p = strchr(p, '\n');
        if (!p)
            break;
        p++;
    }
    return n;
}

/* Populate and lock the agent's own mappings (its binary, libraries, stack, TLS), so that none
 * of its own pages faults inside a measured window nor is reclaimed. After fork, this also makes
 * the pages fork write-protected writable again (mlock populates writable private mappings with
 * write faults), so the agent's bookkeeping never takes a copy-on-write fault inside a window. */
static void lock_own(void)
{
    for (int i = 0; i < nown; i++) {
        if (own_lo[i] >= 0xffff800000000000ULL)
            continue; /* [vsyscall] */
        if (mlock((void *)own_lo[i], own_hi[i] - own_lo[i]) != 0)
            madvise((void *)own_lo[i], own_hi[i] - own_lo[i],
                    own_w[i] ? 23 /* MADV_POPULATE_WRITE */ : MADV_POPULATE_READ);
    }
}

/* Move the heap (brk) to `start_brk`, where the reference layout starts it. */
static int move_brk(uint64_t start_brk)
{
    struct prctl_mm_map_v map;
    char buf[4096];
    unsigned long long v[52];
    int fd = open("/proc/self/stat", O_RDONLY);
    if (fd < 0)
        return errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return EIO;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return EIO;
    p += 2; /* the state field, field 3 */
    int field = 3;
    memset(v, 0, sizeof v);
    char *save = NULL;
    for (char *t = strtok_r(p, " ", &save); t && field < 53; t = strtok_r(NULL, " ", &save), field++)
        v[field - 1] = strtoull(t, NULL, 10);
    memset(&map, 0, sizeof map);
    map.start_code = v[25];  /* field 26 startcode */
    map.end_code = v[26];
    map.start_stack = v[27];
    map.start_data = v[44];  /* field 45 start_data */
    map.end_data = v[45];
    map.start_brk = start_brk;
    map.brk = start_brk;
    map.arg_start = v[47];
    map.arg_end = v[48];
    map.env_start = v[49];
    map.env_end = v[50];
    map.exe_fd = (uint32_t)-1;
    if (prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)&map, sizeof map, 0) != 0)
        return errno;
    return 0;
}

/* Fill every gap of [lo, hi) with a PROT_NONE placeholder the kernel cannot place anything in,
 * so that the scenario's mappings go below `lo`, in address space nothing else uses. */
static int fence_fd = -1;

static int fence(uint64_t lo, uint64_t hi)
{
    static uint64_t starts[MAX_OWN], ends[MAX_OWN];
    static char w[MAX_OWN];
    if (fence_fd < 0)
        fence_fd = (int)syscall(SYS_memfd_create, "vmspec-fence", MFD_CLOEXEC);
    int mfd = fence_fd;
    if (mfd < 0)
        return errno;
    int n = read_maps(starts, ends, w, MAX_OWN);
    uint64_t cur = lo;
    int err = 0;
    for (int i = 0; i <= n && cur < hi; i++) {
        uint64_t gap_end = i < n ? starts[i] : hi;
        if (gap_end > hi)
            gap_end = hi;
        if (gap_end > cur) {
            void *m = mmap((void *)cur, gap_end - cur, PROT_NONE,
                           MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, mfd, 0);
            if (m == MAP_FAILED) {
                err = errno;
                break;
            }
        }
        if (i < n && ends[i] > cur)
            cur = ends[i];
    }
    return err;
}

/* Take the fence piece [lo, hi) away for one unmapping command, so that the kernel's
 * free_pgtables sees the reference layout's neighbour (its stack) as the next mapping, as the
 * engine does, and may free a page table the fence would otherwise share; put it back after. */
static uint64_t lift_lo, lift_hi;

static void lift_fence(int nt, int at)
{
    lift_lo = lift_hi = 0;
    if (nt >= at + 2) {
        lift_lo = num(at);
        lift_hi = num(at + 1);
        if (lift_hi > lift_lo)
            munmap((void *)lift_lo, lift_hi - lift_lo);
    }
}

static void restore_fence(void)
{
    if (lift_hi > lift_lo &&
        mmap((void *)lift_lo, lift_hi - lift_lo, PROT_NONE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE,
             fence_fd, 0) == MAP_FAILED)
        _exit(5); /* the layout is broken: vmspec sees the agent gone */
    lift_lo = lift_hi = 0;
}

/* ------------------------------------------------------------------ commands */

static void cmd_map(int nt)
{
    /* map ADDR LEN PROT FLAGS PATH FIXED HSHIFT: FLAGS 1 shared, 2 populate, 4 noreserve; FIXED
     * 1 MAP_FIXED, 2 MAP_FIXED_NOREPLACE; HSHIFT the log2 of a hugetlb page size, or 0 */
    if (nt < 8) {
        send_err(EINVAL, 0, 0);
        return;
    }
    uint64_t addr = num(1), len = num(2), prot = num(3), flags = num(4), fixed = num(6), hshift = num(7);
    const char *path = tokens[5];
    int mflags = (flags & 1) ? MAP_SHARED : MAP_PRIVATE;
    int fd = -1;
    if (flags & 2)
        mflags |= MAP_POPULATE;
    if (flags & 4)
        mflags |= MAP_NORESERVE;
    if (hshift)
        mflags |= MAP_HUGETLB | (int)(hshift << MAP_HUGE_SHIFT);
    if (fixed == 1)
        mflags |= MAP_FIXED;
    else if (fixed == 2)
        mflags |= MAP_FIXED_NOREPLACE;
    if (strcmp(path, "-") == 0) {
        mflags |= MAP_ANONYMOUS;
    } else {
        fd = open(path, ((flags & 1) && (prot & PROT_WRITE)) ? O_RDWR : O_RDONLY);
        if (fd < 0) {
            send_err(errno, 0, 0);
            return;
        }
    }
    uint64_t dmin, dmaj;
    open_window();
    void *m = mmap((void *)addr, len, (int)prot, mflags, fd, 0);
    int err = errno;
    close_window(&dmin, &dmaj);
    if (fd >= 0)
        close(fd);
    if (m == MAP_FAILED)
        send_err(err, dmin, dmaj);
    else
        send_ok((uint64_t)(uintptr_t)m, dmin, dmaj);
}

static void cmd_syscall3(int which, int nt)
{
    if (nt < 3 || (which != 'u' && nt < 4)) {
        send_err(EINVAL, 0, 0);
        return;
    }
    void *addr = (void *)(uintptr_t)num(1);
    size_t len = (size_t)num(2);
    uint64_t dmin, dmaj;
    int rc;
    if (which == 'u')
        lift_fence(nt, 3);
    open_window();
    switch (which) {
    case 'u': rc = munmap(addr, len); break;
    case 'p': rc = mprotect(addr, len, (int)num(3)); break;
    case 'a': rc = madvise(addr, len, (int)num(3)); break;
    case 'l': rc = (int)num(3) ? mlock(addr, len) : munlock(addr, len); break;
    default: rc = -1; errno = EINVAL;
    }
    int err = errno;
    close_window(&dmin, &dmaj);
    restore_fence();
    if (rc != 0)
        send_err(err, dmin, dmaj);
    else
        send_ok(0, dmin, dmaj);
}

static void cmd_touch(int nt)
{
    /* touch START END STRIDE WRITE: one access per page overlapped (STRIDE 0) or at
     * START, START+STRIDE, ... below END */
    if (nt < 5) {
        send_err(EINVAL, 0, 0);
        return;
    }
    uintptr_t a = (uintptr_t)num(1), end = (uintptr_t)num(2), stride = (uintptr_t)num(3);
    int wr = (int)num(4);
    uint64_t dmin, dmaj;
    open_window();
    if (stride == 0) {
        while (a < end) {
            if (wr)
                *(volatile char *)a = 1;
            else
                (void)*(volatile char *)a;
            a = (a | 4095) + 1;
        }
    } else {
        for (; a < end; a += stride) {
            if (wr)
                *(volatile char *)a = 1;
            else
                (void)*(volatile char *)a;
            if (a + stride < a)
                break;
        }
    }
    close_window(&dmin, &dmaj);
    send_ok(0, dmin, dmaj);
}

static void cmd_pages(int nt)
{
    /* pages BASE N WRITE, then N little-endian uint64 page numbers (N <= PAGE_BATCH) */
    if (nt < 4 || num(2) > PAGE_BATCH) {
        send_err(EINVAL, 0, 0);
        return;
    }
    uintptr_t base = (uintptr_t)num(1);
    size_t n = (size_t)num(2);
    int wr = (int)num(3);
    if (!read_bytes((char *)pagebuf, n * sizeof(uint64_t)))
        _exit(0);
    uint64_t dmin, dmaj;
    open_window();
    for (size_t i = 0; i < n; i++) {
        volatile char *p = (volatile char *)(base + (pagebuf[i] << 12));
        if (wr)
            *p = 1;
        else
            (void)*p;
    }
    close_window(&dmin, &dmaj);
    send_ok(0, dmin, dmaj);
}

static void cmd_malloc(int nt, int which)
{
    if (nt < 2) {
        send_err(EINVAL, 0, 0);
        return;
    }
    uint64_t dmin, dmaj;
    if (which == 'm') {
        size_t size = (size_t)num(1);
        open_window();
        void *p = malloc(size);
        int err = errno;
        close_window(&dmin, &dmaj);
        if (!p)
            send_err(err, dmin, dmaj);
        else
            send_ok((uint64_t)(uintptr_t)p, dmin, dmaj);
    } else if (which == 'f') {
        void *p = (void *)(uintptr_t)num(1);
        lift_fence(nt, 2);
        open_window();
        free(p);
        close_window(&dmin, &dmaj);
        restore_fence();
        send_ok(0, dmin, dmaj);
    } else {
        /* sbrk DELTA: glibc's sbrk, but a break the kernel did not move (brk() returns the old
         * break, which glibc does not check when shrinking) is ENOMEM, as the syscall means it */
        intptr_t delta = (intptr_t)strtoll(tokens[1], NULL, 0);
        open_window();
        char *old = sbrk(delta);
        int err = errno;
        char *now = sbrk(0);
        close_window(&dmin, &dmaj);
        if (old == (void *)-1)
            send_err(err, dmin, dmaj);
        else if (now != old + delta)
            send_err(ENOMEM, dmin, dmaj);
        else
            send_ok((uint64_t)(uintptr_t)old, dmin, dmaj);
    }
}

static void serve(void);

/* fork: a real fork whose child is vmspec's child (CLONE_PARENT), so that vmspec can wait for it
 * and read its exit status; the child gets its own socket, whose other end goes to vmspec. */
static void cmd_fork(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        send_err(errno, 0, 0);
        return;
    }
    pid_t parent_of_both = getppid();
    long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
    if (pid < 0) {
        int err = errno;
        close(sv[0]);
        close(sv[1]);
        send_err(err, 0, 0);
        return;
    }
    if (pid == 0) {
        close(chan);
        close(sv[1]);
        chan = sv[0];
        in_start = in_end = 0;
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != parent_of_both)
            _exit(0);
        lock_own(); /* fork write-protected the agent's pages and dropped its locks */
        serve();
        _exit(0);
    }
    close(sv[0]);
    lock_own(); /* the parent's own pages are write-protected too: make them writable again */
    /* reply with the child's pid, passing the vmspec end of the child's socket */
    uint64_t rest[2] = {0, 0};
    size_t n = fmt_reply(reply, "ok", (uint64_t)pid, rest, 2);
    struct iovec iov = {reply, n};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    memset(cbuf, 0, sizeof cbuf);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
    while (sendmsg(chan, &msg, 0) < 0) {
        if (errno != EINTR)
            _exit(3);
    }
    close(sv[1]);
}

static void cmd_setup(int nt)
{
    /* setup START_BRK FENCE_LO FENCE_HI */
    if (nt < 4) {
        send_err(EINVAL, 0, 0);
        return;
    }
    nown = read_maps(own_lo, own_hi, own_w, MAX_OWN);
    lock_own();
    int err = move_brk(num(1));
    if (!err)
        err = fence(num(2), num(3));
    if (err)
        send_err(err, 0, 0);
    else
        send_ok(0, 0, 0);
}

static void serve(void)
{
    while (read_line()) {
        int nt = split(line);
        if (nt == 0)
            continue;
        const char *c = tokens[0];
        if (!strcmp(c, "touch"))
            cmd_touch(nt);
        else if (!strcmp(c, "pages"))
            cmd_pages(nt);
        else if (!strcmp(c, "map"))
            cmd_map(nt);
        else if (!strcmp(c, "unmap"))
            cmd_syscall3('u', nt);
        else if (!strcmp(c, "protect"))
            cmd_syscall3('p', nt);
        else if (!strcmp(c, "advise"))
            cmd_syscall3('a', nt);
        else if (!strcmp(c, "lock"))
            cmd_syscall3('l', nt);
        else if (!strcmp(c, "malloc"))
            cmd_malloc(nt, 'm');
        else if (!strcmp(c, "free"))
            cmd_malloc(nt, 'f');
        else if (!strcmp(c, "sbrk"))
            cmd_malloc(nt, 'b');
        else if (!strcmp(c, "mallopt") && nt >= 3) {
            /* mallopt PARAM VALUE (the machine's fixed mmap_threshold); touches no heap memory */
            if (mallopt((int)strtol(tokens[1], NULL, 0), (int)num(2)))
                send_ok(0, 0, 0);
            else
                send_err(EINVAL, 0, 0);
        } else if (!strcmp(c, "fork"))
            cmd_fork();
        else if (!strcmp(c, "setup"))
            cmd_setup(nt);
        else if (!strcmp(c, "exit")) {
            send_ok(0, 0, 0);
            _exit(0);
        } else if (!strcmp(c, "ping"))
            send_ok((uint64_t)getpid(), 0, 0);
        else
            send_err(ENOSYS, 0, 0);
    }
    _exit(0); /* vmspec closed the socket (it ended, or died): nothing may outlive it */
}

/* The janitor mode lives in janitor.c (built into the same program). */
int janitor(void);

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--janitor"))
        return janitor();
    if (argc < 3) {
        fprintf(stderr, "usage: %s SOCKET-FD PARENT-PID | --janitor\n", argv[0]);
        return 2;
    }
    /* The reference layout: no randomisation and an 8 MiB stack limit (that fixes mmap_base).
     * Both take effect at exec, so set them and exec this program again. */
    struct rlimit rl;
    getrlimit(RLIMIT_STACK, &rl);
    int persona = personality(0xffffffff);
    if (!(persona & ADDR_NO_RANDOMIZE) || rl.rlim_cur != STACK_LIMIT) {
        rl.rlim_cur = STACK_LIMIT;
        if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < STACK_LIMIT)
            return 4;
        if (setrlimit(RLIMIT_STACK, &rl) != 0 || personality(persona | ADDR_NO_RANDOMIZE) < 0)
            return 4;
        execv("/proc/self/exe", argv);
        return 4;
    }
    chan = atoi(argv[1]);
    pid_t parent = (pid_t)atol(argv[2]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent)
        return 0;
    struct rlimit core = {0, 0};
    setrlimit(RLIMIT_CORE, &core);
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fatal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    serve();
    return 0;
}
